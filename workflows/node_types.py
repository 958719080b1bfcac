"""The node-type registry: what each kind of node accepts, which handles it has and how it runs.

This module is the single description of node types shared by the validator, the engine and the
editor (through ``GET /api/node-types/``), so the three cannot drift apart. Each type's
``config_schema`` is a JSON Schema (2020-12) that also marks, with the custom keyword
``"x-flowdeck"``, which values are something other than plain data:

- ``"template"``: a Jinja template rendered at run time (``"Hello {{ inputs.name }}"``);
- ``"expression"``: a bare Jinja expression (``inputs.n > 3``);
- ``"json-schema"``: a JSON Schema written by the designer (checked with ``check_schema``);
- ``"agent"``: the slug of an agent definition;
- ``"assignees"``: ``{"users": [...], "groups": [...]}`` naming people who must exist.

:func:`annotated_values` and :func:`template_fields` walk a concrete config with those marks, so a
new node type gets validation, evaluation and autocomplete by annotating its schema and nothing
else. Pure Python: no Django import, so the engine can use it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

JsonSchema = dict[str, Any]
Execution = Literal["inline", "dispatched"]
SourceKind = Literal["template", "expression"]
PathPart = str | int

ANNOTATION_KEYWORD = "x-flowdeck"
TEMPLATE = "template"
EXPRESSION = "expression"
JSON_SCHEMA = "json-schema"
AGENT = "agent"
ASSIGNEES = "assignees"

OUT_HANDLE = "out"
ERROR_HANDLE = "error"
DEFAULT_HANDLE = "default"

MAX_LOOP_ITERATIONS = 10_000

_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class FixedHandles:
    """Handles that do not depend on the node's config (``out``, ``true``/``false``, …)."""

    values: tuple[str, ...]

    def resolve(self, config: Mapping[str, Any]) -> list[str]:
        return list(self.values)

    def describe(self) -> dict[str, Any]:
        return {"kind": "fixed", "values": list(self.values)}


@dataclass(frozen=True)
class DerivedHandles:
    """Handles read from a list in the config, such as a switch's ``cases[*].handle``.

    ``extra`` handles always follow the derived ones (a switch's ``default``). Malformed entries are
    skipped rather than rejected: resolving handles must work on half-edited drafts, and the
    validator reports the malformed entries on their own.
    """

    source: str
    key: str
    extra: tuple[str, ...]

    def resolve(self, config: Mapping[str, Any]) -> list[str]:
        entries = config.get(self.source)
        handles: list[str] = []
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, dict):
                    handle = entry.get(self.key)
                    if isinstance(handle, str) and handle and handle not in handles:
                        handles.append(handle)
        handles.extend(handle for handle in self.extra if handle not in handles)
        return handles

    def describe(self) -> dict[str, Any]:
        return {"kind": "derived", "source": self.source, "extra": list(self.extra)}


HandleSpec = FixedHandles | DerivedHandles


@dataclass(frozen=True, eq=False)
class NodeType:
    """The static definition of one kind of node.

    ``allows_retry`` is False for types that cannot fail transiently (DESIGN §3): ``retry`` and
    ``timeout_s`` are rejected on them. ``has_out_handle`` decides whether ``on_error: continue`` is
    possible, since continuing means taking ``out`` with the error as output. Instances compare by
    identity so that caches (compiled validators) can be keyed by the type object itself.
    """

    type: str
    category: str
    label: str
    description: str
    config_schema: JsonSchema
    execution: Execution
    output_schema: JsonSchema
    handle_spec: HandleSpec
    allows_retry: bool
    has_out_handle: bool = field(init=False)

    def __post_init__(self) -> None:
        has_out = isinstance(self.handle_spec, FixedHandles) and OUT_HANDLE in self.handle_spec.values
        object.__setattr__(self, "has_out_handle", has_out)

    def handles(self, config: Mapping[str, Any] | None = None) -> list[str]:
        """The node's handles for ``config``, never including ``error`` (see :func:`node_handles`)."""
        return self.handle_spec.resolve(config if isinstance(config, Mapping) else {})

    def defaults(self) -> dict[str, Any]:
        """Config values a freshly dropped node starts with, taken from the schema's ``default``s."""
        properties = self.config_schema.get("properties", {})
        return {
            name: copy.deepcopy(prop["default"])
            for name, prop in properties.items()
            if isinstance(prop, dict) and "default" in prop
        }

    def describe(self) -> dict[str, Any]:
        """This type as ``GET /api/node-types/`` returns it."""
        return {
            "type": self.type,
            "category": self.category,
            "label": self.label,
            "description": self.description,
            "config_schema": copy.deepcopy(self.config_schema),
            "handles": self.handle_spec.describe(),
            "execution": self.execution,
            "output_schema": copy.deepcopy(self.output_schema),
            "defaults": self.defaults(),
            "allows_retry": self.allows_retry,
            "has_out_handle": self.has_out_handle,
        }


