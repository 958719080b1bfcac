"""Per-provider ``max_concurrency`` and ``requests_per_minute``, across every worker process, so a
loop of prompts queues politely instead of causing a storm of ``429`` replies (DESIGN §4 "Limits").

- Services mode: Redis holds, per provider, a sorted set of slot holders scored by when each
  holder's claim expires (a worker killed mid-call cannot keep its slot past that) and a sorted
  set of call start times over the last 60 s (a sliding window). One Lua script checks both and
  takes a slot atomically, with Redis's own clock, so hosts with skewed clocks agree.
- Embedded mode: the same rules in memory, behind a condition variable (one process only).

A call waits for a slot for at most :func:`limit_wait_s` seconds — less than the attempt's lease
grace, so waiting can never outlive the lease — then fails with the retryable ``rate_limited``
and a ``retry_after_s`` hint; the node's retry policy takes it from there.

If Redis cannot be reached the call goes ahead unlimited (and logs it): a lost limit store must
not fail work that the provider itself may well accept.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

from .base import node_error

if TYPE_CHECKING:
    from agents.models import Provider
    from executions.handlers import NodeError

logger = logging.getLogger(__name__)

WINDOW_S = 60.0
#: How long a slot outlives its call's timeout before it is considered abandoned.
HOLD_MARGIN_S = 30.0
#: How soon a refused caller looks again when it cannot know better (services mode).
POLL_MIN_S = 0.02
POLL_MAX_S = 0.25
#: A hint for the retry after a concurrency refusal: calls usually finish within seconds.
BUSY_RETRY_AFTER_S = 2.0


def limit_wait_s() -> float:
    """Longest wait for a slot: 30 s, but always 5 s inside the lease grace (DESIGN §4 leases)."""
    configured = getattr(settings, "PROVIDER_LIMIT_WAIT_S", None)
    if isinstance(configured, int | float):
        return max(0.0, float(configured))
    return max(1.0, min(30.0, float(settings.ENGINE_LEASE_GRACE_S) - 5.0))


@dataclass(frozen=True)
class Limits:
    key: str
    max_concurrency: int
    requests_per_minute: int
    #: A slot taken now is abandoned (freed for others) after this many seconds.
    hold_s: float

    @property
    def is_unlimited(self) -> bool:
        return self.max_concurrency <= 0 and self.requests_per_minute <= 0


@dataclass(frozen=True)
class Refusal:
    """Why a slot was not granted, and when trying again may succeed (None: unknown)."""

    reason: str  # "concurrency" | "rate"
    wait_s: float | None


def limits_for(provider: Provider, call_timeout_s: float) -> Limits:
    # The creation time makes the key unique even when a test database reuses primary keys
    # against one shared Redis.
    created = int(provider.created_at.timestamp() * 1_000_000) if provider.created_at else 0
    return Limits(
        key=f"{provider.pk}.{created}",
        max_concurrency=int(provider.max_concurrency or 0),
        requests_per_minute=int(provider.requests_per_minute or 0),
        # Streaming is bounded per read and as a whole; twice the timeout covers both.
        hold_s=2 * call_timeout_s + HOLD_MARGIN_S,
    )


class Limiter(Protocol):
    def try_acquire(self, limits: Limits, token: str) -> Refusal | None: ...

    def release(self, limits: Limits, token: str) -> None: ...

    def wait(self, seconds: float) -> None:
        """Sleep until a slot may have been freed, at most ``seconds``."""
        ...


class LocalLimiter:
    """Embedded mode: one process, so memory and a condition variable suffice."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._holders: dict[str, set[str]] = {}
        self._starts: dict[str, deque[float]] = {}

    def try_acquire(self, limits: Limits, token: str) -> Refusal | None:
        with self._condition:
            now = time.monotonic()
            holders = self._holders.setdefault(limits.key, set())
            if limits.max_concurrency > 0 and len(holders) >= limits.max_concurrency:
                return Refusal("concurrency", None)
            if limits.requests_per_minute > 0:
                starts = self._starts.setdefault(limits.key, deque())
                while starts and starts[0] <= now - WINDOW_S:
                    starts.popleft()
                if len(starts) >= limits.requests_per_minute:
                    return Refusal("rate", starts[0] + WINDOW_S - now)
                starts.append(now)
            if limits.max_concurrency > 0:
                holders.add(token)
            return None

    def release(self, limits: Limits, token: str) -> None:
        with self._condition:
            self._holders.get(limits.key, set()).discard(token)
            self._condition.notify_all()

    def wait(self, seconds: float) -> None:
        with self._condition:
            self._condition.wait(timeout=max(0.0, seconds))

    def holders(self, key: str) -> int:
        with self._condition:
            return len(self._holders.get(key, ()))


