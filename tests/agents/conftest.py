"""Fake vendor servers and provider rows pointed at them, for the provider and prompt-node tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.fake_llm import FakeAnthropic, FakeLLMServer, FakeOpenAI

#: What the fake servers accept; a provider with another key is refused with 401.
GOOD_KEY = "sk-good-test-key-4f9a2c71"
#: Not shaped like ``sk-…``, so only the exact-key scrub can remove it from messages.
WRONG_KEY = "wrong-secret-7d1e88b0c3"

ProviderFactory = Callable[..., Any]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=GOOD_KEY) as server:
        yield server


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=GOOD_KEY) as server:
        yield server


@pytest.fixture(params=["openai", "anthropic"])
def fake_server(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    server_class = FakeOpenAI if request.param == "openai" else FakeAnthropic
    with server_class(api_key=GOOD_KEY) as server:
        yield server


@pytest.fixture
def provider_owner(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("provider-owner", "po@example.com", "pw")


@pytest.fixture
def make_provider(provider_owner: Any) -> ProviderFactory:
    """``make_provider(kind, server=None, api_key=GOOD_KEY, **fields)``: a saved provider."""
    from agents.models import Provider

    counter = iter(range(1, 1_000_000))

    def make(
        kind: str, server: FakeLLMServer | None = None, *, api_key: str = GOOD_KEY, **fields: Any
    ) -> Provider:
        provider = Provider(
            name=fields.pop("name", f"{kind}-{next(counter)}"),
            kind=kind,
            base_url=fields.pop("base_url", server.base_url if server is not None else ""),
            owner=provider_owner,
            timeout_s=fields.pop("timeout_s", 5),
            **fields,
        )
        if api_key:
            provider.set_api_key(api_key)
        provider.save()
        return provider

    return make
