"""The parsed workflow graph: nodes, edges and the structural questions the engine asks of them.

A graph is built once from its JSON (DESIGN §3) and never changes, so every lookup is an index
built up front or computed once and cached: the validator and the scheduler call them per node and
must stay linear in the size of the graph. "Level" means the nodes sharing one ``parent``: the top
level (parent None) or the body of one loop. Edges only count inside a level; an edge crossing a
loop boundary is a validation error, and is ignored here so that questions about invalid graphs
still get answers instead of exceptions.

Pure Python and deterministic: every list comes out in the document order of the JSON.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

OnError = Literal["fail", "continue", "branch"]

DEFAULT_HANDLE = "out"


class GraphCycleError(ValueError):
    """Raised by :meth:`Graph.topological_order` when a level's edges are not a DAG."""

    def __init__(self, parent: str | None, node_ids: Sequence[str]) -> None:
        where = f"the body of loop {parent!r}" if parent else "the top level"
        super().__init__(f"edges in {where} form a cycle through {', '.join(node_ids)}")
        self.parent = parent
        self.node_ids = tuple(node_ids)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    backoff_s: float = 1.0
    multiplier: float = 2.0
    max_backoff_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Position:
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    type: str
    name: str
    config: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None
    retry: RetryPolicy | None = None
    timeout_s: float | None = None
    on_error: OnError = "fail"
    disabled: bool = False
    position: Position | None = None
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Edge:
    id: str
    source: str
    target: str
    source_handle: str = DEFAULT_HANDLE


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    type: str
    default: Any = None
    has_default: bool = False
    description: str = ""


