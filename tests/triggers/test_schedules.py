"""Schedules: slots in a time zone across DST, the tick with an injectable clock, catch-up and
overlap policies, and exactly one run per slot with two tickers racing (threads and processes)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import close_old_connections

from executions.models import Run
from tests.support.processes import ROOT, child_environment, wait_until
from tests.triggers.helpers import echo_graph, published
from triggers import services
from triggers.models import Trigger, TriggerFire
from triggers.schedule import Cron
from workflows import services as workflow_services

BERLIN = "Europe/Berlin"


def at(text: str) -> datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ====================================================================================
# Slots (no database)
# ====================================================================================


def test_a_daily_slot_in_the_skipped_hour_still_fires_once_on_the_spring_forward_night() -> None:
    # Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that night.
    cron = Cron.parse("30 2 * * *", BERLIN)
    slots, more = cron.slots_between(at("2026-03-27 12:00"), at("2026-03-30 12:00"), 100)
    assert slots == [at("2026-03-28 01:30"), at("2026-03-29 01:30"), at("2026-03-30 00:30")]
    assert not more
    # 01:30 UTC on the 29th is 03:30 CEST: the nonexistent 02:30 read with the offset before the change.


def test_a_daily_slot_in_the_repeated_hour_fires_once_on_the_fall_back_night() -> None:
    # 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice, at 00:30 and 01:30 UTC.
    cron = Cron.parse("30 2 * * *", BERLIN)
    slots, _ = cron.slots_between(at("2026-10-24 12:00"), at("2026-10-26 12:00"), 100)
    assert slots == [at("2026-10-25 00:30"), at("2026-10-26 01:30")]


@pytest.mark.parametrize(
    "start, end, hours",
    [("2026-03-28 23:00", "2026-03-29 22:00", 23), ("2026-10-24 22:00", "2026-10-25 23:00", 25)],
)
def test_every_hour_means_every_real_hour_across_both_changes(start: str, end: str, hours: int) -> None:
    """The local days of the changes have 23 and 25 hours; an hourly schedule fires in each one."""
    cron = Cron.parse("0 * * * *", BERLIN)
    slots, _ = cron.slots_between(at(start) - timedelta(seconds=1), at(end) - timedelta(seconds=1), 1000)
    assert len(slots) == hours
    assert all(later - earlier == timedelta(hours=1) for earlier, later in itertools.pairwise(slots))


@pytest.mark.parametrize("night", ["2026-03-29", "2026-10-25"])
def test_every_fifteen_minutes_stays_fifteen_real_minutes_apart(night: str) -> None:
    cron = Cron.parse("*/15 * * * *", BERLIN)
    slots, _ = cron.slots_between(at(f"{night} 00:00") - timedelta(hours=2), at(f"{night} 04:00"), 1000)
    assert len(slots) == 6 * 4
    assert {later - earlier for earlier, later in itertools.pairwise(slots)} == {timedelta(minutes=15)}


def test_next_after_steps_over_the_changes() -> None:
    cron = Cron.parse("30 2 * * *", BERLIN)
    assert cron.next_after(at("2026-03-28 01:30")) == at("2026-03-29 01:30")
    assert cron.next_after(at("2026-10-25 00:30")) == at("2026-10-26 01:30")
    assert Cron.parse("0 0 29 2 *", "UTC").next_after(at("2026-03-01 00:00")) == at("2028-02-29 00:00")


def test_a_long_outage_is_bounded_by_the_limit() -> None:
    cron = Cron.parse("* * * * *", "UTC")
    slots, more = cron.slots_between(at("2026-01-01 00:00"), at("2026-02-01 00:00"), 3)
    assert slots == [at("2026-01-31 23:58"), at("2026-01-31 23:59"), at("2026-02-01 00:00")] and more


# ====================================================================================
# The tick, with an injected clock
# ====================================================================================


def schedule(owner: Any, workflow: Any = None, *, start: datetime, **config: Any) -> Trigger:
    """A schedule trigger whose slots count from ``start`` (as if created then)."""
    target = workflow or published(owner, echo_graph({"type": "object"}))
    saved = services.create_trigger(
        workflow=target, owner=owner, kind="schedule", config={"timezone": "UTC", **config}
    )
    trigger = saved.trigger
    cron = Cron.parse(trigger.config["cron"], trigger.config["timezone"])
    Trigger.objects.filter(pk=trigger.pk).update(schedule_cursor=start, next_fire_at=cron.next_after(start))
    trigger.refresh_from_db()
    return trigger


def fired_slots(trigger: Trigger, outcome: str = "started") -> list[datetime]:
    return sorted(
        slot
        for slot in TriggerFire.objects.filter(trigger=trigger, outcome=outcome).values_list(
            "slot", flat=True
        )
        if slot is not None
    )


@pytest.mark.django_db
def test_a_schedule_fires_each_slot_once_as_its_owner(users: dict[str, Any]) -> None:
    trigger = schedule(users["owner"], start=at("2026-05-04 10:00:30"), cron="*/5 * * * *", inputs={"a": 1})
    assert services.tick_schedules(at("2026-05-04 10:04:59")) == 0
    assert services.tick_schedules(at("2026-05-04 10:05:01")) == 1
    assert services.tick_schedules(at("2026-05-04 10:05:02")) == 0
    assert services.tick_schedules(at("2026-05-04 10:10:00")) == 1
    runs = list(Run.objects.order_by("created_at"))
    assert [(run.source, run.trigger_id, run.created_by, run.inputs) for run in runs] == [
        ("schedule", trigger.pk, users["owner"], {"a": 1})
    ] * 2
    assert fired_slots(trigger) == [at("2026-05-04 10:05"), at("2026-05-04 10:10")]
    trigger.refresh_from_db()
    assert trigger.next_fire_at == at("2026-05-04 10:15")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "catch_up, now, expected",
    [
        # Down from 10:00:30 to 11:02: twelve slots missed, the latest (11:00) two minutes late.
        ("skip", "2026-05-04 11:02:00", []),
        ("once", "2026-05-04 11:02:00", ["2026-05-04 11:00"]),
        (
            "all",
            "2026-05-04 11:02:00",
            [f"2026-05-04 {h:02d}:{m:02d}" for h, m in [(10, 5 * i) for i in range(1, 12)]]
            + ["2026-05-04 11:00"],
        ),
        # Back within a minute of a slot: skip drops only the missed ones.
        ("skip", "2026-05-04 11:00:20", ["2026-05-04 11:00"]),
    ],
)
def test_catch_up_after_downtime(catch_up: str, now: str, expected: list[str], users: dict[str, Any]) -> None:
    trigger = schedule(users["owner"], start=at("2026-05-04 10:00:30"), cron="*/5 * * * *", catch_up=catch_up)
    assert services.tick_schedules(at(now)) == len(expected)
    assert fired_slots(trigger) == [at(slot) for slot in expected]
    assert Run.objects.count() == len(expected)
    # The missed slots are gone for good: the next tick starts from now.
    assert services.tick_schedules(at(now) + timedelta(seconds=1)) == 0
    trigger.refresh_from_db()
    assert trigger.next_fire_at == at("2026-05-04 11:05")


@pytest.mark.django_db
def test_catch_up_all_is_bounded(users: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "MAX_CATCH_UP", 3)
    trigger = schedule(users["owner"], start=at("2026-05-01 00:00:30"), cron="* * * * *", catch_up="all")
    assert services.tick_schedules(at("2026-05-04 00:00:10")) == 3
    assert fired_slots(trigger) == [at("2026-05-03 23:58"), at("2026-05-03 23:59"), at("2026-05-04 00:00")]


@pytest.mark.django_db
def test_overlap_allow_starts_another_run(users: dict[str, Any]) -> None:
    schedule(users["owner"], start=at("2026-05-04 10:00:30"), cron="*/5 * * * *", overlap="allow")
    services.tick_schedules(at("2026-05-04 10:05:01"))
    services.tick_schedules(at("2026-05-04 10:10:01"))
    # No worker here: both runs stay pending, i.e. active.
    assert sorted(Run.objects.values_list("status", flat=True)) == ["pending", "pending"]


@pytest.mark.django_db
def test_overlap_skip_skips_while_the_previous_run_is_active(users: dict[str, Any]) -> None:
    trigger = schedule(users["owner"], start=at("2026-05-04 10:00:30"), cron="*/5 * * * *", overlap="skip")
    services.tick_schedules(at("2026-05-04 10:05:01"))
    first = Run.objects.get()
    assert services.tick_schedules(at("2026-05-04 10:10:01")) == 0
    assert list(Run.objects.all()) == [first]
    skipped = TriggerFire.objects.get(trigger=trigger, outcome="skipped")
    assert skipped.slot == at("2026-05-04 10:10") and str(first.pk) in skipped.reason
    Run.objects.filter(pk=first.pk).update(status="succeeded")
    assert services.tick_schedules(at("2026-05-04 10:15:01")) == 1
    assert fired_slots(trigger) == [at("2026-05-04 10:05"), at("2026-05-04 10:15")]


@pytest.mark.django_db
def test_overlap_cancel_previous_cancels_then_starts(users: dict[str, Any]) -> None:
    trigger = schedule(
        users["owner"], start=at("2026-05-04 10:00:30"), cron="*/5 * * * *", overlap="cancel_previous"
    )
    services.tick_schedules(at("2026-05-04 10:05:01"))
    first = Run.objects.get()
    assert services.tick_schedules(at("2026-05-04 10:10:01")) == 1
    first.refresh_from_db()
    assert first.status == "cancelled"
    newest = Run.objects.exclude(pk=first.pk).get()
    assert newest.status == "pending" and newest.trigger == trigger
    assert first.events.filter(type="run.cancelled").get().data == {"by": f"trigger {trigger.pk}"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "start, end, expected",
    [
        (
            "2026-03-27 12:00",
            "2026-03-31 12:00",
            ["2026-03-28 01:30", "2026-03-29 01:30", "2026-03-30 00:30", "2026-03-31 00:30"],
        ),
        (
            "2026-10-23 12:00",
            "2026-10-27 12:00",
            ["2026-10-24 00:30", "2026-10-25 00:30", "2026-10-26 01:30", "2026-10-27 01:30"],
        ),
    ],
)
def test_a_clock_walking_across_a_dst_change_fires_each_day_once(
    start: str, end: str, expected: list[str], users: dict[str, Any]
) -> None:
    """Ticks every 20 seconds through the nights of the change (and every 10 minutes elsewhere)."""
    trigger = schedule(users["owner"], start=at(start), cron="30 2 * * *", timezone=BERLIN)
    now = at(start)
    while now < at(end):
        services.tick_schedules(now)
        local_hour = now.astimezone(Cron.parse("* * * * *", BERLIN).zone).hour
        now += timedelta(seconds=20) if 1 <= local_hour <= 4 else timedelta(minutes=10)
    assert fired_slots(trigger) == [at(slot) for slot in expected]
    assert Run.objects.count() == 4


@pytest.mark.django_db
def test_a_slot_fires_once_even_when_the_cursor_is_lost(users: dict[str, Any]) -> None:
    """A restart that lost the cursor (or a ticker that read it before another moved it) finds
    the slot's row: the unique (trigger, slot) constraint, not the cursor, is the last word."""
    trigger = schedule(users["owner"], start=at("2026-05-04 10:00:30"), cron="*/5 * * * *")
    assert services.tick_schedules(at("2026-05-04 10:05:01")) == 1
    Trigger.objects.filter(pk=trigger.pk).update(
        schedule_cursor=at("2026-05-04 10:00:30"), next_fire_at=at("2026-05-04 10:05")
    )
    assert services.tick_schedules(at("2026-05-04 10:05:02")) == 0
    assert services.fire_slot(Trigger.objects.get(pk=trigger.pk), at("2026-05-04 10:05")) is None
    assert Run.objects.count() == 1 and TriggerFire.objects.count() == 1


