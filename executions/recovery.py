"""The sweep: finds, by reading the database, every piece of work that a lost message, a dead
worker or a restarted Redis left behind, and sets it going again (DESIGN §4 "The sweep").

Every step is safe to run in several processes at once: each acts through a transaction that
locks the run row and re-checks the condition it acts on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef

from agents.external import expire_leases as expire_agent_task_leases

from . import outbox, services
from .engine.states import AttemptStatus, RunStatus, check_attempt_transition
from .handlers import subworkflow
from .models import NodeAttempt, Run, Timer

logger = logging.getLogger(__name__)

#: Claims of one attempt after which a lost worker fails the attempt instead of offering it again
#: (a message that kills every worker that takes it must not take the fleet down forever).
MAX_CLAIMS = 3
BATCH = 500


def sweep() -> dict[str, int]:
    now = services.db_now()
    counts = {
        "expired_leases": _expired_leases(now),
        "due_timers": _due_timers(now),
        "resent_attempts": _stale_queued_attempts(now),
        "stalled_runs": _stalled_runs(now),
        "outbox": outbox.deliver_due(now),
        "agent_task_leases": expire_agent_task_leases(now),
        "subworkflows": subworkflow.sweep(now),
    }
    if any(counts.values()):
        logger.info("Sweep: %s", counts)
    return counts


def _expired_leases(now: datetime) -> int:
    expired = list(
        NodeAttempt.objects.filter(status=AttemptStatus.RUNNING, lease_expires_at__lt=now).values_list(
            "pk", flat=True
        )[:BATCH]
    )
    return sum(1 for attempt_id in expired if handle_expired_lease(attempt_id))


def handle_expired_lease(attempt_id: int) -> bool:
    """The worker holding the attempt is presumed lost: offer the same attempt again, or fail it
    with `redelivery_limit` once it has been claimed MAX_CLAIMS times."""
    run_id = NodeAttempt.objects.filter(pk=attempt_id).values_list("run_id", flat=True).first()
    if run_id is None:
        return False
    with services.locked_run(run_id) as session:
        attempt = NodeAttempt.objects.select_related("node_run").get(pk=attempt_id)
        if attempt.status != AttemptStatus.RUNNING or attempt.lease_expires_at is None:
            session.discard()
            return False
        if attempt.lease_expires_at >= session.now:
            session.discard()
            return False
        key = (attempt.node_run.node_id, attempt.node_run.scope)
        if attempt.claims >= MAX_CLAIMS:
            error = {
                "code": "redelivery_limit",
                "message": f"The worker was lost {attempt.claims} times while executing this attempt.",
                "retryable": False,
            }
            check_attempt_transition(AttemptStatus.RUNNING, AttemptStatus.FAILED)
            attempt.status = AttemptStatus.FAILED
            attempt.error = error
            attempt.finished_at = session.now
            attempt.save(update_fields=["status", "error", "finished_at"])
            session.scheduler.record_failure(key, attempt.number, error)
            session.more_work = session.scheduler.advance()
            return True
        check_attempt_transition(AttemptStatus.RUNNING, AttemptStatus.QUEUED)
        attempt.status = AttemptStatus.QUEUED
        attempt.lease_expires_at = None
        attempt.last_sent_at = session.now
        attempt.error = {
            "code": "worker_lost",
            "message": "The lease expired; offered again.",
            "retryable": True,
        }
        attempt.save(update_fields=["status", "lease_expires_at", "last_sent_at", "error"])
        session.scheduler.record_requeued(key, attempt.number, "worker_lost")
        session.after_commit(lambda: services.send_attempt(attempt_id))
        return True


def _due_timers(now: datetime) -> int:
    due = list(Timer.objects.filter(due_at__lte=now).values_list("pk", flat=True)[:BATCH])
    for timer_id in due:
        services.fire_timer(timer_id)
    return len(due)


def _stale_queued_attempts(now: datetime) -> int:
    """Queued attempts nobody claimed: their message was lost (a Redis restart, a FLUSHALL)."""
    cutoff = now - timedelta(seconds=settings.ENGINE_STALE_AFTER_S)
    stale = list(
        NodeAttempt.objects.filter(status=AttemptStatus.QUEUED, last_sent_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:BATCH]
    )
    resent = 0
    for attempt_id in stale:
        # Compare-and-set on last_sent_at, so two sweeps do not both re-send.
        if NodeAttempt.objects.filter(
            pk=attempt_id, status=AttemptStatus.QUEUED, last_sent_at__lt=cutoff
        ).update(last_sent_at=now):
            services.send_attempt(attempt_id)
            resent += 1
    return resent


def _stalled_runs(now: datetime) -> int:
    """Runs with ready work but nothing queued or running for a while: their advance was lost."""
    cutoff = now - timedelta(seconds=settings.ENGINE_STALE_AFTER_S)
    busy = NodeAttempt.objects.filter(
        run=OuterRef("pk"), status__in=[AttemptStatus.QUEUED, AttemptStatus.RUNNING]
    )
    stalled: list[Any] = list(
        Run.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING], updated_at__lt=cutoff)
        .exclude(Exists(busy))
        .values_list("pk", flat=True)[:BATCH]
    )
    for run_id in stalled:
        services.enqueue_advance(run_id)
    return len(stalled)
