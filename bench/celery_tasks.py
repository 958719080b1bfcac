"""Baseline Celery tasks: what the same broker and the same workers do with no engine at all.

Loaded by the bench settings (`CELERY_IMPORTS`), so the measured workers run them beside the
product's tasks, from the same default queue. Completion is signalled with an LPUSH to a Redis
key that the benchmark BLPOPs: one Redis round trip, the counterpart of the product's
"run settled" PUBLISH (`executions.notify`).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from celery import shared_task
from django.conf import settings

_client: Any = None
_client_pid: int | None = None
_client_lock = threading.Lock()


def redis_client() -> Any:
    """One client per process; a prefork child must not reuse its parent's sockets."""
    global _client, _client_pid
    with _client_lock:
        if _client is None or _client_pid != os.getpid():
            import redis

            _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=30, socket_connect_timeout=5)
            _client_pid = os.getpid()
        return _client


def signal_done(done_key: str) -> None:
    client = redis_client()
    client.lpush(done_key, b"1")
    client.expire(done_key, 300)


@shared_task(name="bench.noop", ignore_result=True)
def noop() -> None:
    """A bare task: the floor of one broker round trip through a worker."""


@shared_task(name="bench.chain_step", ignore_result=True)
def chain_step(done_key: str | None = None) -> None:
    """One link of the chain baseline; the last link signals the benchmark."""
    if done_key:
        signal_done(done_key)


@shared_task(name="bench.chord_body", ignore_result=False)
def chord_body(index: int) -> int:
    """A chord header task. It stores its result: that is how Celery knows when to run the callback."""
    return index


@shared_task(name="bench.chord_done", ignore_result=True)
def chord_done(results: list[int], done_key: str) -> None:
    signal_done(done_key)


@shared_task(name="bench.count", ignore_result=True)
def count(counter_key: str, total: int, done_key: str) -> None:
    """A bare task that counts itself; the one that reaches `total` signals the benchmark."""
    client = redis_client()
    if client.incr(counter_key) == total:
        signal_done(done_key)
