"""Everything that changes a run. Each public function is one transaction that locks the run row
first, asks the pure scheduler what changes, writes it back, and sends Celery messages and
notifications only after commit (DESIGN §4).

Lock order, everywhere: the run row, then its node runs, attempts and timers; the workflow row
only after a run row; never two run rows in one transaction.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone

from workflows.models import Workflow, WorkflowVersion

from . import notify, publish
from .engine.plan import Plan
from .engine.runstate import (
    Dispatch,
    Event,
    LoopProgress,
    NodeKey,
    NodeRunState,
    RunState,
    ScheduleTimer,
    StartWait,
    StopWork,
)
from .engine.scheduler import Scheduler
from .engine.states import (
    TERMINAL_NODE,
    TERMINAL_RUN,
    AttemptStatus,
    IllegalTransition,
    NodeStatus,
    RunStatus,
    check_attempt_transition,
)
from .models import NodeAttempt, NodeRun, Run, RunEvent, RunSource, Timer, TimerKind

logger = logging.getLogger(__name__)

#: Runs in these statuses count against a workflow's max_concurrent_runs.
OCCUPYING = (RunStatus.RUNNING, RunStatus.WAITING, RunStatus.PAUSED)
#: Timers due sooner than this also get a Celery countdown, so a 2-second delay takes 2 seconds,
#: not "2 seconds plus up to one sweep interval". The timer row stays the source of truth.
TIMER_FAST_PATH_S = 600


# ====================================================================================
# Plans (graphs prepared for execution), cached per version
# ====================================================================================

_PLAN_CACHE_SIZE = 256
_plans: OrderedDict[tuple[str, ...], Plan] = OrderedDict()
_plans_lock = threading.Lock()


def plan_for(run: Run) -> Plan:
    """The run's prepared graph. Keyed by the version's checksum as well as its id, so a key can
    never point at another graph (ids are reused after a rollback in tests)."""
    version = run.version
    key = ("version", str(version.pk), version.checksum) if version is not None else ("draft", str(run.pk))
    with _plans_lock:
        plan = _plans.get(key)
        if plan is not None:
            _plans.move_to_end(key)
            return plan
    plan = Plan(run.graph)
    with _plans_lock:
        _plans[key] = plan
        while len(_plans) > _PLAN_CACHE_SIZE:
            _plans.popitem(last=False)
    return plan


# ====================================================================================
# The locked-run session: load → one scheduler operation → write back
# ====================================================================================


def _state_from_row(row: NodeRun) -> NodeRunState:
    extra = row.state or {}
    return NodeRunState(
        node_id=row.node_id,
        scope=row.scope,
        status=NodeStatus(row.status),
        input=row.input,
        output=row.output,
        handle=row.handle,
        error=row.error,
        attempts=row.attempts_count,
        succeeded_seq=row.succeeded_seq,
        loop=LoopProgress.from_json(extra["loop"]) if extra.get("loop") else None,
        wait=extra.get("wait"),
        cancel_reason=extra.get("cancel_reason"),
    )


#: What an advance rewrites on a node run it touched.
NODE_RUN_FIELDS = [
    "status",
    "input",
    "output",
    "handle",
    "error",
    "wait_reason",
    "state",
    "attempts_count",
    "succeeded_seq",
    "started_at",
    "finished_at",
]
SINGLE_UPDATES_UP_TO = 8

#: Called in the run's transaction, with the run row locked, each time it reaches a terminal
#: status. A listener only records follow-up work (an outbox message) and never touches another
#: run, so what it records exists exactly when the status change does.
run_finished_listeners: list[Callable[[Run], None]] = []


class RunSession:
    """A run locked for one transaction, with its scheduler."""

    def __init__(self, run: Run, now: datetime, rows: list[NodeRun]) -> None:
        self.run = run
        self.now = now
        self.rows: dict[NodeKey, NodeRun] = {(row.node_id, row.scope): row for row in rows}
        self.plan = plan_for(run)
        self.state = RunState(
            run_id=str(run.pk),
            status=RunStatus(run.status),
            inputs=run.inputs,
            variables=run.variables,
            started_at=run.started_at.isoformat() if run.started_at else None,
            outputs=run.outputs,
            error=run.error,
            end_node_id=run.end_node_id,
            next_seq=run.next_seq,
            nodes={key: _state_from_row(row) for key, row in self.rows.items()},
        )
        self.scheduler = Scheduler(self.plan, self.state, now)
        self.more_work = False
        self.discarded = False
        self._after_commit: list[Callable[[], None]] = []
        self._status_before = run.status

    def after_commit(self, action: Callable[[], None]) -> None:
        self._after_commit.append(action)

    def discard(self) -> None:
        """Write nothing back: a refused request (a duplicate delivery, a late result, a timer
        already fired) must have no side effect, not even a touched run row."""
        self.discarded = True

    def row(self, key: NodeKey) -> NodeRun:
        return self.rows[key]

    # --- writing back ---------------------------------------------------------------------

    def emit(
        self, event_type: str, key: NodeKey | None, data: dict[str, Any], attempt: int | None = None
    ) -> None:
        """Append an event the scheduler does not produce itself (approval.claimed, …) in seq order."""
        self.scheduler.events.append(
            Event(
                seq=self.state.next_seq,
                type=event_type,
                node_id=key[0] if key is not None else None,
                scope=key[1] if key is not None else "",
                attempt=attempt,
                data=data,
            )
        )
        self.state.next_seq += 1

    def persist(self) -> None:
        """Node runs first (effects refer to them), then effects (which may add or enrich events),
        then the events, then the run row with its next seq."""
        scheduler = self.scheduler
        self._write_node_runs()
        for effect in list(scheduler.effects):
            self._apply(effect)
        if scheduler.events:
            RunEvent.objects.bulk_create(
                RunEvent(
                    run=self.run,
                    seq=event.seq,
                    type=event.type,
                    node_id=event.node_id,
                    scope=event.scope,
                    attempt=event.attempt,
                    ts=self.now,
                    data=event.data,
                )
                for event in scheduler.events
            )
        self._write_run()
        if scheduler.events:
            run_id = self.run.pk
            envelopes = [
                {
                    "seq": event.seq,
                    "type": event.type,
                    "node_id": event.node_id,
                    "scope": event.scope,
                    "attempt": event.attempt,
                    "ts": self.now.isoformat(),
                    "data": event.data,
                }
                for event in scheduler.events
            ]
            self._after_commit.insert(0, lambda: publish.run_events(run_id, envelopes))
        actions = list(self._after_commit)
        if self.more_work:
            run_id = self.run.pk
            actions.append(lambda: enqueue_advance(run_id))
        if actions:
            transaction.on_commit(lambda: _run_all(actions))

    def _write_node_runs(self) -> None:
        created: list[NodeRun] = []
        changed: list[NodeRun] = []
        for key in sorted(self.scheduler.touched):
            node_state = self.state.nodes[key]
            row = self.rows.get(key)
            if row is None:
                row = NodeRun(
                    run=self.run, node_id=key[0], scope=key[1], node_type=self.plan.node(key[0]).type
                )
                self.rows[key] = row
                created.append(row)
            else:
                changed.append(row)
            self._copy_state(node_state, row)
        if created:
            NodeRun.objects.bulk_create(created)
        if len(changed) > SINGLE_UPDATES_UP_TO:
            NodeRun.objects.bulk_update(changed, NODE_RUN_FIELDS, batch_size=500)
        else:
            # The usual advance touches one or two rows; a plain UPDATE each is much cheaper to
            # build than bulk_update's CASE over every field.
            for row in changed:
                NodeRun.objects.filter(pk=row.pk).update(
                    **{name: getattr(row, name) for name in NODE_RUN_FIELDS}
                )

    def _copy_state(self, node_state: NodeRunState, row: NodeRun) -> None:
        row.status = node_state.status
        row.input = node_state.input
        row.output = node_state.output
        row.handle = node_state.handle
        row.error = node_state.error
        row.attempts_count = node_state.attempts
        row.succeeded_seq = node_state.succeeded_seq
        row.wait_reason = (
            (node_state.wait or {}).get("reason", "") if node_state.status == NodeStatus.WAITING else ""
        )
        extra: dict[str, Any] = {}
        if node_state.loop is not None:
            extra["loop"] = node_state.loop.to_json()
        if node_state.wait:
            extra["wait"] = node_state.wait
        if node_state.cancel_reason:
            extra["cancel_reason"] = node_state.cancel_reason
        row.state = extra
        if node_state.status == NodeStatus.PENDING:
            row.started_at = None
            row.finished_at = None
        else:
            row.started_at = row.started_at or self.now
            row.finished_at = (row.finished_at or self.now) if node_state.status in TERMINAL_NODE else None

    def _write_run(self) -> None:
        run, state = self.run, self.state
        run.status = state.status
        run.outputs = state.outputs
        run.error = state.error
        run.end_node_id = state.end_node_id
        run.next_seq = state.next_seq
        if state.status != RunStatus.PENDING and run.started_at is None:
            run.started_at = self.now
        run.finished_at = (run.finished_at or self.now) if state.status in TERMINAL_RUN else None
        run.save(
            update_fields=[
                "status",
                "outputs",
                "error",
                "end_node_id",
                "next_seq",
                "started_at",
                "finished_at",
                "updated_at",
            ]
        )
        if run.status != self._status_before:
            self._on_status_change()

    def _on_status_change(self) -> None:
        run = self.run
        run_id, workflow_id, status = run.pk, run.workflow_id, RunStatus(run.status)
        if status in TERMINAL_RUN:
            Timer.objects.filter(run=run).delete()
            self.after_commit(lambda: start_next_pending_run(workflow_id))
            for listener in run_finished_listeners:
                listener(run)
        settled = notify.is_settled(status, self._waits_on_someone())
        self.after_commit(lambda: notify.run_changed(run_id, settled))
        self.after_commit(lambda: publish_run_summary(run_id))

    def _waits_on_someone(self) -> bool:
        return any(
            node.status == NodeStatus.WAITING and (node.wait or {}).get("reason") in notify.SOMEONE_REASONS
            for node in self.state.nodes.values()
        )

    # --- effects ---------------------------------------------------------------------------

    def _apply(self, effect: Any) -> None:
        if isinstance(effect, Dispatch):
            self._dispatch(effect)
        elif isinstance(effect, StartWait):
            from .handlers import wait_handler

            wait_handler(effect.node_type).start(self, effect)
        elif isinstance(effect, ScheduleTimer):
            self.add_timer(effect.key, effect.kind, effect.due_at)
        elif isinstance(effect, StopWork):
            self._stop(effect)

    def _dispatch(self, effect: Dispatch) -> None:
        attempt = NodeAttempt.objects.create(
            node_run=self.rows[effect.key],
            run=self.run,
            number=effect.attempt,
            status=AttemptStatus.QUEUED,
            input=effect.input,
            rendered=effect.rendered,
            timeout_s=effect.timeout_s,
            last_sent_at=self.now,
        )
        attempt_id = attempt.pk
        self.after_commit(lambda: offer_attempt(attempt_id))

    def add_timer(self, key: NodeKey | None, kind: str, due_at: datetime) -> Timer:
        timer = Timer.objects.create(
            run=self.run, node_run=self.rows[key] if key is not None else None, kind=kind, due_at=due_at
        )
        delay_s = (due_at - self.now).total_seconds()
        if delay_s <= TIMER_FAST_PATH_S:
            timer_id = timer.pk
            self.after_commit(lambda: send_timer(timer_id, max(0.0, delay_s)))
        return timer

    def _stop(self, effect: StopWork) -> None:
        row = self.rows.get(effect.key)
        if row is None or row.pk is None:
            return
        for attempt in NodeAttempt.objects.filter(
            node_run=row, status__in=[AttemptStatus.QUEUED, AttemptStatus.RUNNING]
        ):
            check_attempt_transition(AttemptStatus(attempt.status), AttemptStatus.CANCELLED)
            attempt.status = AttemptStatus.CANCELLED
            attempt.finished_at = self.now
            attempt.error = {"code": "cancelled", "message": effect.reason, "retryable": False}
            attempt.save(update_fields=["status", "finished_at", "error"])
        Timer.objects.filter(node_run=row).delete()
        from .handlers import find_wait_handler

        handler = find_wait_handler(row.node_type)
        if handler is not None:
            handler.stop(self, row, effect.reason)


def _run_all(actions: list[Callable[[], None]]) -> None:
    for action in actions:
        try:
            action()
        except Exception:  # one failed send must not stop the others; the sweep re-sends
            logger.exception("After-commit action failed")


@contextmanager
def locked_run(run_id: Any, keys: list[NodeKey] | None = None) -> Iterator[RunSession]:
    """Lock the run row (first, always), load its node runs — all, or only ``keys`` for operations
    that touch a single node — and write everything back when the block ends without error."""
    with transaction.atomic():
        run = (
            Run.objects.select_for_update(of=("self",))
            .select_related("version")
            # The graph is read only when its plan is not cached yet (plan_for): a large graph's
            # JSON is not fetched and parsed again by every transaction of every run.
            .defer("version__graph", "draft_graph")
            .annotate(db_now=Now())
            .get(pk=run_id)
        )
        # The model's ordering starts with the run (a join to order by its created_at); every row
        # here has the same run, so order by the rest only.
        rows = NodeRun.objects.filter(run=run).order_by("scope", "created_at", "id")
        if keys is not None:
            wanted = set(keys)
            rows = rows.filter(node_id__in={key[0] for key in wanted})
            loaded = [row for row in rows if (row.node_id, row.scope) in wanted]
        else:
            loaded = list(rows)
        now = run.db_now  # type: ignore[attr-defined]
        if isinstance(now, str):  # SQLite returns text
            now = datetime.fromisoformat(now)
        if timezone.is_naive(now):
            now = timezone.make_aware(now, timezone.get_current_timezone())
        session = RunSession(run, now, loaded)
        yield session
        if not session.discarded:
            session.persist()


def db_now() -> datetime:
    """The database's clock, which decides what is due (DESIGN §4)."""
    value = Run.objects.annotate(now=Now()).values_list("now", flat=True)[:1]
    found = list(value)
    if found:
        now = found[0]
    else:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT CURRENT_TIMESTAMP")
            now = cursor.fetchone()[0]
    if isinstance(now, str):
        now = datetime.fromisoformat(now)
    return now if timezone.is_aware(now) else timezone.make_aware(now, timezone.get_current_timezone())


