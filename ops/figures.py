"""The operations figures: one read of the system's state for staff (`GET /api/ops/`, the
operations console, `/metrics`).

Everything comes from the ledger except the broker's queue depths and the workers' pings, which
only the broker knows. Percentiles use the nearest-rank method (the smallest value with at least
p % of the values at or below it), so every figure is one of the measured durations.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from agents.models import ExternalAgent
from executions.engine.states import AttemptStatus, RunStatus
from executions.models import NodeAttempt, Run

from . import sweeps
from .models import SweepRecord

QUEUES = ("flowdeck.control", "flowdeck.nodes")
#: At most this many attempts are read per request; the window's figures cover the newest ones.
MAX_ATTEMPTS_READ = 200_000
TOP_NODES = 10
STUCK_RUNS_SHOWN = 50
RECENT_SWEEPS_SHOWN = 20
PING_TIMEOUT_S = 1.0
MAX_WINDOW_HOURS = 24 * 31
MIN_BUCKET_MINUTES = 1
MAX_BUCKETS = 500


def stuck_after_s() -> int:
    """A running run with nothing queued or running for this long is stuck: the sweep re-advances
    idle runs after ENGINE_STALE_AFTER_S, so ten times that means the re-advance is not helping."""
    return int(settings.ENGINE_STALE_AFTER_S) * 10


def percentile(sorted_values: list[int], percent: float) -> int | None:
    """Nearest rank: the value at position ceil(p/100 · n) in the ascending list (1-based)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Window:
    end: datetime
    hours: int
    bucket_minutes: int

    @property
    def start(self) -> datetime:
        return self.end - timedelta(hours=self.hours)

    @property
    def bucket(self) -> timedelta:
        return timedelta(minutes=self.bucket_minutes)

    @property
    def bucket_count(self) -> int:
        return math.ceil(self.hours * 60 / self.bucket_minutes)

    def bucket_of(self, moment: datetime) -> int | None:
        if moment < self.start or moment >= self.end:
            return None
        return min(int((moment - self.start) / self.bucket), self.bucket_count - 1)


def make_window(hours: int = 24, bucket_minutes: int = 60, now: datetime | None = None) -> Window:
    hours = min(max(int(hours), 1), MAX_WINDOW_HOURS)
    bucket_minutes = max(int(bucket_minutes), MIN_BUCKET_MINUTES)
    bucket_minutes = max(bucket_minutes, math.ceil(hours * 60 / MAX_BUCKETS))
    return Window(end=now or timezone.now(), hours=hours, bucket_minutes=bucket_minutes)


# --- Broker and workers -------------------------------------------------------------------------


def queue_depths() -> list[dict[str, Any]]:
    """Messages waiting per queue; depth None when this process cannot see the broker."""
    if settings.SERVICES_MODE:
        try:
            client = _redis()
            return [{"name": name, "depth": _redis_queue_length(client, name)} for name in QUEUES]
        except Exception as error:  # the console reports an unreachable broker instead of failing
            return [{"name": name, "depth": None, "error": str(error)[:200]} for name in QUEUES]
    from config import embedded

    if embedded.current_runtime() is None:
        return [
            {"name": name, "depth": None, "error": "no embedded worker in this process"} for name in QUEUES
        ]
    from kombu.transport.memory import Channel

    return [
        {"name": name, "depth": Channel.queues[name].qsize() if name in Channel.queues else 0}
        for name in QUEUES
    ]


def _redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _redis_queue_length(client: Any, name: str) -> int:
    """Kombu's Redis transport keeps a queue as a list, plus one list per priority step when
    messages carry a priority (`name` + "\\x06\\x16" + step)."""
    keys = [name, *(f"{name}\x06\x16{step}" for step in range(1, 10))]
    pipeline = client.pipeline()
    for key in keys:
        pipeline.llen(key)
    return int(sum(pipeline.execute()))


