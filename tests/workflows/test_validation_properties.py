"""Properties of the validator over generated documents and graphs.

1. Neither tier raises, whatever JSON it is given, and what it returns is well formed.
2. Whatever graph the full tier accepts really has the structure the engine relies on. The
   checker below is written from DESIGN §3 on its own; it shares nothing with the validator.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.workflows.graph_builders import VALID_CONFIGS, FakeDirectory, rich_graph
from workflows import validation
from workflows.node_types import NODE_TYPES
from workflows.validation import check_shape, validate_graph

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ERROR_KEYS = {"code", "message", "node_id", "edge_id", "path"}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        ["start", "end", "loop", "nodes.a.output", "{{ inputs.x }}", "out", "true", "a", "\x00"]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)

node_keys = [*sorted(validation.NODE_KEYS), "extra"]
node_like = st.dictionaries(
    st.sampled_from(node_keys),
    json_values | st.sampled_from(sorted(NODE_TYPES)) | st.sampled_from(["a", "b", "start", "loop_1"]),
    max_size=8,
)
edge_like = st.dictionaries(
    st.sampled_from(["id", "source", "target", "source_handle", "weight"]),
    st.sampled_from(["a", "b", "start", "end", "e1", "true", "error", "out"]) | json_values,
    max_size=5,
)
graph_like = st.fixed_dictionaries(
    {},
    optional={
        "schema_version": st.sampled_from([1, 1, 2, "1"]) | json_values,
        "nodes": st.lists(node_like, max_size=6) | json_values,
        "edges": st.lists(edge_like, max_size=6) | json_values,
        "variables": st.lists(json_values, max_size=3),
        "annotations": json_values,
    },
)


def assert_well_formed(errors: object) -> None:
    assert isinstance(errors, list)
    for error in errors:
        assert isinstance(error, dict)
        assert set(error) <= ERROR_KEYS
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
        assert all(isinstance(error[key], str) for key in error)
    json.dumps(errors)


@FAST
@given(json_values)
def test_neither_tier_raises_on_any_json_value(value: object) -> None:
    assert_well_formed(check_shape(value))
    assert_well_formed(validate_graph(value, directory=FakeDirectory()))


@FAST
@given(graph_like)
def test_neither_tier_raises_on_graph_shaped_noise(value: dict[str, Any]) -> None:
    assert_well_formed(check_shape(value))
    assert_well_formed(validate_graph(value, directory=FakeDirectory()))


# --- mutations of a valid graph -------------------------------------------------------------------


def all_places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    places = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            places += all_places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            places += all_places(item, (*path, index))
    return places


def get_at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def mutated_graphs(draw: st.DrawFn) -> dict[str, Any]:
    graph = rich_graph()
    node_ids = [node["id"] for node in graph["nodes"]] + ["ghost"]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        places = all_places(graph)[1:]
        action = draw(
            st.sampled_from(["drop", "replace", "edge", "reparent", "duplicate", "retype", "on_error"])
        )
        if action in ("drop", "replace") and places:
            path = draw(st.sampled_from(places))
            container = get_at(graph, path[:-1])
            if action == "drop":
                del container[path[-1]]
            else:
                container[path[-1]] = draw(json_values)
        elif action == "edge" and isinstance(graph.get("edges"), list):
            graph["edges"].append(
                {
                    "id": draw(st.sampled_from(["e1", "x1", "x2"])),
                    "source": draw(st.sampled_from(node_ids)),
                    "target": draw(st.sampled_from(node_ids)),
                    "source_handle": draw(
                        st.sampled_from(["out", "true", "false", "error", "default", "refund"])
                    ),
                }
            )
        elif isinstance(graph.get("nodes"), list) and graph["nodes"]:
            node = draw(st.sampled_from(graph["nodes"]))
            if not isinstance(node, dict):
                continue
            if action == "reparent":
                node["parent"] = draw(st.sampled_from([*node_ids, None]))
            elif action == "duplicate":
                graph["nodes"].append(copy.deepcopy(node))
            elif action == "retype":
                node["type"] = draw(st.sampled_from(sorted(NODE_TYPES)))
            else:
                node["on_error"] = draw(st.sampled_from(["fail", "continue", "branch"]))
    return graph


@FAST
@given(mutated_graphs())
def test_neither_tier_raises_on_mutations_of_a_valid_graph(graph: dict[str, Any]) -> None:
    shape_errors = check_shape(graph)
    full_errors = validate_graph(graph, directory=FakeDirectory())

    assert_well_formed(shape_errors)
    assert_well_formed(full_errors)
    if not full_errors:
        assert_graph_invariants(graph)


# --- random graphs and an independent structural checker ------------------------------------------


TOP_LEVEL_TYPES = ["transform", "condition", "parallel", "join", "loop", "end"]
BODY_TYPES = ["transform", "condition", "parallel", "join", "loop"]


def handles_of(node: dict[str, Any]) -> set[str]:
    """The handles a node has, straight from DESIGN §3's table."""
    node_type = node["type"]
    if node_type == "condition":
        handles = {"true", "false"}
    elif node_type == "switch":
        handles = {case["handle"] for case in node.get("config", {}).get("cases", [])} | {"default"}
    elif node_type == "approval":
        handles = {"approved", "rejected"}
    elif node_type == "end":
        handles = set()
    else:
        handles = {"out"}
    if node.get("on_error") == "branch":
        handles.add("error")
    return handles