# ====================================================================================
# After-commit sends (Celery messages carry ids only)
# ====================================================================================


def publish_run_summary(run_id: Any) -> None:
    """Send the run's summary to its workflow's viewers (the runs list updates live)."""
    from .api.serializers import RunSummarySerializer

    run = Run.objects.select_related("workflow", "version", "created_by").filter(pk=run_id).first()
    if run is not None:
        people = [user_id for user_id in (run.workflow.owner_id, run.created_by_id) if user_id is not None]
        publish.run_summary(run.workflow_id, dict(RunSummarySerializer(run).data), people)


def enqueue_advance(run_id: Any) -> None:
    from .tasks import advance_run

    advance_run.delay(str(run_id))


#: Set while a worker records a result (see `keeping_next_attempt`); None everywhere else.
_kept_attempts: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "flowdeck_kept_attempts", default=None
)


@contextmanager
def keeping_next_attempt() -> Iterator[list[int]]:
    """While a worker records a result: the first attempt that the result makes ready is not
    sent through the broker but kept (appended to the yielded list) for this worker to execute
    next. The attempt is committed as `queued` like any other, so if the worker dies before
    claiming it the sweep re-sends it (queued attempts unclaimed for ENGINE_STALE_AFTER_S)."""
    kept: list[int] = []
    token = _kept_attempts.set(kept)
    try:
        yield kept
    finally:
        _kept_attempts.reset(token)


