"""The operations figures as Prometheus metric families, for `/metrics` (config/ops.py).

Gauges read at scrape time from the same `ops.figures.collect` as `GET /api/ops/`, over its
default window (the last 24 hours), so a dashboard and the console never disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from . import figures

WINDOW_NOTE = "over the last 24 h"


def _seconds(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def families(data: dict[str, Any] | None = None) -> Iterator[GaugeMetricFamily]:
    data = data if data is not None else figures.collect(figures.make_window())
    depth = GaugeMetricFamily("flowdeck_queue_depth", "Messages waiting in a broker queue", labels=["queue"])
    for queue in data["queues"]:
        if queue["depth"] is not None:
            depth.add_metric([queue["name"]], queue["depth"])
    yield depth
    yield GaugeMetricFamily(
        "flowdeck_workers_alive",
        "Workers that answered a ping (embedded: the in-process pool)",
        value=sum(1 for worker in data["workers"] if worker["alive"]),
    )
    agents = GaugeMetricFamily("flowdeck_external_agents", "External agents by liveness", labels=["state"])
    for state, count in data["external_agents"]["counts"].items():
        agents.add_metric([state], count)
    yield agents
    runs = GaugeMetricFamily("flowdeck_runs", "Runs now, by status", labels=["status"])
    for status in ("pending", "running", "waiting", "paused"):
        runs.add_metric([status], data["runs"][status])
    yield runs
    finished = GaugeMetricFamily(
        "flowdeck_runs_finished", f"Runs finished {WINDOW_NOTE}, by outcome", labels=["outcome"]
    )
    for outcome, count in data["runs"]["finished_in_window"].items():
        finished.add_metric([outcome], count)
    yield finished
    if data["runs"]["failure_rate"] is not None:
        yield GaugeMetricFamily(
            "flowdeck_run_failure_ratio",
            f"Failed runs / finished runs {WINDOW_NOTE}",
            value=data["runs"]["failure_rate"],
        )
    yield GaugeMetricFamily(
        "flowdeck_stuck_runs",
        "Running runs with nothing queued or running for longer than the stuck threshold",
        value=data["stuck_runs"]["count"],
    )
    nodes = data["nodes"]
    latency = GaugeMetricFamily(
        "flowdeck_node_latency_ms", f"Node attempt duration {WINDOW_NOTE}", labels=["quantile"]
    )
    for quantile, key in (("0.5", "p50_ms"), ("0.95", "p95_ms")):
        if nodes["latency"][key] is not None:
            latency.add_metric([quantile], nodes["latency"][key])
    yield latency
    yield GaugeMetricFamily(
        "flowdeck_node_attempts", f"Node attempts finished {WINDOW_NOTE}", value=nodes["attempts"]
    )
    yield GaugeMetricFamily("flowdeck_llm_tokens", f"LLM tokens used {WINDOW_NOTE}", value=nodes["tokens"])
    yield GaugeMetricFamily(
        "flowdeck_llm_cost_usd", f"LLM cost in USD {WINDOW_NOTE}", value=float(nodes["cost_usd"])
    )
    slowest = GaugeMetricFamily(
        "flowdeck_slowest_node_p95_ms",
        f"p95 duration of the slowest nodes {WINDOW_NOTE}",
        labels=["workflow", "node"],
    )
    for node in nodes["slowest"]:
        slowest.add_metric([node["workflow"], node["node_id"]], node["p95_ms"])
    yield slowest
    costliest = GaugeMetricFamily(
        "flowdeck_costliest_node_cost_usd",
        f"Cost of the most expensive nodes {WINDOW_NOTE}",
        labels=["workflow", "node"],
    )
    for node in nodes["costliest"]:
        costliest.add_metric([node["workflow"], node["node_id"]], float(node["cost_usd"]))
    yield costliest
    found = GaugeMetricFamily(
        "flowdeck_sweep_found", f"What the sweep found and acted on {WINDOW_NOTE}", labels=["kind"]
    )
    for kind, count in data["sweep"]["found"].items():
        found.add_metric([kind], count)
    yield found
    last = _seconds(data["sweep"]["last_sweep_at"])
    if last is not None:
        yield GaugeMetricFamily(
            "flowdeck_sweep_last_timestamp_seconds", "When the last sweep ran (Unix time)", value=last
        )
