"""Validation of workflow graphs in two tiers.

:func:`check_shape` runs on every draft save. It checks only what any stored graph must satisfy
(JSON types, known keys and node types, ids, size caps, no NUL characters) and ignores ``required``
and minimum sizes inside node configs, so a half-configured node can be saved.

:func:`validate_graph` runs on validate, publish and draft runs. It applies the shape tier with
configs fully enforced and then, when the document is sound enough to reason about, every graph
rule of DESIGN §3, including static checks of every template and expression (parsed, never
evaluated).

Both return plain dicts ``{"code", "message", "node_id"?, "edge_id"?, "path"?}``, sorted, and never
raise on any JSON value. ``path`` is dotted with integer indices; it is relative to the node when
``node_id`` is set, to the edge when ``edge_id`` is set, and to the graph otherwise.

Error codes
-----------
Shape tier (both functions):

- ``invalid_type``: a value has the wrong JSON type.
- ``unknown_key``: a key that is not allowed there (also a config setting the node type lacks).
- ``missing_field``: a required key is absent, or a required text or list is empty.
- ``invalid_value``: a value outside its allowed range, choices or form.
- ``too_long``: a text longer than its limit (names 200, notes 10 000 characters …).
- ``nul_character``: a NUL character in a key or a text.
- ``non_finite_number``: NaN or an infinity.
- ``too_deeply_nested``: JSON nested more than 32 levels deep.
- ``too_many_nodes``: more than 2 000 nodes.
- ``too_many_edges``: more than 10 000 edges.
- ``graph_too_large``: the graph serialises to more than 1 MB.
- ``unsupported_schema_version``: ``schema_version`` is not 1.
- ``invalid_node_id``: a node id not matching ``^[a-z][a-z0-9_]{0,63}$``.
- ``unknown_node_type``: a node type that is not registered.
- ``invalid_variable_name``: a variable name that is not an identifier.
- ``expression_too_long``: a template or expression over 10 240 characters.
- ``too_many_errors``: more errors than are listed; only the first ones are returned.

Full tier only:

- ``duplicate_node_id`` / ``duplicate_edge_id``: an id used twice.
- ``dangling_edge``: an edge's source or target is not a node.
- ``self_edge``: an edge from a node to itself.
- ``duplicate_edge``: two edges with the same source, handle and target.
- ``cycle``: edges form a cycle (only loops repeat steps).
- ``edge_crosses_loop``: an edge whose ends have different parents.
- ``unknown_parent``: ``parent`` names no node.
- ``parent_not_loop``: ``parent`` names a node that is not a loop.
- ``parent_cycle``: loops that contain each other.
- ``start_in_loop`` / ``end_in_loop``: a start or end node with a parent.
- ``empty_loop_body``: a loop without body nodes.
- ``loop_needs_result``: a loop body with several sink nodes and no ``result``.
- ``loop_nesting_too_large``: nested ``max_iterations`` multiply to more than 100 000.
- ``missing_start`` / ``multiple_starts``: not exactly one start node.
- ``missing_end``: no end node.
- ``edge_into_start``: an edge ending at the start node.
- ``unreachable_node``: a node no path from the start reaches.
- ``unknown_handle``: an edge leaves a handle its source does not have.
- ``duplicate_handle``: two switch cases with the same handle.
- ``reserved_handle``: a switch case named ``default`` or ``error``.
- ``continue_without_out``: ``on_error: continue`` on a node without an ``out`` handle.
- ``missing_error_edge``: ``on_error: branch`` without an edge from the ``error`` handle.
- ``cannot_disable``: a disabled start or end, or a disabled node without an ``out`` handle to
  pass its input through (condition, switch, approval).
- ``retry_not_allowed`` / ``timeout_not_allowed``: ``retry`` or ``timeout_s`` on a node type that
  cannot fail transiently.
- ``join_too_few_inputs``: a join with fewer than two incoming edges.
- ``duplicate_join_edge``: two edges from one source into one join.
- ``join_count_out_of_range``: a join's ``count`` is not between 1 and its number of inputs.
- ``duplicate_variable``: two variables with the same name.
- ``invalid_variable_default``: a variable default that does not match its type.
- ``invalid_json_schema``: an input schema, JSON schema or form that is not a valid JSON Schema.
- ``delay_needs_duration``: a delay without exactly one of ``seconds`` and ``until``.
- ``prompt_needs_model``: a prompt with neither an agent nor a provider and model.
- ``invalid_template`` / ``invalid_expression``: a syntax error.
- ``forbidden_tag``: a ``macro``, ``call``, ``import``, ``from``, ``include``, ``extends`` or
  ``filter`` block.
- ``dynamic_node_ref``: ``nodes`` or ``loops`` not followed by a fixed name.
- ``unknown_name``: an unknown variable, filter or test in an expression.
- ``unknown_reference_field``: a context field that does not exist (``nodes.x.outptu``).
- ``unknown_node_ref``: ``nodes.x`` where no node ``x`` exists.
- ``ref_not_upstream``: a reference to a node that does not always run before this one.
- ``ref_into_loop_body``: a reference into a loop body from outside it.
- ``loop_ref_outside_loop``: ``loop`` used by a node that is in no loop.
- ``loop_ref_not_enclosing``: ``loops.x`` where ``x`` is not a loop containing this node.
- ``unknown_variable``: ``vars.x`` where no variable ``x`` is declared.
- ``unknown_user`` / ``unknown_group`` / ``unknown_agent``: approval assignees or a prompt's
  agent that do not exist (checked only when a directory is given).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from executions.engine.expressions import MAX_SOURCE_LENGTH, ExpressionError, Reference, SourceKind, analyse
from workflows.graph import Edge, Graph, Node
from workflows.node_types import (
    AGENT,
    ASSIGNEES,
    DEFAULT_HANDLE,
    ERROR_HANDLE,
    EXPRESSION,
    JSON_SCHEMA,
    TEMPLATE,
    NodeType,
    annotated_values,
    get_node_type,
    node_handles,
    template_fields,
)

Error = dict[str, Any]
PathPart = str | int

SCHEMA_VERSION = 1
MAX_NODES = 2_000
MAX_EDGES = 10_000
MAX_GRAPH_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NAME_LENGTH = 200
MAX_NOTES_LENGTH = 10_000
MAX_EDGE_ID_LENGTH = 200
MAX_HANDLE_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 1_000
MAX_NESTED_ITERATIONS = 100_000
MAX_ERRORS = 500
MAX_CYCLES_REPORTED = 20

NODE_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
VARIABLE_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

GRAPH_KEYS = frozenset({"schema_version", "nodes", "edges", "variables", "annotations"})
NODE_KEYS = frozenset(
    {
        "id",
        "type",
        "name",
        "position",
        "size",
        "config",
        "parent",
        "retry",
        "timeout_s",
        "on_error",
        "disabled",
        "notes",
    }
)
EDGE_KEYS = frozenset({"id", "source", "target", "source_handle"})
RETRY_KEYS = frozenset({"max_attempts", "backoff_s", "multiplier", "max_backoff_s"})
VARIABLE_KEYS = frozenset({"name", "type", "default", "description"})
ANNOTATION_KEYS = frozenset({"id", "text", "position", "size", "color"})
ON_ERROR_CHOICES = ("fail", "continue", "branch")
VARIABLE_TYPES = ("string", "number", "integer", "boolean", "object", "array")
RESERVED_CASE_HANDLES = frozenset({DEFAULT_HANDLE, ERROR_HANDLE})
RELAXED_KEYWORDS = frozenset({"required", "minLength", "minItems", "minProperties"})

MAX_TIMEOUT_S = 31 * 86_400
RETRY_RANGES: dict[str, tuple[float, float, bool]] = {
    "max_attempts": (1, 100, True),
    "backoff_s": (0, 3_600, False),
    "multiplier": (1, 10, False),
    "max_backoff_s": (0, 86_400, False),
}


class Directory(Protocol):
    """Looks up the people and agents a graph names; the API implements it over the database."""

    def missing_users(self, names: set[str]) -> set[str]: ...

    def missing_groups(self, names: set[str]) -> set[str]: ...

    def missing_agents(self, slugs: set[str]) -> set[str]: ...


def check_shape(graph: object) -> list[Error]:
    """The draft tier: what every saved graph must satisfy, however unfinished."""
    report = _Report()
    _ShapeChecker(report, relaxed=True).check(graph)
    return report.finish()


def validate_graph(graph: object, *, directory: Directory | None = None) -> list[Error]:
    """The full tier: every rule a graph must satisfy to be published or run."""
    report = _Report()
    shape = _ShapeChecker(report, relaxed=False)
    shape.check(graph)
    if shape.sound_enough and isinstance(graph, dict):
        _RuleChecker(report, graph, directory, shape.node_places).check()
    return report.finish()


# --- reporting ------------------------------------------------------------------------------------


def _dotted(path: Iterable[PathPart]) -> str:
    return ".".join(str(part) for part in path)


@dataclass(frozen=True)
class _Place:
    """Where errors about one part of the graph are anchored: a node, an edge, or the graph root."""

    node_id: str | None = None
    edge_id: str | None = None
    prefix: tuple[PathPart, ...] = ()
    label: str = "The graph"

    def at(self, *path: PathPart) -> tuple[PathPart, ...]:
        return path if self.node_id is not None or self.edge_id is not None else (*self.prefix, *path)


class _Report:
    def __init__(self) -> None:
        self.errors: list[Error] = []

    def add(self, place: _Place, code: str, message: str, *path: PathPart) -> None:
        error: Error = {"code": code, "message": message}
        if place.node_id is not None:
            error["node_id"] = place.node_id
        if place.edge_id is not None:
            error["edge_id"] = place.edge_id
        full_path = place.at(*path)
        if full_path:
            error["path"] = _dotted(full_path)
        self.errors.append(error)

    def finish(self) -> list[Error]:
        unique = {_identity(error): error for error in self.errors}
        ordered = sorted(unique.values(), key=_sort_key)
        if len(ordered) > MAX_ERRORS:
            hidden = len(ordered) - (MAX_ERRORS - 1)
            ordered = ordered[: MAX_ERRORS - 1]
            ordered.append({"code": "too_many_errors", "message": f"{hidden} more errors are not listed."})
        return ordered


def _identity(error: Error) -> tuple[str, ...]:
    return tuple(str(error.get(key, "")) for key in ("code", "node_id", "edge_id", "path", "message"))


def _sort_key(error: Error) -> tuple[Any, ...]:
    anchor = 2 if "edge_id" in error else 1 if "node_id" in error else 0
    path = tuple(
        (0, int(part), "") if part.isascii() and part.isdigit() else (1, 0, part)
        for part in error.get("path", "").split(".")
    )
    return (anchor, error.get("node_id", error.get("edge_id", "")), path, error["code"], error["message"])


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "not a JSON value"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _edge_label(edge_id: str) -> str:
    return edge_id if len(edge_id) <= 60 else f"{edge_id[:59]}…"


def _quoted(text: str, limit: int = 60) -> str:
    """A designer's text inside a message, cut short so one huge key cannot bloat the response."""
    return f"'{text}'" if len(text) <= limit else f"'{text[: limit - 1]}…'"


