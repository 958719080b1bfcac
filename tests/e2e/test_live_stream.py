"""The live stream end to end: a real ASGI server, a real worker, real WebSocket clients.

Both modes: embedded (one `manage.py serve` process with its worker threads, SQLite) and services
(the server, a `celery worker` process, Postgres and Redis pub/sub).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from accounts.models import ApiToken
from bench.live_client import RunStream, http_json
from executions.models import RunEvent
from tests.executions.graphs import edge, graph, node
from tests.support.processes import CeleryWorkerProcess, ServerProcess
from workflows import services as workflow_services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stack() -> Iterator[ServerProcess]:
    server = ServerProcess.start()
    worker = CeleryWorkerProcess.start() if settings.SERVICES_MODE else None
    try:
        yield server
    finally:
        server.stop()
        if worker is not None:
            worker.stop()


def publish(owner: Any, graph_json: dict[str, Any]) -> int:
    workflow = workflow_services.create_workflow(owner=owner, name="live", graph=graph_json)
    workflow_services.publish_workflow(workflow, author=owner)
    return int(workflow.pk)


def stored(run_id: str) -> list[tuple[int, str]]:
    return list(RunEvent.objects.filter(run_id=run_id).order_by("seq").values_list("seq", "type"))


def received(stream: RunStream) -> list[tuple[int, str]]:
    return [(event["seq"], event["type"]) for event in stream.events]


def test_a_client_that_reconnects_mid_run_gets_every_event_once_in_order(
    stack: ServerProcess, users: dict[str, Any]
) -> None:
    steps = [f"step_{index}" for index in range(8)]
    workflow_id = publish(
        users["owner"],
        graph(
            [
                node("start", "start"),
                *[node(step, "noop", {"sleep_s": 0.25, "output": step}) for step in steps],
                node("end", "end", {"outputs": {"last": "{{ nodes.step_7.output }}"}}),
            ],
            [edge(a, b) for a, b in zip(["start", *steps], [*steps, "end"], strict=True)],
        ),
    )
    _, token = ApiToken.issue(users["owner"])
    run = http_json("POST", f"{stack.base_url}/api/workflows/{workflow_id}/runs/", token, {"inputs": {}})

    async def watch() -> RunStream:
        stream = RunStream(stack.base_url, token, run["id"])
        await stream.follow(max_events=6)  # then the client drops off mid-run …
        dropped_at = stream.last_seq
        await asyncio.sleep(0.8)  # … while the run goes on …
        await stream.follow(timeout_s=60)  # … and reconnects with ?after=<last seq>
        assert 0 < dropped_at < stream.last_seq
        return stream

    stream = asyncio.run(watch())
    events = stored(run["id"])
    assert received(stream) == events
    assert [seq for seq, _ in events] == list(range(1, len(events) + 1))
    assert events[-1][1] == "run.succeeded"
    assert stream.events[-1]["data"] == {"outputs": {"last": "step_7"}}


def test_a_300_event_burst_reaches_100_subscribers_with_nothing_lost(
    stack: ServerProcess, users: dict[str, Any]
) -> None:
    passes = 295
    workflow_id = publish(
        users["owner"],
        graph(
            [
                node("start", "start"),
                node("gate", "delay", {"seconds": 2}),
                node(
                    "burst",
                    "loop",
                    {"mode": "count", "count": passes, "max_iterations": 300, "concurrency": 100},
                ),
                node("tick", "transform", {"mapping": {"i": "loop.index"}}, parent="burst"),
                node("end", "end", {"outputs": {"count": "{{ nodes.burst.output.count }}"}}),
            ],
            [edge("start", "gate"), edge("gate", "burst"), edge("burst", "end")],
        ),
    )
    _, token = ApiToken.issue(users["owner"])
    run = http_json("POST", f"{stack.base_url}/api/workflows/{workflow_id}/runs/", token, {"inputs": {}})

    async def subscribe_all() -> list[RunStream]:
        streams = [RunStream(stack.base_url, token, run["id"]) for _ in range(100)]
        await asyncio.gather(*(stream.follow(timeout_s=120) for stream in streams))
        return streams

    streams = asyncio.run(subscribe_all())
    events = stored(run["id"])
    assert len(events) >= 300
    for stream in streams:
        assert received(stream) == events
    assert streams[0].events[-1]["data"] == {"outputs": {"count": passes}}