@pytest.mark.django_db
def test_disabled_schedules_do_not_fire_and_re_enabling_skips_the_past(users: dict[str, Any]) -> None:
    trigger = schedule(users["owner"], start=at("2026-05-04 10:00:30"), cron="*/5 * * * *", catch_up="all")
    trigger.enabled = False
    trigger.save()
    assert services.tick_schedules(at("2026-05-04 10:30:00")) == 0
    services.update_trigger(trigger, by=users["owner"], enabled=True)
    trigger.refresh_from_db()
    # Re-armed from the database's clock: nothing between then and now fires.
    assert trigger.schedule_cursor is not None and trigger.schedule_cursor > at("2026-05-04 10:30:00")
    assert not Run.objects.exists() and not TriggerFire.objects.exists()


@pytest.mark.django_db
def test_a_slot_that_cannot_start_records_why(users: dict[str, Any]) -> None:
    unpublished = workflow_services.create_workflow(owner=users["owner"], name="draft", graph=echo_graph())
    trigger = schedule(users["owner"], unpublished, start=at("2026-05-04 10:00:30"), cron="*/5 * * * *")
    assert services.tick_schedules(at("2026-05-04 10:05:01")) == 0
    fire = TriggerFire.objects.get(trigger=trigger)
    assert fire.outcome == "refused" and "no active version" in fire.reason and fire.run is None
    assert not Run.objects.exists()
    # Inputs that do not fit the schema are refused the same way.
    workflow = published(users["owner"])  # needs {"ticket": …}
    other = schedule(users["owner"], workflow, start=at("2026-05-04 10:00:30"), cron="*/5 * * * *")
    services.tick_schedules(at("2026-05-04 10:05:02"))
    refused = TriggerFire.objects.get(trigger=other)
    assert refused.outcome == "refused" and "input_schema" in refused.reason and "ticket" in refused.reason


