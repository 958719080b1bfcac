"""Runs through the API with a real worker, in both modes (embedded threads / celery processes)."""

from __future__ import annotations

from typing import Any

import pytest

from executions.models import NodeAttempt, NodeRun, Run, RunEvent
from tests.executions.graphs import edge, graph, node, showcase_graph
from workflows import services as workflow_services


def published(owner: Any, graph_json: dict[str, Any], name: str = "flow", **fields: Any) -> Any:
    workflow = workflow_services.create_workflow(owner=owner, name=name, graph=graph_json, **fields)
    workflow_services.publish_workflow(workflow, author=owner)
    return workflow


def assert_gap_free(run_id: Any) -> None:
    seqs = list(RunEvent.objects.filter(run_id=run_id).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.django_db(transaction=True)
def test_the_showcase_workflow_runs_to_the_end(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    workflow = published(users["owner"], showcase_graph())
    client = api_client_for(users["owner"])
    response = client.post(
        f"/api/workflows/{workflow.pk}/runs/", {"inputs": {"n": 5}, "wait_s": 30}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "succeeded", body
    assert body["outputs"] == {
        "sum": 50,
        "grid": [[{"v": 1}, {"v": 2}, {"v": 3}], [{"v": 11}, {"v": 12}, {"v": 13}]],
    }
    assert body["end_node_id"] == "done"
    run_id = body["id"]
    assert_gap_free(run_id)
    statuses = dict(NodeRun.objects.filter(run_id=run_id, scope="").values_list("node_id", "status"))
    assert statuses["too_small"] == "skipped" and statuses["pause_briefly"] == "succeeded"
    assert NodeRun.objects.filter(run_id=run_id, node_id="cell").count() == 6
    detail = client.get(f"/api/runs/{run_id}/").json()
    rows = {row["node_id"]: row for row in detail["node_runs"]}
    assert rows["rows"]["passes"] == {"total": 2, "succeeded": 2, "failed": 0, "running": 0, "skipped": 0}
    passes = client.get(f"/api/runs/{run_id}/node-runs/?node_id=cell").json()
    assert passes["count"] == 6
    assert sorted(row["scope"] for row in passes["results"]) == [
        f"rows[{r}]/cells[{c}]" for r in range(2) for c in range(3)
    ]


@pytest.mark.django_db(transaction=True)
def test_dispatched_nodes_run_on_workers_with_retries(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    flaky = node(
        "flaky",
        "noop",
        {"fail_times": 2, "output": "{{ inputs.word }}!"},
        retry={"max_attempts": 3, "backoff_s": 0.05, "multiplier": 1, "max_backoff_s": 1},
    )
    workflow = published(
        users["owner"],
        graph(
            [
                node("start", "start"),
                flaky,
                node("end", "end", {"outputs": {"said": "{{ nodes.flaky.output }}"}}),
            ],
            [edge("start", "flaky"), edge("flaky", "end")],
        ),
    )
    client = api_client_for(users["owner"])
    body = client.post(
        f"/api/workflows/{workflow.pk}/runs/", {"inputs": {"word": "hi"}, "wait_s": 30}, format="json"
    ).json()
    assert body["status"] == "succeeded", body
    assert body["outputs"] == {"said": "hi!"}
    attempts = list(
        NodeAttempt.objects.filter(run_id=body["id"]).order_by("number").values_list("number", "status")
    )
    assert attempts == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    types = list(
        RunEvent.objects.filter(run_id=body["id"], node_id="flaky")
        .order_by("seq")
        .values_list("type", flat=True)
    )
    assert types == [
        "node.queued",
        "node.started",
        "node.retrying",
        "node.queued",
        "node.started",
        "node.retrying",
        "node.queued",
        "node.started",
        "node.succeeded",
    ]
    assert_gap_free(body["id"])


@pytest.mark.django_db(transaction=True)
def test_a_failed_node_fails_the_run_and_retry_resumes_it(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    workflow = published(
        users["owner"],
        graph(
            [
                node("start", "start"),
                node("once", "noop", {"fail_times": 1, "fail_retryable": False, "output": 7}),
                node("end", "end", {"outputs": {"v": "{{ nodes.once.output }}"}}),
            ],
            [edge("start", "once"), edge("once", "end")],
        ),
    )
    client = api_client_for(users["owner"])
    body = client.post(f"/api/workflows/{workflow.pk}/runs/", {"wait_s": 30}, format="json").json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "noop_failure" and body["error"]["node_id"] == "once"
    retried = client.post(f"/api/runs/{body['id']}/retry/", {}, format="json")
    assert retried.status_code == 200
    from executions import notify

    notify.wait_until_settled(body["id"], 30, lambda: Run.objects.get(pk=body["id"]).is_finished)
    run = Run.objects.get(pk=body["id"])
    assert run.status == "succeeded" and run.outputs == {"v": 7}
    assert list(
        NodeAttempt.objects.filter(run=run, node_run__node_id="once")
        .values_list("number", "status")
        .order_by("number")
    ) == [(1, "failed"), (2, "succeeded")]
    assert client.post(f"/api/runs/{body['id']}/retry/", {}, format="json").status_code == 409
    assert_gap_free(run.pk)