def offer_attempt(attempt_id: int) -> None:
    """After commit: a new attempt is ready. Kept for the recording worker (the first one only),
    else sent."""
    kept = _kept_attempts.get()
    if kept is not None and not kept:
        kept.append(attempt_id)
        return
    send_attempt(attempt_id)


def send_attempt(attempt_id: int) -> None:
    from .tasks import execute_attempt

    execute_attempt.delay(attempt_id)


def send_timer(timer_id: int, countdown_s: float) -> None:
    from .tasks import fire_timer

    fire_timer.apply_async((timer_id,), countdown=countdown_s)


# ====================================================================================
# Starting runs
# ====================================================================================


@transaction.atomic
def create_run(
    *,
    workflow: Workflow,
    version: WorkflowVersion | None,
    draft_graph: dict[str, Any] | None,
    inputs: dict[str, Any],
    variables: dict[str, Any],
    user: Any,
    source: str = RunSource.API,
    trigger: Any = None,
    chain_depth: int = 0,
) -> Run:
    """Record a pending run and hand it to a worker after commit: the web tier executes nothing."""
    run = Run.objects.create(
        workflow=workflow,
        version=version,
        draft_graph=draft_graph,
        inputs=inputs,
        variables=variables,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        source=source,
        trigger=trigger,
        chain_depth=chain_depth,
    )
    run_id = run.pk
    transaction.on_commit(lambda: enqueue_advance(run_id))
    return run


