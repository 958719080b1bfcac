"""Replies written in the provider's config: for building, demos and tests without a network.

``config`` (every key optional)::

    {"replies": ["first attempt's reply", "second's", …]}      # by attempt number, the last repeats
    {"rules": [{"match": "refund", "reply": "…"}], "default": "…"}  # first regex found in the prompt
    {"fail": {"code": "rate_limited", "message": "…", "retryable": true, "attempts": 2}}
    {"chunk_chars": 8, "chunk_delay_s": 0.02}                   # how the reply is streamed

A reply may be any JSON value; non-strings are sent as their JSON text. The choice depends only
on the config, the rendered prompt and the attempt number, so a run is reproducible.
Token counts are whitespace-separated word counts.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from .base import DeltaCallback, PromptRequest, PromptResult, elapsed_ms, node_error, word_count

if TYPE_CHECKING:
    from agents.models import Provider

DEFAULT_CHUNK_CHARS = 16
MAX_CHUNK_DELAY_S = 1.0
#: Rules are matched against at most this much of the prompt.
MAX_MATCHED_CHARS = 100_000


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def choose_reply(config: dict[str, Any], prompt: str, attempt: int) -> str:
    rules = config.get("rules")
    if isinstance(rules, list):
        for rule in rules:
            if not isinstance(rule, dict) or not isinstance(rule.get("match"), str):
                continue
            try:
                if re.search(rule["match"], prompt[:MAX_MATCHED_CHARS]):
                    return _as_text(rule.get("reply", ""))
            except re.error as error:
                raise node_error(
                    "bad_request",
                    f"Scripted rule {rule['match']!r} is not a valid regex: {error}",
                    retryable=False,
                ) from None
    replies = config.get("replies")
    if isinstance(replies, list) and replies:
        return _as_text(replies[min(max(attempt, 1), len(replies)) - 1])
    return _as_text(config.get("default", ""))


def _check_failure(config: dict[str, Any], attempt: int) -> None:
    fail = config.get("fail")
    if not isinstance(fail, dict):
        return
    attempts = fail.get("attempts")
    if isinstance(attempts, int) and attempt > attempts:
        return
    retry_after = fail.get("retry_after_s")
    raise node_error(
        str(fail.get("code") or "provider_error"),
        str(fail.get("message") or "The scripted provider fails on purpose."),
        retryable=bool(fail.get("retryable", False)),
        retry_after_s=float(retry_after) if isinstance(retry_after, int | float) else None,
    )


def complete(provider: Provider, request: PromptRequest, on_delta: DeltaCallback) -> PromptResult:
    started = time.monotonic()
    config: dict[str, Any] = provider.config if isinstance(provider.config, dict) else {}
    _check_failure(config, request.attempt)
    reply = choose_reply(config, request.prompt, request.attempt)
    size = config.get("chunk_chars")
    size = size if isinstance(size, int) and size > 0 else DEFAULT_CHUNK_CHARS
    delay = config.get("chunk_delay_s")
    delay_s = min(float(delay), MAX_CHUNK_DELAY_S) if isinstance(delay, int | float) and delay > 0 else 0.0
    for start in range(0, len(reply), size):
        if delay_s:
            time.sleep(delay_s)
        on_delta(reply[start : start + size])
    return PromptResult(
        text=reply,
        input_tokens=word_count(request.system) + word_count(request.prompt),
        output_tokens=word_count(reply),
        model=request.model or "scripted",
        latency_ms=elapsed_ms(started),
    )


def test_connection(provider: Provider) -> tuple[bool, str]:
    return True, "Scripted providers answer from their configuration; there is nothing to connect to."
