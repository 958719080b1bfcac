"""Every sweep announces what it found, and the ops app keeps it (DESIGN §4 "The sweep")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from executions import services, tasks
from executions.models import NodeAttempt, Run
from ops import sweeps
from ops.models import SweepRecord
from tests.executions.graphs import edge, graph, node
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db


def test_the_beat_task_records_an_expired_lease_it_handled() -> None:
    cache.clear()
    owner = get_user_model().objects.create_user("sweeper", "s@example.com", "pw")
    workflow = workflow_services.create_workflow(
        owner=owner,
        name="leases",
        graph=graph(
            [node("start", "start"), node("work", "noop"), node("end", "end")],
            [edge("start", "work"), edge("work", "end")],
        ),
    )
    workflow_services.publish_workflow(workflow, author=owner)
    workflow.refresh_from_db()
    run = services.create_run(
        workflow=workflow,
        version=workflow.active_version,
        draft_graph=None,
        inputs={},
        variables={},
        user=owner,
    )
    services.advance(run.pk)
    attempt = NodeAttempt.objects.get(run=run)
    NodeAttempt.objects.filter(pk=attempt.pk).update(
        status="running", claims=1, lease_expires_at=timezone.now() - timedelta(minutes=1)
    )
    before = timezone.now()

    counts = tasks.sweep()

    assert counts["expired_leases"] == 1
    [record] = SweepRecord.objects.all()
    assert record.found["expired_leases"] == 1
    assert all(value for value in record.found.values())
    assert record.at >= before
    last = sweeps.last_sweep_at()
    assert last is not None and last >= before
    assert Run.objects.get(pk=run.pk).status == "running"
    assert NodeAttempt.objects.get(pk=attempt.pk).status == "queued"


def test_an_idle_sweep_writes_no_row_but_is_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    from executions import recovery

    cache.clear()
    monkeypatch.setattr(recovery, "sweep", lambda: {"expired_leases": 0, "resent_attempts": 0})
    before = timezone.now()

    assert tasks.sweep() == {"expired_leases": 0, "resent_attempts": 0}

    assert SweepRecord.objects.count() == 0
    last = sweeps.last_sweep_at()
    assert last is not None and last >= before


def test_a_failing_record_never_breaks_the_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    from executions import recovery

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the cache is down")

    monkeypatch.setattr(recovery, "sweep", lambda: {"resent_attempts": 2})
    monkeypatch.setattr(sweeps, "record", broken)

    assert tasks.sweep() == {"resent_attempts": 2}
