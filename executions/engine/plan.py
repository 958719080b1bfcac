"""A graph prepared for execution: built once per published version and reused by every advance.

Everything here is derived from the graph alone — topological orders per level, node types, the
template fields of each node and the nodes each one reads — so repeated advances of the same run,
and runs of the same version, never redo it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from workflows.graph import Graph, Node
from workflows.node_types import NodeType, TemplateField, get_node_type, template_fields

from .expressions import analyse


class Plan:
    def __init__(self, graph_json: Mapping[str, Any]) -> None:
        self.graph = Graph.from_dict(graph_json)
        self._fields: dict[str, list[TemplateField]] = {}
        self._refs: dict[str, frozenset[str]] = {}

    @cached_property
    def orders(self) -> dict[str | None, list[str]]:
        """Each level's node ids in topological order (the scheduler sweeps a scope in this order)."""
        return {level: self.graph.topological_order(level) for level in self.graph.levels()}

    def order(self, level: str | None) -> list[str]:
        return self.orders.get(level, [])

    def node(self, node_id: str) -> Node:
        return self.graph.nodes[node_id]

    def node_type(self, node_id: str) -> NodeType | None:
        return get_node_type(self.graph.nodes[node_id].type)

    def depth(self, node_id: str) -> int:
        """How many loops enclose the node: the number of scope parts its instances have."""
        return len(self.graph.enclosing_loops(node_id))

    def fields(self, node_id: str) -> list[TemplateField]:
        """The node's template and expression fields, with their sources, in document order."""
        found = self._fields.get(node_id)
        if found is None:
            node_type = self.node_type(node_id)
            config = self.graph.nodes[node_id].config
            found = template_fields(node_type, config) if node_type is not None else []
            self._fields[node_id] = found
        return found

    def referenced_nodes(self, node_id: str) -> frozenset[str]:
        """Ids of the nodes the node's templates read through ``nodes.<id>``.

        Only these go into the evaluation context, so a node's context costs what it reads, not
        the size of the run.
        """
        found = self._refs.get(node_id)
        if found is None:
            names: set[str] = set()
            for template_field in self.fields(node_id):
                for reference in analyse(template_field.source, template_field.kind).references:
                    if reference.root == "nodes" and reference.name is not None:
                        names.add(reference.name)
            found = frozenset(names)
            self._refs[node_id] = found
        return found
