"""Workers that die mid-node: the lease expires and the sweep offers the same attempt again."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from executions import services
from executions.models import NodeAttempt
from tests.executions.graphs import edge, graph, node
from tests.faults.conftest import LEASE_GRACE_S, Cluster
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
from tests.support.processes import child_pids, wait_until
from tests.support.services import process_alive

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def slow_graph(sleep_s: float, timeout_s: float) -> dict[str, Any]:
    """start → slow (noop) → end; the lease of `slow` is timeout_s + ENGINE_LEASE_GRACE_S."""
    return graph(
        [
            node("start", "start"),
            node(
                "slow",
                "noop",
                {"sleep_s": sleep_s, "output": "{{ inputs.word }}-done"},
                timeout_s=timeout_s,
            ),
            node("end", "end", {"outputs": {"result": "{{ nodes.slow.output }}"}}),
        ],
        [edge("start", "slow"), edge("slow", "end")],
    )


def test_a_worker_killed_mid_node_is_replaced_and_the_same_attempt_succeeds_once(
    cluster: Cluster, owner: Any
) -> None:
    """The lease (timeout_s 3 + grace 1) outlives the 2 s sleep, so only a lost worker lets it
    expire; the sweep then offers the same attempt again and a fresh worker claims it."""
    workflow = published(owner, slow_graph(sleep_s=2, timeout_s=3))
    cluster.beat()
    doomed = cluster.worker(concurrency=1)
    run = start_run(workflow, owner, {"word": "hi"})

    first = wait_for_attempt(run, "slow", "running", claims=1)
    doomed.kill()  # SIGKILL to the worker's whole process group, mid-sleep
    assert not doomed.is_running()
    pool_process = int(first.worker.rsplit(":", 1)[1])
    wait_until(lambda: not process_alive(pool_process), 10, "the pool process to die with its worker")
    replacement = cluster.launch_worker(concurrency=1)

    finished = wait_for_run(run)
    assert_finished_as_without_fault(finished, {"result": "hi-done"})
    attempts = list(NodeAttempt.objects.filter(run=run, node_run__node_id="slow"))
    assert len(attempts) == 1, "the lost claim is re-offered, not replaced by a new attempt"
    (attempt,) = attempts
    assert attempt.pk == first.pk and attempt.number == 1
    assert attempt.status == "succeeded" and attempt.claims == 2
    assert attempt.worker != first.worker, "the replacement worker executed it"
    assert [kind for kind, _ in events(run, "slow")] == [
        "node.queued",
        "node.started",
        "node.queued",
        "node.started",
        "node.succeeded",
    ]
    assert events(run, "slow")[2][1] == {"reason": "worker_lost"}
    assert replacement.is_running()


def test_an_attempt_whose_worker_is_lost_three_times_fails_with_redelivery_limit(
    cluster: Cluster, owner: Any
) -> None:
    """A message that kills every worker that takes it must not take the fleet down forever.

    Here the pool process executing the attempt is SIGKILLed (as the OOM killer would): the
    worker's main process replaces it and re-queues the message (task_reject_on_worker_lost),
    which claims nothing; the sweep re-offers the attempt once its lease expires.
    """
    graph_json = graph(
        [
            node("start", "start"),
            node("slow", "noop", {"sleep_s": 60, "output": "never"}, timeout_s=1, on_error="continue"),
            node("end", "end", {"outputs": {"code": "{{ nodes.slow.output.error.code }}"}}),
        ],
        [edge("start", "slow"), edge("slow", "end")],
    )
    workflow = published(owner, graph_json)
    cluster.beat()
    worker = cluster.worker(concurrency=2)  # the other pool process keeps running the sweep
    run = start_run(workflow, owner)

    lost = set()
    for claim in (1, 2, 3):
        attempt = wait_for_attempt(run, "slow", "running", claims=claim)
        pool_process = int(attempt.worker.rsplit(":", 1)[1])
        assert pool_process in child_pids(worker.pid), "only a process this test started is killed"
        os.kill(pool_process, signal.SIGKILL)
        lost.add(pool_process)
    assert len(lost) == 3, "each claim was taken by a fresh pool process"

    finished = wait_for_run(run)
    assert_finished_as_without_fault(finished, {"code": "redelivery_limit"}, failed_nodes=frozenset({"slow"}))
    (attempt,) = NodeAttempt.objects.filter(run=run, node_run__node_id="slow")
    assert attempt.status == "failed" and attempt.claims == 3
    assert attempt.error is not None
    assert attempt.error["code"] == "redelivery_limit" and attempt.error["retryable"] is False
    assert [kind for kind, _ in events(run, "slow")] == [
        "node.queued",
        "node.started",
        *["node.queued", "node.started"] * 2,
        "node.failed",
    ]
    assert worker.is_running(), "losing pool processes never takes the worker down"


def test_a_result_posted_after_the_lease_expired_changes_nothing(
    cluster: Cluster, owner: Any, settings: Any
) -> None:
    """A stale worker (here: this test process, holding a real claim) posts its result after
    its lease expired and the attempt was re-offered to a real worker."""
    settings.ENGINE_LEASE_GRACE_S = LEASE_GRACE_S  # the stale claim is taken in this process
    # The real worker sleeps 2.5 s after its claim: the window in which the stale result arrives.
    workflow = published(owner, slow_graph(sleep_s=2.5, timeout_s=3))
    run = start_run(workflow, owner, {"word": "hi"})
    services.advance(run.pk)  # the real advance: the attempt is queued, its message on the private broker
    queued = wait_for_attempt(run, "slow", "queued")
    stale = services.claim_attempt(queued.pk, "stale-worker:1")
    assert stale is not None and stale.claim_no == 1

    cluster.beat()
    cluster.launch_worker(concurrency=1)
    # The worker's delivery of the original message claims nothing (the attempt is running);
    # once the lease expires the sweep re-offers the attempt and the worker claims it.
    rerun = wait_for_attempt(run, "slow", "running", claims=2)
    assert rerun.worker != "stale-worker:1"

    while_running = snapshot(run)
    assert services.record_attempt_success(stale, "stale output", {}) is False
    assert (
        services.record_attempt_failure(stale, {"code": "boom", "message": "late", "retryable": True})
        is False
    )
    assert changes(while_running, snapshot(run)) == [], "a refused result changes nothing"

    finished = wait_for_run(run)
    assert_finished_as_without_fault(finished, {"result": "hi-done"})
    after_finish = snapshot(run)
    assert services.record_attempt_success(stale, "stale output", {}) is False
    assert changes(after_finish, snapshot(run)) == []
    (attempt,) = NodeAttempt.objects.filter(run=run, node_run__node_id="slow")
    assert attempt.status == "succeeded" and attempt.claims == 2 and attempt.output == "hi-done"
    assert [kind for kind, _ in events(run, "slow")] == [
        "node.queued",
        "node.started",
        "node.queued",
        "node.started",
        "node.succeeded",
    ]
