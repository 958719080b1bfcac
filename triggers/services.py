"""Everything that changes a trigger or starts a run from one (`check_*` validates, the rest
mutates). Runs are started with executions.services.create_run, which enqueues only after commit.

Exactly one run per firing: each firing first inserts its `TriggerFire` (unique per trigger and
key) in the transaction that creates the run, so a webhook repeat, a second beat process or a
redelivered outbox message finds the row and starts nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404

from executions import services as execution_services
from executions.engine.states import IllegalTransition
from executions.models import Run, RunSource
from executions.starting import StartRefused, check_run_request
from workflows.access import get_workflow_for, has_role
from workflows.choices import Role
from workflows.models import Workflow

from .choices import CatchUp, FireOutcome, Overlap, TriggerKind
from .config import ConfigInvalid, check_config
from .models import Trigger, TriggerFire, new_secret, new_token
from .schedule import Cron

logger = logging.getLogger(__name__)

#: How long a webhook's idempotency key answers with the first run.
IDEMPOTENCY_TTL = timedelta(hours=24)
#: A slot at most this old when the tick sees it is on time; older slots count as missed.
ON_TIME_S = 60
#: `catch_up: "all"` starts at most this many missed slots per tick; older ones are dropped.
MAX_CATCH_UP = 100
#: How many schedules one tick handles; the rest are due on the next tick.
TICK_BATCH = 500
DEFAULT_GRACE_S = 3600
MAX_GRACE_S = 7 * 24 * 3600
ACTIVE_RUN_STATUSES = ("pending", "running", "waiting", "paused")


class TriggerRefused(Exception):
    """A request about a trigger that cannot be honoured, as the API answers it."""

    def __init__(self, status: int, detail: str, errors: Any = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, **({"errors": self.errors} if self.errors is not None else {})}


# ====================================================================================
# Managing triggers
# ====================================================================================


def check_trigger(owner: Any, kind: str, config: Any) -> tuple[dict[str, Any], Workflow | None]:
    """The normalised config and, for workflow events, the source workflow the owner may view.

    Raises ConfigInvalid with per-field errors; a source the owner cannot view is reported as not
    found, like everywhere else, so its existence is not disclosed.
    """
    normalized = check_config(kind, config)
    source: Workflow | None = None
    if kind == TriggerKind.WORKFLOW_EVENT:
        try:
            source = get_workflow_for(owner, normalized["workflow"], Role.VIEWER)
        except (Http404, PermissionDenied):
            message = "No such workflow (you need the viewer role on it)."
            raise ConfigInvalid({"workflow": [message]}) from None
    return normalized, source


@dataclass(frozen=True)
class SavedTrigger:
    trigger: Trigger
    #: The plain signing secret: set only when it was just created or rotated (shown once).
    secret: str | None = None


def _arm_schedule(trigger: Trigger, now: datetime) -> None:
    """Slots count from now: creating, re-enabling or re-configuring never fires past slots."""
    config = trigger.config
    cron = Cron.parse(config["cron"], config["timezone"])
    trigger.schedule_cursor = now
    trigger.next_fire_at = cron.next_after(now)


@transaction.atomic
def create_trigger(
    *, workflow: Workflow, owner: Any, kind: str, config: Any, name: str = "", enabled: bool = True
) -> SavedTrigger:
    normalized, source = check_trigger(owner, kind, config)
    trigger = Trigger(
        workflow=workflow,
        owner=owner,
        kind=kind,
        name=name,
        config=normalized,
        enabled=enabled,
        source_workflow=source,
    )
    secret = None
    if kind == TriggerKind.WEBHOOK:
        trigger.token = new_token()
        secret = new_secret()
        trigger.set_secret(secret)
    if kind == TriggerKind.SCHEDULE:
        _arm_schedule(trigger, execution_services.db_now())
    trigger.save()
    return SavedTrigger(trigger, secret)


@transaction.atomic
def update_trigger(
    trigger: Trigger, *, by: Any, name: str | None = None, config: Any = None, enabled: bool | None = None
) -> SavedTrigger:
    """Change a trigger. Whoever changes its config or enables it becomes its owner — the runs it
    starts then run as them, and a workflow-event source is re-checked against them — so an
    editor can never make a trigger act with someone else's access."""
    fields = ["updated_at"]
    takes_ownership = config is not None or (enabled is True and not trigger.enabled)
    if config is not None:
        normalized, source = check_trigger(by, trigger.kind, config)
        trigger.config = normalized
        trigger.source_workflow = source
        fields += ["config", "source_workflow"]
    elif takes_ownership and trigger.kind == TriggerKind.WORKFLOW_EVENT:
        check_trigger(by, trigger.kind, trigger.config)
    if name is not None:
        trigger.name = name
        fields.append("name")
    rearm = trigger.kind == TriggerKind.SCHEDULE and (
        config is not None or (enabled is True and not trigger.enabled)
    )
    if enabled is not None:
        trigger.enabled = enabled
        fields.append("enabled")
    if takes_ownership and trigger.owner_id != by.pk:
        trigger.owner = by
        fields.append("owner")
    if rearm:
        _arm_schedule(trigger, execution_services.db_now())
        fields += ["schedule_cursor", "next_fire_at"]
    trigger.save(update_fields=fields)
    return SavedTrigger(trigger)