# --- the shape tier -------------------------------------------------------------------------------


_HUGE_INTEGER = 10**4000
"""Python refuses to print integers of more than 4 300 digits; such a value would break messages."""


class _ShapeChecker:
    """Checks JSON structure; ``relaxed`` ignores ``required`` and minimum sizes inside configs.

    ``sound_enough`` ends up False when the document is too broken or too big to reason about
    (not an object, hostile values, over a size cap), and the full tier then stops at the shape.
    """

    def __init__(self, report: _Report, *, relaxed: bool) -> None:
        self.report = report
        self.relaxed = relaxed
        self.sound_enough = False
        self.node_places: dict[int, _Place] = {}

    def check(self, graph: object) -> None:
        root = _Place()
        if not isinstance(graph, dict):
            self.report.add(
                root, "invalid_type", f"A workflow graph must be an object, not {_json_type(graph)}."
            )
            return
        serialised = _serialise(graph)
        if serialised is None:
            if not self._check_values(graph):
                return
            serialised = json.dumps(graph, ensure_ascii=False, separators=(",", ":"))
        nodes = graph.get("nodes")
        edges = graph.get("edges")
        if isinstance(nodes, list) and len(nodes) > MAX_NODES:
            self.report.add(
                root,
                "too_many_nodes",
                f"A workflow may have at most {MAX_NODES} nodes; this one has {len(nodes)}.",
                "nodes",
            )
            return
        if isinstance(edges, list) and len(edges) > MAX_EDGES:
            self.report.add(
                root,
                "too_many_edges",
                f"A workflow may have at most {MAX_EDGES} edges; this one has {len(edges)}.",
                "edges",
            )
            return
        size = len(serialised.encode())
        if size > MAX_GRAPH_BYTES:
            self.report.add(
                root,
                "graph_too_large",
                f"The graph is {size} bytes when saved; the limit is {MAX_GRAPH_BYTES} bytes.",
            )
            return
        self._check_top_level(graph, root)
        self.sound_enough = isinstance(nodes, list) and isinstance(edges, list)

    def _check_values(self, graph: dict[str, Any]) -> bool:
        """Find and report what :func:`_serialise` refused; returns whether nothing was found.

        Iterative on purpose: a hostile document nested thousands of levels deep must produce an
        error, not a RecursionError.
        """
        found = False
        stack: list[tuple[object, tuple[PathPart, ...]]] = [(graph, ())]
        while stack:
            value, path = stack.pop()
            if isinstance(value, str):
                if "\x00" in value:
                    self._value_error(
                        graph, path, "nul_character", "contains a NUL character, which is not allowed"
                    )
                    found = True
            elif isinstance(value, bool) or value is None:
                continue
            elif isinstance(value, int):
                if not -_HUGE_INTEGER < value < _HUGE_INTEGER:
                    self._value_error(graph, path, "invalid_value", "is too large a number")
                    found = True
            elif isinstance(value, float):
                if not math.isfinite(value):
                    self._value_error(graph, path, "non_finite_number", "must be a finite number")
                    found = True
            elif isinstance(value, dict | list):
                if len(path) >= MAX_DEPTH:
                    self._value_error(
                        graph, path, "too_deeply_nested", f"is nested more than {MAX_DEPTH} levels deep"
                    )
                    found = True
                    continue
                if isinstance(value, list):
                    stack.extend((item, (*path, index)) for index, item in enumerate(value))
                    continue
                for key, item in value.items():
                    if not isinstance(key, str):
                        self._value_error(
                            graph, path, "invalid_type", f"has a key that is not a text ({_json_type(key)})"
                        )
                        found = True
                    elif "\x00" in key:
                        self._value_error(graph, path, "nul_character", "has a key with a NUL character")
                        found = True
                    else:
                        stack.append((item, (*path, key)))
            else:
                self._value_error(graph, path, "invalid_type", "is not a JSON value")
                found = True
        return not found

    def _value_error(
        self, graph: dict[str, Any], path: tuple[PathPart, ...], code: str, problem: str
    ) -> None:
        place, relative = _place_for_path(graph, path)
        where = _dotted(relative) if relative else "The value"
        self.report.add(
            place,
            code,
            f"{place.label}: {where} {problem}." if relative else f"{where} {problem}.",
            *relative,
        )

    def _check_top_level(self, graph: dict[str, Any], root: _Place) -> None:
        for key in graph:
            if key not in GRAPH_KEYS:
                self.report.add(root, "unknown_key", f"A workflow graph has no key {_quoted(key)}.", key)
        version = graph.get("schema_version")
        if "schema_version" not in graph:
            self.report.add(root, "missing_field", "The graph needs 'schema_version': 1.", "schema_version")
        elif not _is_integer(version) or version != SCHEMA_VERSION:
            self.report.add(
                root,
                "unsupported_schema_version",
                f"schema_version must be {SCHEMA_VERSION}, the only version there is.",
                "schema_version",
            )
        for key in ("nodes", "edges"):
            if key not in graph:
                self.report.add(root, "missing_field", f"The graph needs a '{key}' list.", key)
            elif not isinstance(graph[key], list):
                self.report.add(
                    root, "invalid_type", f"'{key}' must be a list, not {_json_type(graph[key])}.", key
                )
        for index, node in enumerate(_items(graph.get("nodes"))):
            self._check_node(node, index)
        for index, edge in enumerate(_items(graph.get("edges"))):
            self._check_edge(edge, index)
        for key, check in (("variables", self._check_variable), ("annotations", self._check_annotation)):
            if key in graph and not isinstance(graph[key], list):
                self.report.add(
                    root, "invalid_type", f"'{key}' must be a list, not {_json_type(graph[key])}.", key
                )
            for index, item in enumerate(_items(graph.get(key))):
                check(item, _Place(prefix=(key, index)))

    def _check_node(self, node: object, index: int) -> None:
        place = self.node_places[index] = _node_place(node, index)
        if not isinstance(node, dict):
            self.report.add(place, "invalid_type", f"Each node must be an object, not {_json_type(node)}.")
            return
        label = place.label
        for key in node:
            if key not in NODE_KEYS:
                self.report.add(place, "unknown_key", f"{label} has an unknown key {_quoted(key)}.", key)
        node_id = node.get("id")
        if "id" not in node:
            self.report.add(place, "missing_field", f"{label} needs an 'id'.", "id")
        elif not isinstance(node_id, str):
            self.report.add(
                place, "invalid_type", f"{label}: id must be a text, not {_json_type(node_id)}.", "id"
            )
        elif NODE_ID_PATTERN.fullmatch(node_id) is None:
            self.report.add(
                place,
                "invalid_node_id",
                f"Node id {_quoted(node_id)} must start with a lowercase letter and contain only lowercase "
                "letters, digits and underscores (at most 64 characters).",
                "id",
            )
        node_type = self._check_node_type(node, place)
        self._check_text(node, "name", place, MAX_NAME_LENGTH)
        self._check_text(node, "notes", place, MAX_NOTES_LENGTH, nullable=True)
        self._check_box(node.get("position"), place, ("position",), ("x", "y"), required=False)
        if node.get("size") is not None:
            self._check_box(
                node.get("size"), place, ("size",), ("width", "height"), required=False, minimum=0
            )
        parent = node.get("parent")
        if parent is not None and not isinstance(parent, str):
            self.report.add(
                place,
                "invalid_type",
                f"{label}: parent must be a node id, not {_json_type(parent)}.",
                "parent",
            )
        self._check_retry(node.get("retry"), place)
        timeout = node.get("timeout_s")
        if timeout is not None:
            self._check_number(timeout, place, ("timeout_s",), 0, MAX_TIMEOUT_S, exclusive_minimum=True)
        on_error = node.get("on_error")
        if "on_error" in node and on_error not in ON_ERROR_CHOICES:
            self.report.add(
                place,
                "invalid_value",
                f"{label}: on_error must be one of: {', '.join(ON_ERROR_CHOICES)}.",
                "on_error",
            )
        disabled = node.get("disabled")
        if "disabled" in node and not isinstance(disabled, bool):
            self.report.add(place, "invalid_type", f"{label}: disabled must be true or false.", "disabled")
        config = node.get("config")
        config = {} if config is None else config
        if node_type is not None:
            for error in _config_errors(node_type, config, label, relaxed=self.relaxed):
                self.report.add(place, error.code, error.message, *error.path)
            if self.relaxed and isinstance(config, dict):
                self._check_source_lengths(node_type, config, place)

    def _check_node_type(self, node: dict[str, Any], place: _Place) -> NodeType | None:
        type_name = node.get("type")
        if "type" not in node:
            self.report.add(place, "missing_field", f"{place.label} needs a 'type'.", "type")
            return None
        if not isinstance(type_name, str):
            self.report.add(place, "invalid_type", f"{place.label}: type must be a text.", "type")
            return None
        node_type = get_node_type(type_name)
        if node_type is None:
            self.report.add(
                place, "unknown_node_type", f"There is no node type {_quoted(type_name)}.", "type"
            )
        return node_type

    def _check_source_lengths(self, node_type: NodeType, config: dict[str, Any], place: _Place) -> None:
        for template in template_fields(node_type, config):
            if len(template.source) > MAX_SOURCE_LENGTH:
                self.report.add(
                    place,
                    "expression_too_long",
                    f"{place.label}: {_dotted(template.path)} is {len(template.source)} characters long; "
                    f"the limit is {MAX_SOURCE_LENGTH}.",
                    "config",
                    *template.path,
                )

    def _check_edge(self, edge: object, index: int) -> None:
        place = _edge_place(edge, index)
        if not isinstance(edge, dict):
            self.report.add(place, "invalid_type", f"Each edge must be an object, not {_json_type(edge)}.")
            return
        label = place.label
        for key in edge:
            if key not in EDGE_KEYS:
                self.report.add(place, "unknown_key", f"{label} has an unknown key {_quoted(key)}.", key)
        for key in ("id", "source", "target"):
            value = edge.get(key)
            if key not in edge:
                self.report.add(place, "missing_field", f"{label} needs a '{key}'.", key)
            elif not isinstance(value, str):
                self.report.add(
                    place, "invalid_type", f"{label}: {key} must be a text, not {_json_type(value)}.", key
                )
            elif not value:
                self.report.add(place, "missing_field", f"{label}: {key} must not be empty.", key)
        edge_id = edge.get("id")
        if isinstance(edge_id, str) and len(edge_id) > MAX_EDGE_ID_LENGTH:
            self.report.add(place, "too_long", f"Edge ids are at most {MAX_EDGE_ID_LENGTH} characters.", "id")
        handle = edge.get("source_handle")
        if handle is not None:
            if not isinstance(handle, str):
                self.report.add(
                    place, "invalid_type", f"{label}: source_handle must be a text.", "source_handle"
                )
            elif not handle or len(handle) > MAX_HANDLE_LENGTH:
                self.report.add(
                    place,
                    "invalid_value",
                    f"{label}: source_handle must be 1 to {MAX_HANDLE_LENGTH} characters.",
                    "source_handle",
                )

    def _check_variable(self, variable: object, place: _Place) -> None:
        if not isinstance(variable, dict):
            self.report.add(
                place, "invalid_type", f"Each variable must be an object, not {_json_type(variable)}."
            )
            return
        for key in variable:
            if key not in VARIABLE_KEYS:
                self.report.add(place, "unknown_key", f"A variable has no key {_quoted(key)}.", key)
        name = variable.get("name")
        if "name" not in variable:
            self.report.add(place, "missing_field", "Each variable needs a 'name'.", "name")
        elif not isinstance(name, str):
            self.report.add(place, "invalid_type", "A variable name must be a text.", "name")
        elif VARIABLE_NAME_PATTERN.fullmatch(name) is None:
            self.report.add(
                place,
                "invalid_variable_name",
                f"Variable name {_quoted(name)} must be an identifier (letters, digits, underscores; "
                "not starting with a digit; at most 64 characters), so it can be used as vars.<name>.",
                "name",
            )
        variable_type = variable.get("type")
        if "type" not in variable:
            self.report.add(place, "missing_field", "Each variable needs a 'type'.", "type")
        elif variable_type not in VARIABLE_TYPES:
            self.report.add(
                place,
                "invalid_value",
                f"A variable's type must be one of: {', '.join(VARIABLE_TYPES)}.",
                "type",
            )
        self._check_text(variable, "description", place, MAX_DESCRIPTION_LENGTH)

    def _check_annotation(self, annotation: object, place: _Place) -> None:
        if not isinstance(annotation, dict):
            self.report.add(
                place, "invalid_type", f"Each annotation must be an object, not {_json_type(annotation)}."
            )
            return
        for key in annotation:
            if key not in ANNOTATION_KEYS:
                self.report.add(place, "unknown_key", f"An annotation has no key {_quoted(key)}.", key)
        for key in ("id", "text", "position"):
            if key not in annotation:
                self.report.add(place, "missing_field", f"Each annotation needs '{key}'.", key)
        annotation_id = annotation.get("id")
        if "id" in annotation and (not isinstance(annotation_id, str) or not annotation_id):
            self.report.add(place, "invalid_type", "An annotation id must be a non-empty text.", "id")
        self._check_text(annotation, "id", place, MAX_EDGE_ID_LENGTH)
        self._check_text(annotation, "text", place, MAX_NOTES_LENGTH)
        self._check_text(annotation, "color", place, 32)
        self._check_box(annotation.get("position"), place, ("position",), ("x", "y"), required=False)
        if "size" in annotation:
            self._check_box(
                annotation.get("size"), place, ("size",), ("width", "height"), required=False, minimum=0
            )

    def _check_text(
        self, container: dict[str, Any], key: str, place: _Place, limit: int, *, nullable: bool = False
    ) -> None:
        if key not in container or (nullable and container[key] is None):
            return
        value = container[key]
        if not isinstance(value, str):
            self.report.add(
                place, "invalid_type", f"{place.label}: {key} must be a text, not {_json_type(value)}.", key
            )
        elif len(value) > limit:
            self.report.add(
                place, "too_long", f"{place.label}: {key} is longer than {limit} characters.", key
            )

    def _check_box(
        self,
        value: object,
        place: _Place,
        path: tuple[PathPart, ...],
        keys: tuple[str, str],
        *,
        required: bool,
        minimum: float | None = None,
    ) -> None:
        if value is None and not required:
            return
        if not isinstance(value, dict):
            self.report.add(
                place,
                "invalid_type",
                f"{place.label}: {_dotted(path)} must be an object with {keys[0]} and {keys[1]}.",
                *path,
            )
            return
        for key in value:
            if key not in keys:
                self.report.add(
                    place,
                    "unknown_key",
                    f"{place.label}: {_dotted(path)} has no key {_quoted(key)}.",
                    *path,
                    key,
                )
        for key in keys:
            if key not in value:
                self.report.add(
                    place, "missing_field", f"{place.label}: {_dotted(path)} needs '{key}'.", *path, key
                )
            elif type(value[key]) not in (int, float) or minimum is not None:
                self._check_number(value[key], place, (*path, key), minimum, None)

    def _check_number(
        self,
        value: object,
        place: _Place,
        path: tuple[PathPart, ...],
        minimum: float | None,
        maximum: float | None,
        *,
        integer: bool = False,
        exclusive_minimum: bool = False,
    ) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (integer and isinstance(value, float))
        ):
            kind = "a whole number" if integer else "a number"
            self.report.add(
                place,
                "invalid_type",
                f"{place.label}: {_dotted(path)} must be {kind}, not {_json_type(value)}.",
                *path,
            )
            return
        too_small = minimum is not None and (value <= minimum if exclusive_minimum else value < minimum)
        too_large = maximum is not None and value > maximum
        if too_small or too_large:
            bounds = []
            if minimum is not None:
                bounds.append(f"more than {minimum:g}" if exclusive_minimum else f"at least {minimum:g}")
            if maximum is not None:
                bounds.append(f"at most {maximum:g}")
            self.report.add(
                place,
                "invalid_value",
                f"{place.label}: {_dotted(path)} must be {' and '.join(bounds)}.",
                *path,
            )

    def _check_retry(self, retry: object, place: _Place) -> None:
        if retry is None:
            return
        if not isinstance(retry, dict):
            self.report.add(place, "invalid_type", f"{place.label}: retry must be an object.", "retry")
            return
        for key in retry:
            if key not in RETRY_KEYS:
                self.report.add(
                    place, "unknown_key", f"{place.label}: retry has no setting {_quoted(key)}.", "retry", key
                )
        if "max_attempts" not in retry and not self.relaxed:
            self.report.add(
                place, "missing_field", f"{place.label}: retry needs 'max_attempts'.", "retry", "max_attempts"
            )
        for key, (low, high, integer) in RETRY_RANGES.items():
            if key in retry:
                self._check_number(retry[key], place, ("retry", key), low, high, integer=integer)