def workers() -> list[dict[str, Any]]:
    """Workers answering a ping now. Embedded: the worker pool inside this process."""
    if not settings.SERVICES_MODE:
        from config import embedded

        runtime = embedded.current_runtime()
        if runtime is None:
            return []
        return [
            {
                "name": "embedded",
                "alive": runtime.is_alive(),
                "concurrency": runtime.concurrency,
                "detail": "worker threads inside the server process",
            }
        ]
    from config.celery import app

    try:
        replies = app.control.ping(timeout=PING_TIMEOUT_S) or []
    except Exception as error:
        return [{"name": "?", "alive": False, "detail": f"ping failed: {str(error)[:200]}"}]
    answered: list[dict[str, Any]] = []
    for reply in replies:
        for name, answer in reply.items():
            answered.append({"name": name, "alive": answer.get("ok") == "pong", "detail": "answered a ping"})
    return sorted(answered, key=lambda worker: worker["name"])


def worker_activity(window: Window) -> list[dict[str, Any]]:
    """Each executing process (host:pid) and when it last claimed an attempt: a heartbeat read
    from the ledger, so it is the same whichever web process answers."""
    rows = (
        NodeAttempt.objects.filter(started_at__gte=window.start, started_at__lt=window.end)
        .exclude(worker="")
        .values("worker")
        .annotate(attempts=Count("pk"))
        .order_by("worker")
    )
    latest = {
        name: NodeAttempt.objects.filter(worker=name)
        .order_by("-started_at")
        .values_list("started_at", flat=True)[0]
        for name in [row["worker"] for row in rows][:50]
    }
    return [
        {
            "worker": row["worker"],
            "attempts": row["attempts"],
            "last_claim_at": _iso(latest.get(row["worker"])),
        }
        for row in rows[:50]
    ]


def external_agents() -> dict[str, Any]:
    alive_since = timezone.now() - timedelta(seconds=settings.EXTERNAL_AGENT_ALIVE_S)
    agents = []
    counts = {"alive": 0, "silent": 0, "revoked": 0}
    for agent in ExternalAgent.objects.order_by("name", "created_at")[:200]:
        if agent.revoked_at is not None:
            state = "revoked"
        elif agent.last_heartbeat_at is not None and agent.last_heartbeat_at >= alive_since:
            state = "alive"
        else:
            state = "silent"
        counts[state] += 1
        agents.append(
            {
                "id": str(agent.pk),
                "name": agent.name,
                "capabilities": agent.capabilities,
                "state": state,
                "last_heartbeat_at": _iso(agent.last_heartbeat_at),
            }
        )
    return {"counts": counts, "agents": agents}


# --- Runs ------------------------------------------------------------------------------------


def run_counts(window: Window) -> dict[str, Any]:
    now_by_status = dict(Run.objects.values_list("status").annotate(count=Count("pk")).order_by())
    finished = dict(
        Run.objects.filter(finished_at__gte=window.start, finished_at__lt=window.end)
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    succeeded = finished.get(RunStatus.SUCCEEDED, 0)
    failed = finished.get(RunStatus.FAILED, 0)
    cancelled = finished.get(RunStatus.CANCELLED, 0)
    total = succeeded + failed + cancelled
    return {
        "active": now_by_status.get(RunStatus.PENDING, 0) + now_by_status.get(RunStatus.RUNNING, 0),
        "pending": now_by_status.get(RunStatus.PENDING, 0),
        "running": now_by_status.get(RunStatus.RUNNING, 0),
        "waiting": now_by_status.get(RunStatus.WAITING, 0),
        "paused": now_by_status.get(RunStatus.PAUSED, 0),
        "finished_in_window": {"succeeded": succeeded, "failed": failed, "cancelled": cancelled},
        "failure_rate": (failed / total) if total else None,
    }


def stuck_runs(now: datetime) -> dict[str, Any]:
    cutoff = now - timedelta(seconds=stuck_after_s())
    busy = NodeAttempt.objects.filter(
        run=OuterRef("pk"), status__in=[AttemptStatus.QUEUED, AttemptStatus.RUNNING]
    )
    queryset = (
        Run.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING], updated_at__lt=cutoff)
        .exclude(Exists(busy))
        .select_related("workflow")
        .order_by("updated_at")
    )
    return {
        "after_s": stuck_after_s(),
        "count": queryset.count(),
        "runs": [
            {
                "id": str(run.pk),
                "workflow": run.workflow.name,
                "workflow_id": run.workflow_id,
                "status": run.status,
                "idle_since": _iso(run.updated_at),
            }
            for run in queryset[:STUCK_RUNS_SHOWN]
        ],
    }


