"""Redis loses everything (a restart without persistence, a FLUSHALL): no run is lost.

Postgres is the ledger and Redis only rings the doorbell (DESIGN §2, §4): the sweep re-sends
attempts left queued with no message, and re-advances runs whose `advance_run` was lost.
"""

from __future__ import annotations

from typing import Any

import pytest

from executions import services
from executions.models import NodeAttempt, Run
from tests.executions.graphs import edge, graph, node
from tests.faults.conftest import CONTROL_QUEUE, NODES_QUEUE, Cluster
from tests.faults.helpers import (
    DEADLINE_S,
    assert_finished_as_without_fault,
    attempt_of,
    published,
    start_run,
    wait_for_attempt,
    wait_for_run,
)
from tests.support.processes import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

FAULTS = ["restart", "flushall"]


def two_step_graph(sleep_s: float) -> dict[str, Any]:
    """start → first (noop, sleeps) → second (noop) → end."""
    return graph(
        [
            node("start", "start"),
            node("first", "noop", {"sleep_s": sleep_s, "output": "{{ inputs.word }}"}),
            node("second", "noop", {"output": "{{ nodes.first.output }}!"}),
            node("end", "end", {"outputs": {"result": "{{ nodes.second.output }}"}}),
        ],
        [edge("start", "first"), edge("first", "second"), edge("second", "end")],
    )


def fan_out_graph(sleep_s: float) -> dict[str, Any]:
    """start → first (noop, sleeps) → parallel → second, also (noops) → join → end. Recording
    `first` makes two attempts ready: the recording worker keeps one for itself and sends the
    other through the broker."""
    return graph(
        [
            node("start", "start"),
            node("first", "noop", {"sleep_s": sleep_s, "output": "{{ inputs.word }}"}),
            node("fan", "parallel"),
            node("second", "noop", {"output": "{{ nodes.first.output }}!"}),
            node("also", "noop", {"output": "{{ nodes.first.output }}?"}),
            node("gather", "join", {"mode": "all"}),
            node("end", "end", {"outputs": {"result": "{{ nodes.second.output }}"}}),
        ],
        [
            edge("start", "first"),
            edge("first", "fan"),
            edge("fan", "second"),
            edge("fan", "also"),
            edge("second", "gather"),
            edge("also", "gather"),
            edge("gather", "end"),
        ],
    )


def assert_claimed_once_each(run: Run, nodes: tuple[str, ...] = ("first", "second")) -> None:
    """Messages were lost and re-sent, but every attempt was claimed once: no lease expired, no
    attempt row was added."""
    rows = list(NodeAttempt.objects.filter(run=run).values_list("node_run__node_id", "number", "claims"))
    assert sorted(rows) == sorted((node_id, 1, 1) for node_id in nodes), rows


def was_resent(attempt: NodeAttempt) -> bool:
    """The sweep re-sent the attempt's message: last_sent_at moved on from when it was queued."""
    attempt.refresh_from_db()
    assert attempt.last_sent_at is not None
    return attempt.last_sent_at > attempt.queued_at


@pytest.mark.parametrize("fault", FAULTS)
def test_redis_loses_everything_while_a_node_sleeps(cluster: Cluster, owner: Any, fault: str) -> None:
    """A control worker advances runs; a one-slot node worker sleeps in one run's `first` while
    the other run's `first` waits in Redis.

    restart: Redis stays down until the sleeping node finished, so the message for the next
    node, sent after that commit, is lost too. flushall: Redis stays up; the waiting message and
    the running one's unacked entry vanish.
    """
    workflow = published(owner, fan_out_graph(sleep_s=1.5))
    cluster.beat()
    control = cluster.launch_worker(concurrency=1, queues=[CONTROL_QUEUE])
    nodes = cluster.launch_worker(concurrency=1, queues=[NODES_QUEUE])
    control.wait_ready()
    nodes.wait_ready()
    runs = [start_run(workflow, owner, {"word": word}) for word in ("x", "y")]

    def one_running_one_waiting_in_redis() -> tuple[Run, Run] | None:
        statuses = {run.pk: getattr(attempt_of(run, "first"), "status", None) for run in runs}
        if sorted(statuses.values(), key=str) != ["queued", "running"]:
            return None
        if cluster.queue_length(NODES_QUEUE) < 1:  # (more once the sweep re-sent it: it is stale)
            return None
        running = next(run for run in runs if statuses[run.pk] == "running")
        return running, next(run for run in runs if run is not running)

    running, waiting = wait_until(
        one_running_one_waiting_in_redis, DEADLINE_S, "one run's first node to sleep"
    )
    waiting_attempt = attempt_of(waiting, "first")
    assert waiting_attempt is not None

    if fault == "restart":
        cluster.redis.stop()
        # The worker records `first` while Redis is down: it keeps one of `second` and `also`
        # for itself and sends the other, whose message is lost once the send after commit
        # gave up (kombu retries for a moment first).
        wait_until(lambda: "in send_attempt" in nodes.log_text(), DEADLINE_S, "the send to fail")
        cluster.redis.start()
    else:
        cluster.redis.flushall()

    for run in runs:
        finished = wait_for_run(run)
        assert_finished_as_without_fault(finished, {"result": f"{finished.inputs['word']}!"})
        assert_claimed_once_each(run, ("first", "second", "also"))
    assert was_resent(waiting_attempt), "the message lost in Redis was re-sent by the sweep"
    if fault == "restart":
        followers = [attempt_of(running, node_id) for node_id in ("second", "also")]
        resent = [attempt for attempt in followers if attempt is not None and was_resent(attempt)]
        assert len(resent) == 1, "the one sent while Redis was down was re-sent; the kept one needed none"


@pytest.mark.parametrize("fault", FAULTS)
def test_redis_loses_work_queued_but_not_yet_claimed(cluster: Cluster, owner: Any, fault: str) -> None:
    """No worker runs yet. Two runs exist only as rows plus a Redis message when Redis loses
    everything: one just created (its `advance_run` waits in Redis), one advanced by this
    process with the real `services.advance` (its first attempt queued, `execute_attempt`
    waits in Redis)."""
    workflow = published(owner, two_step_graph(sleep_s=0))
    just_created = start_run(workflow, owner, {"word": "pending"})
    with_attempt = start_run(workflow, owner, {"word": "queued"})
    services.advance(with_attempt.pk)
    unclaimed = wait_for_attempt(with_attempt, "first", "queued")
    assert Run.objects.get(pk=just_created.pk).status == "pending"
    assert cluster.queue_length(CONTROL_QUEUE) == 2 and cluster.queue_length(NODES_QUEUE) == 1

    if fault == "restart":
        cluster.redis.restart()
    else:
        cluster.redis.flushall()
    assert cluster.queue_length(NODES_QUEUE) == 0 and cluster.queue_length(CONTROL_QUEUE) == 0

    cluster.beat()
    cluster.launch_worker(concurrency=1)
    for run in (with_attempt, just_created):
        finished = wait_for_run(run)
        assert_finished_as_without_fault(finished, {"result": f"{finished.inputs['word']}!"})
        assert_claimed_once_each(run)
    assert was_resent(unclaimed), "the stale queued attempt was re-sent by the sweep"
