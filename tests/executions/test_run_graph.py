"""The run detail carries the graph the run executes, so a run view can draw it."""

from __future__ import annotations

from typing import Any

from executions.models import Run
from tests.executions.graphs import edge, graph, node
from workflows import services as workflow_services


def two_step_graph(label: str) -> dict[str, Any]:
    return graph(
        [node("start", "start"), node("end", "end", {"outputs": {"label": label}})],
        [edge("start", "end")],
    )


def test_a_version_run_shows_its_versions_graph_and_a_draft_run_its_snapshot(
    users: dict[str, Any], api_client_for: Any
) -> None:
    owner = users["owner"]
    workflow = workflow_services.create_workflow(owner=owner, name="g", graph=two_step_graph("v1"))
    workflow_services.publish_workflow(workflow, author=owner)
    client = api_client_for(owner)
    version_run = client.post(f"/api/workflows/{workflow.pk}/runs/", {"inputs": {}}, format="json").json()

    draft = client.get(f"/api/workflows/{workflow.pk}/").json()
    saved = client.patch(
        f"/api/workflows/{workflow.pk}/",
        {"graph": two_step_graph("draft"), "revision": draft["revision"]},
        format="json",
    )
    assert saved.status_code == 200, saved.content
    draft_run = client.post(
        f"/api/workflows/{workflow.pk}/runs/", {"inputs": {}, "draft": True}, format="json"
    ).json()
    # The draft moves on; the draft run keeps the graph it started with.
    client.patch(
        f"/api/workflows/{workflow.pk}/",
        {"graph": two_step_graph("later"), "revision": saved.json()["revision"]},
        format="json",
    )

    version_detail = client.get(f"/api/runs/{version_run['id']}/").json()
    draft_detail = client.get(f"/api/runs/{draft_run['id']}/").json()

    version = Run.objects.get(pk=version_run["id"]).version
    assert version is not None and version_detail["graph"] == version.graph
    assert version_detail["graph"]["nodes"][1]["config"] == {"outputs": {"label": "v1"}}
    assert draft_detail["is_draft"] is True
    assert draft_detail["graph"]["nodes"][1]["config"] == {"outputs": {"label": "draft"}}


def test_the_run_list_stays_without_graphs(users: dict[str, Any], api_client_for: Any) -> None:
    owner = users["owner"]
    workflow = workflow_services.create_workflow(owner=owner, name="g", graph=two_step_graph("v1"))
    workflow_services.publish_workflow(workflow, author=owner)
    client = api_client_for(owner)
    client.post(f"/api/workflows/{workflow.pk}/runs/", {"inputs": {}}, format="json")

    rows = client.get("/api/runs/").json()["results"]

    assert len(rows) == 1 and "graph" not in rows[0]
