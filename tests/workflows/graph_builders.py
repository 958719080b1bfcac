"""Build workflow graphs in tests with as little noise as the rule under test allows.

``GraphBuilder().add(...).connect(...).build()`` gives graph JSON as the API receives it. Nodes
added without a config get a small valid one for their type, so a test only spells out what it is
about. Edge ids are ``e1``, ``e2``, … in the order edges are added, and an edge leaving a node
without an ``out`` handle (condition, switch, approval) leaves its first handle unless told.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from workflows.node_types import get_node_type

Graph = dict[str, Any]

VALID_CONFIGS: dict[str, dict[str, Any]] = {
    "start": {},
    "end": {"outputs": {}},
    "prompt": {"agent": "helper", "prompt": "Say hello"},
    "condition": {"expression": "inputs.flag"},
    "switch": {"cases": [{"handle": "first", "expression": "inputs.flag"}]},
    "loop": {"mode": "count", "count": 2, "max_iterations": 5},
    "parallel": {},
    "join": {"mode": "all"},
    "approval": {"title": "Check this"},
    "delay": {"seconds": 1},
    "transform": {"mapping": {}},
    "agent_task": {"capability": "ocr"},
}


class GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.variables: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}

    def add(
        self, node_id: str, node_type: str, config: dict[str, Any] | None = None, **fields: Any
    ) -> GraphBuilder:
        node: dict[str, Any] = {"id": node_id, "type": node_type}
        node["config"] = copy.deepcopy(VALID_CONFIGS.get(node_type, {}) if config is None else config)
        node.update(fields)
        self.nodes.append(node)
        return self

    def connect(
        self, source: str, target: str, handle: str | None = None, *, edge_id: str | None = None
    ) -> GraphBuilder:
        edge: dict[str, Any] = {
            "id": edge_id or f"e{len(self.edges) + 1}",
            "source": source,
            "target": target,
        }
        handle = handle if handle is not None else self._first_handle(source)
        if handle is not None:
            edge["source_handle"] = handle
        self.edges.append(edge)
        return self

    def _first_handle(self, source: str) -> str | None:
        """Nodes without ``out`` (condition, switch, approval) connect from their first handle."""
        node = next((node for node in self.nodes if node["id"] == source), None)
        node_type = get_node_type(node["type"]) if node else None
        if node is None or node_type is None:
            return None
        handles = node_type.handles(node.get("config"))
        return None if "out" in handles or not handles else handles[0]

    def chain(self, *node_ids: str) -> GraphBuilder:
        for source, target in itertools.pairwise(node_ids):
            self.connect(source, target)
        return self

    def variable(self, name: str, variable_type: str, **fields: Any) -> GraphBuilder:
        self.variables.append({"name": name, "type": variable_type, **fields})
        return self

    def node(self, node_id: str) -> dict[str, Any]:
        return next(node for node in self.nodes if node["id"] == node_id)

    def build(self) -> Graph:
        graph: Graph = {"schema_version": 1, "nodes": self.nodes, "edges": self.edges}
        if self.variables:
            graph["variables"] = self.variables
        graph.update(self.extra)
        return copy.deepcopy(graph)


def around(*middle: tuple[str, str] | tuple[str, str, dict[str, Any]]) -> GraphBuilder:
    """``start → <middle nodes in order> → end``, each middle item ``(id, type[, config])``."""
    builder = GraphBuilder().add("start", "start")
    for node_id, node_type, *config in middle:
        builder.add(node_id, node_type, config[0] if config else None)
    builder.add("end", "end")
    return builder.chain("start", *(item[0] for item in middle), "end")


def minimal_graph() -> Graph:
    return around().build()


def rich_graph() -> Graph:
    """A valid graph using every node type, nested loops, branches, variables and annotations."""
    builder = (
        GraphBuilder()
        .variable("team", "string", default="support", description="Queue to route to")
        .variable("limit", "integer", default=3)
        .add(
            "start",
            "start",
            {
                "input_schema": {
                    "type": "object",
                    "properties": {"ticket": {"type": "string"}, "tickets": {"type": "array"}},
                    "required": ["ticket"],
                }
            },
            name="Start",
            position={"x": 0, "y": 0},
        )
        .add(
            "classify",
            "prompt",
            {
                "agent": "triage-bot",
                "system": "You work for {{ vars.team }}.",
                "prompt": "Classify this ticket: {{ inputs.ticket }}",
                "output": "json",
                "json_schema": {"type": "object", "properties": {"priority": {"type": "string"}}},
                "temperature": 0.2,
                "max_tokens": 500,
            },
            retry={"max_attempts": 3, "backoff_s": 1.0, "multiplier": 2.0, "max_backoff_s": 60},
            timeout_s=120,
            on_error="branch",
            notes="Uses the triage agent.",
        )
        .add("urgent", "condition", {"expression": "nodes.classify.output.json.priority == 'high'"})
        .add(
            "route",
            "switch",
            {
                "cases": [
                    {"handle": "refund", "expression": "'refund' in nodes.classify.output.text"},
                    {"handle": "bug", "expression": "'bug' in nodes.classify.output.text"},
                ]
            },
        )
        .add(
            "outer",
            "loop",
            {"mode": "for_each", "items": "inputs.tickets", "max_iterations": 10, "concurrency": 2},
            size={"width": 800, "height": 400},
        )
        .add(
            "prep",
            "transform",
            {"mapping": {"value": "loops.outer.item", "position": "loop.index"}},
            parent="outer",
        )
        .add(
            "inner",
            "loop",
            {"mode": "count", "count": "vars.limit", "max_iterations": 5, "result": "nodes.gather.output"},
            parent="outer",
        )
        .add(
            "check",
            "condition",
            {"expression": "loop.index < 2 and loops.outer.item.priority == 'high'"},
            parent="inner",
        )
        .add("fan", "parallel", parent="inner")
        .add(
            "left",
            "transform",
            {"mapping": {"item": "loop.item", "prepared": "nodes.prep.output.value"}},
            parent="inner",
        )
        .add(
            "right", "transform", {"mapping": {"text": "nodes.classify.output.text | upper"}}, parent="inner"
        )
        .add("gather", "join", {"mode": "count", "count": 2, "cancel_remaining": True}, parent="inner")
        .add(
            "summary",
            "transform",
            {"mapping": {"passes": "nodes.inner.output.results | length", "first": "nodes.prep.output"}},
            parent="outer",
        )
        .add(
            "review",
            "approval",
            {
                "title": "Refund for {{ inputs.ticket }}",
                "instructions": "Check the amount.\n{% if nodes.urgent.output.value %}Urgent!{% endif %}",
                "payload": {"ticket": "{{ inputs.ticket }}", "priority": "{{ nodes.classify.output.json }}"},
                "assignees": {"users": ["alice"], "groups": ["reviewers"]},
                "required_approvals": 1,
                "allow_self_approval": False,
                "form": {"type": "object", "properties": {"reason": {"type": "string"}}},
                "due_in_s": 3600,
                "on_timeout": "escalate",
                "escalate_to": {"users": [], "groups": ["managers"]},
            },
        )
        .add(
            "scan",
            "agent_task",
            {"capability": "ocr", "input": {"ticket": "{{ inputs.ticket }}"}, "lease_s": 30, "max_leases": 2},
            timeout_s=600,
            retry={"max_attempts": 2},
        )
        .add("wait", "delay", {"until": "run.started_at"})
        .add(
            "final",
            "transform",
            {
                "mapping": {
                    "results": "nodes.outer.output.results",
                    "decision": "nodes.review.output.decision"
                    " if nodes.review.status == 'succeeded' else none",
                    "team": "vars.team",
                }
            },
        )
        .add("done", "end", {"outputs": {"summary": "{{ nodes.final.output }}", "run": "{{ run.id }}"}})
        .add("rejected", "end", {"outputs": {"reason": "{{ nodes.review.output.comment }}"}})
        .add("failed", "end", {"outputs": {"error": "{{ nodes.classify.output.error.message }}"}})
        .chain("start", "classify", "urgent")
        .connect("classify", "failed", "error")
        .connect("urgent", "route", "true")
        .connect("urgent", "outer", "false")
        .connect("route", "review", "refund")
        .connect("route", "scan", "bug")
        .connect("route", "wait", "default")
        .connect("review", "final", "approved")
        .connect("review", "rejected", "rejected")
        .chain("scan", "final")
        .chain("wait", "final")
        .chain("outer", "final", "done")
        .chain("prep", "inner", "summary")
        .connect("check", "fan", "true")
        .chain("fan", "left", "gather")
        .chain("fan", "right", "gather")
    )
    builder.extra["annotations"] = [
        {"id": "note1", "text": "Loops run per ticket", "position": {"x": 10, "y": -40}, "color": "yellow"}
    ]
    return builder.build()


class FakeDirectory:
    """The people and agents the rich graph names, for tests of directory-backed checks."""

    def __init__(
        self,
        users: frozenset[str] = frozenset({"alice"}),
        groups: frozenset[str] = frozenset({"reviewers", "managers"}),
        agents: frozenset[str] = frozenset({"triage-bot", "helper"}),
    ) -> None:
        self.users, self.groups, self.agents = users, groups, agents
        self.calls: list[tuple[str, set[str]]] = []

    def missing_users(self, names: set[str]) -> set[str]:
        self.calls.append(("users", set(names)))
        return names - self.users

    def missing_groups(self, names: set[str]) -> set[str]:
        self.calls.append(("groups", set(names)))
        return names - self.groups

    def missing_agents(self, slugs: set[str]) -> set[str]:
        self.calls.append(("agents", set(slugs)))
        return slugs - self.agents


def without_messages(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors reduced to code and location, which is what most rule tests pin down exactly."""
    return [{key: value for key, value in error.items() if key != "message"} for error in errors]
