"""The same work delivered twice, or finished twice at once: recorded exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from executions.models import NodeAttempt, RunEvent
from tests.executions.graphs import edge, graph, node
from tests.faults.conftest import NODES_QUEUE, Cluster
from tests.faults.helpers import (
    assert_finished_as_without_fault,
    changes,
    events,
    published,
    snapshot,
    start_run,
    wait_for_attempt,
    wait_for_run,
)
from tests.support.processes import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_task_delivered_twice_claims_once_and_the_second_delivery_changes_nothing(
    cluster: Cluster, owner: Any
) -> None:
    workflow = published(
        owner,
        graph(
            [
                node("start", "start"),
                node("once", "noop", {"sleep_s": 3, "output": "{{ inputs.word }}!"}),
                node("end", "end", {"outputs": {"said": "{{ nodes.once.output }}"}}),
            ],
            [edge("start", "once"), edge("once", "end")],
        ),
    )
    # No beat: the only second deliveries are the ones this test publishes. Two pool processes,
    # so the duplicate is taken while the first delivery is still executing.
    cluster.worker(concurrency=2)
    run = start_run(workflow, owner, {"word": "hi"})
    first = wait_for_attempt(run, "once", "running", claims=1)
    while_running = snapshot(run)

    cluster.send("flowdeck.execute_attempt", [first.pk])
    # Consumed and acknowledged (acks_late: after the task returned), while the first delivery
    # is still unacknowledged.
    wait_until(
        lambda: cluster.queue_length(NODES_QUEUE) == 0 and cluster.unacked() == 1,
        30,
        "the duplicate delivery to be consumed and acknowledged",
    )
    assert changes(while_running, snapshot(run)) == [], "the duplicate claimed nothing"

    finished = wait_for_run(run)
    assert_finished_as_without_fault(finished, {"said": "hi!"})
    after_success = snapshot(run)
    cluster.send("flowdeck.execute_attempt", [first.pk])
    wait_until(
        lambda: cluster.queue_length(NODES_QUEUE) == 0 and cluster.unacked() == 0,
        30,
        "the late duplicate to be consumed and acknowledged",
    )
    assert changes(after_success, snapshot(run)) == []

    (attempt,) = NodeAttempt.objects.filter(run=run, node_run__node_id="once")
    assert attempt.claims == 1 and attempt.status == "succeeded" and attempt.output == "hi!"
    assert [kind for kind, _ in events(run, "once")] == ["node.queued", "node.started", "node.succeeded"]


def test_two_workers_finishing_both_branches_of_a_join_at_once_fire_it_exactly_once(
    cluster: Cluster, owner: Any
) -> None:
    workflow = published(
        owner,
        graph(
            [
                node("start", "start"),
                node("fan_out", "parallel"),
                node("left", "noop", {"sleep_s": 1, "output": "L:{{ inputs.word }}"}),
                node("right", "noop", {"sleep_s": 1, "output": "R:{{ inputs.word }}"}),
                node("gather", "join", {"mode": "all"}),
                node("end", "end", {"outputs": {"branches": "{{ nodes.gather.output.branches }}"}}),
            ],
            [
                edge("start", "fan_out"),
                edge("fan_out", "left"),
                edge("fan_out", "right"),
                edge("left", "gather"),
                edge("right", "gather"),
                edge("gather", "end"),
            ],
        ),
    )
    first, second = cluster.launch_worker(concurrency=1), cluster.launch_worker(concurrency=1)
    first.wait_ready()
    second.wait_ready()

    for round_number in range(3):  # the race is short: run it a few times
        word = f"w{round_number}"
        run = start_run(workflow, owner, {"word": word})
        finished = wait_for_run(run)
        assert_finished_as_without_fault(finished, {"branches": {"left": f"L:{word}", "right": f"R:{word}"}})
        left = NodeAttempt.objects.get(run=run, node_run__node_id="left")
        right = NodeAttempt.objects.get(run=run, node_run__node_id="right")
        assert left.worker != right.worker, "each branch ran on its own worker process"
        assert left.started_at and left.finished_at and right.started_at and right.finished_at
        assert left.started_at < right.finished_at and right.started_at < left.finished_at, "concurrently"
        assert RunEvent.objects.filter(run=run, node_id="gather", type="node.succeeded").count() == 1
        assert [kind for kind, _ in events(run, "gather")] == ["node.succeeded"]
