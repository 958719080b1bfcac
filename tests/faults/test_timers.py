"""Durable timers: a delay that falls due while no worker (and no beat) runs still fires, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from executions import services
from executions.models import NodeRun, Timer
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

#: Long enough for a warm shutdown of the worker and beat (2.5 s here, twice that on a busy machine)
#: to end before the delay falls due.
DELAY_S = 6


def test_a_delay_due_while_no_worker_runs_fires_once_when_one_comes_back(
    cluster: Cluster, owner: Any
) -> None:
    workflow = published(
        owner,
        graph(
            [
                node("start", "start"),
                node("pause", "delay", {"seconds": DELAY_S}),
                node("echo", "noop", {"output": "{{ nodes.pause.output.word }} after the pause"}),
                node("end", "end", {"outputs": {"said": "{{ nodes.echo.output }}"}}),
            ],
            [edge("start", "pause"), edge("pause", "echo"), edge("echo", "end")],
        ),
    )
    beat = cluster.beat()
    worker = cluster.worker(concurrency=1)
    run = start_run(workflow, owner, {"word": "hi"})
    timer = wait_until(
        lambda: Timer.objects.filter(run=run, kind="delay").first(), DEADLINE_S, "the delay's timer"
    )
    # The worker holds the timer's countdown message (an ETA task) when it stops; its warm
    # shutdown hands the message back to Redis. When a worker returns, that message and the
    # sweep both try to fire the timer: exactly one may act.
    stop_together(worker, beat)
    assert services.db_now() < timer.due_at, "the workers stopped before the delay fell due"

    wait_until(
        lambda: services.db_now() > timer.due_at + timedelta(seconds=0.5), DEADLINE_S, "the due time to pass"
    )
    assert NodeRun.objects.get(run=run, node_id="pause").status == "waiting", "nothing fired it"
    assert Timer.objects.filter(pk=timer.pk).exists()

    cluster.beat()
    cluster.launch_worker(concurrency=1)
    finished = wait_for_run(run)
    assert_finished_as_without_fault(finished, {"said": "hi after the pause"})
    assert [kind for kind, _ in events(run, "pause")] == ["node.waiting", "node.succeeded"]
    paused = NodeRun.objects.get(run=run, node_id="pause")
    assert paused.finished_at is not None and paused.finished_at >= timer.due_at