class AnnotatedValue(NamedTuple):
    """A value found in a config at a place its schema marks with ``x-flowdeck``."""

    path: tuple[PathPart, ...]
    value: Any
    annotation: str


class TemplateField(NamedTuple):
    """A template or bare expression inside a config; ``path`` is relative to the config."""

    path: tuple[PathPart, ...]
    source: str
    kind: SourceKind


NODE_TYPES: dict[str, NodeType] = {}


def register_node_type(node_type: NodeType) -> NodeType:
    """Add a type to the registry; a name can be registered once, so a typo cannot shadow a type."""
    if node_type.type in NODE_TYPES:
        raise ValueError(f"node type {node_type.type!r} is already registered")
    NODE_TYPES[node_type.type] = node_type
    return node_type


def get_node_type(name: object) -> NodeType | None:
    return NODE_TYPES.get(name) if isinstance(name, str) else None


def describe_node_types() -> list[dict[str, Any]]:
    return [node_type.describe() for node_type in NODE_TYPES.values()]


def node_handles(node: Mapping[str, Any]) -> list[str]:
    """Every handle a node (as graph JSON) may have edges from, ``error`` included when it exists.

    The ``error`` handle exists exactly when ``on_error`` is ``branch``; it never appears in
    :meth:`NodeType.handles`, because it depends on the node and not on its type.
    """
    node_type = get_node_type(node.get("type"))
    if node_type is None:
        return []
    config = node.get("config")
    handles = node_type.handles(config if isinstance(config, Mapping) else {})
    if node.get("on_error") == "branch":
        handles.append(ERROR_HANDLE)
    return handles


def annotated_values(node_type: NodeType, config: object) -> list[AnnotatedValue]:
    """Every value in ``config`` that sits where the type's schema has an ``x-flowdeck`` mark.

    Follows ``properties``, ``additionalProperties``, ``items`` and the branches of
    ``allOf``/``anyOf``/``oneOf``/``then``/``else``, in schema order. Templates and expressions are
    only returned when they are strings; the other marks are returned whatever their JSON type, so
    callers decide what to do with malformed values.
    """
    found: dict[tuple[PathPart, ...], AnnotatedValue] = {}
    for mark in _marks(node_type):
        for path, value in _resolve(mark.steps, config):
            if mark.annotation in _SOURCE_ANNOTATIONS and not isinstance(value, str):
                continue
            found.setdefault(path, AnnotatedValue(path, value, mark.annotation))
    return list(found.values())


def template_fields(node_type: NodeType, config: object) -> list[TemplateField]:
    """The templates and bare expressions of a concrete config, in schema order."""
    return [
        TemplateField(item.path, item.value, "expression" if item.annotation == EXPRESSION else "template")
        for item in annotated_values(node_type, config)
        if item.annotation in _SOURCE_ANNOTATIONS
    ]


_SOURCE_ANNOTATIONS = (TEMPLATE, EXPRESSION)
_VALUE_ANNOTATIONS = (JSON_SCHEMA, AGENT, ASSIGNEES)

Step = tuple[Literal["key", "other_keys", "index"], str | frozenset[str] | None]


@dataclass(frozen=True)
class _Mark:
    """A place in every config of a type where an annotated value may sit, e.g. ``cases[*].expression``."""

    steps: tuple[Step, ...]
    annotation: str


_MARKS: dict[NodeType, tuple[_Mark, ...]] = {}


def _marks(node_type: NodeType) -> tuple[_Mark, ...]:
    """The type's annotated places, read from its schema once: walking configs is then linear."""
    marks = _MARKS.get(node_type)
    if marks is None:
        marks = tuple(_collect_marks(node_type.config_schema, ()))
        _MARKS[node_type] = marks
    return marks


