"""One test per validation rule: the exact error code and where it points, and nothing else.

Each test starts from a graph that is valid apart from the rule under test, so the whole error list
can be compared. Errors are compared without their messages (see ``without_messages``) except where
the wording is the point.
"""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Any

import pytest

from executions.engine import expressions
from tests.workflows.graph_builders import (
    FakeDirectory,
    GraphBuilder,
    around,
    minimal_graph,
    rich_graph,
    without_messages,
)
from workflows import validation
from workflows.graph import Graph, GraphCycleError
from workflows.validation import check_shape, validate_graph


def full(graph: object, **kwargs: Any) -> list[dict[str, Any]]:
    return without_messages(validate_graph(graph, **kwargs))


def shape(graph: object) -> list[dict[str, Any]]:
    return without_messages(check_shape(graph))


# --- valid graphs ---------------------------------------------------------------------------------


def test_minimal_graph_is_valid_in_both_tiers() -> None:
    assert validate_graph(minimal_graph()) == []
    assert check_shape(minimal_graph()) == []


def test_rich_graph_using_every_node_type_is_valid() -> None:
    graph = rich_graph()
    directory = FakeDirectory()

    assert validate_graph(graph, directory=directory) == []
    assert check_shape(graph) == []
    assert {node["type"] for node in graph["nodes"]} == BUILT_IN_TYPES
    assert sorted(kind for kind, _ in directory.calls) == ["agents", "groups", "users"]


BUILT_IN_TYPES = {
    "start",
    "end",
    "prompt",
    "condition",
    "switch",
    "loop",
    "parallel",
    "join",
    "approval",
    "delay",
    "transform",
    "agent_task",
}


def test_validation_does_not_change_its_input() -> None:
    graph = rich_graph()
    before = copy.deepcopy(graph)

    validate_graph(graph, directory=FakeDirectory())
    check_shape(graph)

    assert graph == before


def test_null_parent_and_source_handle_mean_absent() -> None:
    graph = around(("work", "transform")).build()
    graph["nodes"][1]["parent"] = None
    graph["edges"][0]["source_handle"] = None

    assert validate_graph(graph) == []


# --- shape tier: the document ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, [], "graph", 3, 2.5, True])
def test_graph_must_be_an_object(value: object) -> None:
    assert shape(value) == [{"code": "invalid_type"}]
    assert full(value) == [{"code": "invalid_type"}]


def test_unknown_top_level_key_is_rejected() -> None:
    graph = minimal_graph()
    graph["layout"] = {}

    assert shape(graph) == [{"code": "unknown_key", "path": "layout"}]


def test_schema_version_is_required() -> None:
    graph = minimal_graph()
    del graph["schema_version"]

    assert shape(graph) == [{"code": "missing_field", "path": "schema_version"}]


@pytest.mark.parametrize("version", [2, 0, "1", 1.5, True, None])
def test_only_schema_version_1_is_supported(version: object) -> None:
    graph = minimal_graph()
    graph["schema_version"] = version

    assert shape(graph) == [{"code": "unsupported_schema_version", "path": "schema_version"}]


def test_nodes_and_edges_must_be_lists() -> None:
    graph = minimal_graph()
    graph["nodes"] = {"start": {}}
    del graph["edges"]

    assert shape(graph) == [
        {"code": "missing_field", "path": "edges"},
        {"code": "invalid_type", "path": "nodes"},
    ]
    assert full(graph) == shape(graph)


def test_variables_and_annotations_must_be_lists() -> None:
    graph = minimal_graph()
    graph["variables"] = {}
    graph["annotations"] = "none"

    assert shape(graph) == [
        {"code": "invalid_type", "path": "annotations"},
        {"code": "invalid_type", "path": "variables"},
    ]


def test_nul_character_in_a_value_is_rejected_where_it_is() -> None:
    graph = around(("work", "transform", {"mapping": {"a": "inputs.x\x00"}})).build()

    assert shape(graph) == [{"code": "nul_character", "node_id": "work", "path": "config.mapping.a"}]
    assert full(graph) == shape(graph)


def test_nul_character_in_a_key_is_rejected() -> None:
    graph = minimal_graph()
    graph["nodes"][0]["config"] = {"bad\x00key": 1}

    assert shape(graph) == [{"code": "nul_character", "node_id": "start", "path": "config"}]


def test_nul_character_in_a_node_id_points_at_the_list_entry() -> None:
    graph = minimal_graph()
    graph["nodes"][1]["id"] = "en\x00d"

    assert shape(graph) == [{"code": "nul_character", "path": "nodes.1.id"}]


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_rejected(number: float) -> None:
    graph = minimal_graph()
    graph["nodes"][0]["position"] = {"x": number, "y": 0}

    assert shape(graph) == [{"code": "non_finite_number", "node_id": "start", "path": "position.x"}]


def test_deep_nesting_is_rejected_without_recursing() -> None:
    deep: list[Any] = []
    for _ in range(5_000):
        deep = [deep]
    graph = minimal_graph()
    graph["nodes"][0]["config"] = {"input_schema": {"default": deep}}

    errors = full(graph)

    assert errors == [
        {
            "code": "too_deeply_nested",
            "node_id": "start",
            "path": "config.input_schema.default" + ".0" * (validation.MAX_DEPTH - 5),
        }
    ]


def test_too_many_nodes() -> None:
    graph = minimal_graph()
    graph["nodes"] += [{"id": f"n{index}", "type": "parallel"} for index in range(validation.MAX_NODES)]

    assert shape(graph) == [{"code": "too_many_nodes", "path": "nodes"}]
    assert full(graph) == shape(graph)


def test_too_many_edges() -> None:
    graph = minimal_graph()
    graph["edges"] = [
        {"id": f"e{index}", "source": "start", "target": "end"} for index in range(validation.MAX_EDGES + 1)
    ]

    assert shape(graph) == [{"code": "too_many_edges", "path": "edges"}]


