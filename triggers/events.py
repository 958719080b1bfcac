"""Workflow-event triggers: a run of the source workflow reaching a followed status starts a run
of the trigger's workflow, with inputs rendered from the event in the engine's sandbox.

Durable and exactly once: the finished run's transaction records an outbox message (only if some
trigger follows that workflow); delivery, after commit and retried by the sweep, claims one
`TriggerFire` per (trigger, source run, status change), so a redelivery starts nothing twice.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from executions import outbox
from executions.engine.expressions import ExpressionError, render_template
from executions.models import Run, RunSource
from workflows.access import has_role
from workflows.choices import Role

from .choices import EventStatus, TriggerKind
from .models import Trigger
from .services import _claim, _refuse, _start, may_fire

logger = logging.getLogger(__name__)

OUTBOX_KIND = "trigger.run_finished"
#: Workflow-event triggers may start runs that start runs … down to this depth, and no deeper.
MAX_CHAIN_DEPTH = 5


def _followers(workflow_id: int) -> Any:
    return Trigger.objects.filter(
        kind=TriggerKind.WORKFLOW_EVENT, enabled=True, source_workflow_id=workflow_id
    )


def record_run_finished(run: Run) -> None:
    """In the finished run's transaction: remember the event if some trigger follows it."""
    if run.status not in EventStatus.values or not _followers(run.workflow_id).exists():
        return
    # next_seq is unique per status change of the run (a retried run finishing again is a new event).
    outbox.enqueue(OUTBOX_KIND, {"run_id": str(run.pk), "status": run.status, "seq": run.next_seq})


def deliver_run_finished(payload: dict[str, Any]) -> None:
    """The outbox handler: fire every trigger that follows this outcome (each at most once)."""
    source = Run.objects.select_related("workflow").filter(pk=payload["run_id"]).first()
    if source is None:
        return
    status = payload["status"]
    followers = _followers(source.workflow_id).select_related("workflow", "owner", "source_workflow")
    for trigger in followers.prefetch_related("workflow__grants", "source_workflow__grants"):
        if status in trigger.config.get("on", []):
            fire_event(trigger, source, status, payload["seq"])


def event_context(source: Run, status: str) -> dict[str, Any]:
    """What input templates see: plain JSON about the finished run, never ORM objects."""
    return {
        "event": {
            "type": f"run.{status}",
            "run": {
                "id": str(source.pk),
                "workflow": source.workflow_id,
                "workflow_name": source.workflow.name,
                "status": status,
                "source": source.source,
                "inputs": source.inputs,
                "outputs": source.outputs,
                "error": source.error,
                "created_at": source.created_at.isoformat(),
                "started_at": source.started_at.isoformat() if source.started_at else None,
                "finished_at": source.finished_at.isoformat() if source.finished_at else None,
            },
        }
    }


def render_inputs(templates: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Strings are templates (a lone ``{{ expr }}`` keeps its JSON type); other values are constants."""
    return {
        name: render_template(value, context) if isinstance(value, str) else value
        for name, value in templates.items()
    }


def fire_event(trigger: Trigger, source: Run, status: str, seq: int) -> Run | None:
    with transaction.atomic():
        fire = _claim(trigger, f"run:{source.pk}:{seq}")
        if fire is None:
            return None
        reason = may_fire(trigger)
        if reason is None and not has_role(trigger.owner, source.workflow, Role.VIEWER):
            reason = "The trigger's owner can no longer view the source workflow."
        depth = source.chain_depth + 1
        if reason is None and depth > MAX_CHAIN_DEPTH:
            reason = (
                f"Chain too deep: workflow-event triggers start runs at most {MAX_CHAIN_DEPTH} levels deep."
            )
        if reason is not None:
            _refuse(fire, reason)
            return None
        try:
            inputs = render_inputs(trigger.config.get("inputs") or {}, event_context(source, status))
        except ExpressionError as error:
            _refuse(fire, f"An input template failed: {error.message}")
            return None
        return _start(trigger, fire, inputs, RunSource.WORKFLOW_EVENT, chain_depth=depth)
