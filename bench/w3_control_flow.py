"""W3: a 13-node control-flow workflow started over HTTP with `wait_s` (DESIGN §10: ≤ 8 ms median
with 1 client; ≥ 220 runs/s with 8).

Every node is inline, so a run is: the web process records it and enqueues `advance_run`; one
worker transaction runs all 13 nodes; the worker's Redis PUBLISH wakes the waiting request, which
answers 201 with the finished run. Clients are keep-alive HTTP/1.1 connections, one per thread.

Baselines, through the same clients: `GET /health` latency (1 client) and `/health` throughput
(8 clients): what the web process and the client cost before Flowdeck does anything.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

from bench.common import CONTROL_FLOW_SUM, Bench, CpuAccount, control_flow_13
from bench.harness import Figure, paired_samples
from bench.http_client import HttpClient

LATENCY_BUDGET_MS = 8.0
THROUGHPUT_BUDGET = 220.0
CLIENTS = 8


def start_and_wait(client: HttpClient, path: str) -> None:
    run = client.expect("POST", path, 201, {"inputs": {}, "wait_s": 30})
    if run["status"] != "succeeded" or run["outputs"] != {"sum": CONTROL_FLOW_SUM}:
        raise AssertionError(f"unexpected run: {run!r}"[:400])


def health(client: HttpClient) -> None:
    client.expect("GET", "/health", 200)


def request_timer(client: HttpClient, action: Callable[[HttpClient], None]) -> Callable[[], float]:
    def sample() -> float:
        started = time.perf_counter()
        action(client)
        return time.perf_counter() - started

    return sample


def throughput(base_url: str, token: str, action: Callable[[HttpClient], None], duration_s: float) -> float:
    """Completed requests per second with CLIENTS threads looping for `duration_s` (after each
    thread's warm-up request)."""
    clients = [HttpClient(base_url, token) for _ in range(CLIENTS)]
    for client in clients:
        action(client)
    counts = [0] * CLIENTS
    errors: list[BaseException] = []
    start = threading.Barrier(CLIENTS + 1)
    deadline = 0.0

    def loop(index: int) -> None:
        client = clients[index]
        start.wait()
        try:
            while time.perf_counter() < deadline:
                action(client)
                counts[index] += 1
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=loop, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline = began + duration_s
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for client in clients:
        client.close()
    if errors:
        raise errors[0]
    return sum(counts) / elapsed


def figures(bench: Bench) -> list[Figure]:
    workflow = bench.workflow("w3 control flow", control_flow_13())
    path = f"/api/workflows/{workflow.pk}/runs/"
    base_url = bench.stack.base_url

    client = HttpClient(base_url, bench.token)
    repetitions = bench.repetitions(60, 15)
    cpu = CpuAccount(bench.stack)
    runs, healths = paired_samples(
        cpu.wrap(request_timer(client, lambda each: start_and_wait(each, path))),
        request_timer(client, health),
        repetitions,
        warmups=5,
    )
    client.close()
    latency, health_latency = statistics.median(runs) * 1000, statistics.median(healths) * 1000

    duration_s = 2.0 if bench.quick else 6.0
    health_rate = throughput(base_url, bench.token, health, duration_s)
    run_rate = throughput(base_url, bench.token, lambda each: start_and_wait(each, path), duration_s)
    return [
        Figure(
            "W3 13-node control flow, HTTP wait_s, 1 client",
            latency,
            "ms",
            "GET /health",
            health_latency,
            f"<= {LATENCY_BUDGET_MS:.0f} ms",
            latency <= LATENCY_BUDGET_MS,
            (
                f"median of {repetitions} requests after 5 warm-ups, alternating with the baseline",
                f"W3 CPU per run (1 client): {cpu.per_sample_ms()}",
            ),
        ),
        Figure(
            f"W3 13-node control flow, {CLIENTS} clients",
            run_rate,
            "runs/s",
            f"/health, {CLIENTS} clients",
            health_rate,
            f">= {THROUGHPUT_BUDGET:.0f} runs/s",
            run_rate >= THROUGHPUT_BUDGET,
            (f"{CLIENTS} keep-alive clients (threads of the load process) for {duration_s:.0f} s each",),
        ),
    ]