class Graph:
    """An immutable, indexed view of one workflow graph.

    When ids repeat (only in graphs the validator rejects) the first node with an id wins, and
    ``edges`` maps an id to its first edge, while ``edge_list`` and every adjacency keep them all.
    """

    def __init__(
        self, nodes: Iterable[Node], edges: Iterable[Edge], variables: Iterable[Variable] = ()
    ) -> None:
        self.nodes: dict[str, Node] = {}
        for node in nodes:
            self.nodes.setdefault(node.id, node)
        self.edge_list: tuple[Edge, ...] = tuple(edges)
        self.edges: dict[str, Edge] = {}
        for edge in self.edge_list:
            self.edges.setdefault(edge.id, edge)
        self.variables: tuple[Variable, ...] = tuple(variables)
        self._ids = tuple(self.nodes)
        self._index = {node_id: position for position, node_id in enumerate(self._ids)}
        self._incoming: dict[str, list[Edge]] = {node_id: [] for node_id in self.nodes}
        self._outgoing: dict[str, list[Edge]] = {node_id: [] for node_id in self.nodes}
        self._level_incoming: dict[str, list[Edge]] = {node_id: [] for node_id in self.nodes}
        self._level_outgoing: dict[str, list[Edge]] = {node_id: [] for node_id in self.nodes}
        for edge in self.edge_list:
            if edge.target in self._incoming:
                self._incoming[edge.target].append(edge)
            if edge.source in self._outgoing:
                self._outgoing[edge.source].append(edge)
            if self.is_level_edge(edge):
                self._level_incoming[edge.target].append(edge)
                self._level_outgoing[edge.source].append(edge)
        self._children: dict[str | None, list[Node]] = {}
        for node in self.nodes.values():
            self._children.setdefault(node.parent, []).append(node)

    @classmethod
    def from_dict(cls, graph: Mapping[str, Any]) -> Graph:
        """Build from graph JSON that passed the shape tier; wrongly typed values fall back to defaults."""
        nodes = [_node_from_dict(item) for item in _list(graph.get("nodes")) if _is_node_dict(item)]
        edges = [_edge_from_dict(item) for item in _list(graph.get("edges")) if _is_edge_dict(item)]
        variables = [
            _variable_from_dict(item)
            for item in _list(graph.get("variables"))
            if isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and isinstance(item.get("type"), str)
        ]
        return cls(nodes, edges, variables)

    def is_level_edge(self, edge: Edge) -> bool:
        """Whether both ends exist and share a parent: the only edges that order execution."""
        source = self.nodes.get(edge.source)
        target = self.nodes.get(edge.target)
        return source is not None and target is not None and source.parent == target.parent

    def incoming(self, node_id: str) -> tuple[Edge, ...]:
        return tuple(self._incoming.get(node_id, ()))

    def outgoing(self, node_id: str) -> tuple[Edge, ...]:
        return tuple(self._outgoing.get(node_id, ()))

    def level_incoming(self, node_id: str) -> tuple[Edge, ...]:
        return tuple(self._level_incoming.get(node_id, ()))

    def level_outgoing(self, node_id: str) -> tuple[Edge, ...]:
        return tuple(self._level_outgoing.get(node_id, ()))

    def children(self, loop_id: str | None) -> tuple[Node, ...]:
        """The nodes whose parent is ``loop_id`` (the loop's body); ``None`` gives the top level."""
        return tuple(self._children.get(loop_id, ()))

    def top_level(self) -> tuple[Node, ...]:
        return self.children(None)

    def levels(self) -> tuple[str | None, ...]:
        """Every parent that has children, top level first, then loops in document order."""
        return tuple(
            sorted(self._children, key=lambda parent: -1 if parent is None else self._position(parent))
        )

    def entry_nodes(self, loop_id: str | None) -> tuple[Node, ...]:
        """Body nodes without incoming edges: where each pass of the loop starts."""
        return tuple(node for node in self.children(loop_id) if not self._level_incoming[node.id])

    def sinks(self, loop_id: str | None) -> tuple[Node, ...]:
        """Body nodes without outgoing edges; a pass's result is its single sink's output."""
        return tuple(node for node in self.children(loop_id) if not self._level_outgoing[node.id])

    def enclosing_loops(self, node_id: str) -> tuple[str, ...]:
        """The parents of a node, innermost first; stops at a missing parent or a parent cycle."""
        chain: list[str] = []
        node = self.nodes.get(node_id)
        seen = {node_id}
        while node is not None and node.parent is not None and node.parent not in seen:
            chain.append(node.parent)
            seen.add(node.parent)
            node = self.nodes.get(node.parent)
        return tuple(chain)

    def upstream(self, node_id: str) -> frozenset[str]:
        """The node's ancestors through edges at its own level (not the node itself)."""
        bits = self._ancestor_bits.get(node_id, 0)
        return frozenset(self._ids[position] for position in _set_bit_positions(bits))

    def is_upstream(self, ancestor_id: str, node_id: str) -> bool:
        """Whether ``ancestor_id`` reaches ``node_id`` through edges at their shared level."""
        position = self._index.get(ancestor_id)
        if position is None:
            return False
        return bool((self._ancestor_bits.get(node_id, 0) >> position) & 1)

    def topological_order(self, parent: str | None = None) -> list[str]:
        """The ids of one level, each after its predecessors.

        Deterministic: nodes are taken in the order they become ready, starting from the level's
        entry nodes in document order.
        """
        order, remaining = self._kahn(parent)
        if remaining:
            raise GraphCycleError(parent, remaining)
        return order

    def _kahn(self, parent: str | None) -> tuple[list[str], list[str]]:
        members = self.children(parent)
        waiting = {node.id: len(self._level_incoming[node.id]) for node in members}
        ready = deque(node.id for node in members if waiting[node.id] == 0)
        order: list[str] = []
        while ready:
            node_id = ready.popleft()
            order.append(node_id)
            for edge in self._level_outgoing[node_id]:
                waiting[edge.target] -= 1
                if waiting[edge.target] == 0:
                    ready.append(edge.target)
        placed = set(order)
        return order, [node.id for node in members if node.id not in placed]

    def _position(self, node_id: str) -> int:
        return self._index.get(node_id, len(self._index))

    @cached_property
    def _ancestor_bits(self) -> dict[str, int]:
        """Each node's level ancestors as a bit set over document positions.

        Built in topological order, one OR per edge, so asking about every node of a 2 000-node
        graph stays linear in practice. Nodes caught in a cycle are answered by a search instead.
        """
        bits: dict[str, int] = {}
        for parent in self.levels():
            order, remaining = self._kahn(parent)
            for node_id in order:
                value = 0
                for edge in self._level_incoming[node_id]:
                    value |= bits[edge.source] | (1 << self._index[edge.source])
                bits[node_id] = value
            for node_id in remaining:
                bits[node_id] = self._search_ancestors(node_id)
        return bits

    def _search_ancestors(self, node_id: str) -> int:
        value = 0
        stack = [node_id]
        seen = {node_id}
        while stack:
            for edge in self._level_incoming[stack.pop()]:
                value |= 1 << self._index[edge.source]
                if edge.source not in seen:
                    seen.add(edge.source)
                    stack.append(edge.source)
        return value