def _serialise(graph: dict[str, Any]) -> str | None:
    """The graph as compact JSON when it is plainly harmless, else None.

    Harmless means: only JSON values, no NaN or infinity, no NUL, nested at most
    :data:`MAX_DEPTH` deep. The C encoder and a level-by-level scan of containers answer this for
    a typical graph in milliseconds; only documents that fail it are walked value by value to say
    where.
    """
    try:
        text = json.dumps(graph, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        return None
    if "\\u0000" in text or _deeper_than(graph, MAX_DEPTH):
        return None
    return text


def _deeper_than(value: object, limit: int) -> bool:
    """Whether containers nest more than ``limit`` deep, scanning one level at a time."""
    level: list[Any] = [value]
    for _ in range(limit):
        following = [
            item
            for container in level
            for item in (container.values() if isinstance(container, dict) else container)
            if isinstance(item, dict | list)
        ]
        if not following:
            return False
        level = following
    return True


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _node_place(node: object, index: int) -> _Place:
    node_id = node.get("id") if isinstance(node, dict) else None
    node_type = node.get("type") if isinstance(node, dict) else None
    kind = f"{node_type} node" if isinstance(node_type, str) and get_node_type(node_type) else "Node"
    if isinstance(node_id, str) and NODE_ID_PATTERN.fullmatch(node_id):
        return _Place(node_id=node_id, label=f"{kind[:1].upper()}{kind[1:]} '{node_id}'")
    return _Place(prefix=("nodes", index), label=f"{kind[:1].upper()}{kind[1:]} {index + 1} in the list")


def _edge_place(edge: object, index: int) -> _Place:
    edge_id = edge.get("id") if isinstance(edge, dict) else None
    if isinstance(edge_id, str) and 0 < len(edge_id) <= MAX_EDGE_ID_LENGTH and "\x00" not in edge_id:
        return _Place(edge_id=edge_id, label=f"Edge {edge_id}")
    return _Place(prefix=("edges", index), label=f"Edge {index + 1} in the list")


def _place_for_path(graph: dict[str, Any], path: tuple[PathPart, ...]) -> tuple[_Place, tuple[PathPart, ...]]:
    if len(path) >= 2 and path[0] in ("nodes", "edges") and isinstance(path[1], int):
        items = graph.get(path[0])
        if isinstance(items, list) and path[1] < len(items):
            item = items[path[1]]
            place = _node_place(item, path[1]) if path[0] == "nodes" else _edge_place(item, path[1])
            return place, path[2:]
    return _Place(), path


# --- node configs against their schemas -----------------------------------------------------------


@dataclass(frozen=True)
class _ConfigError:
    code: str
    message: str
    path: tuple[PathPart, ...]


_VALIDATORS: dict[tuple[NodeType, bool], Draft202012Validator] = {}


def _config_validator(node_type: NodeType, *, relaxed: bool) -> Draft202012Validator:
    key = (node_type, relaxed)
    validator = _VALIDATORS.get(key)
    if validator is None:
        schema = _relax(node_type.config_schema) if relaxed else node_type.config_schema
        validator = Draft202012Validator(schema)
        _VALIDATORS[key] = validator
    return validator


_SCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "dependentSchemas", "$defs")
_SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_KEYWORDS = (
    "additionalProperties",
    "items",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
)


