"""A canary API key stored as a provider credential must never leave the vault: not in API
responses, events, the WebSocket stream, logs, Celery messages or exports — on success, and when
the provider rejects it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from celery.signals import before_task_publish
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import ApiToken
from agents.models import Agent, Provider
from config.asgi import websocket_application
from executions import notify
from executions.models import NodeAttempt, NodeRun, OutboxMessage, Run, RunEvent
from tests.executions.graphs import edge, graph, node
from tests.support.fake_llm import FakeOpenAI, reply
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db(transaction=True)

CANARY = "sk-canary-7Hq2Zp9Lw4Xv1Nb8Rt6Yk3Md5Fc0Gs"


@pytest.fixture
def published_messages() -> Iterator[list[str]]:
    """Every Celery message this process sends (all of them in the embedded mode)."""
    sent: list[str] = []

    def record(sender: Any = None, body: Any = None, headers: Any = None, **_: Any) -> None:
        sent.append(json.dumps([sender, body, headers], default=str))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


def run_prompt(owner: Any, server: FakeOpenAI) -> tuple[APIClient, dict[str, Any], int]:
    owner.is_staff = True  # only staff may point a provider at a base URL (it is trusted)
    owner.save(update_fields=["is_staff"])
    client = APIClient()
    client.force_authenticate(owner)
    created = client.post(
        "/api/providers/",
        {
            "name": "vault",
            "kind": "openai",
            "base_url": server.base_url,
            "api_key": CANARY,
            "max_concurrency": 0,
        },
        format="json",
    )
    assert created.status_code == 201
    Agent.objects.create(
        slug="canary-bot", name="c", provider_id=created.json()["id"], model="m", owner=owner
    )
    workflow = workflow_services.create_workflow(
        owner=owner,
        name="canary",
        graph=graph(
            [
                node("start", "start"),
                node("ask", "prompt", {"agent": "canary-bot", "prompt": "Say hi"}),
                node("end", "end", {"outputs": {"said": "{{ nodes.ask.output.text }}"}}),
            ],
            [edge("start", "ask"), edge("ask", "end")],
        ),
    )
    workflow_services.publish_workflow(workflow, author=owner)
    body = client.post(f"/api/workflows/{workflow.pk}/runs/", {"wait_s": 30}, format="json").json()
    notify.wait_until_settled(body["id"], 30, lambda: Run.objects.get(pk=body["id"]).is_finished)
    return client, body, workflow.pk


def everything_stored(run_id: str) -> str:
    rows: list[Any] = [
        list(Run.objects.filter(pk=run_id).values()),
        list(NodeRun.objects.filter(run_id=run_id).values()),
        list(NodeAttempt.objects.filter(run_id=run_id).values()),
        list(RunEvent.objects.filter(run_id=run_id).values()),
        list(OutboxMessage.objects.values()),
    ]
    return json.dumps(rows, default=str)


def api_answers(client: APIClient, run_id: str, workflow_id: int) -> str:
    urls = [
        "/api/providers/",
        "/api/agents/",
        f"/api/runs/{run_id}/",
        f"/api/runs/{run_id}/events/",
        f"/api/runs/{run_id}/node-runs/",
        f"/api/runs/{run_id}/node-runs/ask/",
        f"/api/workflows/{workflow_id}/",
        f"/api/workflows/{workflow_id}/export/",
        f"/api/workflows/{workflow_id}/versions/1/",
    ]
    return "".join(client.get(url).content.decode() for url in urls)


def websocket_stream(owner: Any, run_id: str) -> str:
    _, raw = ApiToken.issue(owner)

    async def read() -> str:
        communicator = WebsocketCommunicator(
            websocket_application,
            f"/ws/runs/{run_id}/",
            headers=[(b"authorization", f"Bearer {raw}".encode())],
        )
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        messages = []
        while not await communicator.receive_nothing(timeout=0.5):
            messages.append(await communicator.receive_from())
        await communicator.disconnect()
        return "".join(messages)

    return str(async_to_sync(read)())


@pytest.mark.parametrize("key_the_server_expects", [CANARY, "sk-another-key-entirely-000000"])
def test_the_canary_never_leaves_the_vault(
    key_the_server_expects: str,
    worker: Any,
    users: dict[str, Any],
    published_messages: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeOpenAI(api_key=key_the_server_expects) as server:
        server.default = reply("hello there")
        client, body, workflow_id = run_prompt(users["owner"], server)
        accepted = key_the_server_expects == CANARY
        # The key did reach the vendor, and only the vendor (that is what it is for).
        assert any(CANARY in json.dumps(request.headers) for request in server.requests)
    run = Run.objects.get(pk=body["id"])
    assert run.status == ("succeeded" if accepted else "failed")
    if not accepted:
        assert run.error["code"] == "bad_credentials"  # type: ignore[index]
    stream = websocket_stream(users["owner"], body["id"])
    assert '"seq": 1' in stream or '"seq":1' in stream
    places = {
        "database rows": everything_stored(body["id"]),
        "API responses": api_answers(client, body["id"], workflow_id),
        "WebSocket stream": stream,
        "logs": caplog.text,
        "Celery messages": "".join(published_messages),
    }
    if settings.SERVICES_MODE:
        places["worker log"] = worker.log_text()
    assert published_messages  # the run really went through the broker
    for place, text in places.items():
        assert CANARY not in text, f"the canary leaked into {place}"
    stored = Provider.objects.get(name="vault")
    assert CANARY not in stored.api_key_ciphertext and stored.api_key() == CANARY