@transaction.atomic
def rotate_secret(trigger: Trigger, grace_s: int) -> SavedTrigger:
    """A new secret becomes current; the old one stays valid for ``grace_s`` seconds, so senders
    can switch without dropping deliveries (they may send both signatures meanwhile)."""
    if trigger.kind != TriggerKind.WEBHOOK:
        raise TriggerRefused(400, "Only webhook triggers have a secret.")
    locked = Trigger.objects.select_for_update().get(pk=trigger.pk)
    now = execution_services.db_now()
    secret = locked.rotate_secret(now + timedelta(seconds=grace_s))
    locked.save(
        update_fields=[
            "secret_encrypted",
            "previous_secret_encrypted",
            "previous_secret_expires_at",
            "updated_at",
        ]
    )
    return SavedTrigger(locked, secret)


# ====================================================================================
# Firing: one TriggerFire per (trigger, key), then a run as the trigger's owner
# ====================================================================================


def may_fire(trigger: Trigger) -> str | None:
    """Why the trigger cannot start a run now (its owner lost access, the workflow is archived),
    or None. Checked at every firing, not only when the trigger was saved."""
    owner = trigger.owner
    if not trigger.enabled:
        return "The trigger is disabled."
    if trigger.workflow.is_archived:
        return "The workflow is archived."
    if not owner.is_active:
        return "The trigger's owner is inactive."
    if not has_role(owner, trigger.workflow, Role.RUNNER):
        return "The trigger's owner can no longer run this workflow."
    return None


def _claim(trigger: Trigger, key: str, **fields: Any) -> TriggerFire | None:
    """Insert the firing, or None if this (trigger, key) already fired. Inside a savepoint, so a
    losing racer's transaction stays usable (on Postgres the insert waits for the winner)."""
    try:
        with transaction.atomic():
            return TriggerFire.objects.create(trigger=trigger, key=key, **fields)
    except IntegrityError:
        return None


def _refuse(fire: TriggerFire, reason: str, outcome: str = FireOutcome.REFUSED) -> None:
    """Record why the firing started no run. A schedule slot refused for the same reason as the
    trigger's previous firing is folded into it (the row is dropped): an every-minute schedule on
    a workflow nobody published must not add a row a minute. Its cursor has moved past the slot,
    so dropping the row can never let the slot fire later."""
    reason = reason[:2000]
    logger.info("Trigger %s did not start a run for %s: %s", fire.trigger_id, fire.key, reason)
    if fire.slot is not None:
        previous = (
            TriggerFire.objects.filter(trigger_id=fire.trigger_id)
            .exclude(pk=fire.pk)
            .order_by("-created_at", "-id")
            .values_list("outcome", "reason")
            .first()
        )
        if previous == (outcome, reason):
            fire.delete()
            return
    fire.outcome = outcome
    fire.reason = reason
    fire.save(update_fields=["outcome", "reason"])


def _describe(refusal: StartRefused) -> str:
    errors = refusal.errors or []
    details = "; ".join(f"{error.get('path', '')}: {error.get('message', '')}" for error in errors)
    return f"{refusal.detail} {details}".strip()