def _relax(schema: object) -> Any:
    """The schema without ``required`` and minimum sizes, so drafts with empty fields pass."""
    if not isinstance(schema, dict):
        return schema
    relaxed: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in RELAXED_KEYWORDS:
            continue
        if keyword in _SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            relaxed[keyword] = {name: _relax(item) for name, item in value.items()}
        elif keyword in _SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            relaxed[keyword] = [_relax(item) for item in value]
        elif keyword in _SCHEMA_KEYWORDS:
            relaxed[keyword] = _relax(value)
        else:
            relaxed[keyword] = value
    return relaxed


def _config_errors(node_type: NodeType, config: object, label: str, *, relaxed: bool) -> list[_ConfigError]:
    quick_check = _quick_check(node_type, relaxed=relaxed)
    if quick_check is not None and quick_check(config):
        return []
    validator = _config_validator(node_type, relaxed=relaxed)
    errors: list[_ConfigError] = []
    for error in validator.iter_errors(config):
        errors.extend(_translate_schema_error(error, label))
    return errors


QuickCheck = Callable[[object], bool]

_QUICK_CHECKS: dict[tuple[NodeType, bool], QuickCheck | None] = {}
_ANNOTATION_KEYWORDS = frozenset(
    {
        "$schema",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "format",
        "deprecated",
        "readOnly",
        "writeOnly",
        "x-flowdeck",
        "then",
        "else",
    }
)
_EXACT_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}
_OBJECT_KEYWORDS = frozenset({"properties", "additionalProperties", "required"})


class _Unsupported(Exception):
    """A schema uses something the quick check does not model; jsonschema alone decides then."""