def test_graph_over_one_megabyte() -> None:
    graph = minimal_graph()
    graph["nodes"][0]["notes"] = "x" * 9_000
    graph["annotations"] = [
        {"id": f"a{index}", "text": "y" * 9_000, "position": {"x": 0, "y": 0}} for index in range(120)
    ]

    assert shape(graph) == [{"code": "graph_too_large"}]


# --- shape tier: nodes ----------------------------------------------------------------------------


def test_node_must_be_an_object() -> None:
    graph = minimal_graph()
    graph["nodes"].append("loose")

    assert shape(graph) == [{"code": "invalid_type", "path": "nodes.2"}]


def test_unknown_node_key_is_rejected() -> None:
    graph = minimal_graph()
    graph["nodes"][0]["selected"] = True

    assert shape(graph) == [{"code": "unknown_key", "node_id": "start", "path": "selected"}]


def test_node_needs_id_and_type() -> None:
    graph = minimal_graph()
    graph["nodes"].append({"name": "Orphan"})

    assert shape(graph) == [
        {"code": "missing_field", "path": "nodes.2.id"},
        {"code": "missing_field", "path": "nodes.2.type"},
    ]


@pytest.mark.parametrize("node_id", ["Start", "1st", "has-dash", "", "a" * 65, "café"])
def test_node_id_must_match_the_pattern(node_id: str) -> None:
    graph = minimal_graph()
    graph["nodes"][1]["id"] = node_id

    assert shape(graph) == [{"code": "invalid_node_id", "path": "nodes.1.id"}]


def test_unknown_node_type() -> None:
    graph = around(("mystery", "teleport")).build()

    assert shape(graph) == [{"code": "unknown_node_type", "node_id": "mystery", "path": "type"}]


def test_name_and_notes_have_length_caps() -> None:
    graph = minimal_graph()
    graph["nodes"][0]["name"] = "n" * 201
    graph["nodes"][1]["notes"] = "n" * 10_001

    assert shape(graph) == [
        {"code": "too_long", "node_id": "end", "path": "notes"},
        {"code": "too_long", "node_id": "start", "path": "name"},
    ]


def test_position_and_size_need_numbers() -> None:
    graph = minimal_graph()
    graph["nodes"][0]["position"] = {"x": "0", "z": 1}
    graph["nodes"][1]["size"] = {"width": -1, "height": 10}

    assert shape(graph) == [
        {"code": "invalid_value", "node_id": "end", "path": "size.width"},
        {"code": "invalid_type", "node_id": "start", "path": "position.x"},
        {"code": "missing_field", "node_id": "start", "path": "position.y"},
        {"code": "unknown_key", "node_id": "start", "path": "position.z"},
    ]


def test_retry_fields_have_sane_ranges() -> None:
    graph = around(
        ("ask", "prompt"),
    ).build()
    graph["nodes"][1]["retry"] = {"max_attempts": 0, "backoff_s": -1, "multiplier": 100, "jitter": 1}

    assert shape(graph) == [
        {"code": "invalid_value", "node_id": "ask", "path": "retry.backoff_s"},
        {"code": "unknown_key", "node_id": "ask", "path": "retry.jitter"},
        {"code": "invalid_value", "node_id": "ask", "path": "retry.max_attempts"},
        {"code": "invalid_value", "node_id": "ask", "path": "retry.multiplier"},
    ]


def test_retry_needs_max_attempts_only_when_validating() -> None:
    graph = around(("ask", "prompt")).build()
    graph["nodes"][1]["retry"] = {"backoff_s": 2}

    assert shape(graph) == []
    assert full(graph) == [{"code": "missing_field", "node_id": "ask", "path": "retry.max_attempts"}]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("timeout_s", 0, "invalid_value"),
        ("timeout_s", "60", "invalid_type"),
        ("on_error", "ignore", "invalid_value"),
        ("disabled", "yes", "invalid_type"),
        ("parent", 3, "invalid_type"),
    ],
)
def test_node_level_fields_are_type_checked(field: str, value: object, code: str) -> None:
    graph = around(("ask", "prompt")).build()
    graph["nodes"][1][field] = value

    assert shape(graph) == [{"code": code, "node_id": "ask", "path": field}]


# --- shape tier: configs --------------------------------------------------------------------------


def test_unknown_config_setting_is_rejected() -> None:
    graph = around(("decide", "condition", {"expression": "true", "colour": "red"})).build()

    assert shape(graph) == [{"code": "unknown_key", "node_id": "decide", "path": "config.colour"}]


def test_config_value_of_the_wrong_type() -> None:
    graph = around(("each", "loop", {"mode": "count", "count": 2, "max_iterations": "ten"})).build()
    graph["nodes"].append({"id": "body", "type": "parallel", "parent": "each"})

    assert shape(graph) == [{"code": "invalid_type", "node_id": "each", "path": "config.max_iterations"}]


def test_config_value_outside_its_choices() -> None:
    graph = around(("ask", "prompt", {"agent": "helper", "prompt": "Hi", "output": "xml"})).build()

    assert shape(graph) == [{"code": "invalid_value", "node_id": "ask", "path": "config.output"}]


def test_config_must_be_an_object() -> None:
    graph = around(("ask", "prompt", [])).build()  # type: ignore[arg-type]

    assert shape(graph) == [{"code": "invalid_type", "node_id": "ask", "path": "config"}]


def test_drafts_may_leave_required_settings_empty() -> None:
    graph = (
        GraphBuilder()
        .add("start", "start", {})
        .add("decide", "condition", {})
        .add("route", "switch", {"cases": [{"handle": "", "expression": ""}]})
        .add("ask", "prompt", {})
        .add("hand_off", "agent_task", {"capability": ""})
        .add("each", "loop", {})
        .build()
    )

    assert check_shape(graph) == []


def test_required_settings_are_enforced_when_validating() -> None:
    graph = around(("decide", "condition", {}), ("hand_off", "agent_task", {"capability": ""})).build()

    assert full(graph) == [
        {"code": "missing_field", "node_id": "decide", "path": "config.expression"},
        {"code": "missing_field", "node_id": "hand_off", "path": "config.capability"},
    ]


