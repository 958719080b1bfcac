"""External agents and their task leases (DESIGN §6): register, heartbeat, claim (with long-poll),
extend, complete, fail, revoke, and the sweep's step for expired leases.

Task states (one table, :data:`TASK_TRANSITIONS`)::

    open ──claim──▶ leased ──complete──▶ completed
      ▲               │ ├──fail / deadline / last lease expired──▶ failed
      └─lease expired─┘ └──node cancelled──▶ cancelled        (open → failed | cancelled too)

Fencing. Every claim bumps ``lease_no``; extend, complete and fail must quote the current one, by
the agent holding it, before it expires (by the database clock). Anything else changes nothing:
another agent's task → 403; a stale or expired lease, or a task already finished → 409.

Locks. Every change goes through :func:`executions.services.locked_run`: the run row first, then
the task row (``select_for_update``), as everywhere else (DESIGN §4). The claim is the one place
that finds its run through the task: it locks the oldest free task *and* its run row in one
``SELECT … FOR UPDATE OF task, run SKIP LOCKED`` on Postgres, so it never waits on either lock
(it skips rows others hold) and cannot close a deadlock cycle; two agents never get the same task.
On SQLite ``select_for_update`` is a no-op; ``transaction_mode="IMMEDIATE"`` serialises writers,
and the claim re-checks the task's status inside its transaction.

Long-poll. A claim with ``wait_s`` subscribes to offers of its capabilities first (Redis pub/sub in
the services mode, an in-process event in the embedded mode), then looks at the database, closes
its connection and sleeps until an offer is announced or a safety poll (with back-off) falls due.
A waiting claim therefore holds no database connection; a lost announcement costs at most one
poll interval, since the rows are the source of truth.

Agent failures are final: ``fail`` fails the node with ``agent_failed`` and its ``on_error``
applies; the engine does not retry it even when the node has ``retry`` (a waiting node has no
attempt to re-dispatch). Work is re-offered only when a lease lapses, up to ``max_leases`` leases;
an agent that cannot do a task should let its lease lapse rather than fail it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from executions.engine.runstate import NodeKey
from executions.engine.scheduler import MAX_OUTPUT_BYTES
from executions.engine.states import IllegalTransition, NodeStatus, RunStatus
from executions.models import RunEvent, Timer, TimerKind
from executions.services import RunSession, locked_run

from .models import AgentTask, AgentTaskStatus, ExternalAgent

logger = logging.getLogger(__name__)

#: The longest a claim may long-poll (DESIGN §6): a request should not outlive proxies' timeouts.
MAX_WAIT_S = 30.0
#: The node type's bound on lease_s, also the longest an extension may ask for.
MAX_LEASE_S = 86_400
#: A result must fit the engine's bound on node outputs, or the node would fail after the fact.
MAX_RESULT_BYTES = MAX_OUTPUT_BYTES
#: Capabilities an agent registers or claims at once.
MAX_CAPABILITIES = 100
#: Timer kind of an agent task's overall deadline (the node's ``timeout_s``).
AGENT_DEADLINE = TimerKind.AGENT_DEADLINE
#: Tasks of runs in these statuses may be claimed; a paused run records results like any attempt.
CLAIMABLE_RUN_STATUSES = (RunStatus.RUNNING, RunStatus.WAITING, RunStatus.PAUSED)
#: A claim writes the agent's heartbeat at most this often (the heartbeat route always does).
HEARTBEAT_RESOLUTION = timedelta(seconds=10)
#: Safety polls of a waiting claim: first after this long, then doubling up to the maximum.
POLL_FIRST_S = 0.25
POLL_MAX_S = 2.0
SWEEP_BATCH = 500

TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    AgentTaskStatus.OPEN: frozenset(
        {AgentTaskStatus.LEASED, AgentTaskStatus.FAILED, AgentTaskStatus.CANCELLED}
    ),
    AgentTaskStatus.LEASED: frozenset(
        {
            AgentTaskStatus.LEASED,  # an extension
            AgentTaskStatus.OPEN,  # the lease expired (or its agent was revoked): offered again
            AgentTaskStatus.COMPLETED,
            AgentTaskStatus.FAILED,
            AgentTaskStatus.CANCELLED,
        }
    ),
    AgentTaskStatus.COMPLETED: frozenset(),
    AgentTaskStatus.FAILED: frozenset(),
    AgentTaskStatus.CANCELLED: frozenset(),
}
ACTIVE_TASK_STATUSES = (AgentTaskStatus.OPEN, AgentTaskStatus.LEASED)


def check_task_transition(current: str, target: str) -> None:
    if target not in TASK_TRANSITIONS[current]:
        raise IllegalTransition("agent task", current, target)


class AgentRefused(Exception):
    """A protocol request this agent may not make now; nothing was changed."""

    def __init__(self, http_status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.http_status = http_status
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, **self.extra}


@dataclass(frozen=True)
class Lease:
    task_id: uuid.UUID
    capability: str
    lease_no: int
    lease_expires_at: datetime
    input: Any


# ====================================================================================
# Access (one function per secured object: the API and the admin use these)
# ====================================================================================


def may_register_agents(user: Any) -> bool:
    """Staff, superusers, and users granted `agents.add_externalagent` (directly or by group)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_staff or user.has_perm("agents.add_externalagent"))