def advance(run_id: Any) -> None:
    """Start a pending run (within its workflow's concurrency limit) or continue a live one."""
    try:
        with locked_run(run_id) as session:
            run = session.run
            if run.status == RunStatus.PENDING:
                if not _has_capacity(run):
                    return
                session.more_work = session.scheduler.start()
                timeout_s = run.workflow.timeout_s
                if timeout_s and session.state.status not in TERMINAL_RUN:
                    session.add_timer(None, TimerKind.RUN_TIMEOUT, session.now + timedelta(seconds=timeout_s))
            elif run.status in (RunStatus.RUNNING, RunStatus.WAITING):
                session.more_work = session.scheduler.advance()
    except Run.DoesNotExist:
        logger.info("advance_run for a run that no longer exists: %s", run_id)


def _has_capacity(run: Run) -> bool:
    workflow = Workflow.objects.select_for_update().get(pk=run.workflow_id)
    run.workflow = workflow
    limit = workflow.max_concurrent_runs
    if not limit:
        return True
    occupied = Run.objects.filter(workflow_id=workflow.pk, status__in=OCCUPYING).count()
    return occupied < limit


def start_next_pending_run(workflow_id: int) -> None:
    """A run of a limited workflow ended: let the oldest waiting one start."""
    limit = Workflow.objects.filter(pk=workflow_id).values_list("max_concurrent_runs", flat=True).first()
    if not limit:
        return
    oldest = (
        Run.objects.filter(workflow_id=workflow_id, status=RunStatus.PENDING)
        .order_by("created_at")
        .values_list("pk", flat=True)
        .first()
    )
    if oldest is not None:
        enqueue_advance(oldest)


