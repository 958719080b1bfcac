"""The provider layer over a real socket: both official SDKs against the fake vendor servers,
the scripted kind, error classification, secret scrubbing, client reuse and limits."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from agents import providers
from agents.providers import anthropic_provider, limits, openai_provider
from agents.providers.base import PromptRequest, retry_after_seconds, scrub
from executions.handlers import NodeError
from tests.agents.conftest import GOOD_KEY, WRONG_KEY, ProviderFactory
from tests.support.fake_llm import (
    Behaviour,
    FakeAnthropic,
    FakeLLMServer,
    FakeOpenAI,
    error,
    rate_limited,
    reply,
    server_error,
    slow,
    unused_port,
)

pytestmark = pytest.mark.django_db


def ask(prompt: str = "Say hello to the team", **fields: Any) -> PromptRequest:
    return PromptRequest(
        model=fields.pop("model", "test-model"),
        system=fields.pop("system", "You are terse."),
        prompt=prompt,
        timeout_s=fields.pop("timeout_s", 5.0),
        **fields,
    )


def call_collecting(provider: Any, request: PromptRequest) -> tuple[providers.PromptResult, list[str]]:
    deltas: list[str] = []
    return providers.call(provider, request, deltas.append), deltas


def failure_of(provider: Any, request: PromptRequest) -> NodeError:
    with pytest.raises(NodeError) as caught:
        providers.call(provider, request, lambda text: None)
    return caught.value


# --- success, streaming and not -------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "not-streaming"])
def test_a_reply_comes_back_with_usage_and_model(
    fake_server: FakeLLMServer, make_provider: ProviderFactory, stream: bool
) -> None:
    fake_server.script(reply("Hello team, all good here.", input_tokens=12, output_tokens=7, chunk_chars=5))
    provider = make_provider(fake_server.vendor, fake_server, config={"stream": stream})

    result, deltas = call_collecting(provider, ask())

    assert result.text == "Hello team, all good here."
    assert (result.input_tokens, result.output_tokens) == (12, 7)
    assert result.model == "test-model"
    assert result.latency_ms >= 0
    if stream:
        assert len(deltas) == 6 and "".join(deltas) == result.text
    else:
        assert deltas == []
    [sent] = fake_server.generation_requests()
    assert sent.is_streaming is stream
    assert sent.headers.get("x-stainless-retry-count") == "0"
    assert sent.body["model"] == "test-model"
    if isinstance(fake_server, FakeOpenAI):
        assert sent.body["messages"] == [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello to the team"},
        ]
        assert ("stream_options" in sent.body) is stream
        if stream:
            assert sent.body["stream_options"] == {"include_usage": True}
    else:
        assert sent.body["system"] == "You are terse."
        assert sent.body["messages"] == [{"role": "user", "content": "Say hello to the team"}]
        assert sent.body["max_tokens"] == anthropic_provider.DEFAULT_MAX_TOKENS


def test_parameters_and_json_mode_reach_the_wire(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, make_provider: ProviderFactory
) -> None:
    request = ask(
        "Classify: printer on fire",
        temperature=0.2,
        max_tokens=50,
        json_mode=True,
        json_schema={"type": "object"},
    )
    providers.call(make_provider("openai", fake_openai), request, lambda text: None)
    providers.call(make_provider("anthropic", fake_anthropic), request, lambda text: None)
    providers.call(
        make_provider("anthropic", fake_anthropic, config={"send_temperature": True}),
        request,
        lambda text: None,
    )

    [to_openai] = fake_openai.generation_requests()
    assert to_openai.body["response_format"] == {"type": "json_object"}
    assert (to_openai.body["temperature"], to_openai.body["max_tokens"]) == (0.2, 50)
    # OpenAI refuses json_object unless a message says "JSON": the instruction is added.
    assert "JSON" in to_openai.body["messages"][0]["content"]
    to_anthropic, with_temperature = fake_anthropic.generation_requests()
    # The Messages API version of SDK 2.x has no temperature; it is sent only when asked for.
    assert "temperature" not in to_anthropic.body and to_anthropic.body["max_tokens"] == 50
    assert with_temperature.body["temperature"] == 0.2
    assert to_anthropic.body["system"].startswith("You are terse.\n\nReply with a single JSON value only")
    assert '{"type":"object"}' in to_anthropic.body["system"]


def test_an_openai_compatible_server_without_usage_in_streams(
    fake_openai: FakeOpenAI, make_provider: ProviderFactory
) -> None:
    provider = make_provider("openai", fake_openai, config={"stream_usage": False, "json_mode": False})
    fake_openai.script(reply("fine"))
    result = providers.call(provider, ask(json_mode=True), lambda text: None)
    assert (result.text, result.input_tokens, result.output_tokens) == ("fine", 0, 0)
    [sent] = fake_openai.generation_requests()
    assert "stream_options" not in sent.body and "response_format" not in sent.body


# --- failures and their classification ----------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "code", "retryable", "retry_after_s"),
    [
        (rate_limited(retry_after="2"), "rate_limited", True, 2.0),
        (rate_limited(retry_after="2", retry_after_ms="1500"), "rate_limited", True, 1.5),
        (rate_limited(retry_after=None), "rate_limited", True, None),
        (server_error(500), "provider_error", True, None),
        (server_error(503), "provider_error", True, None),
        (error(529, "Overloaded"), "provider_error", True, None),
        (error(408), "timeout", True, None),
        (error(409), "conflict", True, None),
        (error(400, "messages: field required"), "bad_request", False, None),
        (error(404, "model not found"), "bad_request", False, None),
        (error(403, "not allowed"), "bad_credentials", False, None),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "not-streaming"])
def test_http_failures_are_classified(
    fake_server: FakeLLMServer,
    make_provider: ProviderFactory,
    behaviour: Behaviour,
    code: str,
    retryable: bool,
    retry_after_s: float | None,
    stream: bool,
) -> None:
    fake_server.script(behaviour)
    provider = make_provider(fake_server.vendor, fake_server, config={"stream": stream})

    failure = failure_of(provider, ask())

    assert (failure.code, failure.retryable, failure.retry_after_s) == (code, retryable, retry_after_s)
    assert f"HTTP {behaviour.status}" in failure.message
    assert len(fake_server.generation_requests()) == 1  # the SDK retried nothing


def test_retry_after_as_an_http_date(fake_openai: FakeOpenAI, make_provider: ProviderFactory) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    fake_openai.script(rate_limited(retry_after=when))
    failure = failure_of(make_provider("openai", fake_openai, config={"stream": False}), ask())
    assert failure.code == "rate_limited"
    assert failure.retry_after_s is not None and 25 <= failure.retry_after_s <= 30


def test_retry_after_parsing() -> None:
    now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "7"}, now) == 7.0
    assert retry_after_seconds({"retry-after": "0.5"}, now) == 0.5
    assert retry_after_seconds({"retry-after-ms": "250", "Retry-After": "9"}, now) == 0.25
    assert retry_after_seconds({"Retry-After": "Tue, 01 Jan 2030 12:00:42 GMT"}, now) == 42.0
    assert retry_after_seconds({"Retry-After": "Tue, 01 Jan 2030 11:00:00 GMT"}, now) == 0.0
    assert retry_after_seconds({"Retry-After": "-3"}, now) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}, now) is None
    assert retry_after_seconds({}, now) is None


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "not-streaming"])
def test_a_slow_provider_times_out(
    fake_server: FakeLLMServer, make_provider: ProviderFactory, stream: bool
) -> None:
    fake_server.script(slow(3.0))
    provider = make_provider(fake_server.vendor, fake_server, config={"stream": stream})
    started = time.monotonic()

    failure = failure_of(provider, ask(timeout_s=0.3))

    assert (failure.code, failure.retryable) == ("timeout", True)
    assert time.monotonic() - started < 2.0
    assert len(fake_server.generation_requests()) == 1


def test_a_stream_that_trickles_past_the_deadline_times_out(
    fake_server: FakeLLMServer, make_provider: ProviderFactory
) -> None:
    """Each piece arrives within the read timeout, but the whole reply would not."""
    fake_server.script(reply("one two three four five six", chunk_chars=4, chunk_delay_s=0.15))
    provider = make_provider(fake_server.vendor, fake_server)
    started = time.monotonic()

    failure = failure_of(provider, ask(timeout_s=0.4))

    assert (failure.code, failure.retryable) == ("timeout", True)
    assert time.monotonic() - started < 1.0


def test_an_error_inside_a_stream_is_retryable(
    fake_server: FakeLLMServer, make_provider: ProviderFactory
) -> None:
    error_type = "overloaded_error" if isinstance(fake_server, FakeAnthropic) else "server_error"
    fake_server.script(reply("partial reply", midstream_error=error_type))
    failure = failure_of(make_provider(fake_server.vendor, fake_server), ask())
    assert (failure.code, failure.retryable) == ("provider_error", True)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_connection_refused_is_retryable(kind: str, make_provider: ProviderFactory) -> None:
    base_url = f"http://127.0.0.1:{unused_port()}" + ("/v1" if kind == "openai" else "")
    failure = failure_of(make_provider(kind, base_url=base_url), ask())
    assert (failure.code, failure.retryable) == ("connection_error", True)


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "not-streaming"])
def test_a_bad_key_is_final_and_never_quoted(
    fake_server: FakeLLMServer, make_provider: ProviderFactory, stream: bool
) -> None:
    provider = make_provider(fake_server.vendor, fake_server, api_key=WRONG_KEY, config={"stream": stream})

    failure = failure_of(provider, ask())

    assert (failure.code, failure.retryable) == ("bad_credentials", False)
    assert "HTTP 401" in failure.message
    assert WRONG_KEY not in failure.message and GOOD_KEY not in failure.message
    assert "[redacted]" in failure.message  # the fake echoed the key; it was scrubbed
    assert len(fake_server.generation_requests()) == 1


def test_an_unreadable_key_is_a_bad_credential(
    fake_openai: FakeOpenAI, make_provider: ProviderFactory
) -> None:
    provider = make_provider("openai", fake_openai)
    provider.api_key_ciphertext = "gAAAAA-not-a-fernet-token"
    failure = failure_of(provider, ask())
    assert (failure.code, failure.retryable) == ("bad_credentials", False)
    assert fake_openai.generation_requests() == []


def test_scrub_removes_keys_and_anything_shaped_like_one() -> None:
    text = (
        "key=my-own-secret-value Authorization: Bearer abc.def-123 "
        "'x-api-key': 'k-42' then sk-proj-AbCdEf123456 and sk-ant-api03-zzzzzzzz"
    )
    cleaned = scrub(text, ["my-own-secret-value"])
    for secret in ("my-own-secret-value", "abc.def-123", "k-42", "sk-proj-AbCdEf123456", "sk-ant-api03"):
        assert secret not in cleaned
    assert cleaned.count("[redacted]") == 5


# --- test_connection ----------------------------------------------------------------------------


def test_test_connection_answers_with_a_sentence(
    fake_server: FakeLLMServer, make_provider: ProviderFactory
) -> None:
    good = make_provider(fake_server.vendor, fake_server)
    model = "gpt-fake" if isinstance(fake_server, FakeOpenAI) else "claude-fake"
    assert providers.test_connection(good) == (True, f"Connected: 1 models available ({model}).")
    ok, message = providers.test_connection(make_provider(fake_server.vendor, fake_server, api_key=WRONG_KEY))
    assert not ok and "refused the API key" in message and WRONG_KEY not in message
    assert fake_server.generation_requests() == []  # listing models costs no tokens
    base_url = f"http://127.0.0.1:{unused_port()}" + ("/v1" if isinstance(fake_server, FakeOpenAI) else "")
    ok, message = providers.test_connection(make_provider(fake_server.vendor, base_url=base_url))
    assert not ok and message.startswith("Could not reach")


def test_the_scripted_kind_always_connects(make_provider: ProviderFactory) -> None:
    assert providers.test_connection(make_provider("scripted", api_key=""))[0] is True


# --- clients are reused ---------------------------------------------------------------------------


def test_one_client_per_provider_until_the_provider_changes(
    fake_openai: FakeOpenAI, make_provider: ProviderFactory
) -> None:
    provider = make_provider("openai", fake_openai)
    providers.call(provider, ask(), lambda text: None)
    first = openai_provider.clients.get(provider)
    providers.call(provider, ask(), lambda text: None)
    assert openai_provider.clients.get(provider) is first

    provider.timeout_s = 7
    provider.save()
    providers.call(provider, ask(), lambda text: None)
    rebuilt = openai_provider.clients.get(provider)
    assert rebuilt is not first and rebuilt.timeout == 7


# --- scripted ---------------------------------------------------------------------------------------


def test_scripted_replies_follow_the_attempt_number(make_provider: ProviderFactory) -> None:
    provider = make_provider(
        "scripted", api_key="", config={"replies": ["first", {"n": 2}], "chunk_chars": 2}
    )
    answers = [call_collecting(provider, ask(attempt=number)) for number in (1, 2, 3)]
    assert [result.text for result, _ in answers] == ["first", '{"n": 2}', '{"n": 2}']
    assert answers[0][1] == ["fi", "rs", "t"]
    assert answers[0][0].model == "test-model"
    assert (answers[0][0].input_tokens, answers[0][0].output_tokens) == (3 + 5, 1)


def test_scripted_rules_match_the_prompt(make_provider: ProviderFactory) -> None:
    provider = make_provider(
        "scripted",
        api_key="",
        config={
            "rules": [
                {"match": r"refund|money back", "reply": "billing"},
                {"match": "(?i)crash", "reply": "bug"},
            ],
            "default": "other",
        },
    )
    replies = [
        providers.call(provider, ask(text), lambda text: None).text
        for text in ("I want my money back", "App CRASHES on start", "hello")
    ]
    assert replies == ["billing", "bug", "other"]


def test_scripted_failures_for_demos(make_provider: ProviderFactory) -> None:
    provider = make_provider(
        "scripted",
        api_key="",
        config={
            "replies": ["done"],
            "fail": {"code": "rate_limited", "message": "busy", "retryable": True, "attempts": 1},
        },
    )
    failure = failure_of(provider, ask(attempt=1))
    assert (failure.code, failure.message, failure.retryable) == ("rate_limited", "busy", True)
    assert providers.call(provider, ask(attempt=2), lambda text: None).text == "done"


# --- limits -------------------------------------------------------------------------------------------


def test_max_concurrency_holds_across_threads(
    fake_openai: FakeOpenAI, make_provider: ProviderFactory
) -> None:
    fake_openai.default = reply("ok", delay_s=0.2)
    provider = make_provider("openai", fake_openai, max_concurrency=1)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(providers.call(provider, ask(), lambda t: None).text))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["ok", "ok", "ok"]
    assert fake_openai.max_in_flight == 1


def test_without_a_limit_calls_overlap(fake_openai: FakeOpenAI, make_provider: ProviderFactory) -> None:
    """The control for the test above: the same calls do overlap when nothing limits them."""
    fake_openai.default = reply("ok", delay_s=0.3)
    provider = make_provider("openai", fake_openai, max_concurrency=0)
    threads = [
        threading.Thread(target=providers.call, args=(provider, ask(), lambda t: None)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert fake_openai.max_in_flight == 2


def test_a_call_that_cannot_get_a_slot_fails_retryable(make_provider: ProviderFactory) -> None:
    provider = make_provider("scripted", api_key="", max_concurrency=1, config={"default": "x"})
    with limits.provider_slot(provider, 5.0):
        started = time.monotonic()
        with pytest.raises(NodeError) as caught, limits.provider_slot(provider, 5.0, wait_s=0.2):
            pass
        assert 0.2 <= time.monotonic() - started < 3.0  # waited, but not for the holder's 5 s
    assert (caught.value.code, caught.value.retryable) == ("rate_limited", True)
    assert caught.value.retry_after_s == limits.BUSY_RETRY_AFTER_S
    assert "max_concurrency" in caught.value.message
    with limits.provider_slot(provider, 5.0, wait_s=0):  # released: free again
        pass


def test_requests_per_minute_hold_across_calls(make_provider: ProviderFactory) -> None:
    provider = make_provider(
        "scripted", api_key="", max_concurrency=0, requests_per_minute=2, config={"default": "x"}
    )
    for _ in range(2):
        with limits.provider_slot(provider, 5.0, wait_s=0):
            pass
    started = time.monotonic()
    with pytest.raises(NodeError) as caught, limits.provider_slot(provider, 5.0, wait_s=1):
        pass
    assert time.monotonic() - started < 0.5  # the next turn is a minute away: no point waiting
    assert caught.value.code == "rate_limited" and caught.value.retryable
    assert caught.value.retry_after_s is not None and 55 < caught.value.retry_after_s <= 60
    assert "2 requests per minute" in caught.value.message


@pytest.mark.services
def test_a_slot_left_by_a_dead_worker_expires(make_provider: ProviderFactory) -> None:
    """A worker killed mid-call never releases its slot; the slot's own expiry frees it."""
    provider = make_provider("scripted", api_key="", max_concurrency=1)
    backend = limits.limiter()
    assert isinstance(backend, limits.RedisLimiter)
    abandoned = limits.Limits(
        key=limits.limits_for(provider, 1).key, max_concurrency=1, requests_per_minute=0, hold_s=0.3
    )
    assert backend.try_acquire(abandoned, "dead-worker") is None  # and never released
    refusal = backend.try_acquire(abandoned, "another")
    assert refusal is not None and refusal.reason == "concurrency"
    time.sleep(0.4)
    assert backend.try_acquire(abandoned, "another") is None
    backend.release(abandoned, "another")
    assert backend.holders(abandoned.key) == 0


class _UnreachableRedis:
    def try_acquire(self, limits: limits.Limits, token: str) -> limits.Refusal | None:
        import redis

        raise redis.ConnectionError("Redis is down")

    def release(self, limits: limits.Limits, token: str) -> None:
        raise AssertionError("nothing was taken, nothing to release")

    def wait(self, seconds: float) -> None:
        raise AssertionError("unreachable")


def test_a_lost_limit_store_does_not_fail_calls(
    make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "limiter", _UnreachableRedis)
    provider = make_provider("scripted", api_key="", max_concurrency=1, config={"default": "still here"})
    assert providers.call(provider, ask(), lambda text: None).text == "still here"