def test_template_longer_than_the_limit_is_rejected_in_drafts() -> None:
    source = "x" * (expressions.MAX_SOURCE_LENGTH + 1)
    graph = around(("decide", "condition", {"expression": source})).build()

    assert shape(graph) == [{"code": "expression_too_long", "node_id": "decide", "path": "config.expression"}]
    assert full(graph) == shape(graph)


# --- shape tier: edges, variables, annotations ----------------------------------------------------


def test_edge_needs_id_source_and_target() -> None:
    graph = minimal_graph()
    graph["edges"].append({"source": "start", "target": 7, "label": "x"})

    assert shape(graph) == [
        {"code": "missing_field", "path": "edges.1.id"},
        {"code": "unknown_key", "path": "edges.1.label"},
        {"code": "invalid_type", "path": "edges.1.target"},
    ]


def test_edge_source_handle_must_be_a_short_text() -> None:
    graph = minimal_graph()
    graph["edges"][0]["source_handle"] = ""

    assert shape(graph) == [{"code": "invalid_value", "edge_id": "e1", "path": "source_handle"}]


def test_variable_shape() -> None:
    graph = minimal_graph()
    graph["variables"] = [
        {"name": "1st", "type": "string"},
        {"name": "ok", "type": "date", "secret": True},
        {"type": "string"},
    ]

    assert shape(graph) == [
        {"code": "invalid_variable_name", "path": "variables.0.name"},
        {"code": "unknown_key", "path": "variables.1.secret"},
        {"code": "invalid_value", "path": "variables.1.type"},
        {"code": "missing_field", "path": "variables.2.name"},
    ]


def test_annotation_shape() -> None:
    graph = minimal_graph()
    graph["annotations"] = [
        {"id": "a1", "text": "fine", "position": {"x": 0, "y": 0}, "size": {"width": 10, "height": 5}},
        {"id": "a2", "position": {"x": 0, "y": 0}, "pinned": True},
    ]

    assert shape(graph) == [
        {"code": "unknown_key", "path": "annotations.1.pinned"},
        {"code": "missing_field", "path": "annotations.1.text"},
    ]


# --- full tier: ids and edges ---------------------------------------------------------------------


def test_duplicate_node_id() -> None:
    graph = around(("work", "transform")).build()
    graph["nodes"].append({"id": "work", "type": "transform", "config": {"mapping": {}}})

    assert full(graph) == [{"code": "duplicate_node_id", "node_id": "work", "path": "id"}]


def test_duplicate_edge_id() -> None:
    graph = around(("work", "transform")).build()
    graph["edges"][1]["id"] = "e1"

    assert full(graph) == [{"code": "duplicate_edge_id", "edge_id": "e1", "path": "id"}]


def test_dangling_edge() -> None:
    graph = minimal_graph()
    graph["edges"].append({"id": "ghost", "source": "start", "target": "nowhere"})
    graph["edges"].append({"id": "phantom", "source": "void", "target": "end"})

    assert full(graph) == [
        {"code": "dangling_edge", "edge_id": "ghost", "path": "target"},
        {"code": "dangling_edge", "edge_id": "phantom", "path": "source"},
    ]


def test_self_edge() -> None:
    builder = around(("work", "transform"))
    builder.connect("work", "work", edge_id="loopback")

    assert full(builder.build()) == [{"code": "self_edge", "edge_id": "loopback"}]


def test_duplicate_edge() -> None:
    builder = around(("work", "transform"))
    builder.connect("start", "work", edge_id="again")

    assert full(builder.build()) == [{"code": "duplicate_edge", "edge_id": "again"}]


def test_cycle_is_reported_once_on_the_closing_edge() -> None:
    builder = around(("a", "transform"), ("b", "transform"), ("c", "transform"))
    builder.connect("c", "a", edge_id="back")

    errors = validate_graph(builder.build())

    assert without_messages(errors) == [{"code": "cycle", "edge_id": "back"}]
    assert errors[0]["message"] == "Edges form a cycle: a → b → c → a. Use a loop node to repeat steps."


def test_cycle_inside_a_loop_body() -> None:
    builder = around(("each", "loop"))
    builder.add("entry", "transform", parent="each")
    builder.add("a", "transform", parent="each").add("b", "transform", parent="each")
    builder.chain("entry", "a", "b").connect("b", "a", edge_id="back")

    assert full(builder.build()) == [{"code": "cycle", "edge_id": "back"}]


def test_edge_crossing_into_a_loop_body() -> None:
    builder = around(("each", "loop"))
    builder.add("inside", "transform", parent="each")
    builder.connect("start", "inside", edge_id="jump")

    assert full(builder.build()) == [{"code": "edge_crosses_loop", "edge_id": "jump"}]


def test_edge_from_a_loop_to_its_own_body() -> None:
    builder = around(("each", "loop"))
    builder.add("inside", "transform", parent="each")
    builder.connect("each", "inside", edge_id="into")

    errors = validate_graph(builder.build())

    assert without_messages(errors) == [{"code": "edge_crosses_loop", "edge_id": "into"}]
    assert "into its own body" in errors[0]["message"]


# --- full tier: parents and loops -----------------------------------------------------------------


def test_parent_that_does_not_exist() -> None:
    graph = around(("work", "transform", {"mapping": {}})).build()
    graph["nodes"][1]["parent"] = "nowhere"

    assert full(graph) == [
        {"code": "unreachable_node", "node_id": "end"},
        {"code": "unknown_parent", "node_id": "work", "path": "parent"},
        {"code": "edge_crosses_loop", "edge_id": "e1"},
        {"code": "edge_crosses_loop", "edge_id": "e2"},
    ]


def test_parent_that_is_not_a_loop() -> None:
    builder = around(("work", "transform"))
    builder.add("inside", "transform", parent="work")

    assert full(builder.build()) == [{"code": "parent_not_loop", "node_id": "inside", "path": "parent"}]