def _collect_marks(schema: object, steps: tuple[Step, ...]) -> Iterator[_Mark]:
    if not isinstance(schema, dict):
        return
    annotation = schema.get(ANNOTATION_KEYWORD)
    if annotation in _VALUE_ANNOTATIONS or annotation in _SOURCE_ANNOTATIONS:
        yield _Mark(steps, str(annotation))
        return
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    for name, subschema in properties.items():
        yield from _collect_marks(subschema, (*steps, ("key", name)))
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        yield from _collect_marks(additional, (*steps, ("other_keys", frozenset(properties))))
    items = schema.get("items")
    if isinstance(items, dict):
        yield from _collect_marks(items, (*steps, ("index", None)))
    for keyword in ("allOf", "anyOf", "oneOf"):
        branches = schema.get(keyword)
        for branch in branches if isinstance(branches, list) else ():
            yield from _collect_marks(branch, steps)
    for keyword in ("then", "else"):
        yield from _collect_marks(schema.get(keyword), steps)


def _resolve(steps: tuple[Step, ...], config: object) -> list[tuple[tuple[PathPart, ...], object]]:
    current: list[tuple[tuple[PathPart, ...], object]] = [((), config)]
    for kind, argument in steps:
        following: list[tuple[tuple[PathPart, ...], object]] = []
        for path, value in current:
            if kind == "key" and isinstance(value, dict) and isinstance(argument, str):
                if argument in value:
                    following.append(((*path, argument), value[argument]))
            elif kind == "other_keys" and isinstance(value, dict) and isinstance(argument, frozenset):
                following.extend(((*path, key), item) for key, item in value.items() if key not in argument)
            elif kind == "index" and isinstance(value, list):
                following.extend(((*path, index), item) for index, item in enumerate(value))
        current = following
    return current


# --- schema helpers -------------------------------------------------------------------------------


def _object_schema(properties: dict[str, JsonSchema], **extra: Any) -> JsonSchema:
    return {
        "$schema": _SCHEMA_DIALECT,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }


def _template(title: str, description: str, **extra: Any) -> JsonSchema:
    return {
        "type": "string",
        "title": title,
        "description": description,
        ANNOTATION_KEYWORD: TEMPLATE,
        **extra,
    }


def _expression(title: str, description: str, **extra: Any) -> JsonSchema:
    return {
        "type": "string",
        "title": title,
        "description": description,
        ANNOTATION_KEYWORD: EXPRESSION,
        **extra,
    }


def _source_map(title: str, description: str, kind: str) -> JsonSchema:
    return {
        "type": "object",
        "title": title,
        "description": description,
        "propertyNames": {"minLength": 1, "maxLength": 200},
        "additionalProperties": {"type": "string", ANNOTATION_KEYWORD: kind},
        "default": {},
    }


def _json_schema_field(title: str, description: str, **extra: Any) -> JsonSchema:
    return {
        "type": "object",
        "title": title,
        "description": description,
        ANNOTATION_KEYWORD: JSON_SCHEMA,
        **extra,
    }


def _names(title: str, description: str) -> JsonSchema:
    return {
        "type": "array",
        "title": title,
        "description": description,
        "items": {"type": "string", "minLength": 1, "maxLength": 150},
        "uniqueItems": True,
        "default": [],
    }


def _assignees(title: str, description: str) -> JsonSchema:
    return {
        "type": "object",
        "title": title,
        "description": description,
        ANNOTATION_KEYWORD: ASSIGNEES,
        "properties": {
            "users": _names("Users", "Usernames of people who may decide."),
            "groups": _names("Groups", "Names of groups whose members may decide."),
        },
        "additionalProperties": False,
        "default": {"users": [], "groups": []},
    }


def _when(field_name: str, value: str, *, is_default: bool = False) -> JsonSchema:
    """The ``if`` part of a mode-specific rule; the default mode also applies when the field is absent."""
    condition: JsonSchema = {"properties": {field_name: {"const": value}}}
    if not is_default:
        condition["required"] = [field_name]
    return condition


_ANY_JSON: JsonSchema = {}
_PASS_THROUGH_OUTPUT: JsonSchema = {"description": "The node's input, unchanged."}


# --- the built-in types ---------------------------------------------------------------------------


