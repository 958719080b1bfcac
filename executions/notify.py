"""Wake-ups for callers waiting on a run (`POST …/runs/` with `wait_s`), without holding a
database connection: services mode publishes on Redis, the embedded mode sets in-process events.

A run is *settled* when a caller waiting on it should get an answer: it finished, it was paused,
or it waits on a human or an external agent (a timer wait is not settled: it ends by itself).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from .engine.states import TERMINAL_RUN, RunStatus

SOMEONE_REASONS = frozenset({"approval", "agent"})
CHANNEL_PREFIX = "flowdeck:run-settled:"

_local_waiters: dict[str, list[threading.Event]] = {}
_local_lock = threading.Lock()
_redis_client: Any = None
_redis_lock = threading.Lock()


def is_settled(status: RunStatus, waits_on_someone: bool) -> bool:
    return (
        status in TERMINAL_RUN
        or status == RunStatus.PAUSED
        or (status == RunStatus.WAITING and waits_on_someone)
    )


def _redis() -> Any:
    global _redis_client
    with _redis_lock:
        if _redis_client is None:
            import redis

            _redis_client = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5
            )
        return _redis_client


def run_changed(run_id: Any, settled: bool) -> None:
    """Called after commit whenever a run's status changed."""
    if not settled:
        return
    key = str(run_id)
    if settings.SERVICES_MODE:
        _redis().publish(CHANNEL_PREFIX + key, b"1")
    else:
        with _local_lock:
            for event in _local_waiters.get(key, []):
                event.set()


def wait_until_settled(run_id: Any, timeout_s: float, is_settled_now: Callable[[], bool]) -> bool:
    """Block until the run settles or ``timeout_s`` passes; True if it settled.

    Subscribes first and checks second, so a change committed in between is never missed.
    ``is_settled_now`` reads the database; the caller closes its connection before the wait.
    """
    key = str(run_id)
    deadline = time.monotonic() + timeout_s
    if settings.SERVICES_MODE:
        pubsub = _redis().pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(CHANNEL_PREFIX + key)
            if is_settled_now():
                return True
            while (remaining := deadline - time.monotonic()) > 0:
                if pubsub.get_message(timeout=min(remaining, 1.0)) is not None:
                    return is_settled_now()
            return is_settled_now()
        finally:
            pubsub.close()
    event = threading.Event()
    with _local_lock:
        _local_waiters.setdefault(key, []).append(event)
    try:
        if is_settled_now():
            return True
        while (remaining := deadline - time.monotonic()) > 0:
            if event.wait(remaining):
                event.clear()
                if is_settled_now():
                    return True
        return is_settled_now()
    finally:
        with _local_lock:
            waiters = _local_waiters.get(key, [])
            if event in waiters:
                waiters.remove(event)
            if not waiters:
                _local_waiters.pop(key, None)
