"""A worker that records a result executes the attempt it made ready itself (no broker message):
losing that worker, before or after it claims the kept attempt, loses nothing."""

from __future__ import annotations

from typing import Any

import pytest

from executions import services, tasks
from executions.models import NodeAttempt
from tests.executions.graphs import edge, graph, node
from tests.faults.conftest import NODES_QUEUE, Cluster
from tests.faults.helpers import (
    assert_finished_as_without_fault,
    attempt_of,
    events,
    published,
    start_run,
    wait_for_attempt,
    wait_for_run,
)
from tests.support.processes import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def two_step_chain(sleep_s: float) -> dict[str, Any]:
    """start → first → second (sleeps, lease 3 + 1 s) → end: `second` is made ready by `first`'s
    result, so the worker that records `first` keeps `second` for itself."""
    return graph(
        [
            node("start", "start"),
            node("first", "noop", {"output": "{{ inputs.word }}"}),
            node(
                "second",
                "noop",
                {"sleep_s": sleep_s, "output": "{{ nodes.first.output }}-two"},
                timeout_s=3,
            ),
            node("end", "end", {"outputs": {"result": "{{ nodes.second.output }}"}}),
        ],
        [edge("start", "first"), edge("first", "second"), edge("second", "end")],
    )


def test_a_worker_killed_while_executing_a_kept_attempt_is_replaced_and_it_succeeds_once(
    cluster: Cluster, owner: Any
) -> None:
    workflow = published(owner, two_step_chain(sleep_s=2))
    cluster.beat()
    doomed = cluster.worker(concurrency=1)
    run = start_run(workflow, owner, {"word": "hi"})

    second = wait_for_attempt(run, "second", "running", claims=1)
    first = attempt_of(run, "first")
    assert first is not None and first.status == "succeeded"
    assert second.worker == first.worker, "the worker that recorded `first` executes `second`"
    # `second` travelled through no broker: the only message out is `first`'s own, unacknowledged
    # while the task that took it goes on executing `second`.
    assert cluster.queue_length(NODES_QUEUE) == 0 and cluster.unacked() == 1

    doomed.kill()
    cluster.launch_worker(concurrency=1)

    finished = wait_for_run(run)
    assert_finished_as_without_fault(finished, {"result": "hi-two"})
    (first,) = NodeAttempt.objects.filter(run=run, node_run__node_id="first")
    assert first.status == "succeeded" and first.claims == 1, "its redelivered message claimed nothing"
    (second,) = NodeAttempt.objects.filter(run=run, node_run__node_id="second")
    assert second.status == "succeeded" and second.claims == 2 and second.output == "hi-two"
    assert [kind for kind, _ in events(run, "second")] == [
        "node.queued",
        "node.started",
        "node.queued",
        "node.started",
        "node.succeeded",
    ]
    assert events(run, "second")[2][1] == {"reason": "worker_lost"}


def test_a_kept_attempt_whose_worker_dies_before_claiming_it_is_sent_again_by_the_sweep(
    cluster: Cluster, owner: Any
) -> None:
    """The worker is this test process: it advances the run and executes `first` with the real
    task code, keeps `second` — and then stops, as a worker killed right after the commit would.
    `second` is committed as queued with no message anywhere; the sweep re-sends it."""
    workflow = published(owner, two_step_chain(sleep_s=0))
    run = start_run(workflow, owner, {"word": "hi"})
    services.advance(run.pk)
    first = wait_for_attempt(run, "first", "queued")

    kept = tasks._execute_one(first.pk)

    second = attempt_of(run, "second")
    assert second is not None and kept == second.pk
    assert second.status == "queued" and second.claims == 0
    # `advance` sent `first`'s message to the (workerless) broker; nothing was sent for `second`.
    assert cluster.queue_length(NODES_QUEUE) == 1

    cluster.beat()
    cluster.worker(concurrency=1)
    finished = wait_for_run(run)
    assert_finished_as_without_fault(finished, {"result": "hi-two"})
    second.refresh_from_db()
    assert second.status == "succeeded" and second.claims == 1
    (first,) = NodeAttempt.objects.filter(run=run, node_run__node_id="first")
    assert first.claims == 1, "the message of `first`, delivered late, claimed nothing"
    wait_until(lambda: cluster.queue_length(NODES_QUEUE) == 0, 10, "the nodes queue to drain")
