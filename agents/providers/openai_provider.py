"""OpenAI-compatible endpoints (OpenAI, Azure, Ollama, vLLM, LM Studio, llama.cpp, OpenRouter …)
through the official ``openai`` SDK, chat completions.

Provider ``config`` keys this module reads (all optional): ``stream`` (default true),
``stream_usage`` (send ``stream_options.include_usage``; default true — turn it off for servers
that reject it), ``json_mode`` (send ``response_format: json_object``; default true),
``max_tokens_field`` (``max_tokens`` or ``max_completion_tokens``), ``default_headers``,
``default_query`` (e.g. Azure's ``{"api-version": …}``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .base import (
    ClientCache,
    DeltaCallback,
    PromptRequest,
    PromptResult,
    classify_openai_error,
    config_flag,
    elapsed_ms,
    node_error,
    provider_headers,
    provider_query,
    system_with_json_instruction,
)

if TYPE_CHECKING:
    import openai

    from agents.models import Provider

VENDOR = "OpenAI-compatible endpoint"
#: An OpenAI-compatible server without authentication still needs a non-empty key in the SDK.
NO_KEY = "not-needed"


def _build(provider: Provider) -> openai.OpenAI:
    import openai

    return openai.OpenAI(
        api_key=provider.api_key() or NO_KEY,
        base_url=provider.base_url or None,
        max_retries=0,  # retries belong to the node's retry policy, not to the SDK
        timeout=provider.timeout_s,
        default_headers=provider_headers(provider),
        default_query=provider_query(provider),
    )


clients: ClientCache[openai.OpenAI] = ClientCache(_build)


def _arguments(provider: Provider, request: PromptRequest) -> dict[str, Any]:
    messages: list[dict[str, str]] = []
    # In JSON mode the instruction also satisfies OpenAI's rule that some message says "JSON".
    system = system_with_json_instruction(request)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": request.prompt})
    arguments: dict[str, Any] = {"model": request.model, "messages": messages, "timeout": request.timeout_s}
    if request.temperature is not None:
        arguments["temperature"] = request.temperature
    if request.max_tokens is not None:
        field = provider.config.get("max_tokens_field") if isinstance(provider.config, dict) else None
        arguments[field if field in ("max_tokens", "max_completion_tokens") else "max_tokens"] = (
            request.max_tokens
        )
    if request.json_mode and config_flag(provider, "json_mode", True):
        arguments["response_format"] = {"type": "json_object"}
    return arguments


def complete(provider: Provider, request: PromptRequest, on_delta: DeltaCallback) -> PromptResult:
    secrets = [provider.api_key()]
    arguments = _arguments(provider, request)
    started = deadline = 0.0
    try:
        client = clients.get(provider)  # the first call in a process also imports the SDK
        started = time.monotonic()
        deadline = started + request.timeout_s
        if config_flag(provider, "stream", True):
            return _streamed(client, provider, request, arguments, on_delta, started, deadline)
        completion = client.chat.completions.create(**arguments)
    except Exception as error:
        if isinstance(error, _DeadlinePassed):
            raise node_error(
                "timeout", f"{VENDOR} did not finish within {request.timeout_s:g} s.", retryable=True
            ) from None
        raise classify_openai_error(error, secrets, VENDOR) from None
    text = (completion.choices[0].message.content or "") if completion.choices else ""
    usage = completion.usage
    return PromptResult(
        text=text,
        input_tokens=usage.prompt_tokens if usage else 0,
        output_tokens=usage.completion_tokens if usage else 0,
        model=completion.model or request.model,
        latency_ms=elapsed_ms(started),
    )


class _DeadlinePassed(Exception):
    pass


def _streamed(
    client: openai.OpenAI,
    provider: Provider,
    request: PromptRequest,
    arguments: dict[str, Any],
    on_delta: DeltaCallback,
    started: float,
    deadline: float,
) -> PromptResult:
    if config_flag(provider, "stream_usage", True):
        arguments["stream_options"] = {"include_usage": True}
    pieces: list[str] = []
    input_tokens = output_tokens = 0
    model = request.model
    with client.chat.completions.create(stream=True, **arguments) as stream:
        for chunk in stream:
            if chunk.model:
                model = chunk.model
            if chunk.usage is not None:
                input_tokens = chunk.usage.prompt_tokens
                output_tokens = chunk.usage.completion_tokens
            for choice in chunk.choices:
                text = choice.delta.content if choice.delta is not None else None
                if text:
                    pieces.append(text)
                    on_delta(text)
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
    """List the models: cheap, needs a valid key, and works on most compatible servers."""
    try:
        models = clients.get(provider).models.list(timeout=min(provider.timeout_s, 15))
        names = [model.id for model in models.data]
    except Exception as error:
        failure = classify_openai_error(error, [provider.api_key()], VENDOR)
        return False, failure.message
    listed = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
    return True, f"Connected: {len(names)} models available" + (f" ({listed})." if names else ".")
