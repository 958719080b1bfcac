"""Retention: finished runs older than RUN_RETENTION_DAYS go, with every row hanging off them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from executions.engine.states import TERMINAL_RUN
from executions.models import Run

from .models import SweepRecord

BATCH_SIZE = 500


@dataclass(frozen=True)
class PruneResult:
    runs: int
    rows: int
    sweep_records: int


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


def prunable_runs(before: datetime) -> QuerySet[Run]:
    """Finished runs that finished before ``before`` (a finished run without finished_at counts
    from its creation). Active, waiting and paused runs are never prunable."""
    return Run.objects.filter(status__in=[status.value for status in TERMINAL_RUN]).filter(
        Q(finished_at__lt=before) | Q(finished_at__isnull=True, created_at__lt=before)
    )


def prune(before: datetime, batch_size: int = BATCH_SIZE) -> PruneResult:
    runs = rows = 0
    while True:
        batch = list(prunable_runs(before).order_by("created_at").values_list("pk", flat=True)[:batch_size])
        if not batch:
            break
        with transaction.atomic():
            # Re-filtered inside the transaction: a run retried meanwhile is live again and stays.
            total, by_model = prunable_runs(before).filter(pk__in=batch).delete()
        runs += by_model.get(Run._meta.label, 0)
        rows += total
        if len(batch) < batch_size:
            break
    sweep_records, _ = SweepRecord.objects.filter(at__lt=before).delete()
    return PruneResult(runs=runs, rows=rows, sweep_records=sweep_records)
