"""Anthropic's Messages API through the official ``anthropic`` SDK.

Provider ``config`` keys this module reads (all optional): ``stream`` (default true),
``default_max_tokens`` (the API requires ``max_tokens``; default 4096), ``send_temperature``
(default false, see below), ``default_headers``, ``default_query``.

The Messages API version that SDK 2.x speaks has no ``temperature`` parameter, so a node's
temperature is not sent unless ``send_temperature`` is set (for gateways and older API versions
that still take it).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .base import (
    ClientCache,
    DeltaCallback,
    PromptRequest,
    PromptResult,
    classify_anthropic_error,
    config_flag,
    elapsed_ms,
    node_error,
    provider_headers,
    provider_query,
    system_with_json_instruction,
)

if TYPE_CHECKING:
    import anthropic

    from agents.models import Provider

VENDOR = "Anthropic"
DEFAULT_MAX_TOKENS = 4096


def _build(provider: Provider) -> anthropic.Anthropic:
    import anthropic

    return anthropic.Anthropic(
        api_key=provider.api_key(),
        base_url=provider.base_url or None,
        max_retries=0,  # retries belong to the node's retry policy, not to the SDK
        timeout=provider.timeout_s,
        default_headers=provider_headers(provider),
        default_query=provider_query(provider),
    )


clients: ClientCache[anthropic.Anthropic] = ClientCache(_build)


def _arguments(provider: Provider, request: PromptRequest) -> dict[str, Any]:
    config = provider.config if isinstance(provider.config, dict) else {}
    default_max = config.get("default_max_tokens")
    arguments: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens
        or (default_max if isinstance(default_max, int) and default_max > 0 else DEFAULT_MAX_TOKENS),
        "messages": [{"role": "user", "content": request.prompt}],
        "timeout": request.timeout_s,
    }
    system = system_with_json_instruction(request)  # Anthropic has no JSON switch; ask in words
    if system:
        arguments["system"] = system
    if request.temperature is not None and config_flag(provider, "send_temperature", False):
        arguments["extra_body"] = {"temperature": request.temperature}
    return arguments


class _DeadlinePassed(Exception):
    pass


def complete(provider: Provider, request: PromptRequest, on_delta: DeltaCallback) -> PromptResult:
    secrets = [provider.api_key()]
    if not secrets[0]:
        raise node_error("bad_credentials", "The Anthropic provider has no API key.", retryable=False)
    arguments = _arguments(provider, request)
    started = deadline = 0.0
    try:
        client = clients.get(provider)  # the first call in a process also imports the SDK
        started = time.monotonic()
        deadline = started + request.timeout_s
        if config_flag(provider, "stream", True):
            return _streamed(client, request, arguments, on_delta, started, deadline)
        message = client.messages.create(**arguments)
    except Exception as error:
        if isinstance(error, _DeadlinePassed):
            raise node_error(
                "timeout", f"{VENDOR} did not finish within {request.timeout_s:g} s.", retryable=True
            ) from None
        raise classify_anthropic_error(error, secrets, VENDOR) from None
    text = "".join(block.text for block in message.content if block.type == "text")
    return PromptResult(
        text=text,
        input_tokens=message.usage.input_tokens or 0,
        output_tokens=message.usage.output_tokens or 0,
        model=message.model or request.model,
        latency_ms=elapsed_ms(started),
    )


def _streamed(
    client: anthropic.Anthropic,
    request: PromptRequest,
    arguments: dict[str, Any],
    on_delta: DeltaCallback,
    started: float,
    deadline: float,
) -> PromptResult:
    pieces: list[str] = []
    input_tokens = output_tokens = 0
    model = request.model
    with client.messages.create(stream=True, **arguments) as stream:
        for event in stream:
            if event.type == "message_start":
                model = event.message.model or model
                input_tokens = event.message.usage.input_tokens or 0
                output_tokens = event.message.usage.output_tokens or 0
            elif event.type == "content_block_delta":
                if event.delta.type == "text_delta" and event.delta.text:
                    pieces.append(event.delta.text)
                    on_delta(event.delta.text)
            elif event.type == "message_delta":
                # Cumulative counts; input_tokens appears here only on some API versions.
                output_tokens = event.usage.output_tokens or output_tokens
                input_tokens = getattr(event.usage, "input_tokens", None) or input_tokens
            # The SDK's timeout bounds each read; this bounds the whole stream.
            if time.monotonic() > deadline:
                raise _DeadlinePassed()
    return PromptResult(
        text="".join(pieces),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        model=model,
        latency_ms=elapsed_ms(started),
    )


def test_connection(provider: Provider) -> tuple[bool, str]:
    """List the models: needs a valid key and costs no tokens."""
    if not provider.api_key():
        return False, "The Anthropic provider has no API key."
    try:
        page = clients.get(provider).models.list(timeout=min(provider.timeout_s, 15))
        names = [model.id for model in page.data]
    except Exception as error:
        failure = classify_anthropic_error(error, [provider.api_key()], VENDOR)
        return False, failure.message
    listed = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
    return True, f"Connected: {len(names)} models available" + (f" ({listed})." if names else ".")