def _quick_check(node_type: NodeType, *, relaxed: bool) -> QuickCheck | None:
    """A compiled acceptance test for the type's config schema, or None if the schema is too rich.

    jsonschema costs tens of microseconds per config, most of the budget for a 2 000-node graph.
    This test is sound but not complete: when it says True, jsonschema finds no error; when it
    says False (an error, or anything unusual such as ``1.0`` for an integer), jsonschema runs and
    explains. A property test holds it to that.
    """
    key = (node_type, relaxed)
    if key not in _QUICK_CHECKS:
        schema = _relax(node_type.config_schema) if relaxed else node_type.config_schema
        try:
            _QUICK_CHECKS[key] = _compile_quick_check(schema)
        except _Unsupported:
            _QUICK_CHECKS[key] = None
    return _QUICK_CHECKS[key]


def _accept(value: object) -> bool:
    return True


def _compile_quick_check(schema: object) -> QuickCheck:
    if schema is True or schema == {}:
        return _accept
    if not isinstance(schema, dict):
        raise _Unsupported
    checks = [_compile_object_keywords(schema)] if _OBJECT_KEYWORDS & schema.keys() else []
    for keyword, argument in schema.items():
        if keyword not in _ANNOTATION_KEYWORDS and keyword not in _OBJECT_KEYWORDS:
            checks.append(_compile_keyword(keyword, argument, schema))
    if len(checks) == 1:
        return checks[0]

    def check_all(value: object) -> bool:
        return all(check(value) for check in checks)

    return check_all


def _compile_object_keywords(schema: dict[str, Any]) -> QuickCheck:
    """``properties``, ``additionalProperties`` and ``required`` as one pass over the object."""
    properties = schema.get("properties", {})
    if not isinstance(properties, dict) or "patternProperties" in schema:
        raise _Unsupported
    property_checks = {name: _compile_quick_check(subschema) for name, subschema in properties.items()}
    additional = schema.get("additionalProperties", True)
    extra_check = None if additional is False else _compile_quick_check(additional)
    required = schema.get("required", [])
    if not isinstance(required, list):
        raise _Unsupported

    def check_object(value: object) -> bool:
        if not isinstance(value, dict):
            return True
        for name, item in value.items():
            check = property_checks.get(name, extra_check)
            if check is None or not check(item):
                return False
        return all(name in value for name in required)

    return check_object


def _is_plain_number(value: object) -> bool:
    return type(value) in (int, float)


def _compile_keyword(keyword: str, argument: Any, schema: dict[str, Any]) -> QuickCheck:
    if keyword == "type":
        names = argument if isinstance(argument, list) else [argument]
        if not all(isinstance(name, str) and name in _EXACT_TYPES for name in names):
            raise _Unsupported
        allowed = tuple(kind for name in names for kind in _EXACT_TYPES[name])
        return lambda value: type(value) in allowed
    if keyword in ("enum", "const"):
        options = argument if keyword == "enum" else [argument]
        if not isinstance(options, list):
            raise _Unsupported
        texts = frozenset(option for option in options if isinstance(option, str))
        return lambda value: type(value) is str and value in texts
    if keyword in _BOUNDS:
        if not _is_plain_number(argument):
            raise _Unsupported
        within = _BOUNDS[keyword]
        return lambda value: not _is_plain_number(value) or within(value, argument)
    if keyword in _SIZES:
        container, minimum = _SIZES[keyword]
        if type(argument) is not int:
            raise _Unsupported
        if minimum:
            return lambda value: not isinstance(value, container) or len(cast(Sized, value)) >= argument
        return lambda value: not isinstance(value, container) or len(cast(Sized, value)) <= argument
    if keyword in ("items", "propertyNames"):
        inner = _compile_quick_check(argument)
        if keyword == "items":
            return lambda value: not isinstance(value, list) or all(inner(item) for item in value)
        return lambda value: not isinstance(value, dict) or all(inner(name) for name in value)
    if keyword == "uniqueItems":
        if argument is False:
            return _accept
        return lambda value: (
            not isinstance(value, list)
            or (all(type(item) is str for item in value) and len(set(value)) == len(value))
        )
    if keyword in ("allOf", "anyOf", "oneOf"):
        if not isinstance(argument, list):
            raise _Unsupported
        branches = [_compile_quick_check(branch) for branch in argument]
        if keyword == "allOf":
            return lambda value: all(branch(value) for branch in branches)
        if keyword == "anyOf":
            return lambda value: any(branch(value) for branch in branches)
        return lambda value: sum(1 for branch in branches if branch(value)) == 1
    if keyword == "if":
        condition = _compile_quick_check(argument)
        then = _compile_quick_check(schema.get("then", True))
        otherwise = _compile_quick_check(schema.get("else", True))
        return lambda value: then(value) if condition(value) else otherwise(value)
    raise _Unsupported


_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda number, bound: number >= bound,
    "maximum": lambda number, bound: number <= bound,
    "exclusiveMinimum": lambda number, bound: number > bound,
    "exclusiveMaximum": lambda number, bound: number < bound,
}
_SIZES: dict[str, tuple[type, bool]] = {
    "minLength": (str, True),
    "maxLength": (str, False),
    "minItems": (list, True),
    "maxItems": (list, False),
    "minProperties": (dict, True),
    "maxProperties": (dict, False),
}


_TYPE_WORDS = {
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def _type_words(types: object) -> str:
    names = types if isinstance(types, list) else [types]
    return " or ".join(_TYPE_WORDS.get(str(name), str(name)) for name in names)


def _translate_schema_error(error: ValidationError, label: str) -> list[_ConfigError]:
    path: tuple[PathPart, ...] = ("config", *error.absolute_path)
    where = _dotted(path[1:]) or "config"
    keyword = error.validator
    value = error.validator_value
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict) and isinstance(value, list):
        return [
            _ConfigError(
                "missing_field", f"{label} needs a value for '{_dotted((*path[1:], name))}'.", (*path, name)
            )
            for name in value
            if isinstance(name, str) and name not in instance
        ]
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        return [
            _ConfigError(
                "unknown_key", f"{label} has no setting '{_dotted((*path[1:], key))}'.", (*path, key)
            )
            for key in instance
            if key not in known
        ]
    if keyword == "type":
        return [
            _ConfigError(
                "invalid_type",
                f"{label}: {where} must be {_type_words(value)}, not {_json_type(instance)}.",
                path,
            )
        ]
    if keyword == "enum" and isinstance(value, list):
        choices = ", ".join(str(choice) for choice in value)
        return [_ConfigError("invalid_value", f"{label}: {where} must be one of: {choices}.", path)]
    bounds = {
        "minimum": "at least",
        "maximum": "at most",
        "exclusiveMinimum": "more than",
        "exclusiveMaximum": "less than",
    }
    if keyword in bounds:
        return [_ConfigError("invalid_value", f"{label}: {where} must be {bounds[keyword]} {value}.", path)]
    if keyword == "maxLength":
        return [_ConfigError("too_long", f"{label}: {where} must be at most {value} characters long.", path)]
    if keyword in ("minLength", "minItems", "minProperties"):
        if value == 1:
            return [_ConfigError("missing_field", f"{label}: {where} must not be empty.", path)]
        return [_ConfigError("invalid_value", f"{label}: {where} is too short (at least {value}).", path)]
    if keyword == "uniqueItems":
        return [_ConfigError("invalid_value", f"{label}: {where} lists the same entry twice.", path)]
    if keyword in ("anyOf", "oneOf") and isinstance(value, list):
        forms = [
            _type_words(branch.get("type"))
            for branch in value
            if isinstance(branch, dict) and "type" in branch
        ]
        if forms:
            return [_ConfigError("invalid_value", f"{label}: {where} must be {' or '.join(forms)}.", path)]
    message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
    return [_ConfigError("invalid_value", f"{label}: {where} is not valid ({message}).", path)]


# --- the full tier --------------------------------------------------------------------------------


@dataclass
class _Collected:
    """Names the directory must confirm, with every place they appear."""

    users: dict[str, list[tuple[_Place, tuple[PathPart, ...]]]] = field(default_factory=dict)
    groups: dict[str, list[tuple[_Place, tuple[PathPart, ...]]]] = field(default_factory=dict)
    agents: dict[str, list[tuple[_Place, tuple[PathPart, ...]]]] = field(default_factory=dict)


