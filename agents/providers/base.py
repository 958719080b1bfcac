"""What every provider kind shares: the request and result of one call, the per-process client
cache, secret scrubbing, and the classification of SDK failures into retryable or final node
errors (DESIGN §3 "Retries").

Invariant: no message built here carries a secret. Every error message that leaves this package
went through :func:`scrub`, which removes the provider's own key and anything shaped like a bearer
token or an ``sk-`` key, because vendors echo keys back in their 401 bodies.

Trust: a provider's ``base_url`` is set by whoever may edit providers (admins and the provider's
editors), not by a workflow or its inputs, so provider calls do not go through the egress guard
(integrations.egress) — a local Ollama or vLLM on a private address must keep working. Everything a
workflow can point somewhere (the `http` node) does go through the guard.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from executions.handlers import NodeError

if TYPE_CHECKING:
    from agents.models import Provider

#: Longest provider detail quoted in an error message; the rest is noise for an operator.
MAX_DETAIL_CHARS = 300

REDACTED = "[redacted]"

_BEARER = re.compile(r"(?i)\bbearer\s+[^\s'\",;}]+")
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}")
_HEADER_LIKE = re.compile(
    r"(?i)\b(x-api-key|api-key|authorization)(['\"]?\s*[:=]\s*['\"]?)(?!bearer\s)[^\s'\",;}]+"
)


@dataclass(frozen=True)
class PromptRequest:
    model: str
    system: str
    prompt: str
    temperature: float | None = None
    max_tokens: int | None = None
    #: Ask for a JSON reply (the caller parses and checks it; this only steers the model).
    json_mode: bool = False
    #: The whole call's deadline, streaming included.
    timeout_s: float = 120.0
    #: Shown to the model with ``json_mode`` so it knows the expected shape.
    json_schema: dict[str, Any] | None = None
    #: Which attempt of the node this is; the scripted kind picks its reply by it.
    attempt: int = 1


@dataclass(frozen=True)
class PromptResult:
    text: str
    input_tokens: int
    output_tokens: int
    model: str
    latency_ms: int


DeltaCallback = Callable[[str], None]


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secrets and without anything that looks like a credential."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    text = _HEADER_LIKE.sub(lambda match: f"{match.group(1)}{match.group(2)}{REDACTED}", text)
    return _KEY_LIKE.sub(REDACTED, text)


def shorten(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def node_error(
    code: str,
    message: str,
    *,
    retryable: bool,
    secrets: Iterable[str] = (),
    retry_after_s: float | None = None,
) -> NodeError:
    return NodeError(code, scrub(message, secrets), retryable=retryable, retry_after_s=retry_after_s)


def json_instruction(request: PromptRequest) -> str:
    """The sentence added to the system prompt in JSON mode, so a model without a JSON switch
    (and OpenAI's, which refuses ``json_object`` unless a message says "JSON") answers with JSON."""
    sentence = "Reply with a single JSON value only, without prose or code fences."
    if request.json_schema:
        schema = json.dumps(request.json_schema, ensure_ascii=False, separators=(",", ":"))
        sentence += f" It must match this JSON Schema: {schema}"
    return sentence


def system_with_json_instruction(request: PromptRequest) -> str:
    if not request.json_mode:
        return request.system
    return "\n\n".join(part for part in (request.system, json_instruction(request)) if part)


def word_count(text: str) -> int:
    return len(text.split())


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


# --- Retry-After --------------------------------------------------------------------------------


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """How long the provider asked us to wait: ``retry-after-ms``, else ``Retry-After`` as seconds
    or as an HTTP date. None when absent or unreadable; never negative."""
    lowered = {key.lower(): value for key, value in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- classification -------------------------------------------------------------------------------


def classify_status(
    vendor: str,
    status: int,
    headers: Mapping[str, str],
    detail: str,
    secrets: Iterable[str],
) -> NodeError:
    """DESIGN §3: 408/409/429 and 5xx are retryable; 401/403 and other 4xx are not."""
    said = f": {shorten(detail)}" if detail else ""
    wait = retry_after_seconds(headers)
    if status in (401, 403):
        return node_error(
            "bad_credentials",
            f"{vendor} refused the API key (HTTP {status}){said}",
            retryable=False,
            secrets=secrets,
        )
    if status == 429:
        return node_error(
            "rate_limited",
            f"{vendor} is rate limiting this key (HTTP 429){said}",
            retryable=True,
            secrets=secrets,
            retry_after_s=wait,
        )
    if status == 408:
        return node_error(
            "timeout", f"{vendor} timed out the request (HTTP 408){said}", retryable=True, secrets=secrets
        )
    if status == 409:
        return node_error(
            "conflict",
            f"{vendor} reported a conflict (HTTP 409){said}",
            retryable=True,
            secrets=secrets,
            retry_after_s=wait,
        )
    if status >= 500:
        return node_error(
            "provider_error",
            f"{vendor} failed (HTTP {status}){said}",
            retryable=True,
            secrets=secrets,
            retry_after_s=wait,
        )
    if 400 <= status < 500:
        return node_error(
            "bad_request",
            f"{vendor} rejected the request (HTTP {status}){said}",
            retryable=False,
            secrets=secrets,
        )
    return node_error(
        "provider_error",
        f"{vendor} sent an unexpected reply (HTTP {status}){said}",
        retryable=True,
        secrets=secrets,
    )


#: Error ``type`` values sent inside a stream (after a 200) and the status they stand for.
_STREAM_ERROR_STATUS = {
    "authentication_error": 401,
    "permission_error": 403,
    "invalid_request_error": 400,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
    "server_error": 500,
}


def error_detail(body: object, fallback: str = "") -> str:
    """The human sentence inside a vendor error body (``{"error": {"message": …}}``)."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        if isinstance(body.get("message"), str):
            return str(body["message"])
    if isinstance(body, str):
        return body
    return fallback


def error_type(body: object) -> str | None:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            kind = inner.get("type") or inner.get("code")
            return str(kind) if kind else None
    return None


def classify_transport(vendor: str, error: BaseException, secrets: Iterable[str]) -> NodeError | None:
    """Timeouts and connection failures from httpx2 itself (some SDKs let them escape mid-stream)."""
    import httpx2  # the SDKs' HTTP client; imported late, like them, to keep process start fast

    if isinstance(error, httpx2.TimeoutException):
        return node_error("timeout", f"{vendor} did not answer in time.", retryable=True, secrets=secrets)
    if isinstance(error, httpx2.TransportError):
        return node_error(
            "connection_error",
            f"Could not reach {vendor}: {shorten(str(error)) or type(error).__name__}",
            retryable=True,
            secrets=secrets,
        )
    return None


def classify_openai_error(error: BaseException, secrets: Iterable[str], vendor: str = "OpenAI") -> NodeError:
    import openai

    secrets = list(secrets)
    transport = classify_transport(vendor, error, secrets)
    if transport is not None:
        return transport
    if isinstance(error, openai.APITimeoutError):
        return node_error("timeout", f"{vendor} did not answer in time.", retryable=True, secrets=secrets)
    if isinstance(error, openai.APIConnectionError):
        cause = error.__cause__
        reason = f": {shorten(str(cause))}" if cause is not None and str(cause) else "."
        return node_error(
            "connection_error", f"Could not reach {vendor}{reason}", retryable=True, secrets=secrets
        )
    if isinstance(error, openai.APIStatusError):
        return classify_status(
            vendor,
            error.status_code,
            error.response.headers,
            error_detail(error.body, error.message),
            secrets,
        )
    if isinstance(error, openai.APIError):  # an error event inside a stream
        status = _STREAM_ERROR_STATUS.get(error_type(error.body) or "", 500)
        return classify_status(vendor, status, {}, error_detail(error.body, error.message), secrets)
    return node_error(
        "provider_error",
        f"{vendor} call failed: {type(error).__name__}: {shorten(str(error))}",
        retryable=False,
        secrets=secrets,
    )


def classify_anthropic_error(
    error: BaseException, secrets: Iterable[str], vendor: str = "Anthropic"
) -> NodeError:
    import anthropic

    secrets = list(secrets)
    transport = classify_transport(vendor, error, secrets)
    if transport is not None:
        return transport
    if isinstance(error, anthropic.APITimeoutError):
        return node_error("timeout", f"{vendor} did not answer in time.", retryable=True, secrets=secrets)
    if isinstance(error, anthropic.APIConnectionError):
        cause = error.__cause__
        reason = f": {shorten(str(cause))}" if cause is not None and str(cause) else "."
        return node_error(
            "connection_error", f"Could not reach {vendor}{reason}", retryable=True, secrets=secrets
        )
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
        if status < 400:  # an `error` event inside a 200 stream: its type tells what happened
            status = _STREAM_ERROR_STATUS.get(error_type(error.body) or "", 500)
        return classify_status(
            vendor, status, error.response.headers, error_detail(error.body, error.message), secrets
        )
    if isinstance(error, anthropic.APIError):
        return node_error(
            "provider_error",
            f"{vendor} sent an unreadable reply: {shorten(error.message)}",
            retryable=True,
            secrets=secrets,
        )
    return node_error(
        "provider_error",
        f"{vendor} call failed: {type(error).__name__}: {shorten(str(error))}",
        retryable=False,
        secrets=secrets,
    )


# --- the per-process client cache -----------------------------------------------------------------

ClientT = TypeVar("ClientT")


@dataclass
class ClientCache(Generic[ClientT]):
    """One SDK client per provider per process, rebuilt when the provider row changes.

    Keyed by (provider id, ``updated_at``): saving a provider (a new key, base URL or timeout)
    bumps ``updated_at``, so the next call builds a fresh client while calls in flight finish on
    the old one. Keyed by pid too: a prefork child must not reuse sockets its parent opened.
    """

    build: Callable[[Provider], ClientT]
    _clients: dict[int, tuple[tuple[int, datetime], ClientT]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, provider: Provider) -> ClientT:
        version = (os.getpid(), provider.updated_at)
        with self._lock:
            cached = self._clients.get(provider.pk)
            if cached is not None and cached[0] == version:
                return cached[1]
            client = self.build(provider)
            self._clients[provider.pk] = (version, client)
            return client

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()

    def __len__(self) -> int:
        return len(self._clients)


def provider_headers(provider: Provider) -> dict[str, str] | None:
    headers = provider.config.get("default_headers") if isinstance(provider.config, dict) else None
    if isinstance(headers, dict):
        return {str(key): str(value) for key, value in headers.items()}
    return None


def provider_query(provider: Provider) -> dict[str, object] | None:
    query = provider.config.get("default_query") if isinstance(provider.config, dict) else None
    if isinstance(query, dict):
        return {str(key): value for key, value in query.items()}
    return None


def config_flag(provider: Provider, name: str, default: bool) -> bool:
    config = provider.config if isinstance(provider.config, dict) else {}
    value = config.get(name, default)
    return value if isinstance(value, bool) else default