def assert_graph_invariants(graph: dict[str, Any]) -> None:
    nodes = {node["id"]: node for node in graph["nodes"]}
    edges = graph["edges"]
    parent_of = {node_id: node.get("parent") for node_id, node in nodes.items()}

    assert len(nodes) == len(graph["nodes"])
    assert [node["type"] for node in graph["nodes"]].count("start") == 1
    assert any(node["type"] == "end" for node in graph["nodes"])
    for edge in edges:
        assert edge["source"] in nodes and edge["target"] in nodes
        assert parent_of[edge["source"]] == parent_of[edge["target"]]
        assert (edge.get("source_handle") or "out") in handles_of(nodes[edge["source"]])
    for node_id, node in nodes.items():
        if node["type"] == "join":
            assert sum(1 for edge in edges if edge["target"] == node_id) >= 2
        if node.get("parent") is not None:
            assert nodes[node["parent"]]["type"] == "loop"

    successors: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    for edge in edges:
        successors[edge["source"]].append(edge["target"])
    assert_acyclic(successors)

    has_incoming = {edge["target"] for edge in edges}
    start = next(node_id for node_id, node in nodes.items() if node["type"] == "start")
    seen = {start}
    frontier = [start]
    while frontier:
        current = frontier.pop()
        following = list(successors[current])
        if nodes[current]["type"] == "loop":
            following += [
                node_id for node_id in nodes if parent_of[node_id] == current and node_id not in has_incoming
            ]
        for node_id in following:
            if node_id not in seen:
                seen.add(node_id)
                frontier.append(node_id)
    assert seen == set(nodes)


def assert_acyclic(successors: dict[str, list[str]]) -> None:
    """Depth-first search with colours: meeting a grey node again means a cycle."""
    colour = dict.fromkeys(successors, "white")
    for root in successors:
        if colour[root] != "white":
            continue
        stack = [(root, iter(successors[root]))]
        colour[root] = "grey"
        while stack:
            node_id, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node_id] = "black"
                stack.pop()
            elif colour[child] == "grey":
                raise AssertionError(f"cycle through {child}")
            elif colour[child] == "white":
                colour[child] = "grey"
                stack.append((child, iter(successors[child])))


