"""Calling language models: one module per provider kind behind one entry point.

``call(provider, request, on_delta)`` applies the provider's limits, dispatches on its kind and
returns a :class:`PromptResult`, or raises ``executions.handlers.NodeError`` classified as DESIGN
§3 says (retryable or not) with every secret scrubbed from its message.
``test_connection(provider)`` makes one cheap real call and answers with a sentence.

The plain API key is read from the database row in the worker, used in memory, and never passed
through Celery, logs, events or messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agents.crypto import SecretUnreadable

from . import anthropic_provider, limits, openai_provider, scripted
from .base import DeltaCallback, PromptRequest, PromptResult, node_error, scrub

if TYPE_CHECKING:
    from agents.models import Provider

__all__ = ["PromptRequest", "PromptResult", "call", "scrub", "test_connection"]

_COMPLETE: dict[str, Callable[[Provider, PromptRequest, DeltaCallback], PromptResult]] = {
    "openai": openai_provider.complete,
    "anthropic": anthropic_provider.complete,
    "scripted": scripted.complete,
}

_TEST: dict[str, Callable[[Provider], tuple[bool, str]]] = {
    "openai": openai_provider.test_connection,
    "anthropic": anthropic_provider.test_connection,
    "scripted": scripted.test_connection,
}

UNREADABLE_KEY = (
    "The provider's API key cannot be decrypted (the encryption key changed); enter the API key again."
)


def call(provider: Provider, request: PromptRequest, on_delta: DeltaCallback) -> PromptResult:
    complete = _COMPLETE.get(provider.kind)
    if complete is None:
        raise node_error(
            "unknown_provider", f"Provider kind {provider.kind!r} is not supported.", retryable=False
        )
    try:
        with limits.provider_slot(provider, request.timeout_s):
            return complete(provider, request, on_delta)
    except SecretUnreadable:
        raise node_error("bad_credentials", UNREADABLE_KEY, retryable=False) from None


def test_connection(provider: Provider) -> tuple[bool, str]:
    """One cheap real call: ``(True, what was found)`` or ``(False, why it failed)``."""
    test = _TEST.get(provider.kind)
    if test is None:
        return False, f"Provider kind {provider.kind!r} is not supported."
    try:
        return test(provider)
    except SecretUnreadable:
        return False, UNREADABLE_KEY