# --- Nodes -----------------------------------------------------------------------------------


@dataclass
class _NodeTally:
    workflow_id: int
    workflow: str
    node_id: str
    node_type: str
    durations: list[int]
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    attempts: int = 0
    failed: int = 0


def _attempt_rows(window: Window) -> list[dict[str, Any]]:
    rows: Any = (
        NodeAttempt.objects.filter(
            finished_at__gte=window.start,
            finished_at__lt=window.end,
            status__in=[AttemptStatus.SUCCEEDED, AttemptStatus.FAILED],
        )
        .order_by("-finished_at")
        .values(
            "status",
            "started_at",
            "finished_at",
            "usage",
            "cost_usd",
            "node_run__node_id",
            "node_run__node_type",
            "run__workflow_id",
            "run__workflow__name",
        )[:MAX_ATTEMPTS_READ]
    )
    return list(rows)


def duration_ms(started: datetime | None, finished: datetime | None) -> int | None:
    if started is None or finished is None:
        return None
    return max(0, round((finished - started).total_seconds() * 1000))


def node_figures(window: Window) -> dict[str, Any]:
    rows = _attempt_rows(window)
    tallies: dict[tuple[int, str], _NodeTally] = {}
    buckets: list[list[int]] = [[] for _ in range(window.bucket_count)]
    bucket_failed = [0] * window.bucket_count
    all_durations: list[int] = []
    for row in rows:
        key = (row["run__workflow_id"], row["node_run__node_id"])
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = _NodeTally(
                workflow_id=row["run__workflow_id"],
                workflow=row["run__workflow__name"],
                node_id=row["node_run__node_id"],
                node_type=row["node_run__node_type"],
                durations=[],
            )
        tally.attempts += 1
        usage = row["usage"] if isinstance(row["usage"], dict) else {}
        tally.input_tokens += int(usage.get("input_tokens") or 0)
        tally.output_tokens += int(usage.get("output_tokens") or 0)
        tally.cost += row["cost_usd"] or Decimal(0)
        index = window.bucket_of(row["finished_at"])
        if row["status"] == AttemptStatus.FAILED:
            tally.failed += 1
            if index is not None:
                bucket_failed[index] += 1
        elapsed = duration_ms(row["started_at"], row["finished_at"])
        if elapsed is None:
            continue
        tally.durations.append(elapsed)
        all_durations.append(elapsed)
        if index is not None:
            buckets[index].append(elapsed)
    for tally in tallies.values():
        tally.durations.sort()
    all_durations.sort()

    def describe(tally: _NodeTally) -> dict[str, Any]:
        durations = tally.durations
        return {
            "workflow_id": tally.workflow_id,
            "workflow": tally.workflow,
            "node_id": tally.node_id,
            "node_type": tally.node_type,
            "attempts": tally.attempts,
            "failed": tally.failed,
            "p50_ms": percentile(durations, 50),
            "p95_ms": percentile(durations, 95),
            "max_ms": durations[-1] if durations else None,
            "mean_ms": round(sum(durations) / len(durations)) if durations else None,
            "input_tokens": tally.input_tokens,
            "output_tokens": tally.output_tokens,
            "tokens": tally.input_tokens + tally.output_tokens,
            "cost_usd": str(tally.cost.quantize(Decimal("0.000001"))),
        }

    timed = [tally for tally in tallies.values() if tally.durations]
    slowest = sorted(timed, key=lambda t: (-(percentile(t.durations, 95) or 0), t.workflow, t.node_id))
    costly = [tally for tally in tallies.values() if tally.cost or tally.input_tokens or tally.output_tokens]
    costliest = sorted(
        costly, key=lambda t: (-t.cost, -(t.input_tokens + t.output_tokens), t.workflow, t.node_id)
    )
    sorted_buckets = [sorted(values) for values in buckets]
    return {
        "attempts": len(rows),
        #: True when the window held more attempts than one request reads (the newest were used).
        "truncated": len(rows) >= MAX_ATTEMPTS_READ,
        "latency": {"p50_ms": percentile(all_durations, 50), "p95_ms": percentile(all_durations, 95)},
        "tokens": sum(t.input_tokens + t.output_tokens for t in tallies.values()),
        "cost_usd": str(sum((t.cost for t in tallies.values()), Decimal(0)).quantize(Decimal("0.000001"))),
        "slowest": [describe(tally) for tally in slowest[:TOP_NODES]],
        "costliest": [describe(tally) for tally in costliest[:TOP_NODES]],
        "_buckets": [
            {
                "attempts": len(values),
                "failed_attempts": bucket_failed[index],
                "latency_p50_ms": percentile(values, 50),
                "latency_p95_ms": percentile(values, 95),
            }
            for index, values in enumerate(sorted_buckets)
        ],
    }


