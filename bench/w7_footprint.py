"""W7: process start → first run done (DESIGN §10: ≤ 5 s), and web + worker memory after 1 000
runs (≤ 400 MiB). Runs last: it stops the stack's processes and starts fresh ones.

Start: the web process and both workers are spawned together; the clock runs from just before the
spawn until `POST …/runs/` with `wait_s` (retried while the web process does not accept
connections yet) answers a succeeded run of start → noop → end: a web process serving, a worker
executing, the wake-up arriving. Baseline: spawning a bare `celery worker` (no Django, same broker,
same prefork concurrency, `bench.bare_worker`) until it has executed a ping task. Alternating.

Memory: on the processes of the last start, 1 000 runs (alternately the 13-node control-flow and
the 5-way parallel noop workflow) are started over HTTP by 8 clients and run to the end; then the
RSS of the web process, the worker main processes and their prefork children is summed. RSS counts
pages shared between a prefork parent and its children once per process, so the sum overstates
real use; the proportional set size (PSS) is given in the note. Baseline: the RSS of an idle
`python -c "import django"` process.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from bench.common import NOOP_NOTE, TERMINAL, Bench, control_flow_13, graph, node, parallel_noops, unique_key
from bench.common import chain as chained
from bench.harness import Figure
from bench.http_client import HttpClient
from bench.stack import ROOT, WORKER_CONCURRENCY, pss_kib, redis_client, rss_kib
from tests.support.processes import ManagedProcess, free_port

START_BUDGET_S = 5.0
MEMORY_BUDGET_MIB = 400.0
RUNS = 1000
CLIENTS = 8


def first_run_done(bench: Bench, workflow_id: int, timeout_s: float = 60) -> None:
    """Start the stack's processes; return when a first run has succeeded through them."""
    bench.stack.launch()
    client = HttpClient(bench.stack.base_url, bench.token)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                run = client.expect(
                    "POST", f"/api/workflows/{workflow_id}/runs/", 201, {"inputs": {}, "wait_s": 30}
                )
            except (ConnectionRefusedError, ConnectionResetError):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the web process did not accept connections in {timeout_s} s"
                    ) from None
                time.sleep(0.02)
                client.close()
                client = HttpClient(bench.stack.base_url, bench.token)
                continue
            if run["status"] != "succeeded":
                raise AssertionError(
                    f"the first run is {run['status']} after wait_s: {diagnose(bench, run['id'])}"
                )
            return
    finally:
        client.close()


def diagnose(bench: Bench, run_id: str) -> str:
    """What a run that did not finish is waiting for: its rows, the broker's queues, the logs."""
    from executions.models import Run, RunEvent

    client = redis_client(bench.stack)
    try:
        queues = {queue: client.llen(queue) for queue in ("flowdeck.control", "flowdeck.nodes")}
        unacked = client.hlen("unacked")
    finally:
        client.close()
    bench.stack.keep_logs = True
    return (
        f"run {run_id} status {Run.objects.values_list('status', flat=True).get(pk=run_id)}, "
        f"{RunEvent.objects.filter(run_id=run_id).count()} events; queues {queues}, unacked {unacked}\n"
        f"{bench.stack.logs()}"
    )


def bare_worker_ready(bench: Bench) -> None:
    """Spawn a bare Celery worker, return when it executed a ping, stop it."""
    from config.celery import app

    client = redis_client(bench.stack)
    key = unique_key("bare-ping")
    worker = ManagedProcess.spawn(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.bare_worker",
            "worker",
            "--loglevel=WARNING",
            "--pool=prefork",
            f"--concurrency={WORKER_CONCURRENCY}",
            "-n",
            f"bare-{os.getpid()}-{free_port()}@localhost",
        ],
        # Without DJANGO_SETTINGS_MODULE Celery does not load its Django fix-up: no Django at all.
        {key: value for key, value in bench.stack.environment.items() if key != "DJANGO_SETTINGS_MODULE"},
        "bench-bare-worker",
    )
    try:
        app.send_task("bench.bare.ping", args=[key], queue="bench.bare")
        bench.blpop(client, key, timeout_s=60)
    finally:
        worker.stop()
        worker.log_path.unlink(missing_ok=True)
        client.close()


