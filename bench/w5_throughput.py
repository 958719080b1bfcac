"""W5: node executions per second with 200 concurrent runs of a 10-node workflow (start → 8 noop
→ end; DESIGN §10: ≥ 500/s), beside bare Celery tasks per second through the same workers.

A batch: 200 runs created in one transaction (so their 200 `advance_run` messages leave together
at commit), then wait until every one of them is terminal (polling the database every 20 ms).
Rate = node executions of the batch / wall time from before the transaction to the last terminal
run; reported for dispatched nodes (8 per run) and for all nodes (10 per run).

Baseline: as many bare tasks as the batch has dispatched nodes, sent as fast as this process can
publish them; each INCRs a Redis counter and the one that reaches the total LPUSHes the signal.
"""

from __future__ import annotations

import statistics
import time

from django.db import transaction

from bench.common import NOOP_NOTE, TERMINAL, Bench, CpuAccount, graph, node, unique_key
from bench.common import chain as chained
from bench.harness import Figure
from bench.stack import redis_client

BUDGET = 500.0
DISPATCHED_PER_RUN = 8


def ten_node_workflow() -> dict[str, object]:
    steps = [f"step_{index}" for index in range(1, DISPATCHED_PER_RUN + 1)]
    nodes = [node("start", "start"), *[node(step, "noop") for step in steps], node("end", "end")]
    return graph(nodes, chained([item["id"] for item in nodes]))


def run_batch(bench: Bench, workflow: object, runs: int, timeout_s: float = 300) -> float:
    from executions.models import Run

    started = time.perf_counter()
    with transaction.atomic():
        ids = [bench.start_run(workflow).pk for _ in range(runs)]
    deadline = time.monotonic() + timeout_s
    while True:
        done = Run.objects.filter(pk__in=ids, status__in=TERMINAL).count()
        if done == runs:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{runs - done} of {runs} runs unfinished after {timeout_s} s")
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    failed = Run.objects.filter(pk__in=ids).exclude(status="succeeded").count()
    if failed:
        raise AssertionError(f"{failed} of {runs} runs did not succeed")
    return elapsed


def bare_tasks(bench: Bench, client: object, tasks: int) -> float:
    from bench.celery_tasks import count

    counter, done = unique_key("count"), unique_key("count-done")
    started = time.perf_counter()
    for _ in range(tasks):
        count.delay(counter, tasks, done)
    bench.blpop(client, done, timeout_s=300)
    elapsed = time.perf_counter() - started
    client.delete(counter)  # type: ignore[attr-defined]
    return elapsed


def figures(bench: Bench) -> list[Figure]:
    workflow = bench.workflow("w5 ten nodes", ten_node_workflow())
    runs = 100 if bench.quick else 200
    repetitions = bench.repetitions(5, 3)
    tasks = runs * DISPATCHED_PER_RUN
    client = redis_client(bench.stack)
    run_batch(bench, workflow, max(20, runs // 4))  # warm-up
    bare_tasks(bench, client, tasks // 4)
    batch_times, bare_times = [], []
    cpu = CpuAccount(bench.stack)
    for _ in range(repetitions):
        batch_times.append(cpu.wrap(lambda: run_batch(bench, workflow, runs))())
        bare_times.append(bare_tasks(bench, client, tasks))
    client.close()
    batch_s, bare_s = statistics.median(batch_times), statistics.median(bare_times)
    dispatched_rate, all_rate, bare_rate = tasks / batch_s, runs * 10 / batch_s, tasks / bare_s
    notes = (
        NOOP_NOTE,
        f"median of {repetitions} batches of {runs} concurrent runs after a warm-up batch; "
        f"baseline: {tasks} bare tasks per batch",
        f"W5 CPU per dispatched node: {cpu.per_sample_ms(tasks)}",
    )
    return [
        Figure(
            f"W5 dispatched node executions/s, {runs} runs",
            dispatched_rate,
            "/s",
            "bare Celery tasks/s",
            bare_rate,
            f">= {BUDGET:.0f} /s",
            dispatched_rate >= BUDGET,
            notes,
        ),
        Figure(
            f"W5 all node executions/s, {runs} runs",
            all_rate,
            "/s",
            "bare Celery tasks/s",
            bare_rate,
            f">= {BUDGET:.0f} /s",
            all_rate >= BUDGET,
            notes,
        ),
    ]
