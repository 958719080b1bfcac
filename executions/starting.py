"""Checks before a run starts: which graph, and inputs and variables that fit it (`check_*`:
no side effects). A refused start changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema
from django.core.exceptions import PermissionDenied

from workflows.access import has_role
from workflows.choices import Role
from workflows.models import Workflow, WorkflowVersion
from workflows.services import check_graph

VARIABLE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


class StartRefused(Exception):
    """Why a run cannot start, as the API answers it."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, **({"errors": self.errors} if self.errors is not None else {})}


@dataclass(frozen=True)
class RunPlan:
    version: WorkflowVersion | None
    draft_graph: dict[str, Any] | None
    inputs: dict[str, Any]
    variables: dict[str, Any]


def check_run_request(
    workflow: Workflow,
    user: Any,
    *,
    inputs: dict[str, Any],
    variables: dict[str, Any],
    version_number: int | None,
    draft: bool,
) -> RunPlan:
    version: WorkflowVersion | None = None
    draft_graph: dict[str, Any] | None = None
    if draft:
        if not has_role(user, workflow, Role.EDITOR):
            raise PermissionDenied("Running the draft needs the editor role.")
        errors = check_graph(workflow.graph)
        if errors:
            raise StartRefused(400, "The draft has validation errors; fix them to run it.", errors)
        draft_graph = workflow.graph
        graph = workflow.graph
    else:
        if version_number is not None:
            version = workflow.versions.filter(number=version_number).first()
            if version is None:
                raise StartRefused(404, f"Version {version_number} does not exist.")
        else:
            version = workflow.active_version
            if version is None:
                raise StartRefused(409, "The workflow has no active version: publish it, or run the draft.")
        graph = version.graph
    return RunPlan(
        version=version,
        draft_graph=draft_graph,
        inputs=check_inputs(graph, inputs),
        variables=check_variables(graph, variables),
    )


def _input_schema(graph: dict[str, Any]) -> dict[str, Any]:
    for node in graph.get("nodes", []):
        if node.get("type") == "start":
            schema = (node.get("config") or {}).get("input_schema")
            return schema if isinstance(schema, dict) else {}
    return {}


def check_inputs(graph: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs validated against the start node's input_schema, with its defaults filled in."""
    schema = _input_schema(graph)
    filled = dict(inputs)
    for name, spec in (schema.get("properties") or {}).items():
        if isinstance(spec, dict) and "default" in spec and name not in filled:
            filled[name] = spec["default"]
    validator = jsonschema.Draft202012Validator(schema)
    errors = [
        {"path": "/" + "/".join(str(part) for part in error.absolute_path), "message": error.message}
        for error in sorted(
            validator.iter_errors(filled), key=lambda error: list(map(str, error.absolute_path))
        )
    ]
    if errors:
        raise StartRefused(400, "The inputs do not match the start node's input_schema.", errors)
    return filled


def check_variables(graph: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Declared defaults, overridden per run; unknown names and wrong types are refused."""
    declared = {item["name"]: item for item in graph.get("variables", []) if isinstance(item, dict)}
    errors: list[dict[str, Any]] = []
    for name, value in overrides.items():
        spec = declared.get(name)
        if spec is None:
            errors.append({"path": f"/{name}", "message": f"Unknown variable {name!r}."})
            continue
        expected = VARIABLE_TYPES.get(spec.get("type", ""), (object,))
        wrong_bool = isinstance(value, bool) and spec.get("type") in ("number", "integer")
        if not isinstance(value, expected) or wrong_bool:
            errors.append(
                {"path": f"/{name}", "message": f"Variable {name!r} must be of type {spec.get('type')}."}
            )
    if errors:
        raise StartRefused(400, "The variables do not match the workflow's declared variables.", errors)
    return {name: overrides.get(name, spec.get("default")) for name, spec in declared.items()}