def run_series(window: Window, node_buckets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per time bucket: runs finished and failed (and the rate), attempts and their latency."""
    finished = [0] * window.bucket_count
    failed = [0] * window.bucket_count
    rows = Run.objects.filter(
        finished_at__gte=window.start,
        finished_at__lt=window.end,
        status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED],
    ).values_list("finished_at", "status")
    for finished_at, status in rows.iterator():
        index = window.bucket_of(finished_at) if finished_at is not None else None
        if index is None:
            continue
        finished[index] += 1
        if status == RunStatus.FAILED:
            failed[index] += 1
    return [
        {
            "start": _iso(window.start + window.bucket * index),
            "runs_finished": finished[index],
            "runs_failed": failed[index],
            "failure_rate": (failed[index] / finished[index]) if finished[index] else None,
            **node_buckets[index],
        }
        for index in range(window.bucket_count)
    ]


# --- The sweep -------------------------------------------------------------------------------


def sweep_figures(window: Window) -> dict[str, Any]:
    totals: dict[str, int] = defaultdict(int)
    records = SweepRecord.objects.filter(at__gte=window.start, at__lt=window.end)
    for found in records.values_list("found", flat=True).iterator():
        for key, value in (found or {}).items():
            totals[key] += int(value)
    recent = [
        {"at": _iso(record.at), "found": record.found, "duration_ms": record.duration_ms}
        for record in records.order_by("-at")[:RECENT_SWEEPS_SHOWN]
    ]
    return {
        "last_sweep_at": _iso(sweeps.last_sweep_at()),
        "interval_s": settings.SWEEP_INTERVAL_S,
        "sweeps_that_found_work": records.count(),
        "found": dict(sorted(totals.items())),
        "recent": recent,
    }


# --- Everything ------------------------------------------------------------------------------


def collect(window: Window, *, include_broker: bool = True) -> dict[str, Any]:
    nodes = node_figures(window)
    node_buckets = nodes.pop("_buckets")
    return {
        "generated_at": _iso(window.end),
        "mode": settings.RUN_MODE,
        "window": {
            "start": _iso(window.start),
            "end": _iso(window.end),
            "hours": window.hours,
            "bucket_minutes": window.bucket_minutes,
        },
        "queues": queue_depths() if include_broker else [],
        "workers": workers() if include_broker else [],
        "worker_activity": worker_activity(window),
        "external_agents": external_agents(),
        "runs": run_counts(window),
        "stuck_runs": stuck_runs(window.end),
        "nodes": nodes,
        "series": run_series(window, node_buckets),
        "sweep": sweep_figures(window),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
