"""The permission matrix of every workflow route: exact status per role, nothing changed on refusal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group

from tests.api.helpers import database_snapshot, linear_graph, transform
from workflows import services
from workflows.models import Workflow, WorkflowGrant

ROLES = ["owner", "editor", "runner", "viewer", "stranger", "anonymous"]


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    body: Callable[[Workflow], Any] | None
    expected: dict[str, int]

    def url(self, workflow: Workflow) -> str:
        return self.path.format(id=workflow.pk)


def everyone(status: int) -> dict[str, int]:
    return {role: status for role in ROLES if role != "anonymous"} | {"anonymous": 401}


def from_role(minimum: str, granted: int) -> dict[str, int]:
    """`granted` for `minimum` and above, 403 below it, 404 for strangers, 401 for anonymous."""
    order = ["viewer", "runner", "editor", "owner"]
    statuses = {role: granted if order.index(role) >= order.index(minimum) else 403 for role in order}
    return statuses | {"stranger": 404, "anonymous": 401}


def export_body(workflow: Workflow) -> dict[str, Any]:
    return {"format": "flowdeck.workflow", "version": 1, "name": "Imported", "graph": linear_graph()}


ROUTES = [
    Route("list", "get", "/api/workflows/", None, everyone(200)),
    Route(
        "create",
        "post",
        "/api/workflows/",
        lambda w: {"name": "Mine", "graph": linear_graph()},
        everyone(201),
    ),
    Route("retrieve", "get", "/api/workflows/{id}/", None, from_role("viewer", 200)),
    Route(
        "save draft",
        "patch",
        "/api/workflows/{id}/",
        lambda w: {"revision": w.revision, "graph": linear_graph(transform("changed"))},
        from_role("editor", 200),
    ),
    Route("rename", "patch", "/api/workflows/{id}/", lambda w: {"name": "Renamed"}, from_role("editor", 200)),
    Route(
        "archive via patch",
        "patch",
        "/api/workflows/{id}/",
        lambda w: {"is_archived": True},
        from_role("owner", 200),
    ),
    Route(
        "share",
        "patch",
        "/api/workflows/{id}/",
        lambda w: {"grants": [{"group": "viewers", "role": "editor"}]},
        from_role("owner", 200),
    ),
    Route("archive", "delete", "/api/workflows/{id}/", None, from_role("owner", 204)),
    Route("validate", "post", "/api/workflows/{id}/validate/", lambda w: {}, from_role("viewer", 200)),
    Route(
        "publish", "post", "/api/workflows/{id}/publish/", lambda w: {"note": "v2"}, from_role("editor", 201)
    ),
    Route("versions", "get", "/api/workflows/{id}/versions/", None, from_role("viewer", 200)),
    Route("version", "get", "/api/workflows/{id}/versions/1/", None, from_role("viewer", 200)),
    Route(
        "activate", "post", "/api/workflows/{id}/versions/1/activate/", lambda w: {}, from_role("editor", 200)
    ),
    Route("export", "get", "/api/workflows/{id}/export/", None, from_role("viewer", 200)),
    Route("import", "post", "/api/workflows/import/", export_body, everyone(201)),
    Route("node types", "get", "/api/node-types/", None, everyone(200)),
]


@pytest.fixture
def shared_workflow(users: dict[str, Any]) -> Workflow:
    """Owned by `owner`, shared with the editors, runners and viewers groups; v1 and v2 published
    (v2 active, so activating v1 is a real rollback), then the draft edited past v2."""
    workflow = services.create_workflow(
        owner=users["owner"], name="Shared", graph=linear_graph(transform("a"))
    )
    for role in ("editor", "runner", "viewer"):
        WorkflowGrant.objects.create(workflow=workflow, group=Group.objects.get(name=f"{role}s"), role=role)
    services.publish_workflow(workflow, author=users["owner"], note="v1")
    services.save_draft(workflow, changes={"graph": linear_graph(transform("b"))}, revision=workflow.revision)
    services.publish_workflow(workflow, author=users["owner"], note="v2")
    services.save_draft(workflow, changes={"graph": linear_graph(transform("c"))}, revision=workflow.revision)
    return Workflow.objects.get(pk=workflow.pk)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_permission_matrix(
    route: Route,
    role: str,
    users: dict[str, Any],
    shared_workflow: Workflow,
    api_client_for: Callable[[Any], Any],
) -> None:
    client = api_client_for(None if role == "anonymous" else users[role])
    before = database_snapshot()
    body = route.body(shared_workflow) if route.body else None
    response = getattr(client, route.method)(route.url(shared_workflow), body, format="json")
    expected = route.expected[role]
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert database_snapshot() == before
        assert "detail" in response.json()


def test_list_shows_only_visible_workflows(
    users: dict[str, Any], shared_workflow: Workflow, api_client_for: Callable[[Any], Any]
) -> None:
    services.create_workflow(owner=users["stranger"], name="Private", graph=linear_graph())
    names = {
        role: [row["name"] for row in api_client_for(users[role]).get("/api/workflows/").json()["results"]]
        for role in ("owner", "editor", "viewer", "stranger")
    }
    assert names == {"owner": ["Shared"], "editor": ["Shared"], "viewer": ["Shared"], "stranger": ["Private"]}
    roles = {
        role: api_client_for(users[role]).get("/api/workflows/").json()["results"][0]["role"]
        for role in ("owner", "editor", "runner", "viewer")
    }
    assert roles == {"owner": "owner", "editor": "editor", "runner": "runner", "viewer": "viewer"}


def test_a_bearer_token_carries_the_same_permissions(
    users: dict[str, Any], shared_workflow: Workflow
) -> None:
    from rest_framework.test import APIClient

    from accounts.models import ApiToken

    _, raw = ApiToken.issue(users["viewer"])
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"/api/workflows/{shared_workflow.pk}/").status_code == 200
    before = database_snapshot()
    response = client.post(f"/api/workflows/{shared_workflow.pk}/publish/", {}, format="json")
    assert response.status_code == 403
    assert database_snapshot() == before