def _start(
    trigger: Trigger, fire: TriggerFire, inputs: dict[str, Any], source: str, chain_depth: int = 0
) -> Run | None:
    """Start the run for a claimed firing, or record why not (in the same transaction)."""
    try:
        plan = check_run_request(
            trigger.workflow, trigger.owner, inputs=inputs, variables={}, version_number=None, draft=False
        )
    except StartRefused as refusal:
        _refuse(fire, _describe(refusal))
        return None
    run = execution_services.create_run(
        workflow=trigger.workflow,
        version=plan.version,
        draft_graph=None,
        inputs=plan.inputs,
        variables=plan.variables,
        user=trigger.owner,
        source=source,
        trigger=trigger,
        chain_depth=chain_depth,
    )
    fire.run = run
    fire.save(update_fields=["run"])
    Trigger.objects.filter(pk=trigger.pk).update(last_fired_at=run.created_at)
    return run


# --- webhooks ----------------------------------------------------------------------------


def find_webhook(token: str) -> Trigger | None:
    """The enabled webhook trigger behind ``token`` whose owner may still run its workflow.
    Anything else answers like an unknown token: a disabled hook discloses nothing."""
    if not token or len(token) > 64:
        return None
    trigger = (
        Trigger.objects.select_related("workflow", "owner")
        .prefetch_related("workflow__grants")
        .filter(token=token, kind=TriggerKind.WEBHOOK, enabled=True)
        .first()
    )
    if trigger is None or may_fire(trigger) is not None:
        return None
    return trigger


def idempotency_key(header: str | None, timestamp: int, body: bytes) -> str:
    """The stored key: a hash of the client's `Idempotency-Key`, else of the signed t and body
    (so a replayed delivery is a repeat, not a second run)."""
    if header:
        return "key:" + hashlib.sha256(header.encode("utf-8", "surrogateescape")).hexdigest()
    return "body:" + hashlib.sha256(str(timestamp).encode() + b"." + body).hexdigest()


def previous_delivery(trigger: Trigger, key: str, now: datetime) -> TriggerFire | None:
    return TriggerFire.objects.filter(trigger=trigger, key=key, expires_at__gt=now).first()


def receive_webhook(trigger: Trigger, key: str, inputs: dict[str, Any]) -> tuple[Run | None, bool]:
    """Start the delivery's run, or find the run its key started first: (run, is_repeat).

    Raises StartRefused (400 inputs, 409 nothing published) having changed nothing. Two racing
    repeats insert the same key; the unique constraint lets one through and the other answers
    with its run.
    """
    now = execution_services.db_now()
    earlier = previous_delivery(trigger, key, now)
    if earlier is not None:
        return earlier.run, True
    plan = check_run_request(
        trigger.workflow, trigger.owner, inputs=inputs, variables={}, version_number=None, draft=False
    )
    with transaction.atomic():
        TriggerFire.objects.filter(trigger=trigger, key=key, expires_at__lte=now).delete()
        fire = _claim(trigger, key, expires_at=now + IDEMPOTENCY_TTL)
        if fire is None:
            winner = TriggerFire.objects.filter(trigger=trigger, key=key).first()
            return (winner.run if winner is not None else None), True
        run = execution_services.create_run(
            workflow=trigger.workflow,
            version=plan.version,
            draft_graph=None,
            inputs=plan.inputs,
            variables=plan.variables,
            user=trigger.owner,
            source=RunSource.WEBHOOK,
            trigger=trigger,
        )
        fire.run = run
        fire.save(update_fields=["run"])
        Trigger.objects.filter(pk=trigger.pk).update(last_fired_at=now)
    return run, False


def prune_fires(now: datetime) -> int:
    """Forget webhook idempotency keys after their 24 hours, and every firing older than the run
    retention (RUN_RETENTION_DAYS): a slot or a source run that old is long behind its trigger."""
    kept_since = now - timedelta(days=settings.RUN_RETENTION_DAYS)
    deleted, _ = TriggerFire.objects.filter(Q(expires_at__lte=now) | Q(created_at__lt=kept_since)).delete()
    return deleted


# --- schedules ---------------------------------------------------------------------------


