"""Workflows, triggers and signed deliveries for the trigger tests."""

from __future__ import annotations

import json
import time
from typing import Any

from django.contrib.auth.models import Group

from executions.models import Run
from tests.executions.graphs import edge, graph, node
from triggers import signing
from triggers.models import Trigger, TriggerFire
from workflows import services as workflow_services
from workflows.models import Workflow, WorkflowGrant

TICKET_SCHEMA = {
    "type": "object",
    "properties": {"ticket": {"type": "string"}, "priority": {"type": "string", "default": "normal"}},
    "required": ["ticket"],
    "additionalProperties": False,
}


def echo_graph(schema: dict[str, Any] | None = None, delay_s: float | None = None) -> dict[str, Any]:
    """start → (delay) → end, whose outputs echo the inputs."""
    nodes = [
        node("start", "start", {"input_schema": schema if schema is not None else TICKET_SCHEMA}),
        node("done", "end", {"outputs": {"echo": "{{ inputs }}"}}),
    ]
    edges = [edge("start", "done")]
    if delay_s is not None:
        nodes.insert(1, node("hold", "delay", {"seconds": delay_s}))
        edges = [edge("start", "hold"), edge("hold", "done")]
    return graph(nodes, edges)


def failing_graph() -> dict[str, Any]:
    """A run that fails: a transform dividing by zero."""
    return graph(
        [
            node("start", "start", {"input_schema": {"type": "object"}}),
            node("boom", "transform", {"mapping": {"x": "1 // 0"}}),
            node("done", "end", {"outputs": {"x": "{{ nodes.boom.output.x }}"}}),
        ],
        [edge("start", "boom"), edge("boom", "done")],
    )


def published(owner: Any, graph_json: dict[str, Any] | None = None, name: str = "flow") -> Workflow:
    workflow = workflow_services.create_workflow(owner=owner, name=name, graph=graph_json or echo_graph())
    workflow_services.publish_workflow(workflow, author=owner)
    workflow.refresh_from_db()
    return workflow


def share(workflow: Workflow) -> None:
    """The test users' groups get their role on the workflow (see tests/conftest.py `users`)."""
    for role in ("editor", "runner", "viewer"):
        WorkflowGrant.objects.create(workflow=workflow, group=Group.objects.get(name=f"{role}s"), role=role)


def signed_headers(secrets: list[str] | str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers for the test client: one `v1=` per secret."""
    moment = int(time.time()) if timestamp is None else timestamp
    values = [secrets] if isinstance(secrets, str) else secrets
    signature = ",".join([f"t={moment}", *(f"v1={signing.sign(secret, moment, body)}" for secret in values)])
    return {"HTTP_X_FLOWDECK_SIGNATURE": signature}


def deliver(
    client: Any,
    url_or_token: str,
    payload: Any,
    secret: list[str] | str | None,
    *,
    timestamp: int | None = None,
    content_type: str = "application/json",
    query: str = "",
    **headers: str,
) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    path = url_or_token if url_or_token.startswith("/") else f"/hooks/{url_or_token}/"
    signature = signed_headers(secret, body, timestamp) if secret is not None else {}
    return client.generic("POST", path + query, body, content_type=content_type, **signature, **headers)


def ledger() -> dict[str, Any]:
    """What a refused request must leave unchanged."""
    return {
        "runs": sorted(Run.objects.values_list("id", "status", "trigger_id")),
        "fires": sorted(TriggerFire.objects.values_list("id", "key", "outcome", "run_id")),
        "triggers": sorted(
            Trigger.objects.values_list(
                "id", "enabled", "config", "owner_id", "secret_encrypted", "previous_secret_encrypted"
            )
        ),
    }