def test_loops_inside_each_other() -> None:
    builder = around(("outer", "loop"))
    builder.add("inner", "loop", parent="outer").add("work", "transform", parent="inner")
    builder.node("outer")["parent"] = "inner"

    errors = full(builder.build())

    assert {"code": "parent_cycle", "node_id": "outer", "path": "parent"} in errors
    assert {"code": "parent_cycle", "node_id": "inner", "path": "parent"} in errors
    assert {error["code"] for error in errors} == {
        "parent_cycle",
        "edge_crosses_loop",
        "unreachable_node",
        "loop_needs_result",
    }


@pytest.mark.parametrize(("node_type", "code"), [("start", "start_in_loop"), ("end", "end_in_loop")])
def test_start_and_end_cannot_have_a_parent(node_type: str, code: str) -> None:
    builder = around(("each", "loop"))
    builder.add("body", "transform", parent="each")
    builder.node(node_type)["parent"] = "each"
    builder.edges = [edge for edge in builder.edges if node_type not in (edge["source"], edge["target"])]
    if node_type == "end":
        builder.add("finish", "end").connect("each", "finish")

    errors = full(builder.build())

    assert {"code": code, "node_id": node_type, "path": "parent"} in errors


def test_loop_body_must_not_be_empty() -> None:
    graph = around(("each", "loop")).build()

    assert full(graph) == [{"code": "empty_loop_body", "node_id": "each"}]


def test_loop_body_with_several_sinks_needs_a_result() -> None:
    builder = around(("each", "loop"))
    builder.add("first", "transform", parent="each").add("second", "transform", parent="each")

    assert full(builder.build()) == [
        {"code": "loop_needs_result", "node_id": "each", "path": "config.result"}
    ]
    builder.node("each")["config"]["result"] = "[nodes.first.output, nodes.second.output]"
    assert full(builder.build()) == []


@pytest.mark.parametrize(
    ("max_iterations", "code"), [(None, "missing_field"), (10_001, "invalid_value"), (0, "invalid_value")]
)
def test_loop_max_iterations_is_required_and_bounded(max_iterations: int | None, code: str) -> None:
    builder = around(("each", "loop")).add("work", "transform", parent="each")
    config = builder.node("each")["config"]
    if max_iterations is None:
        del config["max_iterations"]
    else:
        config["max_iterations"] = max_iterations

    assert full(builder.build()) == [{"code": code, "node_id": "each", "path": "config.max_iterations"}]


@pytest.mark.parametrize(
    ("mode", "field"), [("for_each", "items"), ("count", "count"), ("while", "condition")]
)
def test_loop_mode_needs_its_field(mode: str, field: str) -> None:
    builder = around(("each", "loop", {"mode": mode, "max_iterations": 3})).add(
        "work", "transform", parent="each"
    )

    assert full(builder.build()) == [{"code": "missing_field", "node_id": "each", "path": f"config.{field}"}]


def test_loop_without_mode_defaults_to_for_each() -> None:
    builder = around(("each", "loop", {"max_iterations": 3})).add("work", "transform", parent="each")

    assert full(builder.build()) == [
        {"code": "missing_field", "node_id": "each", "path": "config.items"},
        {"code": "missing_field", "node_id": "each", "path": "config.mode"},
    ]


def test_nested_loops_multiplying_past_the_limit() -> None:
    builder = around(("outer", "loop", {"mode": "count", "count": 2, "max_iterations": 1_000}))
    builder.add("inner", "loop", {"mode": "count", "count": 2, "max_iterations": 101}, parent="outer")
    builder.add("work", "transform", parent="inner")

    assert full(builder.build()) == [
        {"code": "loop_nesting_too_large", "node_id": "inner", "path": "config.max_iterations"}
    ]
    builder.node("inner")["config"]["max_iterations"] = 100
    assert full(builder.build()) == []


# --- full tier: start, end, reachability ----------------------------------------------------------


def test_missing_start() -> None:
    graph = GraphBuilder().add("work", "transform").add("end", "end").chain("work", "end").build()

    assert full(graph) == [{"code": "missing_start"}]


def test_multiple_starts() -> None:
    builder = around(("work", "transform"))
    builder.add("again", "start").connect("again", "work")

    assert full(builder.build()) == [{"code": "multiple_starts", "node_id": "again"}]


def test_missing_end() -> None:
    graph = GraphBuilder().add("start", "start").add("work", "transform").chain("start", "work").build()

    assert full(graph) == [{"code": "missing_end"}]


def test_edge_into_start() -> None:
    builder = around(("decide", "condition"))
    builder.connect("decide", "start", "false", edge_id="back")

    errors = full(builder.build())

    assert errors == [
        {"code": "cycle", "edge_id": "back"},
        {"code": "edge_into_start", "edge_id": "back", "path": "target"},
    ]


def test_unreachable_node() -> None:
    builder = around(("work", "transform"))
    builder.add("island", "transform").add("bridge", "transform").chain("island", "bridge")

    assert full(builder.build()) == [
        {"code": "unreachable_node", "node_id": "bridge"},
        {"code": "unreachable_node", "node_id": "island"},
    ]


def test_loop_body_is_reached_through_its_entry_nodes() -> None:
    builder = around(("each", "loop"))
    builder.add("first", "transform", parent="each").add("second", "transform", parent="each")
    builder.chain("first", "second")

    assert full(builder.build()) == []


def test_body_of_an_unreachable_loop_is_not_reported_twice() -> None:
    builder = around(("work", "transform"))
    builder.add("each", "loop").add("inside", "transform", parent="each")

    assert full(builder.build()) == [{"code": "unreachable_node", "node_id": "each"}]


# --- full tier: handles ---------------------------------------------------------------------------


def test_unknown_handle_names_the_handles_that_exist() -> None:
    builder = around(("urgent", "condition"))
    builder.edges[1]["source_handle"] = "maybe"
    builder.edges[1]["id"] = "e3"

    errors = validate_graph(builder.build())

    assert errors == [
        {
            "code": "unknown_handle",
            "message": "Edge e3 leaves handle 'maybe', which condition node 'urgent' does not have "
            "(it has: true, false).",
            "edge_id": "e3",
            "path": "source_handle",
        }
    ]