START = NodeType(
    type="start",
    category="flow",
    label="Start",
    description="Where every run begins. Its output is the run's inputs, checked against the input schema.",
    config_schema=_object_schema(
        {
            "input_schema": _json_schema_field(
                "Input schema",
                "JSON Schema the run's inputs must satisfy; the run form is generated from it.",
                default={"type": "object", "properties": {}},
            ),
        }
    ),
    execution="inline",
    output_schema={"type": "object", "description": "The validated run inputs."},
    handle_spec=FixedHandles((OUT_HANDLE,)),
    allows_retry=False,
)

END = NodeType(
    type="end",
    category="flow",
    label="End",
    description="Produces the run's outputs. The first end to succeed gives the run its outputs.",
    config_schema=_object_schema(
        {
            "outputs": _source_map(
                "Outputs", "Each output name and the template that produces its value.", TEMPLATE
            ),
        }
    ),
    execution="inline",
    output_schema={"type": "object", "description": "The rendered outputs.", "additionalProperties": True},
    handle_spec=FixedHandles(()),
    allows_retry=False,
)

PROMPT = NodeType(
    type="prompt",
    category="ai",
    label="Prompt",
    description="Sends a prompt to a language model, through a saved agent or an inline provider and model.",
    config_schema=_object_schema(
        {
            "agent": {
                "type": "string",
                "title": "Agent",
                "description": "Slug of a saved agent. Values set on this node override the agent's.",
                "maxLength": 100,
                ANNOTATION_KEYWORD: AGENT,
            },
            "provider": {
                "type": "string",
                "title": "Provider",
                "description": "Provider to call when no agent is chosen.",
                "maxLength": 100,
            },
            "model": {
                "type": "string",
                "title": "Model",
                "description": "Model name, required with a provider.",
                "maxLength": 200,
            },
            "system": _template("System prompt", "Instructions sent as the system message."),
            "prompt": _template("Prompt", "The user message; usually refers to upstream outputs."),
            "output": {
                "type": "string",
                "title": "Output format",
                "description": "Plain text, or JSON parsed (and checked against the JSON schema if set).",
                "enum": ["text", "json"],
                "default": "text",
            },
            "json_schema": _json_schema_field(
                "JSON schema", "Schema the model's JSON reply must match; a mismatch is retryable."
            ),
            "temperature": {
                "type": "number",
                "title": "Temperature",
                "description": "Sampling temperature; lower is more deterministic.",
                "minimum": 0,
                "maximum": 2,
            },
            "max_tokens": {
                "type": "integer",
                "title": "Max tokens",
                "description": "Upper bound on the reply's length in tokens.",
                "minimum": 1,
                "maximum": 1_000_000,
            },
        },
        required=["prompt"],
    ),
    execution="dispatched",
    output_schema={
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "json": _ANY_JSON,
            "usage": {
                "type": "object",
                "properties": {"input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}},
            },
            "cost_usd": {"type": ["number", "null"]},
            "model": {"type": "string"},
            "latency_ms": {"type": "number"},
        },
        "required": ["text", "usage", "model"],
    },
    handle_spec=FixedHandles((OUT_HANDLE,)),
    allows_retry=True,
)

CONDITION = NodeType(
    type="condition",
    category="logic",
    label="Condition",
    description="Takes the true or the false handle depending on an expression, which must give a boolean.",
    config_schema=_object_schema(
        {
            "expression": _expression(
                "Expression", "Must evaluate to true or false, e.g. inputs.amount > 100."
            )
        },
        required=["expression"],
    ),
    execution="inline",
    output_schema={"type": "object", "properties": {"value": {"type": "boolean"}}, "required": ["value"]},
    handle_spec=FixedHandles(("true", "false")),
    allows_retry=False,
)

SWITCH = NodeType(
    type="switch",
    category="logic",
    label="Switch",
    description="Takes the handle of the first case whose expression is true, or the default handle.",
    config_schema=_object_schema(
        {
            "cases": {
                "type": "array",
                "title": "Cases",
                "description": "Checked in order; the first true case wins.",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "handle": {
                            "type": "string",
                            "title": "Handle",
                            "description": "Name of the outgoing handle taken when this case is true.",
                            "minLength": 1,
                            "maxLength": 64,
                        },
                        "expression": _expression("Expression", "Must evaluate to true or false."),
                    },
                    "required": ["handle", "expression"],
                    "additionalProperties": False,
                },
                "default": [{"handle": "case_1", "expression": ""}],
            },
        },
        required=["cases"],
    ),
    execution="inline",
    output_schema={"type": "object", "properties": {"handle": {"type": "string"}}, "required": ["handle"]},
    handle_spec=DerivedHandles(source="cases", key="handle", extra=(DEFAULT_HANDLE,)),
    allows_retry=False,
)