# ====================================================================================
# Two tickers racing (in 2099: the embedded sweep thread, ticking by the real clock in tests
# that use the worker, must not find these schedules due)
# ====================================================================================


@pytest.mark.django_db(transaction=True)
def test_two_tickers_on_separate_connections_start_one_run_per_slot(
    worker: Any, users: dict[str, Any]
) -> None:
    trigger = schedule(users["owner"], start=at("2099-05-04 10:00:30"), cron="*/5 * * * *", catch_up="all")
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def tick(now: datetime) -> None:
        try:
            barrier.wait(10)
            results.append(services.tick_schedules(now))
        except BaseException as error:
            errors.append(error)
        finally:
            close_old_connections()

    for now in (at("2099-05-04 10:20:01"), at("2099-05-04 10:25:01")):
        threads = [threading.Thread(target=tick, args=(now,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert not errors
    assert sorted(results) == [0, 0, 1, 4]
    expected = [at(f"2099-05-04 10:{minute:02d}") for minute in (5, 10, 15, 20, 25)]
    assert fired_slots(trigger) == expected
    assert Run.objects.filter(trigger=trigger).count() == 5
    all_finished(trigger)


def all_finished(trigger: Trigger) -> None:
    """Let the worker finish the runs, so the test's teardown does not truncate under it."""
    wait_until(
        lambda: not Run.objects.filter(trigger=trigger).exclude(status="succeeded").exists(),
        30,
        "the scheduled runs to finish",
    )


TICKER = """
import os, sys, time
import django
django.setup()
from datetime import datetime
from triggers.services import tick_schedules
start_at, now = float(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
time.sleep(max(0.0, start_at - time.time()))
print("started", tick_schedules(now), flush=True)
"""


@pytest.mark.slow  # real child processes
@pytest.mark.django_db(transaction=True)
def test_two_ticker_processes_racing_start_one_run_per_slot(
    worker: Any, users: dict[str, Any], tmp_path: Any
) -> None:
    """Two real processes (like two beat-driven workers after a botched deploy) tick together."""
    trigger = schedule(users["owner"], start=at("2099-05-04 10:00:30"), cron="*/5 * * * *", catch_up="all")
    environment = child_environment()
    start_at = time.time() + (8 if settings.SERVICES_MODE else 6)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TICKER, str(start_at), "2099-05-04T10:30:01+00:00"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=90)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    started = sorted(
        int(line.split()[1])
        for output in outputs
        for line in output.splitlines()
        if line.startswith("started")
    )
    assert started == [0, 6], outputs
    expected = [at(f"2099-05-04 10:{minute:02d}") for minute in (5, 10, 15, 20, 25, 30)]
    assert fired_slots(trigger) == expected
    assert Run.objects.filter(trigger=trigger).count() == 6
    if settings.SERVICES_MODE:  # the children's advance messages reach the worker through Redis
        all_finished(trigger)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(settings.SERVICES_MODE, reason="celery beat sends the tick in the services mode")
def test_the_embedded_sweep_thread_ticks_schedules(worker: Any, users: dict[str, Any]) -> None:
    trigger = schedule(users["owner"], start=datetime.now(UTC) - timedelta(minutes=2), cron="* * * * *")
    Trigger.objects.filter(pk=trigger.pk).update(next_fire_at=datetime.now(UTC) - timedelta(seconds=1))
    run = wait_until(
        lambda: Run.objects.filter(trigger=trigger).first(), 15, "the sweep thread to fire a slot"
    )
    finished = wait_until(
        lambda: Run.objects.filter(pk=run.pk, status="succeeded").first(), 15, "the scheduled run to finish"
    )
    assert finished.source == "schedule"


@pytest.mark.django_db
def test_a_schedule_refused_for_the_same_reason_records_it_once(users: dict[str, Any]) -> None:
    unpublished = workflow_services.create_workflow(owner=users["owner"], name="draft", graph=echo_graph())
    trigger = schedule(users["owner"], unpublished, start=at("2026-05-04 10:00:30"), cron="* * * * *")
    for minute in range(1, 6):
        services.tick_schedules(at(f"2026-05-04 10:{minute:02d}:01"))
    [fire] = TriggerFire.objects.filter(trigger=trigger)
    assert fire.slot == at("2026-05-04 10:01") and "no active version" in fire.reason
    Trigger.objects.filter(pk=trigger.pk).update(enabled=False)
    services.update_trigger(Trigger.objects.get(pk=trigger.pk), by=users["stranger"], enabled=True)
    # Re-enabled by someone without access: a new reason, recorded; then folded again.
    trigger.refresh_from_db()
    cursor = trigger.schedule_cursor
    assert cursor is not None
    for minute in range(1, 4):
        services.tick_schedules(cursor + timedelta(minutes=minute))
    reasons = list(
        TriggerFire.objects.filter(trigger=trigger).order_by("created_at").values_list("reason", flat=True)
    )
    assert len(reasons) == 2 and reasons[1] == "The trigger's owner can no longer run this workflow."
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_firings_older_than_the_run_retention_are_pruned(users: dict[str, Any], settings: Any) -> None:
    settings.RUN_RETENTION_DAYS = 30
    trigger = schedule(users["owner"], start=at("2026-05-04 10:00:30"), cron="*/5 * * * *")
    services.tick_schedules(at("2026-05-04 10:05:01"))
    services.tick_schedules(at("2026-05-04 10:10:01"))
    old, recent = TriggerFire.objects.filter(trigger=trigger).order_by("slot")
    TriggerFire.objects.filter(pk=old.pk).update(created_at=at("2026-04-01 00:00"))
    TriggerFire.objects.filter(pk=recent.pk).update(created_at=at("2026-04-20 00:00"))
    assert services.prune_fires(at("2026-05-10 00:00")) == 1
    assert list(TriggerFire.objects.values_list("pk", flat=True)) == [recent.pk]
    assert Run.objects.count() == 2  # runs have their own retention