def test_end_node_has_no_handles() -> None:
    builder = around()
    builder.add("after", "transform").connect("end", "after", edge_id="onward")

    assert full(builder.build()) == [{"code": "unknown_handle", "edge_id": "onward", "path": "source_handle"}]


def test_switch_handles_come_from_its_cases() -> None:
    builder = around(("route", "switch", {"cases": [{"handle": "refund", "expression": "true"}]}))
    builder.edges[1]["source_handle"] = "refund"
    builder.add("other", "end").connect("route", "other", "default")
    builder.add("stray", "end").connect("route", "stray", "bug", edge_id="bad")

    assert full(builder.build()) == [{"code": "unknown_handle", "edge_id": "bad", "path": "source_handle"}]


def test_duplicate_switch_case_handle() -> None:
    cases = [{"handle": "a", "expression": "true"}, {"handle": "a", "expression": "false"}]
    builder = around(("route", "switch", {"cases": cases}))
    builder.edges[1]["source_handle"] = "a"

    assert full(builder.build()) == [
        {"code": "duplicate_handle", "node_id": "route", "path": "config.cases.1.handle"}
    ]


@pytest.mark.parametrize("handle", ["default", "error"])
def test_switch_case_cannot_use_a_reserved_handle(handle: str) -> None:
    cases = [{"handle": "a", "expression": "true"}, {"handle": handle, "expression": "false"}]
    builder = around(("route", "switch", {"cases": cases}))
    builder.edges[1]["source_handle"] = "a"

    assert full(builder.build()) == [
        {"code": "reserved_handle", "node_id": "route", "path": "config.cases.1.handle"}
    ]


def test_error_handle_exists_only_with_on_error_branch() -> None:
    builder = around(("ask", "prompt"))
    builder.add("oops", "end").connect("ask", "oops", "error", edge_id="err")

    errors = validate_graph(builder.build())

    assert without_messages(errors) == [{"code": "unknown_handle", "edge_id": "err", "path": "source_handle"}]
    assert "only when on_error is 'branch'" in errors[0]["message"]
    builder.node("ask")["on_error"] = "branch"
    assert full(builder.build()) == []


# --- full tier: on_error, retry, timeout ----------------------------------------------------------


@pytest.mark.parametrize("node_type", ["condition", "switch", "approval"])
def test_continue_needs_an_out_handle(node_type: str) -> None:
    builder = around((node_type, node_type))
    builder.node(node_type)["on_error"] = "continue"
    builder.edges[1]["source_handle"] = {"condition": "true", "switch": "default", "approval": "approved"}[
        node_type
    ]

    assert full(builder.build()) == [
        {"code": "continue_without_out", "node_id": node_type, "path": "on_error"}
    ]


@pytest.mark.parametrize("node_type", ["condition", "switch", "approval"])
def test_nodes_without_out_cannot_be_disabled(node_type: str) -> None:
    builder = around((node_type, node_type))
    builder.node(node_type)["disabled"] = True
    builder.edges[1]["source_handle"] = {"condition": "true", "switch": "default", "approval": "approved"}[
        node_type
    ]

    assert full(builder.build()) == [{"code": "cannot_disable", "node_id": node_type, "path": "disabled"}]


@pytest.mark.parametrize("node_id", ["start", "end"])
def test_start_and_end_cannot_be_disabled(node_id: str) -> None:
    builder = around(("step", "transform"))
    builder.node(node_id)["disabled"] = True

    assert full(builder.build()) == [{"code": "cannot_disable", "node_id": node_id, "path": "disabled"}]


def test_a_disabled_transform_is_valid() -> None:
    builder = around(("step", "transform"))
    builder.node("step")["disabled"] = True

    assert full(builder.build()) == []


def test_branch_needs_an_edge_from_the_error_handle() -> None:
    graph = around(("ask", "prompt")).build()
    graph["nodes"][1]["on_error"] = "branch"

    assert full(graph) == [{"code": "missing_error_edge", "node_id": "ask", "path": "on_error"}]


@pytest.mark.parametrize(
    "node_type", ["start", "end", "parallel", "join", "condition", "switch", "transform", "loop"]
)
def test_retry_and_timeout_rejected_where_nothing_fails_transiently(node_type: str) -> None:
    graph = {
        "schema_version": 1,
        "nodes": [{"id": "node", "type": node_type, "retry": {"max_attempts": 2}, "timeout_s": 5}],
        "edges": [],
    }

    errors = [
        error
        for error in full(graph)
        if error.get("node_id") == "node" and "path" in error and error["path"] in ("retry", "timeout_s")
    ]

    assert errors == [
        {"code": "retry_not_allowed", "node_id": "node", "path": "retry"},
        {"code": "timeout_not_allowed", "node_id": "node", "path": "timeout_s"},
    ]


@pytest.mark.parametrize("node_type", ["prompt", "approval", "delay", "agent_task"])
def test_retry_and_timeout_allowed_on_nodes_that_can_fail_transiently(node_type: str) -> None:
    builder = around(("node", node_type))
    builder.node("node").update(retry={"max_attempts": 2}, timeout_s=5)
    if node_type == "approval":
        builder.edges[1]["source_handle"] = "approved"

    assert full(builder.build()) == []


# --- full tier: joins -----------------------------------------------------------------------------


def parallel_into_join(branches: int, join_config: dict[str, Any] | None = None) -> GraphBuilder:
    builder = GraphBuilder().add("start", "start").add("fan", "parallel").add("gather", "join", join_config)
    builder.add("end", "end").chain("start", "fan")
    for index in range(branches):
        builder.add(f"branch{index}", "transform").chain("fan", f"branch{index}", "gather")
    return builder.chain("gather", "end")


