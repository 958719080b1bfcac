"""Per-workflow limits: max_concurrent_runs queues extra runs as pending; timeout_s fails a run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from executions import recovery, services
from executions.models import NodeRun, Run, Timer
from tests.executions.graphs import edge, graph, node
from workflows import services as workflow_services


def waiting_graph(seconds: float) -> dict[str, Any]:
    return graph(
        [node("start", "start"), node("wait", "delay", {"seconds": seconds}), node("end", "end")],
        [edge("start", "wait"), edge("wait", "end")],
    )


def published(owner: Any, seconds: float, **fields: Any) -> Any:
    workflow = workflow_services.create_workflow(
        owner=owner, name="limited", graph=waiting_graph(seconds), **fields
    )
    workflow_services.publish_workflow(workflow, author=owner)
    workflow.refresh_from_db()
    return workflow


def new_run(workflow: Any, user: Any) -> Run:
    return services.create_run(
        workflow=workflow,
        version=workflow.active_version,
        draft_graph=None,
        inputs={},
        variables={},
        user=user,
    )


def test_runs_beyond_max_concurrent_runs_wait_as_pending(users: dict[str, Any]) -> None:
    workflow = published(users["owner"], 3600, max_concurrent_runs=2)
    runs = [new_run(workflow, users["owner"]) for _ in range(3)]
    for run in runs:
        services.advance(run.pk)
    assert [Run.objects.get(pk=run.pk).status for run in runs] == ["waiting", "waiting", "pending"]
    services.cancel_run(runs[0].pk, by="owner")
    services.advance(runs[2].pk)  # what start_next_pending_run enqueues after the cancel commits
    assert [Run.objects.get(pk=run.pk).status for run in runs] == ["cancelled", "waiting", "waiting"]


def test_a_run_past_its_timeout_fails_and_stops_its_work(users: dict[str, Any]) -> None:
    workflow = published(users["owner"], 3600, timeout_s=60)
    run = new_run(workflow, users["owner"])
    services.advance(run.pk)
    deadline = Timer.objects.get(run=run, kind="run_timeout")
    assert Timer.objects.filter(run=run, kind="delay").count() == 1
    Timer.objects.filter(pk=deadline.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    counts = recovery.sweep()
    assert counts["due_timers"] == 1
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error == {
        "code": "run_timeout",
        "message": "The run did not finish within the workflow's timeout_s.",
    }
    assert NodeRun.objects.get(run=run, node_id="wait").status == "cancelled"
    assert not Timer.objects.filter(run=run).exists()


@pytest.mark.parametrize("paused", [False, True])
def test_a_delay_falls_due_by_the_database_clock(users: dict[str, Any], paused: bool) -> None:
    workflow = published(users["owner"], 3600)
    run = new_run(workflow, users["owner"])
    services.advance(run.pk)
    if paused:
        services.pause_run(run.pk)
    Timer.objects.filter(run=run, kind="delay").update(due_at=timezone.now() - timedelta(seconds=1))
    recovery.sweep()
    run.refresh_from_db()
    assert NodeRun.objects.get(run=run, node_id="wait").status == "succeeded"
    # A paused run records the delay but starts nothing after it until it resumes.
    assert run.status == ("paused" if paused else "succeeded")
    if paused:
        assert not NodeRun.objects.filter(run=run, node_id="end").exists()
        services.resume_run(run.pk)
        assert Run.objects.get(pk=run.pk).status == "succeeded"