class _RuleChecker:
    """Applies the graph rules of DESIGN §3 to a document whose shape is sound enough to read.

    Broken parts (a node without a usable id, a config of the wrong type) were reported by the
    shape tier; here they are skipped or read defensively, so one mistake yields one error.
    """

    def __init__(
        self,
        report: _Report,
        graph: dict[str, Any],
        directory: Directory | None,
        node_places: Mapping[int, _Place],
    ) -> None:
        self.node_places = node_places
        self.report = report
        self.raw = graph
        self.directory = directory
        self.node_dicts: dict[str, dict[str, Any]] = {}
        self.places: dict[str, _Place] = {}
        self.graph = self._build_graph()
        self.variable_names = frozenset(variable.name for variable in self.graph.variables)
        self.collected = _Collected()

    def _build_graph(self) -> Graph:
        for index, node in enumerate(_items(self.raw.get("nodes"))):
            node_id = node.get("id") if isinstance(node, dict) else None
            if (
                not isinstance(node, dict)
                or not isinstance(node_id, str)
                or not isinstance(node.get("type"), str)
            ):
                continue
            if node_id in self.node_dicts:
                self.report.add(
                    _node_place(node, index),
                    "duplicate_node_id",
                    f"More than one node has the id {_quoted(node_id)}.",
                    "id",
                )
            else:
                self.node_dicts[node_id] = node
                self.places[node_id] = self.node_places.get(index) or _node_place(node, index)
        edge_items: list[dict[str, Any]] = []
        seen_edges: set[str] = set()
        for index, edge in enumerate(_items(self.raw.get("edges"))):
            if not isinstance(edge, dict):
                continue
            edge_items.append(edge)
            edge_id = edge.get("id")
            if isinstance(edge_id, str) and edge_id:
                if edge_id in seen_edges:
                    self.report.add(
                        _edge_place(edge, index),
                        "duplicate_edge_id",
                        f"More than one edge has the id {_quoted(edge_id)}.",
                        "id",
                    )
                seen_edges.add(edge_id)
        return Graph.from_dict(
            {
                "nodes": list(self.node_dicts.values()),
                "edges": edge_items,
                "variables": _items(self.raw.get("variables")),
            }
        )

    def place(self, node_id: str) -> _Place:
        return self.places.get(node_id) or _Place(node_id=node_id, label=f"Node {_quoted(node_id)}")

    def edge_place(self, edge: Edge) -> _Place:
        return _Place(edge_id=edge.id, label=f"Edge {_edge_label(edge.id)}")

    def check(self) -> None:
        self._check_parents()
        self._check_edges()
        self._check_cycles()
        self._check_start_and_end()
        self._check_reachability()
        for node in self.graph.nodes.values():
            self._check_node(node)
        self._check_loop_nesting()
        self._check_variables()
        self._check_directory()

    # structure

    def _check_parents(self) -> None:
        for node in self.graph.nodes.values():
            if node.parent is None:
                continue
            place = self.place(node.id)
            parent = self.graph.nodes.get(node.parent)
            if node.type in ("start", "end"):
                code = "start_in_loop" if node.type == "start" else "end_in_loop"
                self.report.add(
                    place, code, f"{place.label} cannot be inside a loop; remove its parent.", "parent"
                )
            elif parent is None:
                self.report.add(
                    place,
                    "unknown_parent",
                    f"{place.label} has parent {_quoted(node.parent)}, which is not a node.",
                    "parent",
                )
            elif parent.type != "loop":
                self.report.add(
                    place,
                    "parent_not_loop",
                    f"{place.label} has parent {_quoted(node.parent)}, which is a "
                    f"{parent.type} node; only loops contain nodes.",
                    "parent",
                )
            elif node.id in self.graph.enclosing_loops(node.parent) or node.parent == node.id:
                self.report.add(
                    place,
                    "parent_cycle",
                    f"{place.label} is inside loop {_quoted(node.parent)}, which is itself inside it.",
                    "parent",
                )

    def _check_edges(self) -> None:
        seen: set[tuple[str, str, str]] = set()
        join_sources: set[tuple[str, str]] = set()
        for edge in self.graph.edge_list:
            place = self.edge_place(edge)
            source = self.graph.nodes.get(edge.source)
            target = self.graph.nodes.get(edge.target)
            if source is None:
                self.report.add(
                    place,
                    "dangling_edge",
                    f"Edge {_edge_label(edge.id)} starts at {_quoted(edge.source)}, which is not a node.",
                    "source",
                )
            if target is None:
                self.report.add(
                    place,
                    "dangling_edge",
                    f"Edge {_edge_label(edge.id)} ends at {_quoted(edge.target)}, which is not a node.",
                    "target",
                )
            if source is None or target is None:
                continue
            if edge.source == edge.target:
                self.report.add(
                    place,
                    "self_edge",
                    f"Edge {_edge_label(edge.id)} connects {_quoted(edge.source)} to itself; "
                    "use a loop to repeat steps.",
                )
                continue
            if source.parent != target.parent:
                self.report.add(place, "edge_crosses_loop", self._crossing_message(edge, source, target))
                continue
            if target.type == "start":
                self.report.add(
                    place,
                    "edge_into_start",
                    f"Edge {_edge_label(edge.id)} ends at the start node; nothing may run before it.",
                    "target",
                )
            self._check_handle(edge, source, place)
            if target.type == "join":
                if (edge.source, edge.target) in join_sources:
                    self.report.add(
                        place,
                        "duplicate_join_edge",
                        f"Edge {_edge_label(edge.id)} is a second edge from {_quoted(edge.source)} "
                        f"into join {_quoted(edge.target)}.",
                    )
                join_sources.add((edge.source, edge.target))
            else:
                key = (edge.source, edge.source_handle, edge.target)
                if key in seen:
                    self.report.add(
                        place,
                        "duplicate_edge",
                        f"Edge {_edge_label(edge.id)} repeats another edge from "
                        f"{_quoted(edge.source)} ({edge.source_handle}) to "
                        f"{_quoted(edge.target)}.",
                    )
                seen.add(key)

    def _crossing_message(self, edge: Edge, source: Node, target: Node) -> str:
        if target.parent == source.id:
            return (
                f"Edge {_edge_label(edge.id)} goes from loop {_quoted(source.id)} into its own body; "
                "body nodes without incoming "
                "edges start each pass by themselves."
            )
        where_source = f"inside loop {_quoted(source.parent)}" if source.parent else "at the top level"
        where_target = f"inside loop {_quoted(target.parent)}" if target.parent else "at the top level"
        return (
            f"Edge {_edge_label(edge.id)} connects {_quoted(source.id)} ({where_source}) "
            f"to {_quoted(target.id)} ({where_target}); "
            "edges cannot cross a loop's boundary."
        )

    def _check_handle(self, edge: Edge, source: Node, place: _Place) -> None:
        node_type = get_node_type(source.type)
        source_dict = self.node_dicts.get(source.id)
        if node_type is None or source_dict is None:
            return
        handles = node_handles(source_dict)
        if edge.source_handle in handles:
            return
        has = f"it has: {', '.join(handles)}" if handles else "it has none"
        message = (
            f"Edge {_edge_label(edge.id)} leaves handle {_quoted(edge.source_handle)}, "
            f"which {source.type} node {_quoted(source.id)} "
            f"does not have ({has})"
        )
        if edge.source_handle == ERROR_HANDLE:
            message += "; the error handle exists only when on_error is 'branch'"
        self.report.add(place, "unknown_handle", message + ".", "source_handle")

    def _check_cycles(self) -> None:
        for parent in self.graph.levels():
            for cycle in _find_cycles(self.graph, parent):
                closing = cycle[-1]
                route = " → ".join([*(edge.source for edge in cycle), cycle[0].source])
                self.report.add(
                    self.edge_place(closing),
                    "cycle",
                    f"Edges form a cycle: {route}. Use a loop node to repeat steps.",
                )

    def _check_start_and_end(self) -> None:
        starts = [node for node in self.graph.nodes.values() if node.type == "start"]
        if not starts:
            self.report.add(_Place(), "missing_start", "The workflow needs a start node.")
        for extra in starts[1:]:
            place = self.place(extra.id)
            self.report.add(
                place,
                "multiple_starts",
                f"{place.label} is a second start node; a workflow has "
                f"exactly one (the first is {_quoted(starts[0].id)}).",
            )
        if not any(node.type == "end" for node in self.graph.nodes.values()):
            self.report.add(_Place(), "missing_end", "The workflow needs at least one end node.")

    def _check_reachability(self) -> None:
        starts = [node.id for node in self.graph.top_level() if node.type == "start"]
        if not starts:
            return
        reached = set(starts)
        pending = list(starts)
        while pending:
            node_id = pending.pop()
            node = self.graph.nodes[node_id]
            following = [edge.target for edge in self.graph.level_outgoing(node_id)]
            if node.type == "loop":
                following.extend(entry.id for entry in self.graph.entry_nodes(node_id))
            for target in following:
                if target not in reached:
                    reached.add(target)
                    pending.append(target)
        for node in self.graph.nodes.values():
            parent = self.graph.nodes.get(node.parent) if node.parent is not None else None
            level_reached = node.parent is None or (
                parent is not None and parent.type == "loop" and parent.id in reached
            )
            if node.id not in reached and level_reached:
                place = self.place(node.id)
                self.report.add(
                    place,
                    "unreachable_node",
                    f"{place.label} can never run: no path from the start reaches it.",
                )

    # per node

    def _check_node(self, node: Node) -> None:
        node_type = get_node_type(node.type)
        node_dict = self.node_dicts[node.id]
        if node_type is None:
            return
        place = self.place(node.id)
        if not node_type.allows_retry:
            if node_dict.get("retry") is not None:
                self.report.add(
                    place,
                    "retry_not_allowed",
                    f"{place.label} cannot retry: {node.type} nodes do not fail transiently.",
                    "retry",
                )
            if node_dict.get("timeout_s") is not None:
                self.report.add(
                    place,
                    "timeout_not_allowed",
                    f"{place.label} cannot have a timeout: {node.type} nodes finish at once.",
                    "timeout_s",
                )
        if node.on_error == "continue" and not node_type.has_out_handle:
            self.report.add(
                place,
                "continue_without_out",
                f"{place.label} cannot use on_error 'continue': it has no "
                "'out' handle to continue on. Use 'branch' or 'fail'.",
                "on_error",
            )
        if node.disabled and (node.type in ("start", "end") or not node_type.has_out_handle):
            self.report.add(
                place,
                "cannot_disable",
                f"{place.label} cannot be disabled: a disabled node passes its input on through its "
                "'out' handle, and this one has none (or the run could not start or end).",
                "disabled",
            )
        if node.on_error == "branch" and not any(
            edge.source_handle == ERROR_HANDLE for edge in self.graph.level_outgoing(node.id)
        ):
            self.report.add(
                place,
                "missing_error_edge",
                f"{place.label} has on_error 'branch' but no edge leaves its error handle.",
                "on_error",
            )
        config = node_dict.get("config")
        if not isinstance(config, dict):
            return
        checks = {
            "switch": self._check_switch,
            "loop": self._check_loop,
            "join": self._check_join,
            "delay": self._check_delay,
            "prompt": self._check_prompt,
        }
        if node.type in checks:
            checks[node.type](node, config, place)
        self._check_annotated(node, node_type, config, place)

    def _check_switch(self, node: Node, config: dict[str, Any], place: _Place) -> None:
        seen: set[str] = set()
        for index, case in enumerate(_items(config.get("cases"))):
            handle = case.get("handle") if isinstance(case, dict) else None
            if not isinstance(handle, str) or not handle:
                continue
            if handle in RESERVED_CASE_HANDLES:
                self.report.add(
                    place,
                    "reserved_handle",
                    f"{place.label}: a case cannot be named {_quoted(handle)}; that handle is reserved.",
                    "config",
                    "cases",
                    index,
                    "handle",
                )
            elif handle in seen:
                self.report.add(
                    place,
                    "duplicate_handle",
                    f"{place.label}: two cases are named {_quoted(handle)}.",
                    "config",
                    "cases",
                    index,
                    "handle",
                )
            seen.add(handle)

    def _check_loop(self, node: Node, config: dict[str, Any], place: _Place) -> None:
        body = self.graph.children(node.id)
        if not body:
            self.report.add(place, "empty_loop_body", f"{place.label} has no nodes in its body.")
            return
        sinks = self.graph.sinks(node.id)
        result = config.get("result")
        if len(sinks) > 1 and not (isinstance(result, str) and result.strip()):
            names = ", ".join(sink.id for sink in sinks)
            self.report.add(
                place,
                "loop_needs_result",
                f"{place.label}'s body ends in several nodes ({names}); set "
                "'result' to say what each pass gives.",
                "config",
                "result",
            )

    def _check_join(self, node: Node, config: dict[str, Any], place: _Place) -> None:
        sources = {edge.source for edge in self.graph.level_incoming(node.id) if edge.source != node.id}
        if len(sources) < 2:
            self.report.add(
                place,
                "join_too_few_inputs",
                f"{place.label} needs at least two incoming branches; it has {len(sources)}.",
            )
        count = config.get("count")
        if config.get("mode") == "count" and isinstance(count, int) and count > max(len(sources), 1):
            self.report.add(
                place,
                "join_count_out_of_range",
                f"{place.label} waits for {count} branches but has {len(sources)}.",
                "config",
                "count",
            )

    def _check_delay(self, node: Node, config: dict[str, Any], place: _Place) -> None:
        has_seconds = config.get("seconds") is not None
        has_until = isinstance(config.get("until"), str) and bool(config["until"].strip())
        if has_seconds and has_until:
            self.report.add(
                place,
                "delay_needs_duration",
                f"{place.label} sets both 'seconds' and 'until'; keep one.",
                "config",
                "until",
            )
        elif not has_seconds and not has_until:
            self.report.add(
                place,
                "delay_needs_duration",
                f"{place.label} needs 'seconds' or 'until'.",
                "config",
                "seconds",
            )

    def _check_prompt(self, node: Node, config: dict[str, Any], place: _Place) -> None:
        def given(key: str) -> bool:
            value = config.get(key)
            return isinstance(value, str) and bool(value.strip())

        if given("agent") or (given("provider") and given("model")):
            return
        missing = "model" if given("provider") else "agent"
        self.report.add(
            place,
            "prompt_needs_model",
            f"{place.label} needs an agent, or a provider and a model.",
            "config",
            missing,
        )

    def _check_annotated(
        self, node: Node, node_type: NodeType, config: dict[str, Any], place: _Place
    ) -> None:
        for item in annotated_values(node_type, config):
            path = ("config", *item.path)
            if item.annotation in (TEMPLATE, EXPRESSION):
                kind: SourceKind = "expression" if item.annotation == EXPRESSION else "template"
                self._check_source(node, place, item.path, item.value, kind)
            elif item.annotation == JSON_SCHEMA and isinstance(item.value, dict):
                problem = _json_schema_problem(item.value)
                if problem is not None:
                    self.report.add(
                        place,
                        "invalid_json_schema",
                        f"{place.label}: {_dotted(item.path)} is not a valid JSON Schema: {problem}",
                        *path,
                    )
            elif item.annotation == AGENT and isinstance(item.value, str) and item.value.strip():
                self.collected.agents.setdefault(item.value, []).append((place, path))
            elif item.annotation == ASSIGNEES and isinstance(item.value, dict):
                for key, bucket in (("users", self.collected.users), ("groups", self.collected.groups)):
                    for index, name in enumerate(_items(item.value.get(key))):
                        if isinstance(name, str) and name:
                            bucket.setdefault(name, []).append((place, (*path, key, index)))

    # expressions

    def _check_source(
        self, node: Node, place: _Place, path: tuple[PathPart, ...], source: str, kind: SourceKind
    ) -> None:
        analysis = analyse(source, kind)
        for problem in analysis.problems:
            message = _problem_message(place, _dotted(path), source, problem)
            self.report.add(place, problem.code, message, "config", *path)
        if not analysis.references:
            return
        scope = _Scope.of(self.graph, node, path)
        for reference in analysis.references:
            found = scope.check(reference, self.variable_names)
            if found is not None:
                code, reason = found
                self.report.add(place, code, f"{place.label}: {_dotted(path)} {reason}", "config", *path)

    # whole graph

    def _check_loop_nesting(self) -> None:
        for node in self.graph.nodes.values():
            if node.type != "loop":
                continue
            chain = (node.id, *self.graph.enclosing_loops(node.id))
            limits = [self._max_iterations(loop_id) for loop_id in chain]
            product = math.prod(limits)
            inner_product = math.prod(limits[1:])
            if product > MAX_NESTED_ITERATIONS and inner_product <= MAX_NESTED_ITERATIONS:
                place = self.place(node.id)
                route = " x ".join(str(limit) for limit in reversed(limits))
                self.report.add(
                    place,
                    "loop_nesting_too_large",
                    f"{place.label} and the loops around it can run "
                    f"{route} = {product} passes; the limit is "
                    f"{MAX_NESTED_ITERATIONS}.",
                    "config",
                    "max_iterations",
                )

    def _max_iterations(self, loop_id: str) -> int:
        loop = self.graph.nodes.get(loop_id)
        value = loop.config.get("max_iterations") if loop is not None and loop.type == "loop" else None
        return value if isinstance(value, int) and value > 0 else 1

    def _check_variables(self) -> None:
        seen: set[str] = set()
        for index, variable in enumerate(_items(self.raw.get("variables"))):
            if not isinstance(variable, dict):
                continue
            place = _Place(prefix=("variables", index))
            name = variable.get("name")
            if isinstance(name, str):
                if name in seen:
                    self.report.add(
                        place, "duplicate_variable", f"Two variables are named {_quoted(name)}.", "name"
                    )
                seen.add(name)
            variable_type = variable.get("type")
            if "default" in variable and variable_type in VARIABLE_TYPES:
                default = variable["default"]
                if not _matches_variable_type(default, str(variable_type)):
                    self.report.add(
                        place,
                        "invalid_variable_default",
                        f"Variable {_quoted(name) if isinstance(name, str) else index + 1} has type "
                        f"{variable_type}, but its default is {_json_type(default)}.",
                        "default",
                    )

    def _check_directory(self) -> None:
        if self.directory is None:
            return
        lookups = (
            (self.collected.users, self.directory.missing_users, "unknown_user", "There is no user"),
            (self.collected.groups, self.directory.missing_groups, "unknown_group", "There is no group"),
            (self.collected.agents, self.directory.missing_agents, "unknown_agent", "There is no agent"),
        )
        for occurrences, find_missing, code, prefix in lookups:
            if not occurrences:
                continue
            missing = find_missing(set(occurrences))
            for name in sorted(missing & set(occurrences)):
                for place, path in occurrences[name]:
                    self.report.add(place, code, f"{place.label}: {prefix} named {_quoted(name)}.", *path)


