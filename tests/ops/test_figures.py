"""The operations figures against a seeded ledger: every figure is known in advance."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from agents.models import ExternalAgent
from executions.models import NodeAttempt, NodeRun, Run
from ops import figures, sweeps
from ops.models import SweepRecord
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db


def make_run(
    workflow: Any, status: str, finished_at: datetime | None = None, idle_since: datetime | None = None
) -> Run:
    run = Run.objects.create(workflow=workflow, status=status, finished_at=finished_at)
    if idle_since is not None:
        Run.objects.filter(pk=run.pk).update(updated_at=idle_since)
    return run


def make_attempt(
    run: Run,
    node_id: str,
    node_type: str,
    *,
    finished_at: datetime | None,
    duration_ms: int = 0,
    status: str = "succeeded",
    usage: dict[str, int] | None = None,
    cost: str | None = None,
    worker: str = "",
) -> NodeAttempt:
    node_run, _ = NodeRun.objects.get_or_create(
        run=run, node_id=node_id, scope="", defaults={"node_type": node_type}
    )
    number = node_run.attempts.count() + 1
    started_at = finished_at - timedelta(milliseconds=duration_ms) if finished_at else None
    return NodeAttempt.objects.create(
        node_run=node_run,
        run=run,
        number=number,
        status=status,
        started_at=started_at,
        finished_at=finished_at,
        usage=usage,
        cost_usd=Decimal(cost) if cost is not None else None,
        worker=worker,
    )


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def quiet_sweeps() -> Iterator[None]:
    """A worker runtime left running by earlier tests sweeps every second; it must not record
    its sweeps over the seeded ones while a test reads them."""
    from executions.signals import sweep_finished

    sweep_finished.disconnect(dispatch_uid="ops.sweeps.record")
    try:
        yield
    finally:
        sweeps.connect()


@pytest.fixture
def seeded(now: datetime, quiet_sweeps: None) -> dict[str, Any]:
    cache.clear()
    user_model = get_user_model()
    owner = user_model.objects.create_user("ops-owner", "o@example.com", "pw")
    alpha = workflow_services.create_workflow(owner=owner, name="Alpha")
    beta = workflow_services.create_workflow(owner=owner, name="Beta")
    minutes = lambda count: now - timedelta(minutes=count)  # noqa: E731
    long_ago = now - timedelta(hours=30)
    # Finished in the window: two in the last hour (one failed), two 2.5 hours ago (one cancelled).
    recent_ok = make_run(alpha, "succeeded", minutes(30))
    recent_failed = make_run(alpha, "failed", minutes(30))
    earlier_ok = make_run(beta, "succeeded", minutes(150))
    make_run(beta, "cancelled", minutes(150))
    old = make_run(alpha, "succeeded", long_ago)
    # Live runs: one stuck (running, idle for an hour, nothing in flight), one busy, others.
    stuck = make_run(alpha, "running", idle_since=minutes(60))
    busy = make_run(beta, "running", idle_since=minutes(60))
    make_attempt(busy, "fetch", "http", finished_at=None, status="queued")
    make_run(alpha, "waiting")
    make_run(alpha, "paused")
    make_run(beta, "pending")
    # Attempts: classify 100/200/300/400 ms half an hour ago; draft 1000 ms failed and fetch
    # 50 ms 2.5 hours ago; one 9999 ms attempt outside the window.
    for duration in (100, 200, 300, 400):
        make_attempt(
            recent_ok,
            "classify",
            "prompt",
            finished_at=minutes(30),
            duration_ms=duration,
            usage={"input_tokens": 10, "output_tokens": 5},
            cost="0.001",
            worker="host-a:11",
        )
    make_attempt(
        recent_failed,
        "draft",
        "prompt",
        finished_at=minutes(150),
        duration_ms=1000,
        status="failed",
        usage={"input_tokens": 20, "output_tokens": 30},
        cost="0.01",
        worker="host-b:22",
    )
    make_attempt(earlier_ok, "fetch", "http", finished_at=minutes(150), duration_ms=50, worker="host-a:11")
    make_attempt(
        old, "classify", "prompt", finished_at=long_ago, duration_ms=9999, cost="5", worker="host-z:1"
    )
    # The sweep: two findings in the window, one long before.
    sweeps.record({"expired_leases": 2, "resent_attempts": 1, "due_timers": 0}, 12, at=minutes(10))
    sweeps.record({"resent_attempts": 3}, 8, at=minutes(20))
    sweeps.record({"expired_leases": 100}, 5, at=long_ago)
    sweeps.record({"expired_leases": 0}, 1, at=minutes(1))  # an idle sweep: no row, but the time
    # External agents: alive, silent, revoked.
    ExternalAgent.register(name="alive-agent", capabilities=["summarise"], registered_by=owner)
    silent, _ = ExternalAgent.register(name="silent-agent", capabilities=[], registered_by=owner)
    ExternalAgent.objects.filter(pk=silent.pk).update(last_heartbeat_at=now - timedelta(days=1))
    revoked, _ = ExternalAgent.register(name="revoked-agent", capabilities=[], registered_by=owner)
    ExternalAgent.objects.filter(pk=revoked.pk).update(revoked_at=now)
    return {"alpha": alpha, "beta": beta, "stuck": stuck, "owner": owner}


def test_run_counts_and_failure_rate(seeded: dict[str, Any], now: datetime) -> None:
    data = figures.collect(figures.make_window(4, 60, now=now), include_broker=False)
    assert data["runs"] == {
        "active": 3,
        "pending": 1,
        "running": 2,
        "waiting": 1,
        "paused": 1,
        "finished_in_window": {"succeeded": 2, "failed": 1, "cancelled": 1},
        "failure_rate": 0.25,
    }


def test_series_buckets_runs_and_latency(seeded: dict[str, Any], now: datetime) -> None:
    window = figures.make_window(4, 60, now=now)
    series = figures.collect(window, include_broker=False)["series"]
    assert [point["start"] for point in series] == [
        (now - timedelta(hours=hours)).isoformat() for hours in (4, 3, 2, 1)
    ]
    empty = {
        "runs_finished": 0,
        "runs_failed": 0,
        "failure_rate": None,
        "attempts": 0,
        "failed_attempts": 0,
        "latency_p50_ms": None,
        "latency_p95_ms": None,
    }
    assert [{key: value for key, value in point.items() if key != "start"} for point in series] == [
        empty,
        {
            "runs_finished": 2,
            "runs_failed": 0,
            "failure_rate": 0.0,
            "attempts": 2,
            "failed_attempts": 1,
            "latency_p50_ms": 50,
            "latency_p95_ms": 1000,
        },
        empty,
        {
            "runs_finished": 2,
            "runs_failed": 1,
            "failure_rate": 0.5,
            "attempts": 4,
            "failed_attempts": 0,
            "latency_p50_ms": 200,
            "latency_p95_ms": 400,
        },
    ]


def test_node_latency_slowest_and_costliest(seeded: dict[str, Any], now: datetime) -> None:
    nodes = figures.collect(figures.make_window(4, 60, now=now), include_broker=False)["nodes"]
    assert nodes["attempts"] == 6
    assert nodes["truncated"] is False
    assert nodes["latency"] == {"p50_ms": 200, "p95_ms": 1000}
    assert nodes["tokens"] == 110
    assert nodes["cost_usd"] == "0.014000"
    alpha, beta = seeded["alpha"].pk, seeded["beta"].pk
    draft = {
        "workflow_id": alpha,
        "workflow": "Alpha",
        "node_id": "draft",
        "node_type": "prompt",
        "attempts": 1,
        "failed": 1,
        "p50_ms": 1000,
        "p95_ms": 1000,
        "max_ms": 1000,
        "mean_ms": 1000,
        "input_tokens": 20,
        "output_tokens": 30,
        "tokens": 50,
        "cost_usd": "0.010000",
    }
    classify = {
        "workflow_id": alpha,
        "workflow": "Alpha",
        "node_id": "classify",
        "node_type": "prompt",
        "attempts": 4,
        "failed": 0,
        "p50_ms": 200,
        "p95_ms": 400,
        "max_ms": 400,
        "mean_ms": 250,
        "input_tokens": 40,
        "output_tokens": 20,
        "tokens": 60,
        "cost_usd": "0.004000",
    }
    fetch = {
        "workflow_id": beta,
        "workflow": "Beta",
        "node_id": "fetch",
        "node_type": "http",
        "attempts": 1,
        "failed": 0,
        "p50_ms": 50,
        "p95_ms": 50,
        "max_ms": 50,
        "mean_ms": 50,
        "input_tokens": 0,
        "output_tokens": 0,
        "tokens": 0,
        "cost_usd": "0.000000",
    }
    assert nodes["slowest"] == [draft, classify, fetch]
    assert nodes["costliest"] == [draft, classify]


def test_sweep_stuck_runs_agents_and_worker_activity(seeded: dict[str, Any], now: datetime) -> None:
    data = figures.collect(figures.make_window(4, 60, now=now), include_broker=False)
    assert data["sweep"]["found"] == {"expired_leases": 2, "resent_attempts": 4}
    assert data["sweep"]["sweeps_that_found_work"] == 2
    assert [record["found"] for record in data["sweep"]["recent"]] == [
        {"expired_leases": 2, "resent_attempts": 1},
        {"resent_attempts": 3},
    ]
    assert data["sweep"]["last_sweep_at"] == (now - timedelta(minutes=1)).isoformat()
    assert SweepRecord.objects.count() == 3  # the idle sweep wrote no row
    assert data["stuck_runs"]["count"] == 1
    assert data["stuck_runs"]["after_s"] == 300
    assert [run["id"] for run in data["stuck_runs"]["runs"]] == [str(seeded["stuck"].pk)]
    assert data["external_agents"]["counts"] == {"alive": 1, "silent": 1, "revoked": 1}
    assert {agent["name"]: agent["state"] for agent in data["external_agents"]["agents"]} == {
        "alive-agent": "alive",
        "silent-agent": "silent",
        "revoked-agent": "revoked",
    }
    assert [(row["worker"], row["attempts"]) for row in data["worker_activity"]] == [
        ("host-a:11", 5),
        ("host-b:22", 1),
    ]


def test_a_window_with_more_attempts_than_one_read_says_so(
    seeded: dict[str, Any], now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(figures, "MAX_ATTEMPTS_READ", 4)
    nodes = figures.collect(figures.make_window(4, 60, now=now), include_broker=False)["nodes"]
    assert (nodes["attempts"], nodes["truncated"]) == (4, True)


def test_percentile_is_nearest_rank() -> None:
    assert figures.percentile([], 50) is None
    assert figures.percentile([7], 95) == 7
    assert figures.percentile([1, 2, 3, 4], 50) == 2
    assert figures.percentile(list(range(1, 101)), 95) == 95
    assert figures.percentile(list(range(1, 101)), 100) == 100


def test_api_is_for_staff_only(seeded: dict[str, Any]) -> None:
    user_model = get_user_model()
    member = user_model.objects.create_user("member", "m@example.com", "pw")
    staff = user_model.objects.create_user("staffer", "s@example.com", "pw", is_staff=True)
    client = Client()
    assert client.get("/api/ops/").status_code == 401
    client.force_login(member)
    refused = client.get("/api/ops/")
    assert refused.status_code == 403
    assert "runs" not in refused.json()
    client.force_login(staff)
    answer = client.get("/api/ops/", {"hours": 4, "bucket_minutes": 60})
    assert answer.status_code == 200
    body = answer.json()
    assert body["runs"]["finished_in_window"] == {"succeeded": 2, "failed": 1, "cancelled": 1}
    assert body["nodes"]["latency"] == {"p50_ms": 200, "p95_ms": 1000}
    assert len(body["series"]) == 4
    assert {queue["name"] for queue in body["queues"]} == {"flowdeck.control", "flowdeck.nodes"}
    assert client.get("/api/ops/", {"hours": 0}).status_code == 400


def test_metrics_expose_the_figures(seeded: dict[str, Any]) -> None:
    text = Client().get("/metrics").content.decode()
    for line in [
        'flowdeck_runs{status="running"} 2.0',
        'flowdeck_runs{status="waiting"} 1.0',
        'flowdeck_runs{status="paused"} 1.0',
        'flowdeck_runs_finished{outcome="failed"} 1.0',
        "flowdeck_run_failure_ratio 0.25",
        "flowdeck_stuck_runs 1.0",
        'flowdeck_node_latency_ms{quantile="0.5"} 200.0',
        'flowdeck_node_latency_ms{quantile="0.95"} 1000.0',
        "flowdeck_node_attempts 6.0",
        "flowdeck_llm_tokens 110.0",
        "flowdeck_llm_cost_usd 0.014",
        'flowdeck_slowest_node_p95_ms{node="draft",workflow="Alpha"} 1000.0',
        'flowdeck_costliest_node_cost_usd{node="classify",workflow="Alpha"} 0.004',
        'flowdeck_sweep_found{kind="expired_leases"} 2.0',
        'flowdeck_sweep_found{kind="resent_attempts"} 4.0',
        'flowdeck_external_agents{state="alive"} 1.0',
        'flowdeck_external_agents{state="revoked"} 1.0',
    ]:
        assert line in text, line
    assert "flowdeck_sweep_last_timestamp_seconds" in text


def test_embedded_queue_depth_reads_the_in_memory_broker(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from kombu.transport.memory import Channel

    from config import embedded

    settings.SERVICES_MODE = False
    waiting: queue.Queue[str] = queue.Queue()
    for message in ("a", "b", "c"):
        waiting.put(message)
    monkeypatch.setattr(embedded, "current_runtime", lambda: object())
    monkeypatch.setitem(Channel.queues, "flowdeck.nodes", waiting)
    monkeypatch.delitem(Channel.queues, "flowdeck.control", raising=False)
    assert figures.queue_depths() == [
        {"name": "flowdeck.control", "depth": 0},
        {"name": "flowdeck.nodes", "depth": 3},
    ]
    monkeypatch.setattr(embedded, "current_runtime", lambda: None)
    assert [queue["depth"] for queue in figures.queue_depths()] == [None, None]


@pytest.mark.services
def test_services_queue_depth_counts_every_priority_list(settings: Any) -> None:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    name = "flowdeck.test-depth"
    client.delete(name, f"{name}\x06\x163")
    client.rpush(name, "1", "2", "3")
    client.rpush(f"{name}\x06\x163", "4", "5")
    try:
        assert figures._redis_queue_length(client, name) == 5
    finally:
        client.delete(name, f"{name}\x06\x163")


def test_the_admin_index_links_the_console(seeded: dict[str, Any]) -> None:
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/").content.decode()
    assert '<a href="/ops">Operations console</a>' in page


@pytest.mark.django_db(transaction=True)
def test_workers_answering_a_ping_are_listed(worker: Any) -> None:
    found = figures.workers()
    assert found, "no worker listed"
    assert all(entry["alive"] for entry in found)
    if django_settings.SERVICES_MODE:
        assert any(entry["name"].startswith("test-") for entry in found)
    else:
        assert [entry["name"] for entry in found] == ["embedded"]
