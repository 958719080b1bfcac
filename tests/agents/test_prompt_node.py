"""`prompt` nodes through real runs: the API starts a run, a real worker (embedded threads or
`celery worker` processes) calls the fake vendor servers over a socket, and the ledger records
attempts, statuses, errors, usage and cost."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.models import ApiToken
from agents.models import Agent
from config.asgi import websocket_application
from executions import services
from executions.models import NodeAttempt, NodeRun, Run, RunEvent
from tests.agents.conftest import GOOD_KEY, WRONG_KEY, ProviderFactory
from tests.executions.graphs import edge, graph, node
from tests.support.fake_llm import (
    FakeAnthropic,
    FakeLLMServer,
    FakeOpenAI,
    rate_limited,
    reply,
    server_error,
    slow,
    unused_port,
)
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db(transaction=True)

FAST_RETRY = {"backoff_s": 0.05, "multiplier": 1.0, "max_backoff_s": 0.2}


def make_agent(provider: Any, owner: Any, slug: str = "helper", **fields: Any) -> Agent:
    return Agent.objects.create(
        slug=slug,
        name=slug.title(),
        provider=provider,
        model=fields.pop("model", "test-model"),
        owner=owner,
        **fields,
    )


def prompt_graph(config: dict[str, Any], **node_fields: Any) -> dict[str, Any]:
    return graph(
        [
            node("start", "start", {"input_schema": {"type": "object"}}),
            node("ask", "prompt", config, **node_fields),
            node("end", "end", {"outputs": {"reply": "{{ nodes.ask.output.text }}"}}),
        ],
        [edge("start", "ask"), edge("ask", "end")],
    )


def publish(owner: Any, graph_json: dict[str, Any]) -> Any:
    workflow = workflow_services.create_workflow(owner=owner, name="prompting", graph=graph_json)
    workflow_services.publish_workflow(workflow, author=owner)
    workflow.refresh_from_db()
    return workflow


def run_to_the_end(client: Any, workflow: Any, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(
        f"/api/workflows/{workflow.pk}/runs/", {"inputs": inputs or {}, "wait_s": 30}, format="json"
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    assert body["status"] in ("succeeded", "failed"), body
    return body


def attempts_of(run_id: Any, node_id: str = "ask") -> list[tuple[int, str, str | None]]:
    return [
        (attempt.number, attempt.status, (attempt.error or {}).get("code"))
        for attempt in NodeAttempt.objects.filter(run_id=run_id, node_run__node_id=node_id).order_by("number")
    ]


def output_of(attempt: NodeAttempt) -> dict[str, Any]:
    assert isinstance(attempt.output, dict), attempt.output
    return attempt.output


def error_of(attempt: NodeAttempt) -> dict[str, Any]:
    assert isinstance(attempt.error, dict), attempt.error
    return attempt.error


def node_status(run_id: Any, node_id: str = "ask") -> str:
    return str(NodeRun.objects.get(run_id=run_id, node_id=node_id, scope="").status)


@pytest.fixture
def owner(users: dict[str, Any]) -> Any:
    return users["owner"]


@pytest.fixture
def client(owner: Any, api_client_for: Any) -> Any:
    return api_client_for(owner)


# --- success ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "not-streaming"])
def test_a_prompt_node_answers_through_each_sdk(
    worker: Any,
    owner: Any,
    client: Any,
    make_provider: ProviderFactory,
    fake_server: FakeLLMServer,
    stream: bool,
) -> None:
    fake_server.script(reply("Ticket 42 is about billing.", input_tokens=30, output_tokens=6))
    provider = make_provider(fake_server.vendor, fake_server, config={"stream": stream})
    make_agent(provider, owner, system_prompt="You triage tickets.")
    workflow = publish(owner, prompt_graph({"agent": "helper", "prompt": "Triage ticket {{ inputs.n }}"}))

    body = run_to_the_end(client, workflow, {"n": 42})

    assert body["status"] == "succeeded"
    assert body["outputs"] == {"reply": "Ticket 42 is about billing."}
    attempt = NodeAttempt.objects.get(run_id=body["id"], node_run__node_id="ask")
    assert attempt.status == "succeeded"
    output = output_of(attempt)
    assert output["text"] == "Ticket 42 is about billing."
    assert output["usage"] == {"input_tokens": 30, "output_tokens": 6}
    assert output["model"] == "test-model" and output["cost_usd"] is None
    assert "json" not in output
    assert attempt.usage == {"input_tokens": 30, "output_tokens": 6}
    assert (attempt.provider_kind, attempt.model, attempt.cost_usd) == (
        fake_server.vendor,
        "test-model",
        None,
    )
    assert attempt.latency_ms is not None and attempt.latency_ms == output["latency_ms"]
    [sent] = fake_server.generation_requests()
    assert sent.is_streaming is stream
    assert "Triage ticket 42" in json.dumps(sent.body["messages"])
    assert "You triage tickets." in json.dumps(sent.body)
    assert GOOD_KEY not in json.dumps(attempt.rendered)  # the key never travels in the ledger


def test_node_values_override_the_agent_key_by_key(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory, fake_openai: FakeOpenAI
) -> None:
    provider = make_provider("openai", fake_openai)
    make_agent(
        provider, owner, model="agent-model", system_prompt="Agent system.", temperature=0.9, max_tokens=99
    )
    workflow = publish(
        owner, prompt_graph({"agent": "helper", "prompt": "Hi", "model": "node-model", "temperature": 0.1})
    )

    body = run_to_the_end(client, workflow)

    assert body["status"] == "succeeded"
    [sent] = fake_openai.generation_requests()
    assert (sent.body["model"], sent.body["temperature"], sent.body["max_tokens"]) == ("node-model", 0.1, 99)
    assert sent.body["messages"][0] == {"role": "system", "content": "Agent system."}


def test_an_inline_provider_and_model(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory, fake_anthropic: FakeAnthropic
) -> None:
    make_provider("anthropic", fake_anthropic, name="claude")
    fake_anthropic.script(reply("inline works"))
    workflow = publish(owner, prompt_graph({"provider": "claude", "model": "claude-x", "prompt": "Go"}))

    body = run_to_the_end(client, workflow)

    assert body["outputs"] == {"reply": "inline works"}
    assert NodeAttempt.objects.get(run_id=body["id"]).model == "claude-x"


# --- JSON output -----------------------------------------------------------------------------------

TICKET_SCHEMA = {
    "type": "object",
    "properties": {"priority": {"enum": ["low", "high"]}},
    "required": ["priority"],
}


def test_json_output_is_parsed_and_checked(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(reply('```json\n{"priority": "high"}\n```'))
    provider = make_provider("openai", fake_openai)
    make_agent(provider, owner, output_format="json", json_schema=TICKET_SCHEMA)
    graph_json = prompt_graph({"agent": "helper", "prompt": "Classify"})
    graph_json["nodes"][2]["config"]["outputs"] = {"priority": "{{ nodes.ask.output.json.priority }}"}
    workflow = publish(owner, graph_json)

    body = run_to_the_end(client, workflow)

    assert body["status"] == "succeeded"
    assert body["outputs"] == {"priority": "high"}
    output = output_of(NodeAttempt.objects.get(run_id=body["id"]))
    assert output["json"] == {"priority": "high"} and output["text"].startswith("```json")
    [sent] = fake_openai.generation_requests()
    assert sent.body["response_format"] == {"type": "json_object"}


def test_invalid_json_and_schema_mismatches_are_retried(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(
        reply("Sure! Here it is: priority high"),
        reply('{"priority": "urgent"}'),
        reply('{"priority": "low"}'),
    )
    make_provider("anthropic", fake_anthropic, name="claude")
    workflow = publish(
        owner,
        prompt_graph(
            {
                "provider": "claude",
                "model": "m",
                "prompt": "Classify",
                "output": "json",
                "json_schema": TICKET_SCHEMA,
            },
            retry={"max_attempts": 3, **FAST_RETRY},
        ),
    )

    body = run_to_the_end(client, workflow)

    assert body["status"] == "succeeded"
    assert attempts_of(body["id"]) == [
        (1, "failed", "invalid_json"),
        (2, "failed", "schema_mismatch"),
        (3, "succeeded", None),
    ]
    errors = [
        error_of(attempt) for attempt in NodeAttempt.objects.filter(run_id=body["id"]).order_by("number")[:2]
    ]
    assert all(error["retryable"] for error in errors)
    assert "priority" in errors[1]["message"]
    assert len(fake_anthropic.generation_requests()) == 3


def test_invalid_json_on_every_attempt_fails_the_run(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = reply("not json at all")
    make_provider("openai", fake_openai, name="gpt")
    workflow = publish(
        owner,
        prompt_graph(
            {"provider": "gpt", "model": "m", "prompt": "x", "output": "json"},
            retry={"max_attempts": 2, **FAST_RETRY},
        ),
    )

    body = run_to_the_end(client, workflow)

    assert body["status"] == "failed" and body["error"]["code"] == "invalid_json"
    assert attempts_of(body["id"]) == [(1, "failed", "invalid_json"), (2, "failed", "invalid_json")]
    assert node_status(body["id"]) == "failed"


# --- transient failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(("max_backoff_s", "expected_delay_s"), [(0.5, 0.5), (5.0, 1.0)])
def test_a_429_waits_for_retry_after_capped_by_max_backoff(
    worker: Any,
    owner: Any,
    client: Any,
    make_provider: ProviderFactory,
    fake_anthropic: FakeAnthropic,
    max_backoff_s: float,
    expected_delay_s: float,
) -> None:
    fake_anthropic.script(rate_limited(retry_after="1"), reply("after the wait"))
    make_provider("anthropic", fake_anthropic, name="claude")
    retry = {"max_attempts": 2, "backoff_s": 0.01, "multiplier": 1.0, "max_backoff_s": max_backoff_s}
    workflow = publish(owner, prompt_graph({"provider": "claude", "model": "m", "prompt": "x"}, retry=retry))

    body = run_to_the_end(client, workflow)

    assert body["status"] == "succeeded" and body["outputs"] == {"reply": "after the wait"}
    assert attempts_of(body["id"]) == [(1, "failed", "rate_limited"), (2, "succeeded", None)]
    retrying = RunEvent.objects.get(run_id=body["id"], node_id="ask", type="node.retrying")
    delay = (datetime.fromisoformat(retrying.data["retry_at"]) - retrying.ts).total_seconds()
    assert delay == pytest.approx(expected_delay_s, abs=0.002)
    first, second = fake_anthropic.generation_requests()
    assert second.received_at - first.received_at >= expected_delay_s


def test_a_500_is_retried(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(server_error(500), server_error(502), reply("third time lucky"))
    make_provider("openai", fake_openai, name="gpt")
    workflow = publish(
        owner,
        prompt_graph(
            {"provider": "gpt", "model": "m", "prompt": "x"}, retry={"max_attempts": 3, **FAST_RETRY}
        ),
    )

    body = run_to_the_end(client, workflow)

    assert body["status"] == "succeeded"
    assert attempts_of(body["id"]) == [
        (1, "failed", "provider_error"),
        (2, "failed", "provider_error"),
        (3, "succeeded", None),
    ]
    assert len(fake_openai.generation_requests()) == 3  # one request per attempt: SDK retries are off


def test_a_timeout_without_retry_fails_the_run(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(slow(3.0))
    make_provider("anthropic", fake_anthropic, name="claude")
    workflow = publish(
        owner, prompt_graph({"provider": "claude", "model": "m", "prompt": "x"}, timeout_s=0.3)
    )

    body = run_to_the_end(client, workflow)

    assert body["status"] == "failed"
    assert body["error"]["code"] == "timeout" and body["error"]["node_id"] == "ask"
    assert attempts_of(body["id"]) == [(1, "failed", "timeout")]
    assert error_of(NodeAttempt.objects.get(run_id=body["id"]))["retryable"] is True
    assert node_status(body["id"]) == "failed"
    assert len(fake_anthropic.generation_requests()) == 1


def test_connection_refused_is_retried_then_fails(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory
) -> None:
    make_provider("openai", name="gpt", base_url=f"http://127.0.0.1:{unused_port()}/v1")
    workflow = publish(
        owner,
        prompt_graph(
            {"provider": "gpt", "model": "m", "prompt": "x"}, retry={"max_attempts": 2, **FAST_RETRY}
        ),
    )

    body = run_to_the_end(client, workflow)

    assert body["status"] == "failed" and body["error"]["code"] == "connection_error"
    assert attempts_of(body["id"]) == [(1, "failed", "connection_error"), (2, "failed", "connection_error")]


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "not-streaming"])
def test_a_bad_key_fails_at_once_and_is_never_recorded(
    worker: Any,
    owner: Any,
    client: Any,
    make_provider: ProviderFactory,
    fake_server: FakeLLMServer,
    stream: bool,
) -> None:
    provider = make_provider(fake_server.vendor, fake_server, api_key=WRONG_KEY, config={"stream": stream})
    make_agent(provider, owner)
    workflow = publish(
        owner, prompt_graph({"agent": "helper", "prompt": "x"}, retry={"max_attempts": 3, **FAST_RETRY})
    )

    body = run_to_the_end(client, workflow)

    assert body["status"] == "failed" and body["error"]["code"] == "bad_credentials"
    assert attempts_of(body["id"]) == [(1, "failed", "bad_credentials")]
    attempt = NodeAttempt.objects.get(run_id=body["id"])
    assert error_of(attempt)["retryable"] is False and "HTTP 401" in error_of(attempt)["message"]
    assert len(fake_server.generation_requests()) == 1
    ledger = json.dumps(
        [
            body,
            attempt.error,
            attempt.rendered,
            list(RunEvent.objects.filter(run_id=body["id"]).values("data")),
        ],
        default=str,
    )
    assert WRONG_KEY not in ledger and GOOD_KEY not in ledger


def test_a_missing_agent_or_provider_is_final(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory
) -> None:
    provider = make_provider("scripted", api_key="")
    agent = make_agent(provider, owner, slug="gone")
    with_agent = publish(
        owner, prompt_graph({"agent": "gone", "prompt": "x"}, retry={"max_attempts": 3, **FAST_RETRY})
    )
    agent.delete()  # after publishing, which checks that agents exist
    with_provider = publish(owner, prompt_graph({"provider": "nobody", "model": "m", "prompt": "x"}))

    first = run_to_the_end(client, with_agent)
    second = run_to_the_end(client, with_provider)

    assert attempts_of(first["id"]) == [(1, "failed", "unknown_agent")]
    assert first["error"]["code"] == "unknown_agent"
    assert attempts_of(second["id"]) == [(1, "failed", "unknown_provider")]


# --- scripted -----------------------------------------------------------------------------------------


def test_scripted_replies_by_attempt_and_rules(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory
) -> None:
    make_provider("scripted", api_key="", name="by-attempt", config={"replies": ["{oops", '{"ok": true}']})
    make_provider(
        "scripted",
        api_key="",
        name="by-rule",
        config={"rules": [{"match": "refund", "reply": "billing"}], "default": "general"},
    )
    retried = publish(
        owner,
        prompt_graph(
            {"provider": "by-attempt", "model": "demo", "prompt": "x", "output": "json"},
            retry={"max_attempts": 2, **FAST_RETRY},
        ),
    )
    routed = publish(
        owner, prompt_graph({"provider": "by-rule", "model": "demo", "prompt": "Ticket: {{ inputs.text }}"})
    )

    first = run_to_the_end(client, retried)
    refund = run_to_the_end(client, routed, {"text": "I want a refund"})
    other = run_to_the_end(client, routed, {"text": "Hello"})

    assert attempts_of(first["id"]) == [(1, "failed", "invalid_json"), (2, "succeeded", None)]
    assert output_of(NodeAttempt.objects.get(run_id=first["id"], number=2))["json"] == {"ok": True}
    assert (refund["outputs"], other["outputs"]) == ({"reply": "billing"}, {"reply": "general"})
    usage = output_of(NodeAttempt.objects.get(run_id=refund["id"]))["usage"]
    assert usage == {"input_tokens": 5, "output_tokens": 1}
    assert NodeAttempt.objects.get(run_id=refund["id"]).provider_kind == "scripted"


def test_model_output_is_data_never_a_template(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory
) -> None:
    make_provider("scripted", api_key="", name="sly", config={"default": "{{ 7 * 7 }} {% raw %}"})
    workflow = publish(owner, prompt_graph({"provider": "sly", "model": "demo", "prompt": "x"}))

    body = run_to_the_end(client, workflow)

    assert body["status"] == "succeeded"
    assert body["outputs"] == {"reply": "{{ 7 * 7 }} {% raw %}"}


# --- cost -----------------------------------------------------------------------------------------------


def test_cost_comes_from_the_agent_prices(
    worker: Any, owner: Any, client: Any, make_provider: ProviderFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(reply("priced", input_tokens=1000, output_tokens=500))
    provider = make_provider("openai", fake_openai)
    make_agent(provider, owner, price_input_per_mtok=Decimal("1.5"), price_output_per_mtok=Decimal("2"))
    workflow = publish(owner, prompt_graph({"agent": "helper", "prompt": "x"}))

    body = run_to_the_end(client, workflow)

    attempt = NodeAttempt.objects.get(run_id=body["id"])
    expected = (1000 * 1.5 + 500 * 2) / 1_000_000  # 0.0025
    assert output_of(attempt)["cost_usd"] == expected
    assert attempt.cost_usd == Decimal("0.002500")
    succeeded = RunEvent.objects.get(run_id=body["id"], node_id="ask", type="node.succeeded")
    assert succeeded.data["cost_usd"] == expected
    assert succeeded.data["usage"] == {"input_tokens": 1000, "output_tokens": 500}


# --- limits across workers ------------------------------------------------------------------------------


def parallel_prompts_graph() -> dict[str, Any]:
    return graph(
        [
            node("start", "start"),
            node("fan_out", "parallel"),
            node("left", "prompt", {"provider": "shared", "model": "m", "prompt": "left"}),
            node("right", "prompt", {"provider": "shared", "model": "m", "prompt": "right"}),
            node("both", "join", {"mode": "all"}),
            node("end", "end", {"outputs": {"n": "{{ nodes.both.output.branches | length }}"}}),
        ],
        [
            edge("start", "fan_out"),
            edge("fan_out", "left"),
            edge("fan_out", "right"),
            edge("left", "both"),
            edge("right", "both"),
            edge("both", "end"),
        ],
    )


@pytest.mark.parametrize(
    ("max_concurrency", "expected_overlap"), [(1, 1), (0, 2)], ids=["limited", "control"]
)
def test_max_concurrency_holds_across_workers(
    worker: Any,
    owner: Any,
    client: Any,
    make_provider: ProviderFactory,
    fake_openai: FakeOpenAI,
    max_concurrency: int,
    expected_overlap: int,
) -> None:
    """Two parallel prompts on two workers: with max_concurrency 1 the provider never sees two
    requests at once; the unlimited control shows the two calls would otherwise overlap."""
    fake_openai.default = reply("done", delay_s=0.6)
    make_provider("openai", fake_openai, name="shared", max_concurrency=max_concurrency)
    workflow = publish(owner, parallel_prompts_graph())

    body = run_to_the_end(client, workflow)

    assert body["status"] == "succeeded" and body["outputs"] == {"n": 2}
    assert fake_openai.max_in_flight == expected_overlap
    assert len(fake_openai.generation_requests()) == 2


# --- live deltas -------------------------------------------------------------------------------------


def _start_run(workflow: Any, user: Any) -> str:
    run = services.create_run(
        workflow=workflow,
        version=workflow.active_version,
        draft_graph=None,
        inputs={},
        variables={},
        user=user,
    )
    return str(run.pk)


def _run_status(run_id: str) -> str:
    return str(Run.objects.get(pk=run_id).status)


@pytest.mark.asyncio
async def test_streamed_text_reaches_viewers_as_coalesced_deltas(
    worker: Any, owner: Any, make_provider: ProviderFactory, fake_openai: FakeOpenAI
) -> None:
    text = "The quick brown fox jumps over the lazy dog, again and again, until the reply is long enough."
    subscribed = threading.Event()
    fake_openai.script(reply(text, chunk_chars=3, chunk_delay_s=0.02, gate=subscribed))
    await sync_to_async(make_provider)("openai", fake_openai, name="gpt")
    workflow = await sync_to_async(publish)(
        owner, prompt_graph({"provider": "gpt", "model": "m", "prompt": "x"})
    )
    run_id = await sync_to_async(_start_run)(workflow, owner)  # the worker starts it; the reply waits
    _, raw_token = await sync_to_async(ApiToken.issue)(owner)
    communicator = WebsocketCommunicator(
        websocket_application,
        f"/ws/runs/{run_id}/",
        headers=[(b"authorization", f"Bearer {raw_token}".encode())],
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    try:
        subscribed.set()
        deltas: list[dict[str, Any]] = []
        finished = False
        async with asyncio.timeout(30):
            while not finished:
                message = await communicator.receive_json_from(timeout=30)
                if message.get("type") == "node.delta":
                    deltas.append(message["data"])
                finished = message.get("type") == "run.succeeded"
    finally:
        await communicator.disconnect()

    assert await sync_to_async(_run_status)(run_id) == "succeeded"
    assert "".join(delta["text"] for delta in deltas) == text
    assert [delta["index"] for delta in deltas] == list(range(len(deltas)))
    # 32 pieces 20 ms apart arrive as a handful of ~50 ms batches, not one message per token.
    assert 2 <= len(deltas) < 20
    assert {(delta["node_id"], delta["scope"], delta["attempt"]) for delta in deltas} == {("ask", "", 1)}
