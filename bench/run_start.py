"""Run start: `POST /api/workflows/<id>/runs/` → 201, p95 (DESIGN §10: ≤ 50 ms).

One keep-alive client starts runs of the 13-node control-flow workflow one after another, without
`wait_s`: the answer comes once the run row is committed and `advance_run` is enqueued, while the
workers execute the earlier runs beside it (as they would in production). Baseline: `GET /health`
p95 through the same client, alternating request by request.
"""

from __future__ import annotations

from bench.common import Bench, control_flow_13
from bench.harness import Figure, paired_samples, percentile
from bench.http_client import HttpClient
from bench.w3_control_flow import health, request_timer

BUDGET_MS = 50.0


def figures(bench: Bench) -> list[Figure]:
    workflow = bench.workflow("w3 control flow", control_flow_13())
    path = f"/api/workflows/{workflow.pk}/runs/"
    client = HttpClient(bench.stack.base_url, bench.token)

    def start(each: HttpClient) -> None:
        run = each.expect("POST", path, 201, {"inputs": {}})
        if run["status"] not in ("pending", "running", "succeeded"):
            raise AssertionError(f"unexpected run: {run!r}"[:400])

    samples = bench.repetitions(300, 60)
    starts, healths = paired_samples(
        request_timer(client, start), request_timer(client, health), samples, warmups=10
    )
    client.close()
    value, floor = percentile(starts, 0.95) * 1000, percentile(healths, 0.95) * 1000
    return [
        Figure(
            "run start POST …/runs/ → 201, p95",
            value,
            "ms",
            "GET /health p95",
            floor,
            f"<= {BUDGET_MS:.0f} ms",
            value <= BUDGET_MS,
            (f"p95 of {samples} sequential requests (1 client), alternating with the baseline",),
        )
    ]
