"""W1: 10 sequential `prompt` nodes (an instantly answering local provider), one run at a time,
start → end, beside a chain of 10 bare Celery tasks on the same broker and workers (DESIGN §10:
≤ 1.5 times the chain).

Measured: `create_run` (the run row, `advance_run` sent after commit) until the run is settled,
woken by the product's own Redis PUBLISH (`executions.notify`). Baseline: sending a 10-link
`chain` until its last link's LPUSH is BLPOPped. Runs and chains alternate, after warm-ups.
"""

from __future__ import annotations

import statistics

from bench.common import PROMPT_INPUTS, PROMPT_NOTE, Bench, CpuAccount, sequential_prompts, unique_key
from bench.harness import Figure, paired_samples, timed
from bench.stack import redis_client

NODES = 10
BUDGET_RATIO = 1.5


def figures(bench: Bench) -> list[Figure]:
    from celery import chain

    from bench.celery_tasks import chain_step

    workflow = bench.workflow("w1 sequential", sequential_prompts(NODES))
    client = redis_client(bench.stack)

    def run_chain() -> None:
        key = unique_key("chain")
        chain(*[chain_step.si() for _ in range(NODES - 1)], chain_step.si(key)).apply_async()
        bench.blpop(client, key)

    repetitions = bench.repetitions(15, 5)
    cpu = CpuAccount(bench.stack)
    measured, baseline = paired_samples(
        cpu.wrap(lambda: bench.run_to_end(workflow, PROMPT_INPUTS)), timed(run_chain), repetitions, warmups=3
    )
    client.close()
    value, floor = statistics.median(measured) * 1000, statistics.median(baseline) * 1000
    return [
        Figure(
            f"W1 {NODES} sequential prompt nodes, start→end",
            value,
            "ms",
            f"chain of {NODES} bare tasks",
            floor,
            f"<= {BUDGET_RATIO}x chain",
            value <= BUDGET_RATIO * floor,
            (
                PROMPT_NOTE,
                f"median of {repetitions} after 3 warm-ups, alternating with the baseline",
                f"W1 CPU per run: {cpu.per_sample_ms()} (per node: {cpu.per_sample_ms(NODES)})",
            ),
        )
    ]
