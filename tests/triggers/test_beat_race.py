"""Two real `celery beat` processes send the schedule tick to a two-process worker at the same
time: each slot still starts exactly one run (services mode: Postgres row locks and the unique
(trigger, slot) constraint, not luck)."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from typing import Any

import pytest

from executions import services as execution_services
from executions.models import Run
from tests.faults.conftest import Cluster
from tests.support.processes import wait_until
from tests.triggers.helpers import echo_graph, published
from triggers import services
from triggers.models import Trigger, TriggerFire
from triggers.schedule import Cron

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_two_beat_processes_start_one_run_per_slot(cluster: Cluster, users: dict[str, Any]) -> None:
    workflow = published(users["owner"], echo_graph({"type": "object"}))
    trigger = services.create_trigger(
        workflow=workflow,
        owner=users["owner"],
        kind="schedule",
        config={"cron": "* * * * *", "timezone": "UTC", "catch_up": "all"},
    ).trigger
    # As if the schedule had been down for ten minutes: ten or so slots are due at the first tick.
    since = execution_services.db_now() - timedelta(minutes=10, seconds=30)
    Trigger.objects.filter(pk=trigger.pk).update(
        schedule_cursor=since, next_fire_at=Cron.parse("* * * * *", "UTC").next_after(since)
    )
    cluster.worker(concurrency=2)
    cluster.beat()
    cluster.beat()
    wait_until(lambda: TriggerFire.objects.filter(trigger=trigger).count() >= 10, 60, "ten slots to fire")
    time.sleep(3)  # both beats keep ticking (every 0.5 s); nothing may fire twice meanwhile
    wait_until(
        lambda: not Run.objects.filter(trigger=trigger).exclude(status="succeeded").exists(),
        60,
        "the scheduled runs to finish",
    )
    stored = TriggerFire.objects.filter(trigger=trigger).values_list("slot", flat=True)
    slots = sorted(slot for slot in stored if slot is not None)
    assert len(slots) == len(set(slots)) == len(stored) >= 10
    assert all(later - earlier == timedelta(minutes=1) for earlier, later in itertools.pairwise(slots))
    assert Run.objects.filter(trigger=trigger).count() == len(slots)
    assert set(TriggerFire.objects.filter(trigger=trigger).values_list("outcome", flat=True)) == {"started"}