# ====================================================================================
# Dispatched attempts: claim, then record exactly one result
# ====================================================================================


@dataclass(frozen=True)
class Claim:
    attempt_id: int
    claim_no: int
    run_id: Any
    node_id: str
    scope: str
    node_type: str
    number: int
    input: Any
    rendered: dict[str, Any]
    timeout_s: float | None


def lease_seconds(timeout_s: float | None) -> float:
    return (timeout_s or settings.ENGINE_DEFAULT_LEASE_S) + settings.ENGINE_LEASE_GRACE_S


def claim_attempt(attempt_id: int, worker: str) -> Claim | None:
    """Compare-and-set queued → running with a lease. A duplicate delivery claims nothing."""
    found = (
        NodeAttempt.objects.filter(pk=attempt_id)
        .values_list("run_id", "node_run__node_id", "node_run__scope", "node_run__node_type")
        .order_by()  # the model's ordering would join node run and run just to sort one row
        .first()
    )
    if found is None:
        return None
    run_id, node_id, scope, node_type = found
    key = (node_id, scope)
    with locked_run(run_id, keys=[key]) as session:
        if session.run.status not in (RunStatus.RUNNING, RunStatus.WAITING, RunStatus.PAUSED):
            session.discard()
            return None
        # Read under the run's lock: every change to an attempt's status and claims holds it, so
        # the claim count read here is the one the compare-and-set below increments.
        attempt = NodeAttempt.objects.filter(pk=attempt_id).order_by().first()
        if attempt is None or attempt.status != AttemptStatus.QUEUED:
            session.discard()
            return None
        lease_until = session.now + timedelta(seconds=lease_seconds(attempt.timeout_s))
        claimed = NodeAttempt.objects.filter(pk=attempt_id, status=AttemptStatus.QUEUED).update(
            status=AttemptStatus.RUNNING,
            started_at=session.now,
            lease_expires_at=lease_until,
            claims=F("claims") + 1,
            worker=worker[:200],
        )
        if not claimed:
            session.discard()
            return None
        claim_no = attempt.claims + 1
        session.scheduler.record_started(key, attempt.number)
    return Claim(
        attempt_id=attempt.pk,
        claim_no=claim_no,
        run_id=run_id,
        node_id=node_id,
        scope=scope,
        node_type=node_type,
        number=attempt.number,
        input=attempt.input,
        rendered=attempt.rendered or {},
        timeout_s=attempt.timeout_s,
    )