def _problem_message(place: _Place, field_name: str, source: str, problem: ExpressionError) -> str:
    line = f" (line {problem.line})" if problem.line is not None and "\n" in source.strip() else ""
    return f"{place.label}: {field_name}{line}: {problem.message}"


def _matches_variable_type(value: object, variable_type: str) -> bool:
    if variable_type == "string":
        return isinstance(value, str)
    if variable_type == "number":
        return _is_number(value)
    if variable_type == "integer":
        return _is_integer(value) or (isinstance(value, float) and value.is_integer())
    if variable_type == "boolean":
        return isinstance(value, bool)
    if variable_type == "object":
        return isinstance(value, dict)
    return isinstance(value, list)


@lru_cache(maxsize=1024)
def _cached_schema_problem(serialised: str) -> str | None:
    try:
        Draft202012Validator.check_schema(json.loads(serialised))
    except Exception as error:  # third-party checks of designer input must not become a 500
        message = getattr(error, "message", str(error))
        return str(message)[:300]
    return None


def _json_schema_problem(schema: dict[str, Any]) -> str | None:
    return _cached_schema_problem(json.dumps(schema, sort_keys=True))


def _find_cycles(graph: Graph, parent: str | None) -> list[list[Edge]]:
    """One cycle per tangle of a level's edges, self-edges aside (they are reported on their own).

    Peels nodes without remaining predecessors (Kahn); whatever is left lies on or after a cycle,
    and walking backwards along remaining edges from any of it must revisit a node.
    """
    order = [node.id for node in graph.children(parent)]
    members = set(order)
    incoming = {
        node_id: [edge for edge in graph.level_incoming(node_id) if edge.source != edge.target]
        for node_id in members
    }
    cycles: list[list[Edge]] = []
    while len(cycles) < MAX_CYCLES_REPORTED:
        remaining = _unpeeled(graph, members, incoming)
        if not remaining:
            break
        start = next(node_id for node_id in order if node_id in remaining)
        walk: list[Edge] = []
        position = {start: 0}
        current = start
        while True:
            edge = next(edge for edge in incoming[current] if edge.source in remaining)
            walk.append(edge)
            current = edge.source
            if current in position:
                loop_edges = list(reversed(walk[position[current] :]))
                cycles.append(loop_edges)
                members -= {edge.source for edge in loop_edges}
                break
            position[current] = len(walk)
    return cycles