def test_join_with_one_input() -> None:
    assert full(parallel_into_join(1).build()) == [{"code": "join_too_few_inputs", "node_id": "gather"}]
    assert full(parallel_into_join(2).build()) == []


def test_two_edges_from_one_source_into_a_join() -> None:
    builder = parallel_into_join(3)
    builder.connect("branch0", "gather", edge_id="twice")

    assert full(builder.build()) == [{"code": "duplicate_join_edge", "edge_id": "twice"}]


@pytest.mark.parametrize("count", [0, 4])
def test_join_count_must_fit_its_inputs(count: int) -> None:
    graph = parallel_into_join(3, {"mode": "count", "count": count}).build()

    expected = {"code": "join_count_out_of_range", "node_id": "gather", "path": "config.count"}
    if count == 0:
        expected = {"code": "invalid_value", "node_id": "gather", "path": "config.count"}
    assert full(graph) == [expected]


def test_join_count_mode_needs_count() -> None:
    graph = parallel_into_join(3, {"mode": "count"}).build()

    assert full(graph) == [{"code": "missing_field", "node_id": "gather", "path": "config.count"}]


# --- full tier: per-type settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "path"), [({}, "config.seconds"), ({"seconds": 5, "until": "run.started_at"}, "config.until")]
)
def test_delay_needs_exactly_one_of_seconds_and_until(config: dict[str, Any], path: str) -> None:
    graph = around(("wait", "delay", config)).build()

    assert full(graph) == [{"code": "delay_needs_duration", "node_id": "wait", "path": path}]


@pytest.mark.parametrize(
    ("config", "path"),
    [({"prompt": "Hi"}, "config.agent"), ({"prompt": "Hi", "provider": "openai"}, "config.model")],
)
def test_prompt_needs_an_agent_or_a_provider_and_model(config: dict[str, Any], path: str) -> None:
    graph = around(("ask", "prompt", config)).build()

    assert full(graph) == [{"code": "prompt_needs_model", "node_id": "ask", "path": path}]
    config.update(provider="openai", model="gpt-4o-mini")
    assert full(around(("ask", "prompt", config)).build()) == []


@pytest.mark.parametrize(
    ("node_type", "field", "base"),
    [
        ("start", "input_schema", {}),
        ("prompt", "json_schema", {"agent": "helper", "prompt": "Hi", "output": "json"}),
        ("approval", "form", {"title": "Check"}),
    ],
)
def test_json_schemas_in_config_must_be_valid(node_type: str, field: str, base: dict[str, Any]) -> None:
    builder = around() if node_type == "start" else around(("node", node_type))
    target = builder.node("start" if node_type == "start" else "node")
    target["config"] = {**base, field: {"type": "banana"}}
    if node_type == "approval":
        builder.edges[1]["source_handle"] = "approved"

    assert full(builder.build()) == [
        {"code": "invalid_json_schema", "node_id": target["id"], "path": f"config.{field}"}
    ]


def test_escalation_needs_someone_to_escalate_to() -> None:
    builder = around(("review", "approval", {"title": "Check", "on_timeout": "escalate", "due_in_s": 60}))
    builder.edges[1]["source_handle"] = "approved"

    assert full(builder.build()) == [
        {"code": "missing_field", "node_id": "review", "path": "config.escalate_to"}
    ]


# --- full tier: variables -------------------------------------------------------------------------


def test_duplicate_variable() -> None:
    graph = around().variable("team", "string").variable("team", "number").build()

    assert full(graph) == [{"code": "duplicate_variable", "path": "variables.1.name"}]


@pytest.mark.parametrize(
    ("variable_type", "default", "valid"),
    [
        ("string", 3, False),
        ("string", "x", True),
        ("number", True, False),
        ("number", 2.5, True),
        ("integer", 2.5, False),
        ("integer", 2.0, True),
        ("integer", 7, True),
        ("boolean", 0, False),
        ("boolean", False, True),
        ("object", [], False),
        ("object", {}, True),
        ("array", {}, False),
        ("array", [1], True),
    ],
)
def test_variable_default_must_match_its_type(variable_type: str, default: object, valid: bool) -> None:
    graph = around().variable("setting", variable_type, default=default).build()

    expected = [] if valid else [{"code": "invalid_variable_default", "path": "variables.0.default"}]
    assert full(graph) == expected


# --- full tier: templates and expressions ---------------------------------------------------------


def expression_errors(expression: str, builder: GraphBuilder | None = None) -> list[dict[str, Any]]:
    builder = builder or around(("before", "transform"), ("decide", "condition"))
    builder.node("decide")["config"] = {"expression": expression}
    for edge in builder.edges:
        if edge["source"] == "decide":
            edge["source_handle"] = "true"
    return full(builder.build())


def at_decide(code: str) -> list[dict[str, Any]]:
    return [{"code": code, "node_id": "decide", "path": "config.expression"}]


def test_expression_referring_upstream_nodes_is_valid() -> None:
    assert expression_errors("nodes.before.output.ok and nodes['start'].status == 'succeeded'") == []


def test_invalid_expression() -> None:
    assert expression_errors("inputs.n >") == at_decide("invalid_expression")


def test_invalid_template() -> None:
    graph = around(("ask", "prompt", {"agent": "helper", "prompt": "Hello {{ inputs.name "})).build()

    assert full(graph) == [{"code": "invalid_template", "node_id": "ask", "path": "config.prompt"}]


def test_forbidden_tag() -> None:
    graph = around(("ask", "prompt", {"agent": "helper", "prompt": "{% include 'secrets.txt' %}"})).build()

    assert full(graph) == [{"code": "forbidden_tag", "node_id": "ask", "path": "config.prompt"}]


def test_dynamic_node_reference() -> None:
    assert expression_errors("nodes[inputs.which].output") == at_decide("dynamic_node_ref")


def test_unknown_name() -> None:
    assert expression_errors("secrets.key == 1") == at_decide("unknown_name")


def test_unknown_reference_field() -> None:
    assert expression_errors("nodes.before.outptu") == at_decide("unknown_reference_field")