LOOP = NodeType(
    type="loop",
    category="logic",
    label="Loop",
    description="Runs its body (the nodes whose parent it is) once per item, a number of times, or while "
    "a condition holds.",
    config_schema=_object_schema(
        {
            "mode": {
                "type": "string",
                "title": "Mode",
                "description": "for_each runs once per item, count a fixed number of times, while until the "
                "condition is false.",
                "enum": ["for_each", "count", "while"],
                "default": "for_each",
            },
            "items": _expression("Items", "Expression giving the list to iterate over (for_each)."),
            "count": {
                "title": "Count",
                "description": "Number of passes (count): a whole number or an expression giving one.",
                "anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": MAX_LOOP_ITERATIONS},
                    {"type": "string", ANNOTATION_KEYWORD: EXPRESSION},
                ],
            },
            "condition": _expression(
                "Condition", "Checked before each pass (while); the loop stops when it is false."
            ),
            "max_iterations": {
                "type": "integer",
                "title": "Max iterations",
                "description": "Hard limit on the number of passes.",
                "minimum": 1,
                "maximum": MAX_LOOP_ITERATIONS,
                "default": 100,
            },
            "concurrency": {
                "type": "integer",
                "title": "Concurrency",
                "description": "How many passes may run at once (for_each and count).",
                "minimum": 1,
                "maximum": 100,
                "default": 1,
            },
            "result": _expression(
                "Result",
                "Evaluated in the pass when it ends; required when the body has several sink nodes.",
            ),
        },
        required=["mode", "max_iterations"],
        allOf=[
            {"if": _when("mode", "for_each", is_default=True), "then": {"required": ["items"]}},
            {"if": _when("mode", "count"), "then": {"required": ["count"]}},
            {"if": _when("mode", "while"), "then": {"required": ["condition"]}},
        ],
    ),
    execution="inline",
    output_schema={
        "type": "object",
        "properties": {"results": {"type": "array"}, "count": {"type": "integer"}},
        "required": ["results", "count"],
    },
    handle_spec=FixedHandles((OUT_HANDLE,)),
    allows_retry=False,
)

PARALLEL = NodeType(
    type="parallel",
    category="logic",
    label="Parallel",
    description="Starts every outgoing branch at once.",
    config_schema=_object_schema({}),
    execution="inline",
    output_schema=_PASS_THROUGH_OUTPUT,
    handle_spec=FixedHandles((OUT_HANDLE,)),
    allows_retry=False,
)

JOIN = NodeType(
    type="join",
    category="logic",
    label="Join",
    description="Waits for its incoming branches: all of them, the first, or a number of them.",
    config_schema=_object_schema(
        {
            "mode": {
                "type": "string",
                "title": "Mode",
                "description": "all waits for every branch, any fires on the first, count on the n-th.",
                "enum": ["all", "any", "count"],
                "default": "all",
            },
            "count": {
                "type": "integer",
                "title": "Count",
                "description": "How many branches must arrive (count mode).",
                "minimum": 1,
            },
            "cancel_remaining": {
                "type": "boolean",
                "title": "Cancel remaining",
                "description": "Cancel branches still running once the join fires.",
                "default": False,
            },
        },
        allOf=[{"if": _when("mode", "count"), "then": {"required": ["count"]}}],
    ),
    execution="inline",
    output_schema={
        "type": "object",
        "properties": {"branches": {"type": "object", "description": "Output per arrived source node id."}},
        "required": ["branches"],
    },
    handle_spec=FixedHandles((OUT_HANDLE,)),
    allows_retry=False,
)

