"""Sub-workflows across a crash: the message that resumes the parent (or cancels the child) is lost
between the child's commit and its delivery; the sweep, in real beat and worker processes, finds
the parent waiting on a finished child (or a child its cancelled parent abandoned) and finishes the
job exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from executions import services
from executions.handlers import subworkflow
from executions.models import Run, Timer
from tests.executions.graphs import edge, graph, node
from tests.faults.conftest import Cluster
from tests.faults.helpers import (
    DEADLINE_S,
    assert_finished_as_without_fault,
    events,
    published,
    start_run,
    wait_for_run,
)
from tests.support.processes import stop_together, wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

DELAY_S = 4


def workflows(owner: Any, delay_s: float) -> tuple[Any, Any]:
    child = published(
        owner,
        graph(
            [
                node("start", "start"),
                node("pause", "delay", {"seconds": delay_s}),
                node("end", "end", {"outputs": {"echo": "{{ inputs.word }}!"}}),
            ],
            [edge("start", "pause"), edge("pause", "end")],
        ),
        name="child",
    )
    parent = published(
        owner,
        graph(
            [
                node("start", "start"),
                node("sub", "subworkflow", {"workflow": child.pk, "inputs": {"word": "{{ inputs.word }}"}}),
                node("end", "end", {"outputs": {"got": "{{ nodes.sub.output.echo }}"}}),
            ],
            [edge("start", "sub"), edge("sub", "end")],
        ),
        name="parent",
    )
    return child, parent


def park_child(cluster: Cluster, owner: Any, delay_s: float = DELAY_S) -> tuple[Run, Run, Timer]:
    """Start the parent on real workers until the child waits on its delay, then stop them."""
    child_flow, parent_flow = workflows(owner, delay_s)
    beat = cluster.beat()
    worker = cluster.worker(concurrency=1)
    parent = start_run(parent_flow, owner, {"word": "hi"})
    child = wait_until(
        lambda: Run.objects.filter(workflow=child_flow, status="waiting").first(), DEADLINE_S, "the child"
    )
    timer = Timer.objects.get(run=child, kind="delay")
    stop_together(worker, beat)
    assert Run.objects.get(pk=parent.pk).status == "waiting"
    return parent, child, timer


def test_a_lost_resume_is_found_by_the_sweep_and_resumes_the_parent_once(
    cluster: Cluster, owner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent, child, timer = park_child(cluster, owner)
    lost: list[Any] = []
    monkeypatch.setattr(subworkflow, "send_resume_parent", lost.append)
    wait_until(lambda: services.db_now() > timer.due_at + timedelta(seconds=0.2), DEADLINE_S, "the delay")

    services.fire_timer(timer.pk)  # the child finishes here; its resume message never leaves

    assert Run.objects.get(pk=child.pk).status == "succeeded"
    assert [str(run_id) for run_id in lost] == [str(child.pk)]
    assert Run.objects.get(pk=parent.pk).status == "waiting"
    cluster.beat()
    cluster.launch_worker(concurrency=1)
    finished = wait_for_run(parent)
    assert_finished_as_without_fault(finished, {"got": "hi!"})
    assert [kind for kind, _ in events(parent, "sub")] == ["node.waiting", "node.succeeded"]


def test_a_child_abandoned_by_its_cancelled_parent_is_cancelled_by_the_sweep(
    cluster: Cluster, owner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent, child, _ = park_child(cluster, owner, delay_s=300)
    lost: list[Any] = []
    monkeypatch.setattr(subworkflow, "send_cancel_child", lambda child_id, parent_id: lost.append(child_id))

    services.cancel_run(parent.pk, "owner")

    assert [str(run_id) for run_id in lost] == [str(child.pk)]
    assert Run.objects.get(pk=child.pk).status == "waiting"
    cluster.beat()
    cluster.launch_worker(concurrency=1)
    cancelled = wait_for_run(child, "cancelled")
    assert cancelled.outputs is None
    assert not Timer.objects.filter(run=child).exists()
    assert Run.objects.get(pk=parent.pk).status == "cancelled"
    assert [kind for kind, _ in events(parent, "sub")] == ["node.waiting", "node.cancelled"]