def test_reference_to_a_node_that_does_not_exist() -> None:
    assert expression_errors("nodes.ghost.output") == at_decide("unknown_node_ref")


def test_reference_to_a_node_that_is_not_upstream() -> None:
    builder = around(("decide", "condition"))
    builder.node("decide")["config"] = {"expression": "nodes.later.output"}
    builder.edges[1]["source_handle"] = "true"
    builder.add("later", "transform").add("finish", "end").connect("decide", "later", "false").chain(
        "later", "finish"
    )

    assert full(builder.build()) == at_decide("ref_not_upstream")


def test_reference_to_a_parallel_branch_is_not_upstream() -> None:
    builder = parallel_into_join(2)
    builder.node("branch1")["config"] = {"mapping": {"peek": "nodes.branch0.output"}}

    assert full(builder.build()) == [
        {"code": "ref_not_upstream", "node_id": "branch1", "path": "config.mapping.peek"}
    ]


def test_reference_to_itself_is_not_upstream() -> None:
    assert expression_errors("nodes.decide.output") == at_decide("ref_not_upstream")


def loop_builder() -> GraphBuilder:
    """``start → before → each[first → second] → after → end`` with ``each`` counting passes."""
    builder = around(("before", "transform"), ("each", "loop"), ("after", "transform"))
    builder.add("first", "transform", parent="each").add("second", "transform", parent="each")
    return builder.chain("first", "second")


def mapping_errors(builder: GraphBuilder, node_id: str, expression: str) -> list[dict[str, Any]]:
    builder.node(node_id)["config"] = {"mapping": {"value": expression}}
    return full(builder.build())


def at_mapping(node_id: str, code: str) -> list[dict[str, Any]]:
    return [{"code": code, "node_id": node_id, "path": "config.mapping.value"}]


def test_body_node_reads_its_own_level_and_the_loops_upstream() -> None:
    assert (
        mapping_errors(loop_builder(), "second", "[nodes.first.output, nodes.before.output, loop.item]") == []
    )


def test_body_node_cannot_read_its_own_loop() -> None:
    assert mapping_errors(loop_builder(), "first", "nodes.each.output") == at_mapping(
        "first", "ref_not_upstream"
    )


def test_body_node_cannot_read_what_follows_its_loop() -> None:
    assert mapping_errors(loop_builder(), "first", "nodes.after.output") == at_mapping(
        "first", "ref_not_upstream"
    )


def test_reference_into_a_loop_body_from_outside() -> None:
    assert mapping_errors(loop_builder(), "after", "nodes.second.output") == at_mapping(
        "after", "ref_into_loop_body"
    )


def test_reference_into_a_sibling_loop_body() -> None:
    builder = loop_builder()
    builder.add("again", "loop").add("inside", "transform", parent="again").chain("before", "again", "after")

    assert mapping_errors(builder, "inside", "nodes.first.output") == at_mapping(
        "inside", "ref_into_loop_body"
    )


def test_loop_result_reads_the_body_and_the_pass() -> None:
    builder = loop_builder()
    builder.node("each")["config"]["result"] = "{'last': nodes.second.output, 'index': loop.index}"

    assert full(builder.build()) == []


def test_loop_items_are_evaluated_outside_the_loop() -> None:
    builder = loop_builder()
    builder.node("each")["config"] = {"mode": "for_each", "items": "nodes.first.output", "max_iterations": 3}

    assert full(builder.build()) == [
        {"code": "ref_into_loop_body", "node_id": "each", "path": "config.items"}
    ]


def test_loop_variable_outside_any_loop() -> None:
    assert expression_errors("loop.index > 0") == at_decide("loop_ref_outside_loop")


def test_while_condition_may_use_the_loop_it_controls() -> None:
    builder = loop_builder()
    builder.node("each")["config"] = {"mode": "while", "condition": "loop.index < 3", "max_iterations": 3}

    assert full(builder.build()) == []


def test_loops_reference_to_a_loop_that_does_not_enclose_the_node() -> None:
    assert mapping_errors(loop_builder(), "after", "loops.each.item") == at_mapping(
        "after", "loop_ref_not_enclosing"
    )
    assert mapping_errors(loop_builder(), "first", "loops.each.item") == []


def test_template_for_loop_variable_is_not_ours() -> None:
    graph = around(
        (
            "ask",
            "prompt",
            {"agent": "helper", "prompt": "{% for t in inputs.tags %}{{ loop.index }}{% endfor %}"},
        )
    ).build()

    assert full(graph) == []


def test_undeclared_variable() -> None:
    graph = around(("decide", "condition", {"expression": "vars.team == 'x'"})).build()
    graph["edges"][1]["source_handle"] = "true"

    assert full(graph) == at_decide("unknown_variable")
    graph["variables"] = [{"name": "team", "type": "string"}]
    assert full(graph) == []


def test_expression_problems_in_switch_cases_point_at_the_case() -> None:
    cases = [{"handle": "a", "expression": "true"}, {"handle": "b", "expression": "nodes.nope.output"}]
    builder = around(("route", "switch", {"cases": cases}))
    builder.edges[1]["source_handle"] = "a"

    assert full(builder.build()) == [
        {"code": "unknown_node_ref", "node_id": "route", "path": "config.cases.1.expression"}
    ]


def test_loop_count_may_be_an_expression() -> None:
    builder = loop_builder()
    builder.node("each")["config"]["count"] = "nodes.before.output.n"

    assert full(builder.build()) == []
    builder.node("each")["config"]["count"] = "nodes.after.output.n"
    assert full(builder.build()) == [{"code": "ref_not_upstream", "node_id": "each", "path": "config.count"}]


def test_multi_line_template_error_names_the_line() -> None:
    graph = around(
        ("ask", "prompt", {"agent": "helper", "prompt": "Hello\n{{ nodes.ghost.output }}"})
    ).build()

    errors = validate_graph(graph)

    assert without_messages(errors) == [
        {"code": "unknown_node_ref", "node_id": "ask", "path": "config.prompt"}
    ]
    assert errors[0]["message"] == (
        "Prompt node 'ask': prompt refers to nodes.ghost, but there is no node 'ghost'."
    )