# KEYS: holders, window. ARGV: token, max_concurrency, requests_per_minute, hold_ms.
# Returns {1} when granted, {0, reason (1 concurrency, 2 rate), wait_ms (-1 unknown)} when not.
_ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local max_concurrency = tonumber(ARGV[2])
local per_minute = tonumber(ARGV[3])
local hold_ms = tonumber(ARGV[4])
if max_concurrency > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= max_concurrency then
    return {0, 1, -1}
  end
end
if per_minute > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[2]) >= per_minute then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, 2, tonumber(oldest[2]) + 60000 - now}
  end
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], 61000)
end
if max_concurrency > 0 then
  redis.call('ZADD', KEYS[1], now + hold_ms, ARGV[1])
  if redis.call('PTTL', KEYS[1]) < hold_ms + 1000 then
    redis.call('PEXPIRE', KEYS[1], hold_ms + 1000)
  end
end
return {1}
"""


class RedisLimiter:
    """Services mode: every worker process on every host shares the counters in Redis."""

    prefix = "flowdeck:provider-limits"

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._acquire = self._client.register_script(_ACQUIRE)
        self._polls = 0

    def keys(self, limits: Limits) -> tuple[str, str]:
        # The hash tag keeps both keys on one Redis Cluster slot, as the script requires.
        tag = f"{self.prefix}:{{{limits.key}}}"
        return f"{tag}:holders", f"{tag}:window"

    def try_acquire(self, limits: Limits, token: str) -> Refusal | None:
        answer: Any = self._acquire(
            keys=list(self.keys(limits)),
            args=[token, limits.max_concurrency, limits.requests_per_minute, int(limits.hold_s * 1000)],
        )
        if int(answer[0]) == 1:
            return None
        wait_ms = int(answer[2])
        return Refusal(
            "concurrency" if int(answer[1]) == 1 else "rate", None if wait_ms < 0 else wait_ms / 1000
        )

    def release(self, limits: Limits, token: str) -> None:
        if limits.max_concurrency > 0:
            self._client.zrem(self.keys(limits)[0], token)

    def wait(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def holders(self, key: str) -> int:
        return int(self._client.zcard(f"{self.prefix}:{{{key}}}:holders"))


_limiter: Limiter | None = None
_limiter_pid: int | None = None
_limiter_lock = threading.Lock()


def limiter() -> Limiter:
    """This process's limiter (a forked worker builds its own Redis connection)."""
    global _limiter, _limiter_pid
    with _limiter_lock:
        if _limiter is None or _limiter_pid != os.getpid():
            _limiter = RedisLimiter(settings.REDIS_URL) if settings.SERVICES_MODE else LocalLimiter()
            _limiter_pid = os.getpid()
        return _limiter


def _refused(provider_name: str, limits: Limits, refusal: Refusal, waited_s: float) -> NodeError:
    if refusal.reason == "rate":
        message = (
            f"Provider {provider_name!r} reached its limit of {limits.requests_per_minute} requests "
            f"per minute; waited {waited_s:.0f} s for a turn."
        )
        retry_after = refusal.wait_s if refusal.wait_s is not None else WINDOW_S
    else:
        message = (
            f"Provider {provider_name!r} already runs {limits.max_concurrency} calls at once "
            f"(its max_concurrency); waited {waited_s:.0f} s for a slot."
        )
        retry_after = BUSY_RETRY_AFTER_S
    return node_error("rate_limited", message, retryable=True, retry_after_s=retry_after)


def _acquire(backend: Limiter, provider: Provider, limits: Limits, token: str, wait_s: float) -> None:
    """Take a slot for ``token`` or raise the retryable ``rate_limited`` after ``wait_s``."""
    started = time.monotonic()
    deadline = started + wait_s
    poll = POLL_MIN_S
    while True:
        refusal = backend.try_acquire(limits, token)
        if refusal is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (refusal.wait_s is not None and refusal.wait_s > remaining):
            raise _refused(provider.name, limits, refusal, time.monotonic() - started)
        pause = refusal.wait_s if refusal.wait_s is not None else poll
        backend.wait(min(pause, remaining))
        poll = min(poll * 2, POLL_MAX_S)


@contextmanager
def provider_slot(provider: Provider, call_timeout_s: float, wait_s: float | None = None) -> Iterator[None]:
    """Hold one of the provider's slots for the duration of the ``with`` block."""
    limits = limits_for(provider, call_timeout_s)
    if limits.is_unlimited:
        yield
        return
    backend = limiter()
    token = uuid.uuid4().hex
    holding = True
    try:
        _acquire(backend, provider, limits, token, limit_wait_s() if wait_s is None else wait_s)
    except Exception as error:
        if not _is_redis_error(error):
            raise
        logger.warning("Provider limits unavailable (Redis error); calling %s unlimited", provider.name)
        holding = False
    try:
        yield
    finally:
        if holding:
            try:
                backend.release(limits, token)
            except Exception as error:
                if not _is_redis_error(error):
                    raise
                logger.warning("Could not release a slot of %s; it expires on its own", provider.name)


def _is_redis_error(error: BaseException) -> bool:
    try:
        import redis
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    return isinstance(error, redis.RedisError)
