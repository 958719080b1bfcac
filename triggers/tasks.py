"""Celery tasks of triggers; like every task here, safe to run twice or in two processes at once."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="flowdeck.tick_schedules", queue="flowdeck.control")
def tick_schedules() -> int:
    """Sent by celery beat (and, in the embedded mode, called by the sweep thread)."""
    return services.tick_schedules()