def _holder_attempt(session: RunSession, claim: Claim) -> NodeAttempt | None:
    """The attempt, if this claim still holds it; a late or duplicate result gets None."""
    attempt = NodeAttempt.objects.filter(pk=claim.attempt_id).order_by().first()
    if attempt is None or attempt.status != AttemptStatus.RUNNING or attempt.claims != claim.claim_no:
        return None
    return attempt


#: What recording a success writes on the attempt (not its input and rendered templates again).
SUCCESS_FIELDS = [
    "status",
    "output",
    "finished_at",
    "usage",
    "cost_usd",
    "provider_kind",
    "model",
    "latency_ms",
]


def record_attempt_success(claim: Claim, output: Any, meta: dict[str, Any]) -> bool:
    with locked_run(claim.run_id) as session:
        attempt = _holder_attempt(session, claim)
        if attempt is None:
            logger.info("Discarded a late result for attempt %s", claim.attempt_id)
            session.discard()
            return False
        check_attempt_transition(AttemptStatus.RUNNING, AttemptStatus.SUCCEEDED)
        attempt.status = AttemptStatus.SUCCEEDED
        attempt.output = output
        attempt.finished_at = session.now
        attempt.usage = meta.get("usage")
        attempt.cost_usd = meta.get("cost_usd")
        attempt.provider_kind = meta.get("provider_kind", "")
        attempt.model = meta.get("model", "")
        attempt.latency_ms = meta.get("latency_ms")
        attempt.save(update_fields=SUCCESS_FIELDS)
        duration_ms = int((session.now - (attempt.started_at or session.now)).total_seconds() * 1000)
        event_meta = {
            "duration_ms": duration_ms,
            "usage": meta.get("usage"),
            "cost_usd": meta.get("cost_usd"),
        }
        session.scheduler.record_success((claim.node_id, claim.scope), claim.number, output, event_meta)
        session.more_work = session.scheduler.advance()
    return True


def record_attempt_failure(claim: Claim, error: dict[str, Any], retry_after_s: float | None = None) -> bool:
    with locked_run(claim.run_id) as session:
        attempt = _holder_attempt(session, claim)
        if attempt is None:
            logger.info("Discarded a late failure for attempt %s", claim.attempt_id)
            session.discard()
            return False
        check_attempt_transition(AttemptStatus.RUNNING, AttemptStatus.FAILED)
        attempt.status = AttemptStatus.FAILED
        attempt.error = error
        attempt.finished_at = session.now
        attempt.save(update_fields=["status", "error", "finished_at"])
        session.scheduler.record_failure((claim.node_id, claim.scope), claim.number, error, retry_after_s)
        session.more_work = session.scheduler.advance()
    return True


