"""Outside effects recorded with the transaction that caused them and delivered after commit.

A message is written in the same transaction as the change it reports (so it exists exactly when
the change does); delivery happens after commit and, on failure, again from the sweep with
back-off. Delivery is at-least-once; handlers must tolerate a repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import OutboxMessage

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 3600
BATCH = 200

_handlers: dict[str, Callable[[dict[str, Any]], None]] = {}


def register(kind: str, handler: Callable[[dict[str, Any]], None]) -> None:
    _handlers[kind] = handler


def enqueue(kind: str, payload: dict[str, Any]) -> OutboxMessage:
    """Record a message in the current transaction; it is delivered once that commits."""
    message = OutboxMessage.objects.create(kind=kind, payload=payload, next_attempt_at=timezone.now())
    message_id = message.pk
    transaction.on_commit(lambda: deliver(message_id))
    return message


#: How long one delivery may take before another process may try the same message.
CLAIM_S = 60


def deliver(message_id: int) -> bool:
    now = timezone.now()
    # Claim the message by pushing its next attempt out, so concurrent sweeps do not both send it.
    claimed = OutboxMessage.objects.filter(
        pk=message_id, sent_at__isnull=True, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=CLAIM_S))
    message = OutboxMessage.objects.filter(pk=message_id).first() if claimed else None
    if message is None:
        return False
    handler = _handlers.get(message.kind)
    try:
        if handler is None:
            raise LookupError(f"no outbox handler for {message.kind!r}")
        handler(message.payload)
    except Exception as error:  # any failure is retried later; the error is kept for operators
        delay = min(MAX_BACKOFF_S, 5 * 2**message.attempts)
        OutboxMessage.objects.filter(pk=message_id).update(
            attempts=F("attempts") + 1,
            last_error=f"{type(error).__name__}: {error}"[:2000],
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        logger.warning("Outbox message %s (%s) failed: %s", message_id, message.kind, error)
        return False
    OutboxMessage.objects.filter(pk=message_id).update(sent_at=timezone.now(), attempts=F("attempts") + 1)
    return True


def deliver_due(now: datetime) -> int:
    due = list(
        OutboxMessage.objects.filter(sent_at__isnull=True, next_attempt_at__lte=now).values_list(
            "pk", flat=True
        )[:BATCH]
    )
    return sum(1 for message_id in due if deliver(message_id))