# --- full tier: the directory ---------------------------------------------------------------------


def test_unknown_users_groups_and_agents() -> None:
    graph = rich_graph()
    directory = FakeDirectory(users=frozenset(), groups=frozenset({"reviewers"}), agents=frozenset())

    assert full(graph, directory=directory) == [
        {"code": "unknown_agent", "node_id": "classify", "path": "config.agent"},
        {"code": "unknown_user", "node_id": "review", "path": "config.assignees.users.0"},
        {"code": "unknown_group", "node_id": "review", "path": "config.escalate_to.groups.0"},
    ]


def test_directory_is_asked_once_per_kind() -> None:
    directory = FakeDirectory()

    validate_graph(rich_graph(), directory=directory)

    assert sorted(directory.calls) == [
        ("agents", {"triage-bot"}),
        ("groups", {"managers", "reviewers"}),
        ("users", {"alice"}),
    ]


def test_without_a_directory_names_are_not_checked() -> None:
    graph = rich_graph()
    graph["nodes"][1]["config"]["agent"] = "nobody-knows"

    assert validate_graph(graph) == []


# --- reporting ------------------------------------------------------------------------------------


def test_errors_are_sorted_graph_first_then_nodes_then_edges() -> None:
    builder = GraphBuilder().add("zeta", "transform").add("alpha", "transform").add("end", "end")
    builder.connect("zeta", "alpha", "wrong", edge_id="e9").connect("alpha", "end")

    errors = full(builder.build())

    assert errors == [
        {"code": "missing_start"},
        {"code": "unknown_handle", "edge_id": "e9", "path": "source_handle"},
    ]
    assert validate_graph(builder.build()) == validate_graph(builder.build())


def test_error_list_is_capped() -> None:
    graph = minimal_graph()
    graph["nodes"][0]["position"] = {"x": 0, "y": 0, **{f"k{index}": 1 for index in range(600)}}

    errors = validate_graph(graph)

    assert len(errors) == validation.MAX_ERRORS
    assert errors[-1]["code"] == "too_many_errors"


#: What parsing (not evaluating) a template or expression can report; validation passes them on.
PARSE_CODES = {
    "expression_too_long",
    "invalid_template",
    "invalid_expression",
    "forbidden_tag",
    "dynamic_node_ref",
    "unknown_name",
    "unknown_reference_field",
}


def test_every_error_code_is_documented() -> None:
    documented = set(re.findall(r"``([a-z_]+)``", validation.__doc__ or ""))
    sources = [Path(validation.__file__).read_text()]
    patterns = [
        r'report\.add\(\s*[\w.()]+,\s*"([a-z_]+)"',
        r'_ConfigError\(\s*"([a-z_]+)"',
        r'ExpressionError\(\s*"([a-z_]+)"',
        r'return\s*\(?\s*"([a-z_]+)",',
    ]
    emitted = {code for source in sources for pattern in patterns for code in re.findall(pattern, source)}
    emitted |= PARSE_CODES

    assert emitted
    assert emitted - documented == set()


# --- the graph model the rules run on -------------------------------------------------------------


def test_graph_model_lookups() -> None:
    graph = Graph.from_dict(rich_graph())

    assert [edge.id for edge in graph.incoming("final")] == ["e9", "e11", "e12", "e13"]
    assert [edge.target for edge in graph.outgoing("route")] == ["review", "scan", "wait"]
    assert graph.edges["e3"].source_handle == "error"
    assert graph.edges["e1"].source_handle == "out"
    assert [node.id for node in graph.children("outer")] == ["prep", "inner", "summary"]
    assert [node.id for node in graph.entry_nodes("inner")] == ["check"]
    assert [node.id for node in graph.sinks("inner")] == ["gather"]
    assert graph.enclosing_loops("left") == ("inner", "outer")
    assert graph.upstream("gather") == {"check", "fan", "left", "right"}
    assert graph.upstream("final") >= {"start", "classify", "outer", "review"}
    assert "prep" not in graph.upstream("final")
    assert graph.nodes["classify"].retry is not None and graph.nodes["classify"].retry.max_attempts == 3
    assert graph.nodes["classify"].on_error == "branch"
    assert graph.nodes["urgent"].name == "urgent"
    assert [node.id for node in graph.top_level()][:3] == ["start", "classify", "urgent"]


def test_topological_order_per_level() -> None:
    graph = Graph.from_dict(rich_graph())

    order = graph.topological_order("inner")

    assert order == ["check", "fan", "left", "right", "gather"]
    top = graph.topological_order(None)
    assert top.index("start") == 0
    assert top.index("outer") < top.index("final") < top.index("done")


def test_topological_order_refuses_a_cycle() -> None:
    builder = around(("a", "transform"), ("b", "transform"))
    builder.connect("b", "a")

    with pytest.raises(GraphCycleError) as raised:
        Graph.from_dict(builder.build()).topological_order()

    assert raised.value.node_ids == ("a", "b", "end")


def test_two_thousand_node_graph_validates_in_linear_work() -> None:
    size = validation.MAX_NODES
    builder = GraphBuilder().add("start", "start")
    previous = "start"
    for index in range(size - 2):
        node_id = f"step{index}"
        builder.add(node_id, "transform", {"mapping": {"value": f"nodes.{previous}.output.value + {index}"}})
        builder.connect(previous, node_id)
        previous = node_id
    end_config = {"outputs": {"result": f"{{{{ nodes.{previous}.output }}}}"}}
    builder.add("end", "end", end_config).connect(previous, "end")
    graph = builder.build()

    started = time.perf_counter()
    errors = validate_graph(graph)
    elapsed = time.perf_counter() - started

    assert errors == []
    assert len(Graph.from_dict(graph).upstream("end")) == size - 1
    print(f"validated {size} nodes in {elapsed * 1000:.0f} ms")