# ====================================================================================
# Timers
# ====================================================================================


def fire_timer(timer_id: int) -> None:
    """Act on a due timer exactly once: the timer row is deleted in the transaction that acts."""
    run_id = Timer.objects.filter(pk=timer_id).values_list("run_id", flat=True).first()
    if run_id is None:
        return
    with locked_run(run_id) as session:
        timer = Timer.objects.select_related("node_run").filter(pk=timer_id).first()
        if timer is None or timer.due_at > session.now:
            session.discard()
            return
        scheduler = session.scheduler
        key = (timer.node_run.node_id, timer.node_run.scope) if timer.node_run else None
        spent = True
        if session.run.status in TERMINAL_RUN:
            pass
        elif timer.kind == TimerKind.RUN_TIMEOUT:
            if session.run.status == RunStatus.PAUSED:
                spent = False  # the deadline is enforced once the run resumes
            else:
                scheduler.fail_run("run_timeout", "The run did not finish within the workflow's timeout_s.")
        elif timer.kind == TimerKind.RETRY and key is not None:
            spent = scheduler.fire_retry(key)
        elif key is not None:
            from .handlers import wait_handler

            wait_handler(timer.node_run.node_type).timer_due(session, timer)  # type: ignore[union-attr]
        if spent:
            timer.delete()
            session.more_work = scheduler.advance()


# ====================================================================================
# Run control (API and admin)
# ====================================================================================


def cancel_run(run_id: Any, by: str | None) -> Run:
    with locked_run(run_id) as session:
        session.scheduler.cancel(by)
    return Run.objects.get(pk=run_id)


def pause_run(run_id: Any) -> Run:
    with locked_run(run_id) as session:
        if session.run.status not in (RunStatus.RUNNING, RunStatus.WAITING):
            raise IllegalTransition("run", session.run.status, RunStatus.PAUSED)
        session.scheduler.pause()
    return Run.objects.get(pk=run_id)


def resume_run(run_id: Any) -> Run:
    with locked_run(run_id) as session:
        if session.run.status != RunStatus.PAUSED:
            raise IllegalTransition("run", session.run.status, RunStatus.RUNNING)
        session.more_work = session.scheduler.resume()
        # Retry timers that fell due while paused were kept; fire them now.
        retry_timers = list(
            Timer.objects.filter(run=session.run, kind=TimerKind.RETRY).values_list("pk", flat=True)
        )
        session.after_commit(lambda: _send_timers_now(retry_timers))
    return Run.objects.get(pk=run_id)


def _send_timers_now(timer_ids: list[int]) -> None:
    for timer_id in timer_ids:
        send_timer(timer_id, 0)


class NothingToRetry(Exception):
    pass


def retry_run(run_id: Any, node_id: str | None = None, scope: str | None = None) -> Run:
    """POST …/retry/: re-execute the given node (default: every failed one) and what follows it."""
    with locked_run(run_id) as session:
        scheduler = session.scheduler
        if session.run.status not in TERMINAL_RUN:
            raise IllegalTransition("run", session.run.status, RunStatus.RUNNING)
        if node_id is not None:
            key = (node_id, scope or "")
            if key not in session.state.nodes:
                raise NothingToRetry(f"Node {node_id} has not run in scope {scope or '(top level)'!r}.")
            targets = [key]
        else:
            targets = scheduler.default_retry_targets()
            if not targets:
                raise NothingToRetry("No node failed; name the node to retry from.")
        session.more_work = scheduler.retry_from(targets)
    return Run.objects.get(pk=run_id)


__all__ = [
    "Claim",
    "IllegalTransition",
    "NothingToRetry",
    "advance",
    "cancel_run",
    "claim_attempt",
    "create_run",
    "fire_timer",
    "pause_run",
    "record_attempt_failure",
    "record_attempt_success",
    "resume_run",
    "retry_run",
]