@st.composite
def random_graphs(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A graph built valid by construction, then (when ``corrupted``) broken in one to three ways."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "config": {}}]
    edges: list[dict[str, Any]] = []
    counter = iter(range(1, 10_000))

    def new_edge(source: dict[str, Any], target_id: str) -> None:
        handles = sorted(handles_of(source) - {"error"})
        edge = {"id": f"e{next(counter)}", "source": source["id"], "target": target_id}
        handle = draw(st.sampled_from(handles))
        if handle != "out":
            edge["source_handle"] = handle
        edges.append(edge)

    def build_level(parent: str | None, depth: int, members: list[dict[str, Any]]) -> None:
        size = draw(st.integers(min_value=1, max_value=4))
        for position in range(size):
            choices = BODY_TYPES if parent is not None else TOP_LEVEL_TYPES[:-1]
            if depth >= 2:
                choices = [choice for choice in choices if choice != "loop"]
            node_type = draw(st.sampled_from(choices))
            node_id = f"n{next(counter)}"
            node: dict[str, Any] = {
                "id": node_id,
                "type": node_type,
                "config": copy.deepcopy(VALID_CONFIGS[node_type]),
            }
            if parent is not None:
                node["parent"] = parent
            sources = [member for member in members if member["type"] != "end"]
            wanted = 2 if node_type == "join" else 1
            if parent is not None and position == 0:
                wanted = 0
            if node_type == "join" and len(sources) < 2:
                node["type"], node["config"] = "transform", {"mapping": {}}
                wanted = min(wanted, 1) if sources else 0
            if wanted and sources:
                for source in draw(
                    st.lists(st.sampled_from(sources), min_size=wanted, max_size=wanted, unique_by=id)
                ):
                    new_edge(source, node_id)
            elif parent is None:
                new_edge(members[0], node_id)
            nodes.append(node)
            members.append(node)
            if node["type"] == "loop":
                node["config"] = {"mode": "count", "count": 2, "max_iterations": 3}
                body: list[dict[str, Any]] = []
                build_level(node_id, depth + 1, body)
                outgoing = {edge["source"] for edge in edges}
                if sum(1 for member in body if member["id"] not in outgoing) > 1:
                    node["config"]["result"] = "loop.index"

    top: list[dict[str, Any]] = [nodes[0]]
    build_level(None, 0, top)
    finishers = [member for member in top if member["type"] != "end"]
    nodes.append({"id": "finish", "type": "end", "config": {}})
    new_edge(draw(st.sampled_from(finishers)), "finish")

    corrupted = draw(st.booleans())
    if corrupted:
        ids = [node["id"] for node in nodes]
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            breakage = draw(st.sampled_from(["edge", "drop_edge", "reparent", "handle", "drop_end", "start"]))
            if breakage == "edge":
                edges.append(
                    {
                        "id": f"x{next(counter)}",
                        "source": draw(st.sampled_from(ids)),
                        "target": draw(st.sampled_from(ids)),
                        "source_handle": draw(st.sampled_from(["out", "true", "false", "maybe"])),
                    }
                )
            elif breakage == "drop_edge" and edges:
                edges.pop(draw(st.integers(min_value=0, max_value=len(edges) - 1)))
            elif breakage == "reparent":
                node = draw(st.sampled_from(nodes))
                node["parent"] = draw(st.sampled_from([*ids, None]))
            elif breakage == "handle" and edges:
                edges[draw(st.integers(min_value=0, max_value=len(edges) - 1))]["source_handle"] = "maybe"
            elif breakage == "drop_end":
                nodes[:] = [node for node in nodes if node["id"] != "finish"]
            elif breakage == "start":
                nodes.append({"id": "again", "type": "start", "config": {}})
    return {"schema_version": 1, "nodes": nodes, "edges": edges}, corrupted


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_accepted_graphs_have_the_structure_the_engine_relies_on(case: tuple[dict[str, Any], bool]) -> None:
    graph, corrupted = case

    errors = validate_graph(graph)

    if not corrupted:
        assert errors == []
    if not errors:
        assert_graph_invariants(graph)


# --- the quick schema check is sound --------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted(NODE_TYPES)),
    st.booleans(),
    st.dictionaries(
        st.sampled_from(
            [
                "mode",
                "count",
                "items",
                "max_iterations",
                "cases",
                "outputs",
                "mapping",
                "seconds",
                "title",
                "assignees",
                "required_approvals",
                "agent",
                "prompt",
                "temperature",
                "capability",
                "lease_s",
                "expression",
                "unknown",
            ]
        ),
        json_values
        | st.integers(min_value=-2, max_value=20_000)
        | st.sampled_from(["count", "all", "text", 1.0]),
        max_size=5,
    ),
)
def test_quick_config_check_never_accepts_what_jsonschema_rejects(
    type_name: str, relaxed: bool, config: dict[str, Any]
) -> None:
    node_type = NODE_TYPES[type_name]
    quick_check = validation._quick_check(node_type, relaxed=relaxed)
    schema = validation._relax(node_type.config_schema) if relaxed else node_type.config_schema

    if quick_check is not None and quick_check(config):
        assert list(Draft202012Validator(schema).iter_errors(config)) == []
