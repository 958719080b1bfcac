"""The `subworkflow` node on a real worker (threads in the embedded mode, celery processes in the
services mode): the child runs as the parent's starter, the parent resumes once the child is done,
failures and cancellations cross the link, and nesting is bounded."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from executions.models import NodeRun, Run, RunEvent, Timer
from tests.executions.graphs import edge, graph, node
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db(transaction=True)


def until(predicate: Callable[[], Any], timeout_s: float = 90) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def publish(owner: Any, graph_json: dict[str, Any], name: str) -> Any:
    workflow = workflow_services.create_workflow(owner=owner, name=name, graph=graph_json)
    workflow_services.publish_workflow(workflow, author=owner)
    return workflow


def child_workflow(owner: Any, middle: dict[str, Any] | None = None) -> Any:
    """inputs.x → (a node) → outputs {"doubled": x * 2}."""
    middle = middle or node("work", "noop", {"sleep_s": 0.2, "output": "{{ inputs.x }}"})
    return publish(
        owner,
        graph(
            [
                node(
                    "start",
                    "start",
                    {
                        "input_schema": {
                            "type": "object",
                            "properties": {"x": {"type": "integer"}},
                            "required": ["x"],
                        }
                    },
                ),
                middle,
                node("end", "end", {"outputs": {"doubled": "{{ inputs.x * 2 }}"}}),
            ],
            [edge("start", middle["id"]), edge(middle["id"], "end")],
        ),
        "child",
    )


def parent_graph(config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return graph(
        [
            node("start", "start"),
            node("sub", "subworkflow", config, **fields),
            node("end", "end", {"outputs": {"got": "{{ nodes.sub.output }}"}}),
        ],
        [edge("start", "sub"), edge("sub", "end")],
    )


def start(client: Any, workflow: Any, inputs: dict[str, Any] | None = None, wait_s: float | None = 30) -> Any:
    body: dict[str, Any] = {"inputs": inputs or {}}
    if wait_s:
        body["wait_s"] = wait_s
    response = client.post(f"/api/workflows/{workflow.pk}/runs/", body, format="json")
    assert response.status_code == 201, response.content
    found = response.json()
    if wait_s and found["status"] not in ("succeeded", "failed", "cancelled"):
        # A loaded machine can outlast wait_s: keep waiting on the row.
        until(lambda: Run.objects.get(pk=found["id"]).is_finished, 120)
        found = client.get(f"/api/runs/{found['id']}/").json()
    return found


def test_the_parent_waits_for_the_child_and_takes_its_outputs(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    child_flow = child_workflow(users["owner"])
    parent_flow = publish(
        users["owner"], parent_graph({"workflow": child_flow.pk, "inputs": {"x": "{{ inputs.n }}"}}), "parent"
    )
    client = api_client_for(users["owner"])

    parent = start(client, parent_flow, {"n": 5})

    assert parent["status"] == "succeeded", parent
    assert parent["outputs"] == {"got": {"doubled": 10}}
    assert (parent["parent_run"], parent["parent_node"], parent["nesting_depth"]) == (None, None, 0)
    child = Run.objects.get(workflow=child_flow)
    assert (child.status, child.outputs, child.inputs) == ("succeeded", {"doubled": 10}, {"x": 5})
    assert child.parent_node is not None
    assert (str(child.parent_run_id), child.parent_node.node_id, child.nesting_depth) == (
        parent["id"],
        "sub",
        1,
    )
    assert (child.source, child.created_by, child.version) == (
        "subworkflow",
        users["owner"],
        child_flow.active_version,
    )
    sub = NodeRun.objects.get(run_id=parent["id"], node_id="sub")
    assert sub.output == {"doubled": 10} and sub.status == "succeeded"
    assert child.finished_at is not None and sub.finished_at is not None
    parent_finished = Run.objects.get(pk=parent["id"]).finished_at
    assert parent_finished is not None
    assert child.finished_at <= sub.finished_at <= parent_finished
    waiting = RunEvent.objects.get(run_id=parent["id"], node_id="sub", type="node.waiting")
    assert waiting.data == {"reason": "subworkflow", "child_run_id": str(child.pk)}
    detail = client.get(f"/api/runs/{parent['id']}/").json()
    assert {row["node_id"]: row["child_run"] for row in detail["node_runs"]} == {
        "start": None,
        "sub": str(child.pk),
        "end": None,
    }
    child_summary = client.get(f"/api/runs/{child.pk}/").json()
    assert (child_summary["parent_run"], child_summary["parent_node"], child_summary["source"]) == (
        parent["id"],
        "sub",
        "subworkflow",
    )


def test_a_failed_child_fails_the_node_without_retrying(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    child_flow = child_workflow(
        users["owner"],
        node("work", "noop", {"fail_times": 5, "fail_retryable": False, "fail_code": "broken"}),
    )
    parent_flow = publish(
        users["owner"],
        parent_graph(
            {"workflow": child_flow.pk, "version": 1, "inputs": {"x": "{{ 1 }}"}},
            retry={"max_attempts": 3, "backoff_s": 0.05},
        ),
        "parent",
    )

    parent = start(api_client_for(users["owner"]), parent_flow)

    child = Run.objects.get(workflow=child_flow)
    assert child.status == "failed" and (child.error or {})["code"] == "broken"
    assert parent["status"] == "failed", parent
    assert parent["error"] == {
        "code": "subworkflow_failed",
        "message": f"The sub-workflow run {child.pk} failed: broken: Attempt 1 fails on purpose.",
        "retryable": False,
        "attempt": 1,
        "node_id": "sub",
    }
    assert Run.objects.filter(workflow=child_flow).count() == 1


def test_recursion_stops_at_the_depth_limit(worker: Any, users: dict[str, Any], api_client_for: Any) -> None:
    flow = workflow_services.create_workflow(owner=users["owner"], name="ouroboros", graph=graph([], []))
    flow.graph = parent_graph({"workflow": flow.pk})
    flow.save()
    workflow_services.publish_workflow(flow, author=users["owner"])

    root = start(api_client_for(users["owner"]), flow, wait_s=None)
    until(lambda: Run.objects.get(pk=root["id"]).is_finished, 60)

    limit = settings.SUBWORKFLOW_MAX_DEPTH
    runs = list(Run.objects.filter(workflow=flow).order_by("nesting_depth"))
    assert [run.nesting_depth for run in runs] == list(range(limit + 1))
    assert [run.status for run in runs] == ["failed"] * (limit + 1)
    deepest, root = runs[-1].error or {}, runs[0].error or {}
    assert deepest["code"] == "max_depth_exceeded"
    assert deepest["message"] == (
        f"A sub-workflow here would be nested {limit + 1} deep; the limit is {limit} "
        "(does a workflow call itself?)."
    )
    assert root["code"] == "subworkflow_failed"
    assert f"The sub-workflow run {runs[1].pk} failed: subworkflow_failed" in root["message"]
    for parent, child in itertools.pairwise(runs):
        assert child.parent_run_id == parent.pk
    assert not Timer.objects.filter(run__workflow=flow).exists()


def test_cancelling_the_parent_cancels_the_child(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    child_flow = child_workflow(users["owner"], node("work", "delay", {"seconds": 300}))
    parent_flow = publish(
        users["owner"], parent_graph({"workflow": child_flow.pk, "inputs": {"x": "{{ 2 }}"}}), "parent"
    )
    client = api_client_for(users["owner"])
    parent = start(client, parent_flow, wait_s=None)
    child = until(lambda: Run.objects.filter(workflow=child_flow, status="waiting").first())
    assert Run.objects.get(pk=parent["id"]).status == "waiting"

    response = client.post(f"/api/runs/{parent['id']}/cancel/", {}, format="json")

    assert response.status_code == 200
    until(lambda: Run.objects.get(pk=child.pk).status == "cancelled")
    child.refresh_from_db()
    assert child.outputs is None
    assert RunEvent.objects.get(run=child, type="run.cancelled").data == {"by": f"parent run {parent['id']}"}
    assert NodeRun.objects.get(run=child, node_id="work").status == "cancelled"
    assert not Timer.objects.filter(run=child).exists()
    time.sleep(0.5)  # the child's cancellation reaches the parent too: it must change nothing
    parent_run = Run.objects.get(pk=parent["id"])
    assert parent_run.status == "cancelled"
    assert NodeRun.objects.get(run=parent_run, node_id="sub").status == "cancelled"
    assert list(RunEvent.objects.filter(run=parent_run, node_id="sub").values_list("type", flat=True)) == [
        "node.waiting",
        "node.cancelled",
    ]


def test_a_starter_without_access_to_the_child_workflow_starts_nothing(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    child_flow = child_workflow(users["editor"])
    group = users["viewer"].groups.get()
    child_flow.grants.create(group=group, role="viewer")
    parent_flow = publish(
        users["owner"], parent_graph({"workflow": child_flow.pk, "inputs": {"x": "{{ 1 }}"}}), "parent"
    )
    parent_flow.grants.create(group=group, role="runner")

    hidden = start(api_client_for(users["owner"]), parent_flow)
    viewed = start(api_client_for(users["viewer"]), parent_flow)

    assert hidden["status"] == "failed" and viewed["status"] == "failed"
    assert hidden["error"]["code"] == "unknown_workflow"
    assert hidden["error"]["message"] == f"There is no workflow {child_flow.pk} the run's starter can see."
    assert viewed["error"]["code"] == "subworkflow_forbidden"
    assert "needs the runner role on workflow 'child'" in viewed["error"]["message"]
    assert Run.objects.filter(workflow=child_flow).count() == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"version": 9, "inputs": {"x": "{{ 1 }}"}},
            "Workflow 'child' refused the run: Version 9 does not exist.",
        ),
        (
            {"inputs": {"x": "text"}},
            "Workflow 'child' refused the run: The inputs do not match the start node's input_schema. "
            "(/x 'text' is not of type 'integer')",
        ),
    ],
)
def test_a_child_that_cannot_start_fails_the_node_and_creates_nothing(
    worker: Any, users: dict[str, Any], api_client_for: Any, config: dict[str, Any], message: str
) -> None:
    child_flow = child_workflow(users["owner"])
    parent_flow = publish(users["owner"], parent_graph({"workflow": child_flow.pk, **config}), "parent")

    parent = start(api_client_for(users["owner"]), parent_flow)

    assert parent["status"] == "failed"
    assert (parent["error"]["code"], parent["error"]["message"]) == ("subworkflow_refused", message)
    assert Run.objects.filter(workflow=child_flow).count() == 0


def test_the_sweep_resumes_a_parent_whose_resume_message_was_lost(
    worker: Any, users: dict[str, Any], api_client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if settings.SERVICES_MODE:
        pytest.skip("drops the message inside this process; the services workers are other processes")
    from executions import recovery
    from executions.handlers import subworkflow

    monkeypatch.setattr(subworkflow, "send_resume_parent", lambda child_run_id: None)
    child_flow = child_workflow(users["owner"])
    parent_flow = publish(
        users["owner"], parent_graph({"workflow": child_flow.pk, "inputs": {"x": "{{ 4 }}"}}), "parent"
    )
    parent = start(api_client_for(users["owner"]), parent_flow, wait_s=None)
    until(lambda: Run.objects.filter(workflow=child_flow, status="succeeded").exists())
    time.sleep(0.3)
    assert Run.objects.get(pk=parent["id"]).status == "waiting"

    monkeypatch.setattr(settings, "ENGINE_STALE_AFTER_S", 0)
    assert recovery.sweep()["subworkflows"] == 1

    until(lambda: Run.objects.get(pk=parent["id"]).is_finished)
    resumed = Run.objects.get(pk=parent["id"])
    assert (resumed.status, resumed.outputs) == ("succeeded", {"got": {"doubled": 8}})
    assert recovery.sweep()["subworkflows"] == 0


def test_a_child_slower_than_the_node_timeout_fails_the_node_and_is_cancelled(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    child_flow = child_workflow(users["owner"], node("work", "delay", {"seconds": 300}))
    parent_flow = publish(
        users["owner"],
        parent_graph({"workflow": child_flow.pk, "inputs": {"x": "{{ 3 }}"}}, timeout_s=1),
        "parent",
    )

    started = start(api_client_for(users["owner"]), parent_flow, wait_s=None)
    parent = until(lambda: Run.objects.filter(pk=started["id"], status="failed").values().first(), 60)

    child = Run.objects.get(workflow=child_flow)
    assert (parent["error"]["code"], parent["error"]["message"]) == (
        "timeout",
        f"The sub-workflow run {child.pk} did not finish within 1 s (timeout_s).",
    )
    until(lambda: Run.objects.get(pk=child.pk).status == "cancelled")
    waiting = RunEvent.objects.get(run_id=parent["id"], node_id="sub", type="node.waiting")
    assert set(waiting.data) == {"reason", "child_run_id", "due_at"}
    assert not Timer.objects.filter(run__workflow__in=[child_flow, parent_flow]).exists()


def test_retrying_the_parent_starts_a_new_child_on_the_active_version(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    from executions import recovery

    child_flow = child_workflow(
        users["owner"], node("work", "noop", {"fail_times": 1, "fail_retryable": False})
    )
    parent_flow = publish(
        users["owner"], parent_graph({"workflow": child_flow.pk, "inputs": {"x": "{{ 6 }}"}}), "parent"
    )
    client = api_client_for(users["owner"])
    failed = start(client, parent_flow)
    assert failed["status"] == "failed" and failed["error"]["code"] == "subworkflow_failed"
    fixed = dict(child_flow.graph)
    fixed["nodes"] = [
        node("work", "noop", {"output": "fixed"}) if item["id"] == "work" else item for item in fixed["nodes"]
    ]
    child_flow.graph = fixed
    child_flow.save()
    workflow_services.publish_workflow(child_flow, author=users["owner"])

    assert client.post(f"/api/runs/{failed['id']}/retry/", {}, format="json").status_code == 200
    parent = until(lambda: Run.objects.filter(pk=failed["id"], status="succeeded").first())

    assert parent.outputs == {"got": {"doubled": 12}}
    first, second = Run.objects.filter(workflow=child_flow).order_by("created_at")
    assert (first.status, first.version.number if first.version else None) == ("failed", 1)
    assert (second.status, second.version.number if second.version else None) == ("succeeded", 2)
    assert first.parent_node_id == second.parent_node_id
    detail = client.get(f"/api/runs/{parent.pk}/").json()
    assert {row["node_id"]: row["child_run"] for row in detail["node_runs"]}["sub"] == str(second.pk)
    assert recovery.sweep()["subworkflows"] == 0
