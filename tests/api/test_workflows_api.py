"""Workflow definitions through the API: drafts, revisions, validation, publishing, import/export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.helpers import database_snapshot, linear_graph, transform
from workflows.models import Workflow, WorkflowVersion


@pytest.fixture
def owner_client(users: dict[str, Any], api_client_for: Callable[[Any], Any]) -> Any:
    return api_client_for(users["owner"])


def create(client: Any, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/workflows/", {"name": "Flow", **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_without_a_graph_starts_from_start_to_end(owner_client: Any) -> None:
    body = create(owner_client, tags=["Support", "support ", "triage"])
    assert [node["type"] for node in body["graph"]["nodes"]] == ["start", "end"]
    assert body["revision"] == 1
    assert body["tags"] == ["support", "triage"]
    assert body["owner"] == "owner" and body["role"] == "owner"
    assert body["validation"] == {"valid": True, "errors": []}
    assert body["active_version"] is None


def test_an_incomplete_draft_saves_and_reports_its_errors(owner_client: Any) -> None:
    workflow = create(owner_client)
    graph = linear_graph({"id": "check", "type": "condition", "config": {}})
    response = owner_client.patch(
        f"/api/workflows/{workflow['id']}/", {"revision": 1, "graph": graph}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["revision"] == 2
    assert body["graph"] == graph
    assert body["validation"]["valid"] is False
    assert body["validation"]["errors"]  # the condition has no expression and no true/false edges
    assert all({"code", "message"} <= set(error) for error in body["validation"]["errors"])


def test_a_malformed_graph_is_refused_and_nothing_is_saved(owner_client: Any) -> None:
    workflow = create(owner_client)
    before = database_snapshot()
    graph = {"schema_version": 1, "nodes": [{"id": "Bad Id", "type": "start"}], "edges": [], "extra": 1}
    response = owner_client.patch(
        f"/api/workflows/{workflow['id']}/", {"revision": 1, "graph": graph}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "The graph is malformed."
    codes = {error["code"] for error in body["errors"]}
    assert {"invalid_node_id", "unknown_key"} <= codes
    assert database_snapshot() == before


def test_a_stale_revision_gets_409_and_nothing_is_saved(owner_client: Any) -> None:
    workflow = create(owner_client)
    url = f"/api/workflows/{workflow['id']}/"
    assert (
        owner_client.patch(
            url, {"revision": 1, "graph": linear_graph(transform("a"))}, format="json"
        ).status_code
        == 200
    )
    before = database_snapshot()
    response = owner_client.patch(url, {"revision": 1, "graph": linear_graph(transform("b"))}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "The draft was saved by someone else since you loaded it.",
        "revision": 2,
    }
    assert database_snapshot() == before


def test_saving_the_graph_needs_a_revision(owner_client: Any) -> None:
    workflow = create(owner_client)
    before = database_snapshot()
    response = owner_client.patch(
        f"/api/workflows/{workflow['id']}/", {"graph": linear_graph()}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"revision": ["Required when saving the graph."]}
    assert database_snapshot() == before


def test_unknown_fields_are_refused(owner_client: Any) -> None:
    response = owner_client.post("/api/workflows/", {"name": "x", "descriptoin": "typo"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"descriptoin": ["Unknown field."]}
    assert not Workflow.objects.exists()


def test_publish_validates_versions_and_returns_the_latest_when_unchanged(owner_client: Any) -> None:
    workflow = create(owner_client, graph=linear_graph(transform("a")))
    url = f"/api/workflows/{workflow['id']}/"
    first = owner_client.post(url + "publish/", {"note": "first"}, format="json")
    assert first.status_code == 201
    assert (
        first.json()["number"] == 1 and first.json()["is_active"] is True and first.json()["note"] == "first"
    )
    again = owner_client.post(url + "publish/", {"note": "same"}, format="json")
    assert again.status_code == 200
    assert again.json()["number"] == 1 and again.json()["note"] == "first"
    assert WorkflowVersion.objects.count() == 1

    owner_client.patch(url, {"revision": 1, "graph": linear_graph(transform("b"))}, format="json")
    second = owner_client.post(url + "publish/", {"note": "second", "activate": False}, format="json")
    assert second.status_code == 201 and second.json()["number"] == 2 and second.json()["is_active"] is False
    assert owner_client.get(url).json()["active_version"] == 1

    rolled = owner_client.post(url + "versions/2/activate/", {}, format="json")
    assert rolled.status_code == 200 and rolled.json()["is_active"] is True
    assert owner_client.get(url).json()["active_version"] == 2
    listed = owner_client.get(url + "versions/").json()
    assert [(row["number"], row["is_active"]) for row in listed["results"]] == [(2, True), (1, False)]
    assert owner_client.get(url + "versions/1/").json()["graph"] == linear_graph(transform("a"))
    assert owner_client.get(url + "versions/9/").status_code == 404


def test_publishing_an_invalid_graph_is_refused_with_its_errors(owner_client: Any) -> None:
    graph = linear_graph()
    graph["edges"] = []  # the end node is now unreachable
    workflow = create(owner_client, graph=graph)
    before = database_snapshot()
    response = owner_client.post(f"/api/workflows/{workflow['id']}/publish/", {}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "The graph has validation errors."
    assert {"code": "unreachable_node", "node_id": "end"}.items() <= body["errors"][0].items()
    assert database_snapshot() == before


def test_publish_with_a_stale_revision_is_refused(owner_client: Any) -> None:
    workflow = create(owner_client)
    response = owner_client.post(f"/api/workflows/{workflow['id']}/publish/", {"revision": 7}, format="json")
    assert response.status_code == 409
    assert not WorkflowVersion.objects.exists()


def test_validate_checks_the_draft_or_a_given_graph(owner_client: Any) -> None:
    workflow = create(owner_client)
    url = f"/api/workflows/{workflow['id']}/validate/"
    assert owner_client.post(url, {}, format="json").json() == {"valid": True, "errors": []}
    bad = owner_client.post(
        url, {"graph": {"schema_version": 1, "nodes": [], "edges": []}}, format="json"
    ).json()
    assert bad["valid"] is False
    assert {error["code"] for error in bad["errors"]} == {"missing_start", "missing_end"}


def test_archive_hides_restore_shows_and_versions_survive(owner_client: Any) -> None:
    workflow = create(owner_client)
    url = f"/api/workflows/{workflow['id']}/"
    owner_client.post(url + "publish/", {}, format="json")
    assert owner_client.delete(url).status_code == 204
    assert owner_client.get("/api/workflows/").json()["count"] == 0
    archived = owner_client.get("/api/workflows/?is_archived=true").json()
    assert [row["id"] for row in archived["results"]] == [workflow["id"]]
    assert WorkflowVersion.objects.filter(workflow_id=workflow["id"]).count() == 1
    restored = owner_client.patch(url, {"is_archived": False}, format="json")
    assert restored.status_code == 200 and restored.json()["is_archived"] is False
    assert owner_client.get("/api/workflows/").json()["count"] == 1


def test_list_filters_and_pagination(owner_client: Any, users: dict[str, Any], api_client_for: Any) -> None:
    create(owner_client, name="Invoice triage", tags=["finance"])
    create(owner_client, name="Ticket triage", description="support desk", tags=["support"])
    create(owner_client, name="Newsletter", tags=["marketing", "support"])
    create(api_client_for(users["stranger"]), name="Stranger's triage")

    def names(query: str) -> list[str]:
        response = owner_client.get(f"/api/workflows/{query}")
        assert response.status_code == 200
        return sorted(row["name"] for row in response.json()["results"])

    assert names("?search=triage") == ["Invoice triage", "Ticket triage"]
    assert names("?search=DESK") == ["Ticket triage"]
    assert names("?tag=support") == ["Newsletter", "Ticket triage"]
    assert names("?owner=owner&tag=finance") == ["Invoice triage"]
    assert names("?owner=stranger") == []
    page = owner_client.get("/api/workflows/?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"] and page["previous"] is None
    assert owner_client.get("/api/workflows/?is_archived=maybe").status_code == 400


def test_export_and_import_round_trip(owner_client: Any) -> None:
    graph = linear_graph(transform("shape", total="inputs.a + 1"))
    workflow = create(owner_client, name="Round trip", description="d", tags=["x"], graph=graph)
    url = f"/api/workflows/{workflow['id']}/"
    owner_client.post(url + "publish/", {}, format="json")
    owner_client.patch(url, {"revision": 1, "graph": linear_graph()}, format="json")

    exported = owner_client.get(url + "export/?version=1")
    assert exported.status_code == 200
    assert exported["Content-Disposition"] == 'attachment; filename="round-trip.flowdeck.json"'
    document = exported.json()
    assert document == {
        "format": "flowdeck.workflow",
        "version": 1,
        "name": "Round trip",
        "description": "d",
        "tags": ["x"],
        "graph": graph,
    }
    assert owner_client.get(url + "export/").json()["graph"] == linear_graph()

    imported = owner_client.post("/api/workflows/import/", document, format="json")
    assert imported.status_code == 201
    body = imported.json()
    assert body["id"] != workflow["id"] and body["graph"] == graph and body["revision"] == 1
    assert body["active_version"] is None and body["tags"] == ["x"]


@pytest.mark.parametrize(
    "document, field",
    [
        ({"format": "n8n", "version": 1, "name": "x", "graph": {}}, "format"),
        ({"format": "flowdeck.workflow", "version": 2, "name": "x", "graph": {}}, "version"),
        ({"format": "flowdeck.workflow", "version": 1, "graph": {}}, "name"),
        ({"format": "flowdeck.workflow", "version": 1, "name": "x", "graph": {}, "id": 4}, "id"),
    ],
)
def test_import_refuses_what_is_not_an_export(
    owner_client: Any, document: dict[str, Any], field: str
) -> None:
    response = owner_client.post("/api/workflows/import/", document, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Workflow.objects.exists()


def test_import_refuses_a_malformed_graph(owner_client: Any) -> None:
    document = {"format": "flowdeck.workflow", "version": 1, "name": "x", "graph": {"nodes": "no"}}
    response = owner_client.post("/api/workflows/import/", document, format="json")
    assert response.status_code == 400 and response.json()["errors"]
    assert not Workflow.objects.exists()


def test_sharing_names_groups_and_refuses_unknown_ones(
    owner_client: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    workflow = create(owner_client)
    url = f"/api/workflows/{workflow['id']}/"
    before = database_snapshot()
    unknown = owner_client.patch(url, {"grants": [{"group": "nobody", "role": "viewer"}]}, format="json")
    assert unknown.status_code == 400 and unknown.json() == {"grants": ["Unknown group(s): nobody."]}
    assert database_snapshot() == before
    shared = owner_client.patch(url, {"grants": [{"group": "viewers", "role": "runner"}]}, format="json")
    assert shared.json()["grants"] == [{"group": "viewers", "role": "runner"}]
    assert api_client_for(users["viewer"]).get(url).json()["role"] == "runner"


def test_node_types_describe_every_type(owner_client: Any) -> None:
    body = owner_client.get("/api/node-types/").json()
    types = {entry["type"]: entry for entry in body}
    assert {
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
    } <= set(types)
    assert types["condition"]["handles"] == {"kind": "fixed", "values": ["true", "false"]}
    assert types["prompt"]["execution"] == "dispatched" and types["condition"]["execution"] == "inline"