def visible_external_agents(user: Any) -> QuerySet[ExternalAgent]:
    """Staff see every agent; other users the agents they registered."""
    agents = ExternalAgent.objects.select_related("registered_by")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return agents.none()
    if user.is_staff or user.is_superuser:
        return agents
    return agents.filter(registered_by=user)


def get_external_agent_for(user: Any, agent_id: Any) -> ExternalAgent:
    agent = visible_external_agents(user).filter(pk=_uuid_or_404(agent_id, "agent")).first()
    if agent is None:
        raise Http404("No such agent.")
    return agent


def _uuid_or_404(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404(f"No such {what}.") from None


# ====================================================================================
# The registry: register, heartbeat, revoke
# ====================================================================================


def distinct(capabilities: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(capabilities))


def register(
    user: Any, *, name: str, capabilities: list[str], version: str = ""
) -> tuple[ExternalAgent, str]:
    """Register an agent for ``user`` (who must pass :func:`may_register_agents`); the raw token is
    returned once and only its hash is stored."""
    return ExternalAgent.register(
        name=name, capabilities=distinct(capabilities), registered_by=user, version=version
    )


def heartbeat(agent: ExternalAgent) -> datetime:
    now = timezone.now()
    ExternalAgent.objects.filter(pk=agent.pk).update(last_heartbeat_at=now)
    agent.last_heartbeat_at = now
    return now


def _heartbeat_if_stale(agent: ExternalAgent) -> None:
    if agent.last_heartbeat_at is None or timezone.now() - agent.last_heartbeat_at > HEARTBEAT_RESOLUTION:
        heartbeat(agent)


def revoke(agent: ExternalAgent) -> ExternalAgent:
    """Revoke the agent's token and take its leases back at once: a revoked agent can never report
    a result (401), so waiting for its leases to lapse would only delay the work. Each taken-back
    lease counts towards its task's ``max_leases`` like an expired one."""
    revoked = ExternalAgent.objects.filter(pk=agent.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not revoked:
        raise AgentRefused(409, "The agent is already revoked.")
    leased = AgentTask.objects.filter(leased_by=agent, status=AgentTaskStatus.LEASED)
    for task_id in leased.values_list("pk", flat=True):
        end_lease(task_id, reason="agent_revoked", agent_id=agent.pk)
    agent.refresh_from_db()
    return agent


# ====================================================================================
# Claiming, with long-poll
# ====================================================================================


def claim(agent: ExternalAgent, capabilities: list[str] | None, wait_s: float = 0.0) -> Lease | None:
    """Lease the oldest open task of one of ``capabilities`` (default: the agent's registered ones),
    waiting up to ``wait_s`` seconds for one to be offered. None when nothing came in time."""
    registered = set(agent.capabilities or [])
    wanted = distinct(capabilities) if capabilities else sorted(registered)
    unregistered = [capability for capability in wanted if capability not in registered]
    if unregistered:
        raise AgentRefused(400, "The agent did not register these capabilities.", unregistered=unregistered)
    _heartbeat_if_stale(agent)
    wait_s = min(max(0.0, wait_s), MAX_WAIT_S)
    if wait_s <= 0 or not wanted:
        return _claim_now(agent, wanted)
    deadline = time.monotonic() + wait_s
    poll_s = POLL_FIRST_S
    with OfferListener(wanted) as listener:
        # Subscribed before this look: an offer committed from here on wakes the wait below.
        while True:
            lease = _claim_now(agent, wanted)
            if lease is not None:
                return lease
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            release_connection()
            listener.wait(min(remaining, poll_s))
            poll_s = min(poll_s * 2, POLL_MAX_S)


def release_connection() -> None:
    """Give the database connection back while waiting (it reopens on the next query). Inside an
    atomic block (a test's transaction) there is nothing to give back without losing the block."""
    if not connection.in_atomic_block:
        connection.close()


def _offered(capabilities: list[str]) -> QuerySet[AgentTask]:
    return AgentTask.objects.filter(
        status=AgentTaskStatus.OPEN, capability__in=capabilities, run__status__in=CLAIMABLE_RUN_STATUSES
    ).order_by("created_at", "pk")


def _claim_now(agent: ExternalAgent, capabilities: list[str]) -> Lease | None:
    if not capabilities or not _offered(capabilities).exists():  # a read: no write lock on SQLite
        return None
    with transaction.atomic():
        # Locks the task and its run in one statement and skips rows others hold (Postgres), so
        # this never waits for a lock; locked_run below then finds its run row already locked.
        task = (
            _offered(capabilities)
            .select_related("run", "node_run")
            .select_for_update(skip_locked=True, of=("self", "run"))
            .first()
        )
        if task is None:
            return None
        key = (task.node_run.node_id, task.node_run.scope)
        with locked_run(task.run_id, keys=[key]) as session:
            task = AgentTask.objects.select_for_update().get(pk=task.pk)
            if task.status != AgentTaskStatus.OPEN or session.run.status not in CLAIMABLE_RUN_STATUSES:
                session.discard()  # another claim or a cancellation got there first
                return None
            node_state = session.state.nodes.get(key)
            if node_state is None or node_state.status != NodeStatus.WAITING:
                # Stopping a node cancels its task in the same transaction, so this is a bug
                # elsewhere; cancel the orphan rather than let it stand first in every claim.
                logger.warning("Cancelled agent task %s: its node %s is not waiting", task.pk, key)
                check_task_transition(task.status, AgentTaskStatus.CANCELLED)
                task.status = AgentTaskStatus.CANCELLED
                task.finished_at = session.now
                task.save(update_fields=["status", "finished_at"])
                _emit(
                    session,
                    task,
                    key,
                    "agent_task.cancelled",
                    {"reason": "node_not_waiting", "lease_no": task.lease_no},
                )
                return None
            check_task_transition(task.status, AgentTaskStatus.LEASED)
            task.status = AgentTaskStatus.LEASED
            task.lease_no += 1
            task.leased_by = agent
            task.lease_expires_at = session.now + timedelta(seconds=task.lease_s)
            task.save(update_fields=["status", "lease_no", "leased_by", "lease_expires_at"])
            _emit(
                session,
                task,
                key,
                "agent_task.claimed",
                {
                    "agent_id": str(agent.pk),
                    "agent": agent.name,
                    "lease_no": task.lease_no,
                    "lease_expires_at": task.lease_expires_at.isoformat(),
                },
            )
    assert task.lease_expires_at is not None
    return Lease(
        task_id=task.pk,
        capability=task.capability,
        lease_no=task.lease_no,
        lease_expires_at=task.lease_expires_at,
        input=task.input,
    )


# ====================================================================================
# What the lease holder may do: extend, complete, fail
# ====================================================================================


def extend(agent: ExternalAgent, task_id: Any, lease_no: int, lease_s: int | None = None) -> Lease:
    """Push the lease's expiry to db now + ``lease_s`` (default: the task's lease_s)."""
    run_id, key = _locate(task_id)
    with locked_run(run_id, keys=[key]) as session:
        task = _held_task(session, agent, task_id, lease_no)
        check_task_transition(task.status, AgentTaskStatus.LEASED)
        seconds = min(lease_s or task.lease_s, MAX_LEASE_S)
        task.lease_expires_at = session.now + timedelta(seconds=seconds)
        task.save(update_fields=["lease_expires_at"])
        _emit(
            session,
            task,
            key,
            "agent_task.extended",
            {
                "agent_id": str(agent.pk),
                "lease_no": task.lease_no,
                "lease_expires_at": task.lease_expires_at.isoformat(),
            },
        )
    return Lease(task.pk, task.capability, task.lease_no, task.lease_expires_at, task.input)


def check_result_size(result: Any) -> None:
    """Measured as the engine measures node outputs, so an accepted result never fails the node."""
    size = len(json.dumps(result, ensure_ascii=False).encode())
    if size > MAX_RESULT_BYTES:
        raise AgentRefused(413, f"The result is {size} bytes; at most {MAX_RESULT_BYTES} are accepted.")


def complete(agent: ExternalAgent, task_id: Any, lease_no: int, result: Any) -> AgentTask:
    """Record the result and resume the run: the node succeeds with ``result`` as its output.
    Exactly once: the first completion under the current lease wins, anything later gets 409."""
    check_result_size(result)
    run_id, key = _locate(task_id)
    with locked_run(run_id) as session:
        task = _held_task(session, agent, task_id, lease_no)
        _check_node_waits(session, key)
        _finish(session, task, AgentTaskStatus.COMPLETED, result=result)
        _emit(
            session, task, key, "agent_task.completed", {"agent_id": str(agent.pk), "lease_no": task.lease_no}
        )
        session.scheduler.resolve_wait(key, result)
        session.more_work = session.scheduler.advance()
    return task


def fail(agent: ExternalAgent, task_id: Any, lease_no: int, message: str, code: str = "") -> AgentTask:
    """The agent gives up: the node fails with ``agent_failed`` and the agent's message (final; see
    the module docstring), and its on_error applies."""
    run_id, key = _locate(task_id)
    with locked_run(run_id) as session:
        task = _held_task(session, agent, task_id, lease_no)
        _check_node_waits(session, key)
        error = {"code": code or "agent_failed", "message": message, "agent_id": str(agent.pk)}
        _finish(session, task, AgentTaskStatus.FAILED, error=error)
        _emit(session, task, key, "agent_task.failed", {"error": error, "lease_no": task.lease_no})
        session.scheduler.fail_wait(key, "agent_failed", message)
        session.more_work = session.scheduler.advance()
    return task


def _locate(task_id: Any) -> tuple[Any, NodeKey]:
    found = (
        AgentTask.objects.filter(pk=_uuid_or_404(task_id, "task"))
        .values_list("run_id", "node_run__node_id", "node_run__scope")
        .first()
    )
    if found is None:
        raise Http404("No such task.")
    run_id, node_id, scope = found
    return run_id, (node_id, scope)


def _held_task(session: RunSession, agent: ExternalAgent, task_id: Any, lease_no: int) -> AgentTask:
    """The task, if ``agent`` holds lease ``lease_no`` on it and the lease has not expired.

    403 for an agent that never held a lease on the task; 409 for one whose lease is stale,
    expired or over (the task was offered again, finished or cancelled).
    """
    task = AgentTask.objects.select_for_update(of=("self",)).select_related("node_run").get(pk=task_id)
    holds = task.status == AgentTaskStatus.LEASED and task.leased_by_id == agent.pk
    if not holds:
        if task.leased_by_id != agent.pk and not _has_held(agent, task):
            raise AgentRefused(403, "This task is not leased to this agent.")
        if task.status == AgentTaskStatus.OPEN:
            raise AgentRefused(409, "Your lease ended; the task was offered again.", status=task.status)
        if task.status == AgentTaskStatus.LEASED:
            raise AgentRefused(409, "Your lease ended; another agent holds the task now.", status=task.status)
        raise AgentRefused(409, f"The task is already {task.status}.", status=task.status)
    if task.lease_no != lease_no:
        raise AgentRefused(
            409, f"Lease {lease_no} is not the current lease of this task.", status=task.status
        )
    if task.lease_expires_at is None or task.lease_expires_at <= session.now:
        raise AgentRefused(409, "The lease has expired; the task will be offered again.", status=task.status)
    return task


def _has_held(agent: ExternalAgent, task: AgentTask) -> bool:
    """Whether ``agent`` ever claimed ``task``, read from the run's event log."""
    return RunEvent.objects.filter(
        run_id=task.run_id,
        type="agent_task.claimed",
        data__task_id=str(task.pk),
        data__agent_id=str(agent.pk),
    ).exists()


def _check_node_waits(session: RunSession, key: NodeKey) -> None:
    node_state = session.state.nodes.get(key)
    if node_state is None or node_state.status != NodeStatus.WAITING:
        # Stopping a node cancels its task in the same transaction, so this means a bug elsewhere;
        # refuse rather than mark a task done that resumed nothing.
        logger.warning("Agent task for %s, which is not waiting", key)
        raise AgentRefused(409, "The node no longer waits for this task.")


def _finish(
    session: RunSession,
    task: AgentTask,
    status: AgentTaskStatus,
    *,
    result: Any = None,
    error: dict[str, Any] | None = None,
) -> None:
    """A terminal status; the deadline timer goes with it (a node that stopped waiting needs none)."""
    check_task_transition(task.status, status)
    task.status = status
    task.result = result
    task.error = error
    task.finished_at = session.now
    task.save(update_fields=["status", "result", "error", "finished_at"])
    Timer.objects.filter(node_run_id=task.node_run_id, kind=AGENT_DEADLINE).delete()


def _emit(session: RunSession, task: AgentTask, key: NodeKey, event_type: str, data: dict[str, Any]) -> None:
    node_state = session.state.nodes.get(key)
    session.emit(
        event_type,
        key,
        {"task_id": str(task.pk), **data},
        attempt=node_state.attempts if node_state is not None else None,
    )


# ====================================================================================
# Leases that lapse (the sweep), deadlines and cancellation (the wait handler)
# ====================================================================================


def expire_leases(now: datetime) -> int:
    """The sweep's step: leases past their expiry are taken back; their tasks are offered again,
    or, once ``max_leases`` leases have lapsed, fail their node with ``max_leases``."""
    expired = list(
        AgentTask.objects.filter(status=AgentTaskStatus.LEASED, lease_expires_at__lt=now).values_list(
            "pk", flat=True
        )[:SWEEP_BATCH]
    )
    return sum(1 for task_id in expired if end_lease(task_id, reason="lease_expired"))


def end_lease(task_id: Any, *, reason: str, agent_id: Any = None) -> bool:
    """End the current lease on a task: when it expired (``lease_expired``) or its agent was
    revoked (``agent_revoked``, only if ``agent_id`` still holds it). Safe to run in several
    processes at once: the condition is re-checked with the run and the task locked."""
    try:
        run_id, key = _locate(task_id)
    except Http404:
        return False
    with locked_run(run_id) as session:
        task = (
            AgentTask.objects.select_for_update(of=("self",))
            .select_related("node_run", "leased_by")
            .get(pk=task_id)
        )
        still_held = task.status == AgentTaskStatus.LEASED and task.lease_expires_at is not None
        if reason == "lease_expired":
            still_held = still_held and task.lease_expires_at < session.now  # type: ignore[operator]
        else:
            still_held = still_held and task.leased_by_id == agent_id
        if not still_held:
            session.discard()
            return False
        last = task.lease_no >= task.max_leases
        _emit(
            session,
            task,
            key,
            "agent_task.lease_expired",
            {
                "agent_id": str(task.leased_by_id) if task.leased_by_id else None,
                "agent": task.leased_by.name if task.leased_by else None,
                "lease_no": task.lease_no,
                "reason": reason,
                "offered_again": not last,
            },
        )
        if last:
            message = f"No agent finished the task in {task.lease_no} leases (max_leases {task.max_leases})."
            error = {"code": "max_leases", "message": message}
            _finish(session, task, AgentTaskStatus.FAILED, error=error)
            _emit(session, task, key, "agent_task.failed", {"error": error, "lease_no": task.lease_no})
            session.scheduler.fail_wait(key, "max_leases", message)
            session.more_work = session.scheduler.advance()
            return True
        check_task_transition(task.status, AgentTaskStatus.OPEN)
        task.status = AgentTaskStatus.OPEN
        task.leased_by = None
        task.lease_expires_at = None
        task.save(update_fields=["status", "leased_by", "lease_expires_at"])
        capability = task.capability
        session.after_commit(lambda: announce_offer(capability))
    return True


def time_out(session: RunSession, node_run_id: Any, key: NodeKey, timeout_s: float | None) -> None:
    """The node's overall deadline passed with its task unfinished: fail both (``agent_timeout``)."""
    message = f"No agent finished the task within the node's timeout_s ({timeout_s or 0:g} s)."
    error = {"code": "agent_timeout", "message": message}
    for task in AgentTask.objects.select_for_update().filter(
        node_run_id=node_run_id, status__in=ACTIVE_TASK_STATUSES
    ):
        _finish(session, task, AgentTaskStatus.FAILED, error=error)
        _emit(session, task, key, "agent_task.failed", {"error": error, "lease_no": task.lease_no})
    session.scheduler.fail_wait(key, "agent_timeout", message)
    session.more_work = session.scheduler.advance()


def cancel_tasks(session: RunSession, node_run_id: Any, key: NodeKey, reason: str) -> None:
    """The node stopped (run cancelled or failed, loop stopped, join cancelled it): its open or
    leased task is cancelled, so the holder's next extend or complete gets 409."""
    for task in AgentTask.objects.select_for_update().filter(
        node_run_id=node_run_id, status__in=ACTIVE_TASK_STATUSES
    ):
        check_task_transition(task.status, AgentTaskStatus.CANCELLED)
        task.status = AgentTaskStatus.CANCELLED
        task.finished_at = session.now
        task.save(update_fields=["status", "finished_at"])
        _emit(session, task, key, "agent_task.cancelled", {"reason": reason, "lease_no": task.lease_no})


# ====================================================================================
# Offers: wake-ups for waiting claims (services: Redis pub/sub; embedded: in-process events)
# ====================================================================================

OFFER_CHANNEL_PREFIX = "flowdeck:agent-task-offered:"

_local_waiters: dict[str, set[threading.Event]] = {}
_local_lock = threading.Lock()
_redis_client: Any = None
_redis_lock = threading.Lock()


def _redis() -> Any:
    global _redis_client
    with _redis_lock:
        if _redis_client is None:
            import redis

            _redis_client = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5
            )
        return _redis_client


def announce_offer(capability: str) -> None:
    """After commit: a task of ``capability`` is open. Waiting claims wake and look."""
    if settings.SERVICES_MODE:
        _redis().publish(OFFER_CHANNEL_PREFIX + capability, b"1")
        return
    with _local_lock:
        for event in _local_waiters.get(capability, ()):
            event.set()


class OfferListener:
    """Listens for offers of some capabilities while a claim waits. Without Redis (it failed) the
    wait is a plain sleep: the caller's safety poll still finds the task."""

    def __init__(self, capabilities: list[str]) -> None:
        self.capabilities = list(capabilities)
        self._event = threading.Event()
        self._pubsub: Any = None

    def __enter__(self) -> OfferListener:
        if settings.SERVICES_MODE:
            try:
                pubsub = _redis().pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(*(OFFER_CHANNEL_PREFIX + capability for capability in self.capabilities))
                self._pubsub = pubsub
            except Exception:
                logger.warning("Cannot subscribe to agent task offers; polling instead", exc_info=True)
        else:
            with _local_lock:
                for capability in self.capabilities:
                    _local_waiters.setdefault(capability, set()).add(self._event)
        return self

    def wait(self, timeout_s: float) -> bool:
        """Sleep until an offer is announced or ``timeout_s`` passes; True if one was announced."""
        if self._pubsub is not None:
            try:
                return self._pubsub.get_message(timeout=timeout_s) is not None
            except Exception:
                logger.warning("Lost the agent task offer subscription; polling instead", exc_info=True)
                self._close_pubsub()
        if settings.SERVICES_MODE:
            time.sleep(timeout_s)
            return False
        announced = self._event.wait(timeout_s)
        self._event.clear()
        return announced

    def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:
                logger.debug("Closing the offer subscription failed", exc_info=True)

    def __exit__(self, *exc_info: object) -> None:
        self._close_pubsub()
        if not settings.SERVICES_MODE:
            with _local_lock:
                for capability in self.capabilities:
                    waiters = _local_waiters.get(capability)
                    if waiters is not None:
                        waiters.discard(self._event)
                        if not waiters:
                            _local_waiters.pop(capability, None)
