"""Keeps what each sweep found (DESIGN §4 "The sweep"), for the operations figures."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from .models import SweepRecord

logger = logging.getLogger(__name__)

LAST_SWEEP_KEY = "flowdeck:ops:last-sweep"


def record(counts: dict[str, int], duration_ms: int = 0, at: datetime | None = None) -> SweepRecord | None:
    """Remember a sweep: always its time, and a row when it found anything."""
    moment = at or timezone.now()
    cache.set(LAST_SWEEP_KEY, moment.timestamp(), timeout=None)
    found = {key: int(value) for key, value in counts.items() if value}
    if not found:
        return None
    return SweepRecord.objects.create(at=moment, found=found, duration_ms=duration_ms)


def last_sweep_at() -> datetime | None:
    stamp = cache.get(LAST_SWEEP_KEY)
    if stamp is None:
        return SweepRecord.objects.order_by("-at").values_list("at", flat=True).first()
    return datetime.fromtimestamp(float(stamp), tz=UTC)


def _on_sweep(sender: Any, counts: dict[str, int], duration_ms: int = 0, **kwargs: Any) -> None:
    try:
        record(counts, duration_ms)
    except Exception:  # bookkeeping must never break the sweep it describes
        logger.exception("Recording the sweep's findings failed")


def connect() -> None:
    from executions.signals import sweep_finished

    sweep_finished.connect(_on_sweep, dispatch_uid="ops.sweeps.record")