def _unpeeled(graph: Graph, members: set[str], incoming: Mapping[str, Sequence[Edge]]) -> set[str]:
    waiting = {node_id: sum(1 for edge in incoming[node_id] if edge.source in members) for node_id in members}
    ready = [node_id for node_id, count in waiting.items() if count == 0]
    peeled: set[str] = set()
    while ready:
        node_id = ready.pop()
        peeled.add(node_id)
        for edge in graph.level_outgoing(node_id):
            if edge.target in waiting and edge.source != edge.target and edge.target not in peeled:
                waiting[edge.target] -= 1
                if waiting[edge.target] == 0:
                    ready.append(edge.target)
    return members - peeled


@dataclass(frozen=True)
class _Scope:
    """What a template evaluated for one node (or one of a loop's pass-level fields) may read.

    A node sees its edge-ancestors at its level and, for each loop around it, that loop's
    edge-ancestors, but never the loop itself (it has not finished). A loop's ``result`` is
    evaluated inside each pass, so it also sees the loop's body; its ``condition`` is checked
    before each pass, so ``loop`` already means the loop itself there.
    """

    graph: Graph
    anchor: str
    loops: tuple[str, ...]
    sees_body_of: str | None

    @classmethod
    def of(cls, graph: Graph, node: Node, path: tuple[PathPart, ...]) -> _Scope:
        enclosing = graph.enclosing_loops(node.id)
        if node.type == "loop" and path[:1] in (("result",), ("condition",)):
            body = node.id if path[:1] == ("result",) else None
            return cls(graph, node.id, (node.id, *enclosing), body)
        return cls(graph, node.id, enclosing, None)

    def check(self, reference: Reference, variables: frozenset[str]) -> tuple[str, str] | None:
        root, name = reference.root, reference.name
        if root == "nodes" and name is not None:
            return self._check_node_reference(name)
        if root == "loop" and not self.loops:
            return "loop_ref_outside_loop", "uses 'loop', but this node is not inside a loop."
        if root == "loops" and name is not None and name not in self.loops:
            return (
                "loop_ref_not_enclosing",
                f"refers to loops.{name}, but {_quoted(name)} is not a loop around this node.",
            )
        if root == "vars" and name is not None and name not in variables:
            return "unknown_variable", f"refers to vars.{name}, but no variable {_quoted(name)} is declared."
        return None

    def _check_node_reference(self, target_id: str) -> tuple[str, str] | None:
        graph = self.graph
        target = graph.nodes.get(target_id)
        if target is None:
            return (
                "unknown_node_ref",
                f"refers to nodes.{target_id}, but there is no node {_quoted(target_id)}.",
            )
        if self.sees_body_of is not None and target.parent == self.sees_body_of:
            return None
        if graph.is_upstream(target_id, self.anchor):
            return None
        if any(graph.is_upstream(target_id, loop_id) for loop_id in self.loops if loop_id != self.anchor):
            return None
        if target_id == self.anchor and self.sees_body_of is None:
            return (
                "ref_not_upstream",
                f"refers to nodes.{target_id}, its own output, which does not exist yet.",
            )
        if target_id in self.loops:
            return "ref_not_upstream", (
                f"refers to nodes.{target_id}, the loop this runs in; it has no output until every pass ends."
            )
        if any(loop_id not in self.loops for loop_id in graph.enclosing_loops(target_id)):
            outer = graph.enclosing_loops(target_id)[-1] if graph.enclosing_loops(target_id) else target_id
            return "ref_into_loop_body", (
                f"refers to nodes.{target_id}, which is inside a loop body; read "
                f"nodes.{outer}.output.results instead."
            )
        return "ref_not_upstream", (
            f"refers to nodes.{target_id}, which is not upstream of this node, so it may not have run yet."
        )