def tick_schedules(now: datetime | None = None) -> int:
    """Fire every schedule that is due; returns how many runs started. Safe in several processes
    at once (two beats, a beat and a restart): see :func:`tick_schedule`. ``now`` is injectable so
    tests can walk a clock across a DST change; by default the database's clock decides. Pruning
    old firings always goes by the database's clock."""
    database_now = execution_services.db_now()
    now = now or database_now
    due = list(
        Trigger.objects.filter(kind=TriggerKind.SCHEDULE, enabled=True, next_fire_at__lte=now)
        .order_by("next_fire_at")
        .values_list("pk", flat=True)[:TICK_BATCH]
    )
    started = 0
    for trigger_id in due:
        try:
            started += tick_schedule(trigger_id, now)
        except Exception:  # one broken schedule must not stop the others; the next tick retries
            logger.exception("Schedule trigger %s failed to tick", trigger_id)
    prune_fires(database_now)
    return started


def tick_schedule(trigger_id: int, now: datetime) -> int:
    """Fire the slots of one schedule in (cursor, now] by its catch-up policy, then move the cursor.

    The trigger row is locked first (on SQLite the IMMEDIATE transaction serialises), so a second
    ticker waits and then sees the moved cursor; the (trigger, slot) unique constraint is the last
    line of defence should the cursor ever be behind.
    """
    with transaction.atomic():
        trigger = (
            Trigger.objects.select_for_update(of=("self",))
            .select_related("workflow", "owner")
            .filter(pk=trigger_id, kind=TriggerKind.SCHEDULE, enabled=True)
            .first()
        )
        if trigger is None or trigger.next_fire_at is None or trigger.next_fire_at > now:
            return 0
        config = trigger.config
        cron = Cron.parse(config["cron"], config["timezone"])
        cursor = trigger.schedule_cursor or now
        catch_up = config.get("catch_up", CatchUp.SKIP)
        limit = MAX_CATCH_UP if catch_up == CatchUp.ALL else 1
        slots, dropped = cron.slots_between(cursor, now, limit)
        if dropped and catch_up == CatchUp.ALL:
            logger.info("Schedule trigger %s dropped missed slots before %s", trigger.pk, slots[0])
        if slots and catch_up == CatchUp.SKIP:
            on_time = (now - slots[-1]).total_seconds() <= ON_TIME_S
            slots = slots[-1:] if on_time else []
        started = 0
        for slot in slots:
            if fire_slot(trigger, slot) is not None:
                started += 1
        trigger.schedule_cursor = max(cursor, now)
        trigger.next_fire_at = cron.next_after(trigger.schedule_cursor)
        trigger.save(update_fields=["schedule_cursor", "next_fire_at"])
        return started


def fire_slot(trigger: Trigger, slot: datetime) -> Run | None:
    """Start the run of one slot (at most once, whoever calls), applying the overlap policy."""
    fire = _claim(trigger, slot.isoformat(), slot=slot)
    if fire is None:
        return None
    reason = may_fire(trigger)
    if reason is not None:
        _refuse(fire, reason)
        return None
    overlap = trigger.config.get("overlap", Overlap.ALLOW)
    if overlap != Overlap.ALLOW:
        active = list(
            Run.objects.filter(trigger=trigger, status__in=ACTIVE_RUN_STATUSES)
            .order_by("created_at")
            .values_list("pk", flat=True)
        )
        if active and overlap == Overlap.SKIP:
            reason = f"The previous run {active[-1]} is still active (overlap: skip)."
            _refuse(fire, reason, FireOutcome.SKIPPED)
            return None
        for run_id in active:
            _cancel_quietly(run_id, f"trigger {trigger.pk}")
    return _start(trigger, fire, dict(trigger.config.get("inputs") or {}), RunSource.SCHEDULE)


def _cancel_quietly(run_id: Any, by: str) -> None:
    """Cancel a previous run for `overlap: cancel_previous`; one that finished meanwhile is fine.

    This locks that run's row inside the schedule's transaction, which holds no other run row (the
    new run is only inserted afterwards), so the one-run-row-per-transaction lock order holds.
    """
    with contextlib.suppress(IllegalTransition):
        execution_services.cancel_run(run_id, by=by)
