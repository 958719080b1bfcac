"""A private cluster per fault test: its own Redis, and real `celery worker` / `celery beat`
processes on the pytest-django test database, with recovery thresholds shortened to seconds.

Runs are started in this process with the real ``services.create_run`` (and advanced or claimed
with the real services where a test needs that). Every message this process would send after
commit — ``advance_run``, ``execute_attempt``, ``fire_timer`` — is published on the test's private
Redis instead of the session's: the workers of a fault test see every message, and nothing of a
fault test ever reaches the session broker (or the session's shared worker).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import BeatProcess, CeleryWorkerProcess, ManagedProcess, send_task
from tests.support.services import PrivateRedis, start_private_redis

#: Lease = the node's timeout_s (or ENGINE_DEFAULT_LEASE_S) + this grace.
LEASE_GRACE_S = 1
#: Queued attempts unclaimed and runs idle this long are re-sent / re-advanced by the sweep.
STALE_AFTER_S = 1
SWEEP_INTERVAL_S = 0.5
NODES_QUEUE = "flowdeck.nodes"
CONTROL_QUEUE = "flowdeck.control"


@dataclass
class Cluster:
    redis: PrivateRedis
    environment: dict[str, str]
    processes: list[ManagedProcess] = field(default_factory=list)

    def launch_worker(self, concurrency: int = 1, queues: Sequence[str] | None = None) -> CeleryWorkerProcess:
        worker = CeleryWorkerProcess.launch(concurrency, queues=queues, **self.environment)
        self.processes.append(worker)
        return worker

    def worker(self, concurrency: int = 1, queues: Sequence[str] | None = None) -> CeleryWorkerProcess:
        return self.launch_worker(concurrency, queues).wait_ready()

    def beat(self) -> BeatProcess:
        beat = BeatProcess.launch(**self.environment)
        self.processes.append(beat)
        return beat

    def send(
        self, name: str, args: Sequence[Any], queue: str | None = None, countdown: float | None = None
    ) -> None:
        send_task(self.redis.url, name, args, queue=queue, countdown=countdown)

    def queue_length(self, queue: str) -> int:
        import redis

        client = redis.Redis.from_url(self.redis.url, socket_timeout=5)
        try:
            return int(client.llen(queue))
        finally:
            client.close()

    def unacked(self) -> int:
        import redis

        client = redis.Redis.from_url(self.redis.url, socket_timeout=5)
        try:
            return int(client.hlen("unacked"))
        finally:
            client.close()

    def shut_down(self, keep_logs: bool) -> None:
        """SIGKILL every process still running (they hold nothing the test needs any more).
        The logs of a failed test are kept, and named in its captured output."""
        for process in self.processes:
            with contextlib.suppress(Exception):
                process.kill()
            if keep_logs:
                print(f"{type(process).__name__} {process.pid} logged to {process.log_path}")
            else:
                process.log_path.unlink(missing_ok=True)
        self.processes.clear()


CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether the test body failed, for the cluster fixture's teardown."""
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture
def cluster(
    transactional_db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Cluster]:
    from executions import services

    redis = start_private_redis(tmp_path / "redis")
    url = redis.url
    monkeypatch.setattr(
        services, "enqueue_advance", lambda run_id: send_task(url, "flowdeck.advance_run", [str(run_id)])
    )
    monkeypatch.setattr(
        services, "send_attempt", lambda attempt_id: send_task(url, "flowdeck.execute_attempt", [attempt_id])
    )
    monkeypatch.setattr(
        services,
        "send_timer",
        lambda timer_id, countdown_s: send_task(
            url, "flowdeck.fire_timer", [timer_id], countdown=countdown_s
        ),
    )
    found = Cluster(
        redis,
        {
            "REDIS_URL": url,
            "ENGINE_LEASE_GRACE_S": str(LEASE_GRACE_S),
            "ENGINE_STALE_AFTER_S": str(STALE_AFTER_S),
            "SWEEP_INTERVAL_S": str(SWEEP_INTERVAL_S),
        },
    )
    try:
        yield found
    finally:
        try:
            found.shut_down(keep_logs=request.node.stash.get(CALL_FAILED, True))
        finally:
            redis.stop()


@pytest.fixture
def owner(transactional_db: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("fault-owner", "fault-owner@example.com", "pw-owner")