def _set_bit_positions(bits: int) -> list[int]:
    positions: list[int] = []
    while bits:
        lowest = bits & -bits
        positions.append(lowest.bit_length() - 1)
        bits ^= lowest
    return positions


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_node_dict(item: object) -> bool:
    return isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("type"), str)


def _is_edge_dict(item: object) -> bool:
    return isinstance(item, dict) and all(
        isinstance(item.get(key), str) for key in ("id", "source", "target")
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _node_from_dict(item: Mapping[str, Any]) -> Node:
    node_id: str = item["id"]
    name = item.get("name")
    config = item.get("config")
    parent = item.get("parent")
    on_error = item.get("on_error")
    position = item.get("position")
    notes = item.get("notes")
    return Node(
        id=node_id,
        type=item["type"],
        name=name if isinstance(name, str) and name else node_id,
        config=config if isinstance(config, dict) else {},
        parent=parent if isinstance(parent, str) else None,
        retry=_retry_from_dict(item.get("retry")),
        timeout_s=_number(item.get("timeout_s")),
        on_error=on_error if on_error in ("fail", "continue", "branch") else "fail",
        disabled=item.get("disabled") is True,
        position=_position_from_dict(position),
        notes=notes if isinstance(notes, str) else "",
    )


def _retry_from_dict(value: object) -> RetryPolicy | None:
    if not isinstance(value, dict):
        return None
    attempts = value.get("max_attempts")
    defaults = RetryPolicy(max_attempts=1)
    backoff = _number(value.get("backoff_s"))
    multiplier = _number(value.get("multiplier"))
    max_backoff = _number(value.get("max_backoff_s"))
    return RetryPolicy(
        max_attempts=attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 1,
        backoff_s=defaults.backoff_s if backoff is None else backoff,
        multiplier=defaults.multiplier if multiplier is None else multiplier,
        max_backoff_s=defaults.max_backoff_s if max_backoff is None else max_backoff,
    )


def _position_from_dict(value: object) -> Position | None:
    if not isinstance(value, dict):
        return None
    x, y = _number(value.get("x")), _number(value.get("y"))
    return Position(x, y) if x is not None and y is not None else None


def _edge_from_dict(item: Mapping[str, Any]) -> Edge:
    handle = item.get("source_handle")
    return Edge(
        id=item["id"],
        source=item["source"],
        target=item["target"],
        source_handle=handle if isinstance(handle, str) else DEFAULT_HANDLE,
    )


def _variable_from_dict(item: Mapping[str, Any]) -> Variable:
    description = item.get("description")
    return Variable(
        name=item["name"],
        type=item["type"],
        default=item.get("default"),
        has_default="default" in item,
        description=description if isinstance(description, str) else "",
    )
