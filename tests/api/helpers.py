"""Builders and snapshots shared by the API tests."""

from __future__ import annotations

import copy
from typing import Any


def linear_graph(*middle: dict[str, Any]) -> dict[str, Any]:
    """start → middle nodes in order → end, every node connected to the next."""
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "start", "config": {"input_schema": {"type": "object"}}},
        *[copy.deepcopy(node) for node in middle],
        {"id": "end", "type": "end", "config": {"outputs": {}}},
    ]
    edges = [
        {"id": f"e{index}", "source": nodes[index]["id"], "target": nodes[index + 1]["id"]}
        for index in range(len(nodes) - 1)
    ]
    return {"schema_version": 1, "nodes": nodes, "edges": edges}


def transform(node_id: str, **mapping: str) -> dict[str, Any]:
    return {"id": node_id, "type": "transform", "config": {"mapping": mapping or {"value": "1"}}}


def database_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row a workflow route could touch, to prove a refused request changed nothing."""
    from accounts.models import ApiToken
    from workflows.models import Tag, Workflow, WorkflowGrant, WorkflowVersion

    return {
        "workflows": sorted(
            Workflow.objects.values_list(
                "id",
                "owner_id",
                "name",
                "description",
                "graph",
                "revision",
                "is_archived",
                "archived_at",
                "active_version_id",
                "max_concurrent_runs",
                "timeout_s",
                "updated_at",
            )
        ),
        "versions": sorted(
            WorkflowVersion.objects.values_list("id", "workflow_id", "number", "checksum", "note")
        ),
        "grants": sorted(WorkflowGrant.objects.values_list("workflow_id", "group_id", "role")),
        "tags": sorted(Tag.objects.values_list("id", "name")),
        "workflow_tags": sorted(Workflow.tags.through.objects.values_list("workflow_id", "tag_id")),
        "tokens": sorted(ApiToken.objects.values_list("id", "user_id", "key_hash", "expires_at")),
    }