def idle_django_rss_mib() -> float:
    process = subprocess.Popen(
        [sys.executable, "-c", "import django, sys, time; print('ready', flush=True); time.sleep(60)"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        time.sleep(0.2)
        return rss_kib(process.pid) / 1024
    finally:
        process.kill()
        process.wait()


def run_many(bench: Bench, workflow_ids: list[int], runs: int) -> None:
    """Start `runs` runs over HTTP from CLIENTS threads, then wait until all are terminal."""
    from executions.models import Run

    started: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        client = HttpClient(bench.stack.base_url, bench.token)
        try:
            for number in range(index, runs, CLIENTS):
                workflow_id = workflow_ids[number % len(workflow_ids)]
                run = client.expect("POST", f"/api/workflows/{workflow_id}/runs/", 201, {"inputs": {}})
                with lock:
                    started.append(run["id"])
        except BaseException as error:
            errors.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    deadline = time.monotonic() + 600
    while Run.objects.filter(pk__in=started, status__in=TERMINAL).count() < len(started):
        if time.monotonic() > deadline:
            raise TimeoutError("the 1 000 runs did not finish in 600 s")
        time.sleep(0.2)
    if Run.objects.filter(pk__in=started, status="succeeded").count() != runs:
        raise AssertionError("not every one of the 1 000 runs succeeded")


def footprint_kib(pids: dict[str, list[int]], measure: Any) -> dict[str, int]:
    return {group: sum(measure(pid) for pid in members) for group, members in pids.items()}


def figures(bench: Bench) -> list[Figure]:
    first = bench.workflow(
        "w7 first run",
        graph(
            [node("start", "start"), node("step", "noop"), node("end", "end")],
            chained(["start", "step", "end"]),
        ),
    )
    control = bench.workflow("w3 control flow", control_flow_13())
    parallel = bench.workflow("w7 parallel", parallel_noops(5))
    repetitions = bench.repetitions(5, 2)

    bench.stack.stop()
    start_samples, bare_samples = [], []
    for repetition in range(repetitions):
        started = time.perf_counter()
        first_run_done(bench, first.pk)
        start_samples.append(time.perf_counter() - started)
        if repetition < repetitions - 1:
            bench.stack.stop()
        started = time.perf_counter()
        bare_worker_ready(bench)
        bare_samples.append(time.perf_counter() - started)
    bench.stack.wait_ready()
    fresh_mib = sum(footprint_kib(bench.stack.pids(), rss_kib).values()) / 1024

    run_many(bench, [control.pk, parallel.pk], RUNS)
    time.sleep(1.0)
    pids = bench.stack.pids()
    rss = footprint_kib(pids, rss_kib)
    pss = footprint_kib(pids, pss_kib)
    rss_mib, pss_mib = sum(rss.values()) / 1024, sum(pss.values()) / 1024
    idle_mib = idle_django_rss_mib()
    start_s, bare_s = statistics.median(start_samples), statistics.median(bare_samples)
    processes = f"web + {len(pids['workers'])} workers + {len(pids['children'])} pool children"
    return [
        Figure(
            "W7 process start → first run done",
            start_s,
            "s",
            "bare celery worker start → ping",
            bare_s,
            f"<= {START_BUDGET_S:.0f} s",
            start_s <= START_BUDGET_S,
            (
                NOOP_NOTE,
                f"median of {repetitions} cold starts of web + {len(pids['workers'])} workers (mingle and "
                "gossip on, as the Procfile runs them), alternating with the baseline",
            ),
        ),
        Figure(
            f"W7 RSS after {RUNS:,} runs ({processes})",
            rss_mib,
            "MiB",
            "idle `python -c 'import django'`",
            idle_mib,
            f"<= {MEMORY_BUDGET_MIB:.0f} MiB",
            rss_mib <= MEMORY_BUDGET_MIB,
            (
                f"RSS web {rss['web'] / 1024:.0f} + workers {rss['workers'] / 1024:.0f} + children "
                f"{rss['children'] / 1024:.0f} MiB ({fresh_mib:.0f} MiB in all after the first run); PSS "
                f"(shared pages split) {pss_mib:.0f} MiB in all; runs started over HTTP by {CLIENTS} clients",
            ),
        ),
    ]
