"""The node-type registry: what ``GET /api/node-types/`` serves and what the validator reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.workflows.graph_builders import GraphBuilder
from workflows.node_types import (
    ANNOTATION_KEYWORD,
    NODE_TYPES,
    FixedHandles,
    NodeType,
    TemplateField,
    describe_node_types,
    get_node_type,
    node_handles,
    register_node_type,
    template_fields,
)
from workflows.validation import check_shape

BUILT_IN_TYPES = [
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
]
DESCRIBED_KEYS = {
    "type",
    "category",
    "label",
    "description",
    "config_schema",
    "handles",
    "execution",
    "output_schema",
    "defaults",
    "allows_retry",
    "has_out_handle",
}


def described() -> dict[str, dict[str, Any]]:
    return {entry["type"]: entry for entry in describe_node_types()}


def test_description_covers_every_built_in_type_with_the_same_keys() -> None:
    entries = describe_node_types()

    assert [entry["type"] for entry in entries][: len(BUILT_IN_TYPES)] == BUILT_IN_TYPES
    assert all(set(entry) == DESCRIBED_KEYS for entry in entries)


def test_description_is_json_and_cannot_alter_the_registry() -> None:
    entries = describe_node_types()
    text = json.dumps(entries)

    entries[0]["config_schema"]["properties"].clear()

    assert json.loads(text) == describe_node_types()


@pytest.mark.parametrize("type_name", BUILT_IN_TYPES)
def test_config_and_output_schemas_are_valid_json_schemas(type_name: str) -> None:
    entry = described()[type_name]

    Draft202012Validator.check_schema(entry["config_schema"])
    Draft202012Validator.check_schema(entry["output_schema"])
    assert entry["config_schema"]["type"] == "object"
    assert entry["config_schema"]["additionalProperties"] is False


@pytest.mark.parametrize("type_name", BUILT_IN_TYPES)
def test_every_setting_has_a_title_and_its_default_fits_it(type_name: str) -> None:
    properties = described()[type_name]["config_schema"]["properties"]

    for name, schema in properties.items():
        assert schema.get("title"), f"{type_name}.{name} has no title"
        if "default" in schema:
            Draft202012Validator(schema).validate(schema["default"])


@pytest.mark.parametrize("type_name", BUILT_IN_TYPES)
def test_a_freshly_dropped_node_with_defaults_can_be_saved(type_name: str) -> None:
    defaults = described()[type_name]["defaults"]
    graph = GraphBuilder().add("fresh", type_name, defaults).build()

    assert check_shape(graph) == []


def test_defaults_come_from_the_schema() -> None:
    entries = described()

    assert entries["loop"]["defaults"] == {"mode": "for_each", "max_iterations": 100, "concurrency": 1}
    assert entries["join"]["defaults"] == {"mode": "all", "cancel_remaining": False}
    assert entries["agent_task"]["defaults"] == {"input": {}, "lease_s": 60, "max_leases": 3}
    assert entries["approval"]["defaults"]["required_approvals"] == 1
    assert entries["approval"]["defaults"]["allow_self_approval"] is False


def test_categories_and_execution() -> None:
    entries = described()

    assert {name: entries[name]["category"] for name in BUILT_IN_TYPES} == {
        "start": "flow",
        "end": "flow",
        "prompt": "ai",
        "condition": "logic",
        "switch": "logic",
        "loop": "logic",
        "parallel": "logic",
        "join": "logic",
        "approval": "human",
        "delay": "timing",
        "transform": "data",
        "agent_task": "agents",
    }
    assert sorted(name for name in BUILT_IN_TYPES if entries[name]["execution"] == "dispatched") == [
        "agent_task",
        "prompt",
    ]


def test_retry_is_allowed_only_where_a_node_can_fail_transiently() -> None:
    entries = described()

    assert sorted(name for name in BUILT_IN_TYPES if not entries[name]["allows_retry"]) == sorted(
        ["start", "end", "parallel", "join", "condition", "switch", "transform", "loop"]
    )


def test_which_types_have_an_out_handle() -> None:
    entries = described()

    assert sorted(name for name in BUILT_IN_TYPES if not entries[name]["has_out_handle"]) == [
        "approval",
        "condition",
        "end",
        "switch",
    ]


def test_fixed_handles() -> None:
    entries = described()

    assert entries["condition"]["handles"] == {"kind": "fixed", "values": ["true", "false"]}
    assert entries["approval"]["handles"] == {"kind": "fixed", "values": ["approved", "rejected"]}
    assert entries["end"]["handles"] == {"kind": "fixed", "values": []}
    assert entries["prompt"]["handles"] == {"kind": "fixed", "values": ["out"]}


def test_switch_handles_derive_from_its_cases() -> None:
    switch = get_node_type("switch")
    assert switch is not None

    cases = [{"handle": "refund", "expression": "x"}, {"handle": "bug"}, {"expression": "y"}, "junk"]

    assert described()["switch"]["handles"] == {"kind": "derived", "source": "cases", "extra": ["default"]}
    assert switch.handles({"cases": cases}) == ["refund", "bug", "default"]
    assert switch.handles({}) == ["default"]
    assert switch.handles({"cases": "not a list"}) == ["default"]


def test_error_handle_exists_only_with_on_error_branch() -> None:
    node = {"id": "ask", "type": "prompt", "config": {}}

    assert node_handles(node) == ["out"]
    assert node_handles({**node, "on_error": "branch"}) == ["out", "error"]
    assert node_handles({**node, "on_error": "continue"}) == ["out"]
    assert node_handles({"id": "x", "type": "nonsense"}) == []


def annotated_places(schema: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(schema, dict):
        if ANNOTATION_KEYWORD in schema:
            yield path, schema[ANNOTATION_KEYWORD]
        for key, value in schema.items():
            yield from annotated_places(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from annotated_places(value, f"{path}/{index}")


def test_templates_and_expressions_are_marked_in_the_schemas() -> None:
    marked = {
        name: sorted(kind_path for kind_path in annotated_places(NODE_TYPES[name].config_schema))
        for name in BUILT_IN_TYPES
    }

    assert marked["condition"] == [("/properties/expression", "expression")]
    assert marked["end"] == [("/properties/outputs/additionalProperties", "template")]
    assert marked["switch"] == [("/properties/cases/items/properties/expression", "expression")]
    assert ("/properties/mapping/additionalProperties", "expression") in marked["transform"]
    assert ("/properties/count/anyOf/1", "expression") in marked["loop"]
    assert ("/properties/payload/additionalProperties", "template") in marked["approval"]
    assert ("/properties/input/additionalProperties", "template") in marked["agent_task"]
    assert ("/properties/prompt", "template") in marked["prompt"]
    assert ("/properties/json_schema", "json-schema") in marked["prompt"]


def test_template_fields_walk_a_concrete_config() -> None:
    def fields(type_name: str, config: dict[str, Any]) -> list[TemplateField]:
        node_type = get_node_type(type_name)
        assert node_type is not None
        return template_fields(node_type, config)

    assert fields("switch", {"cases": [{"handle": "a", "expression": "x > 1"}, {"handle": "b"}]}) == [
        TemplateField(("cases", 0, "expression"), "x > 1", "expression")
    ]
    assert fields("end", {"outputs": {"a": "{{ x }}", "b": 3}}) == [
        TemplateField(("outputs", "a"), "{{ x }}", "template")
    ]
    assert fields("loop", {"mode": "count", "count": 3}) == []
    assert fields("loop", {"mode": "count", "count": "inputs.n", "result": "loop.index"}) == [
        TemplateField(("count",), "inputs.n", "expression"),
        TemplateField(("result",), "loop.index", "expression"),
    ]
    assert fields("approval", {"payload": {"p": "{{ a }}"}, "title": "Hi", "instructions": "Do"}) == [
        TemplateField(("title",), "Hi", "template"),
        TemplateField(("instructions",), "Do", "template"),
        TemplateField(("payload", "p"), "{{ a }}", "template"),
    ]
    assert fields("delay", {"seconds": 5, "until": "run.started_at"}) == [
        TemplateField(("until",), "run.started_at", "expression")
    ]
    assert fields("prompt", {"system": "S", "prompt": "P", "agent": "a"}) == [
        TemplateField(("system",), "S", "template"),
        TemplateField(("prompt",), "P", "template"),
    ]
    assert fields("agent_task", {"input": {"doc": "{{ inputs.doc }}"}}) == [
        TemplateField(("input", "doc"), "{{ inputs.doc }}", "template")
    ]
    assert fields("transform", "not a config") == []  # type: ignore[arg-type]


def test_registering_a_type_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_node_type(NODE_TYPES["transform"])


def test_registered_types_are_described_and_validated() -> None:
    noop = NodeType(
        type="test_noop",
        category="testing",
        label="No-op",
        description="Does nothing, through a worker.",
        config_schema={"type": "object", "properties": {}, "additionalProperties": False},
        execution="dispatched",
        output_schema={},
        handle_spec=FixedHandles(("out",)),
        allows_retry=True,
    )
    register_node_type(noop)
    try:
        graph = GraphBuilder().add("start", "start").add("work", "test_noop", {}).add("end", "end")
        graph.chain("start", "work", "end")

        assert described()["test_noop"]["execution"] == "dispatched"
        assert get_node_type("test_noop") is noop
        assert check_shape(graph.build()) == []
    finally:
        del NODE_TYPES["test_noop"]
