"""N runs parked at an approval (DESIGN §10: 10 000 runs hold 0 worker slots; deciding them all
resumes ≥ 200 runs/s).

Parking: N runs of start → approval → end are started (`create_run`, in transactions of
CREATE_BATCH runs) and the benchmark waits until all of them are `waiting`. Then it checks that no
worker slot is held: no attempt is queued or running in the database, and `celery inspect active`
reports no task on any worker (reserved ones are counted too).

Resuming: the approvals are decided through `executions.approvals.decide` from DECIDE_THREADS
threads of the benchmark process, each with its own database connection; the time runs until the
last run is terminal. Each decision resolves the approval and runs the `end` node inline in the
same transaction, so a decided run is a finished run.

Baseline for the resume rate: the same number of bare single-row ORM UPDATEs of the approval rows
(`.filter(pk=…).update(comment="")`, each its own transaction) from the same threads: the least a
decision must do is change one row and commit, so this is the floor of any "decide" path here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from bench.common import TERMINAL, Bench, approval_gate_then_end
from bench.harness import Figure

BUDGET = 200.0
CREATE_BATCH = 500
DECIDE_THREADS = 4


def in_threads(items: list[Any], action: Callable[[Any], object], threads: int = DECIDE_THREADS) -> float:
    """Run `action` over `items` split across threads; wall time in seconds."""
    errors: list[BaseException] = []
    slices = [items[index::threads] for index in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(chunk: list[Any]) -> None:
        barrier.wait()
        try:
            for item in chunk:
                action(item)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in slices]
    for worker in workers:
        worker.start()
    started = time.perf_counter()
    barrier.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def wait_for_statuses(run_ids: list[Any], statuses: frozenset[str], timeout_s: float) -> None:
    from executions.models import Run

    deadline = time.monotonic() + timeout_s
    while True:
        done = Run.objects.filter(pk__in=run_ids, status__in=statuses).count()
        if done == len(run_ids):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{len(run_ids) - done} of {len(run_ids)} runs not {sorted(statuses)} after {timeout_s:.0f} s"
            )
        time.sleep(0.05)


def slots_held(bench: Bench) -> tuple[int, int, int]:
    """(attempts queued or running, tasks active on the workers, tasks reserved by the workers)."""
    from config.celery import app
    from executions.models import NodeAttempt

    attempts = NodeAttempt.objects.filter(status__in=["queued", "running"]).count()
    names = bench.stack.worker_names
    inspector = app.control.inspect(destination=names, timeout=2.0)
    active, reserved = inspector.active() or {}, inspector.reserved() or {}
    if set(active) != set(names) or set(reserved) != set(names):
        raise AssertionError(f"not every worker answered `inspect`: {sorted(active)} / {sorted(reserved)}")
    return (
        attempts,
        sum(len(tasks) for tasks in active.values()),
        sum(len(tasks) for tasks in reserved.values()),
    )


def figures(bench: Bench) -> list[Figure]:
    from executions.approvals import decide
    from executions.models import Approval

    count = bench.approvals_n
    workflow = bench.workflow("parked approvals", approval_gate_then_end())
    parking_started = time.perf_counter()
    run_ids: list[Any] = []
    for offset in range(0, count, CREATE_BATCH):
        with transaction.atomic():
            run_ids += [bench.start_run(workflow).pk for _ in range(min(CREATE_BATCH, count - offset))]
    wait_for_statuses(run_ids, frozenset({"waiting"}), timeout_s=max(300.0, count / 5))
    parking_s = time.perf_counter() - parking_started

    time.sleep(1.0)  # let the last publishes and acks settle before looking at the workers
    attempts, active, reserved = slots_held(bench)
    held = attempts + active + reserved

    approval_ids = list(
        Approval.objects.filter(run_id__in=run_ids, status="pending").values_list("pk", flat=True)
    )
    if len(approval_ids) != count:
        raise AssertionError(f"{len(approval_ids)} pending approvals for {count} parked runs")
    update_s = in_threads(approval_ids, lambda pk: Approval.objects.filter(pk=pk).update(comment=""))

    user = bench.user
    started = time.perf_counter()
    in_threads(approval_ids, lambda pk: decide(pk, user, "approve"))
    wait_for_statuses(run_ids, TERMINAL, timeout_s=max(300.0, count / 5))
    resume_s = time.perf_counter() - started
    from executions.models import Run

    if Run.objects.filter(pk__in=run_ids, status="succeeded").count() != count:
        raise AssertionError("not every decided run succeeded")
    label_n = f"{count:,}"
    return [
        Figure(
            f"{label_n} runs parked at an approval: worker slots held",
            held,
            "slots",
            f"pool slots: {len(bench.stack.worker_names) * 2}",
            None,
            "0 held",
            held == 0,
            show_ratio=False,
            notes=(
                f"N = {label_n} parked runs"
                f"{' (lowered with --approvals/--quick)' if count != 10_000 else ''}; "
                f"parking them took {parking_s:.0f} s; held = {attempts} attempts queued/running + "
                f"{active} active + {reserved} reserved tasks (celery inspect)",
            ),
        ),
        Figure(
            f"{label_n} parked runs: decide all, resumed runs/s",
            count / resume_s,
            "runs/s",
            "bare 1-row ORM UPDATEs/s",
            count / update_s,
            f">= {BUDGET:.0f} runs/s",
            count / resume_s >= BUDGET,
            notes=(
                f"approvals.decide from {DECIDE_THREADS} threads of the load process (one process: its GIL "
                "is shared); baseline: the same number of single-row UPDATE transactions, same threads",
            ),
        ),
    ]
