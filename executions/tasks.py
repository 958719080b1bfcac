"""Celery tasks. Each takes ids, calls a service, and is safe to run twice: the database decides
whether the work still needs doing (DESIGN §4 "Claims and leases")."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from functools import partial
from typing import Any

from celery import shared_task
from django.core.cache import cache

from . import services
from .handlers import AttemptResult, NodeError, attempt_handler
from .signals import sweep_and_announce

logger = logging.getLogger(__name__)


def worker_name() -> str:
    """Who claims an attempt: host and pid of the process executing it. Read at claim time, not
    at import: a prefork worker imports this module before forking its pool processes."""
    return f"{socket.gethostname()}:{os.getpid()}"


@shared_task(name="flowdeck.ping")
def ping(marker: str) -> None:
    """Prove a message went through the broker to a worker: records which process answered."""
    cache.set(f"flowdeck:ping:{marker}", f"{socket.gethostname()}:{os.getpid()}", timeout=300)


@shared_task(name="flowdeck.advance_run", queue="flowdeck.control")
def advance_run(run_id: str) -> None:
    services.advance(run_id)


@shared_task(name="flowdeck.fire_timer", queue="flowdeck.control")
def fire_timer(timer_id: int) -> None:
    services.fire_timer(timer_id)


@shared_task(name="flowdeck.sweep", queue="flowdeck.control")
def sweep() -> dict[str, int]:
    return sweep_and_announce()


#: How many attempts one task executes back to back (each made ready by the one before it)
#: before handing the next to the broker, so one long chain cannot hold a worker slot forever.
CHAIN_LIMIT = 25


@shared_task(name="flowdeck.execute_attempt", queue="flowdeck.nodes")
def execute_attempt(attempt_id: int) -> None:
    """Claim the attempt, execute it, record the result — unless another delivery got it first.

    When the result makes exactly one more attempt ready (a chain of dispatched nodes), this task
    executes that one too instead of a round trip through the broker: same claim, same lease,
    same recording; only the message is saved."""
    next_id: int | None = attempt_id
    for _ in range(CHAIN_LIMIT):
        if next_id is None:
            return
        next_id = _execute_one(next_id)
    if next_id is not None:
        services.send_attempt(next_id)


def _execute_one(attempt_id: int) -> int | None:
    """Execute one attempt; return the attempt its result made ready and kept for us, if any."""
    claim = services.claim_attempt(attempt_id, worker_name())
    if claim is None:
        return None
    record = _run_handler(claim)
    with services.keeping_next_attempt() as kept:
        record()
    return kept[0] if kept else None


def _run_handler(claim: services.Claim) -> Callable[[], object]:
    """Execute the claimed attempt (outside any transaction); return how to record its outcome."""
    handler = attempt_handler(claim.node_type)
    if handler is None:
        unknown = {
            "code": "unknown_node_type",
            "message": f"No worker handler for {claim.node_type}.",
            "retryable": False,
        }
        return lambda: services.record_attempt_failure(claim, unknown)
    try:
        result: AttemptResult = handler.execute(claim)
    except NodeError as error:
        return partial(services.record_attempt_failure, claim, error.as_error(), error.retry_after_s)
    except Exception as error:  # a bug in a handler fails the node; it never kills the worker
        logger.exception("Node handler %s crashed on attempt %s", claim.node_type, claim.attempt_id)
        failure: dict[str, Any] = {
            "code": "handler_crashed",
            "message": f"{type(error).__name__} while executing the node.",
            "retryable": False,
        }
        return partial(services.record_attempt_failure, claim, failure)
    return partial(services.record_attempt_success, claim, result.output, result.meta)
