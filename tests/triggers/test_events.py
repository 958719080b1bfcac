"""Workflow-event triggers with a real worker: a finished source run starts the target once, with
inputs rendered from the event; the status filter, the viewer check at fire time and the chain
depth bound; redelivered events start nothing twice."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import Group

from executions import services as execution_services
from executions.models import OutboxMessage, Run
from tests.support.processes import wait_until
from tests.triggers.helpers import echo_graph, failing_graph, published
from triggers import events, services
from triggers.models import Trigger, TriggerFire
from workflows.models import WorkflowGrant

pytestmark = pytest.mark.django_db(transaction=True)

DEADLINE_S = 30
OPEN_SCHEMA = {"type": "object"}


def start(workflow: Any, user: Any, inputs: dict[str, Any] | None = None) -> Run:
    return execution_services.create_run(
        workflow=workflow,
        version=workflow.active_version,
        draft_graph=None,
        inputs=inputs or {},
        variables={},
        user=user,
    )


def finished(run: Run) -> Run:
    return wait_until(
        lambda: Run.objects.filter(pk=run.pk, status__in=["succeeded", "failed"]).first(),
        DEADLINE_S,
        f"run {run.pk} to finish",
    )


def fires_settled(trigger: Trigger, count: int) -> list[TriggerFire]:
    """Wait until the trigger has ``count`` firings and every started run has finished."""

    def check() -> list[TriggerFire] | None:
        found = list(TriggerFire.objects.filter(trigger=trigger).select_related("run").order_by("created_at"))
        if len(found) != count:
            return None
        if any(fire.run is not None and fire.run.status not in ("succeeded", "failed") for fire in found):
            return None
        return found

    return wait_until(check, DEADLINE_S, f"{count} firings of trigger {trigger.pk}")


def follow(owner: Any, target: Any, source: Any, **config: Any) -> Trigger:
    return services.create_trigger(
        workflow=target,
        owner=owner,
        kind="workflow_event",
        config={"workflow": source.pk, "on": ["succeeded"], **config},
    ).trigger


def quiet_for(seconds: float) -> None:
    """Give a wrongly fired run time to appear before asserting that none did."""
    time.sleep(seconds)


def test_a_succeeded_run_starts_the_target_once_with_rendered_inputs(
    worker: Any, users: dict[str, Any]
) -> None:
    owner = users["owner"]
    source = published(owner, name="source")
    target = published(owner, echo_graph(OPEN_SCHEMA), name="target")
    trigger = follow(
        owner,
        target,
        source,
        inputs={
            "ticket": "{{ event.run.outputs.echo.ticket }}",
            "whole": "{{ event.run.outputs }}",
            "label": "from {{ event.run.workflow_name }} ({{ event.type }})",
            "constant": 7,
        },
    )
    first = finished(start(source, owner, {"ticket": "T-9"}))
    [fire] = fires_settled(trigger, 1)
    child = fire.run
    assert child is not None and child.status == "succeeded"
    assert child.inputs == {
        "ticket": "T-9",
        "whole": {"echo": {"ticket": "T-9"}},
        "label": "from source (run.succeeded)",
        "constant": 7,
    }
    assert (child.source, child.trigger_id, child.created_by, child.chain_depth) == (
        "workflow_event",
        trigger.pk,
        owner,
        1,
    )
    assert fire.key == f"run:{first.pk}:{first.next_seq}"
    # Redelivering the event (the outbox is at-least-once) starts nothing more.
    events.deliver_run_finished({"run_id": str(first.pk), "status": "succeeded", "seq": first.next_seq})
    assert Run.objects.filter(workflow=target).count() == 1
    message = OutboxMessage.objects.get(kind=events.OUTBOX_KIND)
    assert message.sent_at is not None and message.payload["run_id"] == str(first.pk)


def test_the_status_filter_decides_which_outcomes_fire(worker: Any, users: dict[str, Any]) -> None:
    owner = users["owner"]
    source = published(owner, failing_graph(), name="flaky")
    on_success = follow(owner, published(owner, echo_graph(OPEN_SCHEMA), name="a"), source)
    on_failure = follow(
        owner,
        published(owner, echo_graph(OPEN_SCHEMA), name="b"),
        source,
        on=["failed"],
        inputs={"why": "{{ event.run.error.code }}", "status": "{{ event.run.status }}"},
    )
    failed = finished(start(source, owner))
    assert failed.status == "failed" and failed.error is not None
    [fire] = fires_settled(on_failure, 1)
    assert fire.run is not None and fire.run.inputs == {"why": failed.error["code"], "status": "failed"}
    quiet_for(1.0)
    assert not TriggerFire.objects.filter(trigger=on_success).exists()
    assert Run.objects.filter(trigger=on_success).count() == 0


def test_no_outbox_message_when_nothing_follows_the_workflow(worker: Any, users: dict[str, Any]) -> None:
    finished(start(published(users["owner"]), users["owner"], {"ticket": "x"}))
    assert not OutboxMessage.objects.filter(kind=events.OUTBOX_KIND).exists()


def test_an_owner_who_lost_the_viewer_role_on_the_source_fires_nothing(
    worker: Any, users: dict[str, Any]
) -> None:
    watcher = users["viewer"]  # in the "viewers" group
    source = published(users["owner"], name="shared source")
    grant = WorkflowGrant.objects.create(
        workflow=source, group=Group.objects.get(name="viewers"), role="viewer"
    )
    target = published(watcher, echo_graph(OPEN_SCHEMA), name="watcher's")
    trigger = follow(watcher, target, source)
    grant.delete()
    finished(start(source, users["owner"], {"ticket": "secret stuff"}))
    [fire] = fires_settled(trigger, 1)
    assert fire.outcome == "refused" and fire.run is None
    assert fire.reason == "The trigger's owner can no longer view the source workflow."
    assert not Run.objects.filter(workflow=target).exists()


def test_chains_stop_at_depth_five_with_a_recorded_reason(worker: Any, users: dict[str, Any]) -> None:
    owner = users["owner"]
    loop = published(owner, echo_graph(OPEN_SCHEMA), name="ouroboros")
    trigger = follow(owner, loop, loop, inputs={"n": "{{ (event.run.inputs.n or 0) + 1 }}"})
    finished(start(loop, owner, {"n": 0}))
    fires = fires_settled(trigger, events.MAX_CHAIN_DEPTH + 1)
    runs = list(Run.objects.filter(workflow=loop).order_by("chain_depth"))
    assert [(run.chain_depth, run.inputs["n"], run.status) for run in runs] == [
        (depth, depth, "succeeded") for depth in range(events.MAX_CHAIN_DEPTH + 1)
    ]
    refused = fires[-1]
    assert refused.outcome == "refused" and refused.run is None
    assert "at most 5 levels deep" in refused.reason
    quiet_for(1.0)
    assert Run.objects.filter(workflow=loop).count() == events.MAX_CHAIN_DEPTH + 1


def test_a_template_that_fails_at_fire_time_is_recorded(worker: Any, users: dict[str, Any]) -> None:
    owner = users["owner"]
    source = published(owner, name="source")
    target = published(owner, echo_graph(OPEN_SCHEMA), name="target")
    trigger = follow(owner, target, source, inputs={"x": "{{ event.run.outputs.missing.deeper }}"})
    finished(start(source, owner, {"ticket": "t"}))
    [fire] = fires_settled(trigger, 1)
    assert fire.outcome == "refused" and fire.reason.startswith("An input template failed:")
    assert not Run.objects.filter(workflow=target).exists()


def test_a_disabled_trigger_does_not_fire(worker: Any, users: dict[str, Any]) -> None:
    owner = users["owner"]
    source = published(owner, name="source")
    trigger = follow(owner, published(owner, echo_graph(OPEN_SCHEMA), name="target"), source)
    Trigger.objects.filter(pk=trigger.pk).update(enabled=False)
    finished(start(source, owner, {"ticket": "t"}))
    quiet_for(1.0)
    assert not TriggerFire.objects.exists()
    assert Run.objects.count() == 1
