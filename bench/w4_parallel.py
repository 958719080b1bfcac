"""W4: 5 parallel `prompt` nodes (an instantly answering local provider) and a join, beside a
Celery chord of 5 (DESIGN §10: ≤ 1.5 times).

Measured: start → parallel → 5 prompts → join → end, from `create_run` until the run settles (the
product's Redis PUBLISH wakes the wait). Baseline: a chord of 5 bare header tasks whose callback
LPUSHes; the header tasks store their results in the Redis result backend (a chord needs one; the
product keeps results off). Alternating, after warm-ups.
"""

from __future__ import annotations

import statistics

from bench.common import PROMPT_INPUTS, PROMPT_NOTE, Bench, CpuAccount, parallel_prompts, unique_key
from bench.harness import Figure, paired_samples, timed
from bench.stack import redis_client

WIDTH = 5
BUDGET_RATIO = 1.5


def figures(bench: Bench) -> list[Figure]:
    from celery import chord

    from bench.celery_tasks import chord_body, chord_done

    workflow = bench.workflow("w4 parallel", parallel_prompts(WIDTH))
    client = redis_client(bench.stack)

    def run_chord() -> None:
        key = unique_key("chord")
        chord([chord_body.s(index) for index in range(WIDTH)], chord_done.s(key)).apply_async()
        bench.blpop(client, key)

    repetitions = bench.repetitions(15, 5)
    cpu = CpuAccount(bench.stack)
    measured, baseline = paired_samples(
        cpu.wrap(lambda: bench.run_to_end(workflow, PROMPT_INPUTS)), timed(run_chord), repetitions, warmups=3
    )
    client.close()
    value, floor = statistics.median(measured) * 1000, statistics.median(baseline) * 1000
    return [
        Figure(
            f"W4 {WIDTH} parallel prompt nodes + join",
            value,
            "ms",
            f"chord of {WIDTH}",
            floor,
            f"<= {BUDGET_RATIO}x chord",
            value <= BUDGET_RATIO * floor,
            (
                PROMPT_NOTE,
                f"median of {repetitions} after 3 warm-ups, alternating with the baseline",
                f"W4 CPU per run: {cpu.per_sample_ms()}",
            ),
        )
    ]