APPROVAL = NodeType(
    type="approval",
    category="human",
    label="Approval",
    description="Waits for people to approve or reject, showing them a payload and an optional form.",
    config_schema=_object_schema(
        {
            "title": _template("Title", "Shown in the approval inbox.", maxLength=1000),
            "instructions": _template("Instructions", "Tells the approver what to check."),
            "payload": _source_map(
                "Payload", "Data shown to the approver and passed on, each value a template.", TEMPLATE
            ),
            "assignees": _assignees("Assignees", "Who may decide."),
            "required_approvals": {
                "type": "integer",
                "title": "Required approvals",
                "description": "Approvals needed; the first rejection decides.",
                "minimum": 1,
                "maximum": 100,
                "default": 1,
            },
            "allow_self_approval": {
                "type": "boolean",
                "title": "Allow self-approval",
                "description": "Whether the person who started the run may approve it.",
                "default": False,
            },
            "form": _json_schema_field("Form", "JSON Schema of the fields the approver fills in."),
            "due_in_s": {
                "type": "integer",
                "title": "Due in (seconds)",
                "description": "Time allowed before on_timeout applies.",
                "minimum": 1,
                "maximum": 31_536_000,
            },
            "on_timeout": {
                "type": "string",
                "title": "On timeout",
                "description": "What happens when the approval is overdue.",
                "enum": ["reject", "approve", "fail", "escalate"],
                "default": "reject",
            },
            "escalate_to": _assignees(
                "Escalate to", "Added to the assignees on the first timeout (escalate)."
            ),
        },
        allOf=[{"if": _when("on_timeout", "escalate"), "then": {"required": ["escalate_to"]}}],
    ),
    execution="inline",
    output_schema={
        "type": "object",
        "properties": {
            "decision": {"enum": ["approved", "rejected"]},
            "decided_by": {"type": ["string", "null"]},
            "comment": {"type": "string"},
            "data": {"type": "object"},
            "decided_at": {"type": "string", "format": "date-time"},
            "payload": {"type": "object"},
            "timed_out": {"type": "boolean"},
            "decisions": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["decision", "decided_by", "decided_at", "payload", "timed_out", "decisions"],
    },
    handle_spec=FixedHandles(("approved", "rejected")),
    allows_retry=True,
)

DELAY = NodeType(
    type="delay",
    category="timing",
    label="Delay",
    description="Waits a number of seconds, or until a moment given by an expression.",
    config_schema=_object_schema(
        {
            "seconds": {
                "type": "number",
                "title": "Seconds",
                "description": "How long to wait. Set this or until, not both.",
                "minimum": 0,
                "maximum": 31_536_000,
            },
            "until": _expression("Until", "Expression giving an ISO 8601 date and time to wait for."),
        }
    ),
    execution="inline",
    output_schema=_PASS_THROUGH_OUTPUT,
    handle_spec=FixedHandles((OUT_HANDLE,)),
    allows_retry=True,
)

TRANSFORM = NodeType(
    type="transform",
    category="data",
    label="Transform",
    description="Builds an object from expressions over upstream data.",
    config_schema=_object_schema(
        {"mapping": _source_map("Mapping", "Each output field and the expression giving it.", EXPRESSION)},
    ),
    execution="inline",
    output_schema={"type": "object", "description": "One field per mapping entry."},
    handle_spec=FixedHandles((OUT_HANDLE,)),
    allows_retry=False,
)

AGENT_TASK = NodeType(
    type="agent_task",
    category="agents",
    label="Agent task",
    description="Hands a task to an external agent offering the capability, and waits for its result.",
    config_schema=_object_schema(
        {
            "capability": {
                "type": "string",
                "title": "Capability",
                "description": "What the external agent must offer, e.g. 'ocr' or 'deploy'.",
                "minLength": 1,
                "maxLength": 200,
            },
            "input": _source_map("Input", "Data sent to the agent, each value a template.", TEMPLATE),
            "lease_s": {
                "type": "integer",
                "title": "Lease (seconds)",
                "description": "How long an agent holds the task before it is offered again.",
                "minimum": 1,
                "maximum": 86_400,
                "default": 60,
            },
            "max_leases": {
                "type": "integer",
                "title": "Max leases",
                "description": "How many times the task is offered before the node fails.",
                "minimum": 1,
                "maximum": 100,
                "default": 3,
            },
        },
        required=["capability"],
    ),
    execution="dispatched",
    output_schema={"description": "The external agent's result."},
    handle_spec=FixedHandles((OUT_HANDLE,)),
    allows_retry=True,
)

HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
#: Largest response body an `http` node reads; a node output is at most 1 MB anyway.
HTTP_MAX_RESPONSE_BYTES = 1024 * 1024
_HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$"

HTTP = NodeType(
    type="http",
    category="integrations",
    label="HTTP request",
    description="Calls an HTTP API through the egress guard and returns its status, headers and body. "
    "Secrets come from a saved credential, never from the node.",
    config_schema=_object_schema(
        {
            "method": {
                "type": "string",
                "title": "Method",
                "description": "The HTTP method.",
                "enum": HTTP_METHODS,
                "default": "GET",
            },
            "url": _template(
                "URL", "http or https URL; may use templates, e.g. https://api.example.com/{{ inputs.id }}."
            ),
            "headers": {
                **_source_map("Headers", "Request headers, each value a template.", TEMPLATE),
                "propertyNames": {"pattern": _HEADER_NAME},
            },
            "query": _source_map(
                "Query parameters", "Added to the URL's query string, each value a template.", TEMPLATE
            ),
            "body": {
                "title": "Body",
                "description": "A template (text, or JSON when it is one {{ expression }} giving an "
                "object or list), or an object whose values are templates, sent as JSON.",
                "anyOf": [
                    {"type": "string", ANNOTATION_KEYWORD: TEMPLATE},
                    {
                        "type": "object",
                        "propertyNames": {"minLength": 1, "maxLength": 200},
                        "additionalProperties": {"type": "string", ANNOTATION_KEYWORD: TEMPLATE},
                    },
                ],
            },
            "credential": {
                "title": "Credential",
                "description": "A saved credential (id or name) that authenticates the request; the run's "
                "starter needs the runner role on it.",
                "anyOf": [
                    {"type": "integer", "minimum": 1},
                    {"type": "string", "minLength": 1, "maxLength": 200},
                ],
            },
            "max_response_bytes": {
                "type": "integer",
                "title": "Max response size (bytes)",
                "description": "A larger response fails the node (not retried).",
                "minimum": 1,
                "maximum": HTTP_MAX_RESPONSE_BYTES,
                "default": 262_144,
            },
            "max_redirects": {
                "type": "integer",
                "title": "Max redirects",
                "description": "Redirects followed (each checked by the egress guard); more fail the node.",
                "minimum": 0,
                "maximum": 10,
                "default": 5,
            },
            "response": {
                "type": "string",
                "title": "Response format",
                "description": "json parses the body (an empty body gives null); text keeps it as a string.",
                "enum": ["json", "text"],
                "default": "json",
            },
        },
        required=["url"],
    ),
    execution="dispatched",
    output_schema={
        "type": "object",
        "properties": {
            "status": {"type": "integer"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "body": {"description": "The parsed JSON, or the text."},
        },
        "required": ["status", "headers", "body"],
    },
    handle_spec=FixedHandles((OUT_HANDLE,)),
    allows_retry=True,
)

SUBWORKFLOW = NodeType(
    type="subworkflow",
    category="flow",
    label="Sub-workflow",
    description="Runs a published version of another workflow as a child run and waits for it, holding no "
    "worker; the child's outputs become this node's output.",
    config_schema=_object_schema(
        {
            "workflow": {
                "type": "integer",
                "title": "Workflow",
                "description": "Id of the workflow to run; the run's starter needs the runner role on it.",
                "minimum": 1,
            },
            "version": {
                "title": "Version",
                "description": "A version number, or active for the version active when the node starts.",
                "anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["active"]}],
                "default": "active",
            },
            "inputs": _source_map("Inputs", "The child run's inputs, each value a template.", TEMPLATE),
        },
        required=["workflow"],
    ),
    execution="inline",
    output_schema={"description": "The child run's outputs."},
    handle_spec=FixedHandles((OUT_HANDLE,)),
    allows_retry=True,
)

BUILT_IN_NODE_TYPES: Sequence[NodeType] = (
    START,
    END,
    PROMPT,
    CONDITION,
    SWITCH,
    LOOP,
    PARALLEL,
    JOIN,
    APPROVAL,
    DELAY,
    TRANSFORM,
    AGENT_TASK,
    HTTP,
    SUBWORKFLOW,
)

for _built_in in BUILT_IN_NODE_TYPES:
    register_node_type(_built_in)
