"""`http`: call an HTTP API through the egress guard (integrations.egress) and return
``{"status", "headers", "body"}`` (DESIGN §3).

Failures follow the retry classification: timeouts, connection errors, 408, 409, 429 and 5xx are
retryable (429 and 503 wait at least ``Retry-After``); other 4xx, refused destinations, oversized
responses and too many redirects are not. A body that is not JSON when ``response`` is ``json`` is
retryable, like an LLM reply that fails parsing.

Secrets: the node names a credential; its secret is decrypted here, on the worker, added to this one
request, and scrubbed from everything the attempt records — the output (a server may echo it),
error messages and response headers. The rendered config stored on the attempt holds only the
credential's id or name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from django.conf import settings

from agents.providers.base import REDACTED, retry_after_seconds, shorten
from integrations import egress
from integrations.credentials import CredentialUnavailable, credential_for_run

from . import AttemptResult, NodeError

if TYPE_CHECKING:
    from executions.services import Claim

#: The request's deadline when the node sets no timeout_s.
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_RESPONSE_BYTES = 262_144
DEFAULT_MAX_REDIRECTS = 5
#: Headers Flowdeck sets itself; a node cannot override them.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
SNIPPET_CHARS = 300

_EGRESS_CODES = {"address_refused": "egress_refused", "scheme_not_allowed": "egress_refused"}
_OUTBOUND_ERRORS = {
    "timeout": ("timeout", True),
    "connection": ("connection_error", True),
    "too_large": ("response_too_large", False),
    "too_many_redirects": ("too_many_redirects", False),
    "invalid_request": ("bad_request", False),
}


class Secrets:
    """The plain secrets of one attempt, and every spelling of them a message could contain."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        spellings: set[str] = set()
        for value in values:
            if len(value) >= 4:
                spellings.update({value, quote(value, safe=""), quote_plus_safe(value)})
        # Longest first, so a secret containing another is replaced whole.
        self._spellings = sorted(spellings, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for spelling in self._spellings:
            text = text.replace(spelling, REDACTED)
        return text


def quote_plus_safe(value: str) -> str:
    return urlencode({"": value})[1:]


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _decode(body: bytes, charset: str | None) -> str:
    """The body as text in its declared charset (UTF-8 when none, or an unknown one, is declared)."""
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return url
    parts = urlsplit(url)
    extra = urlencode(pairs)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _body(config: dict[str, Any], headers: list[tuple[str, str]]) -> tuple[bytes | None, str | None]:
    """The request body and the content type it implies (None when a header already sets one)."""
    if "body" not in config:
        return None, None
    body = config["body"]
    has_type = any(name.lower() == "content-type" for name, _ in headers)
    if isinstance(body, str):
        return body.encode(), None if has_type else "text/plain; charset=utf-8"
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return content, None if has_type else "application/json"


def _int_setting(config: dict[str, Any], name: str, default: int) -> int:
    value = config.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _header_map(headers: list[tuple[str, str]], secrets: Secrets) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        value = secrets.scrub(value)
        found[key] = f"{found[key]}, {value}" if key in found else value
    return found


def classify_status(status: int, headers: list[tuple[str, str]], text: str, host: str) -> NodeError:
    """DESIGN §3: 408, 409, 429 and 5xx are retryable (honouring Retry-After); other 4xx are not."""
    snippet = shorten(text, SNIPPET_CHARS)
    said = f": {snippet}" if snippet else ""
    wait = retry_after_seconds(dict(headers))
    if status == 429:
        return NodeError(
            "rate_limited", f"{host} answered HTTP 429{said}", retryable=True, retry_after_s=wait
        )
    if status == 408:
        return NodeError("timeout", f"{host} answered HTTP 408{said}", retryable=True, retry_after_s=wait)
    if status == 409:
        return NodeError("conflict", f"{host} answered HTTP 409{said}", retryable=True, retry_after_s=wait)
    if status >= 500:
        return NodeError(
            "server_error", f"{host} answered HTTP {status}{said}", retryable=True, retry_after_s=wait
        )
    if status in (401, 403):
        return NodeError("unauthorized", f"{host} answered HTTP {status}{said}", retryable=False)
    return NodeError("client_error", f"{host} answered HTTP {status}{said}", retryable=False)


class HttpHandler:
    def execute(self, claim: Claim) -> AttemptResult:
        """Runs on a worker outside any transaction; one request (plus its redirects) per attempt."""
        config: dict[str, Any] = claim.rendered or {}
        url = _as_text(config.get("url")).strip()
        method = str(config.get("method") or "GET").upper()
        headers = [
            (str(name), _as_text(value))
            for name, value in (config.get("headers") or {}).items()
            if str(name).lower() not in RESERVED_HEADERS
        ]
        query = [(str(name), _as_text(value)) for name, value in (config.get("query") or {}).items()]
        secrets = Secrets()
        sensitive: frozenset[str] = frozenset()
        reference = config.get("credential")
        if reference is not None and reference != "":
            credential_headers, credential_query, secret = self._credential(claim, reference)
            # The secret itself, and the encoded token of a basic credential.
            secrets = Secrets([secret, *(value.split(" ", 1)[-1] for _, value in credential_headers)])
            replaced = {name.lower() for name, _ in credential_headers}
            headers = [(name, value) for name, value in headers if name.lower() not in replaced]
            headers.extend(credential_headers)
            query.extend(credential_query)
            sensitive = frozenset(replaced)
        content, content_type = _body(config, headers)
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        timeout_s = float(claim.timeout_s or min(DEFAULT_TIMEOUT_S, settings.ENGINE_DEFAULT_LEASE_S))
        request = egress.OutboundRequest(
            method=method,
            url=_with_query(url, query),
            headers=headers,
            content=content,
            timeout_s=timeout_s,
            max_redirects=_int_setting(config, "max_redirects", DEFAULT_MAX_REDIRECTS),
            max_response_bytes=_int_setting(config, "max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES),
            sensitive_headers=sensitive,
        )
        started = time.monotonic()
        try:
            response = egress.send(request)
        except egress.EgressRefused as refusal:
            code = _EGRESS_CODES.get(refusal.code, refusal.code)
            raise NodeError(code, secrets.scrub(refusal.message), retryable=False) from None
        except egress.OutboundError as error:
            code, retryable = _OUTBOUND_ERRORS.get(error.kind, ("connection_error", True))
            raise NodeError(code, secrets.scrub(error.message), retryable=retryable) from None
        latency_ms = int((time.monotonic() - started) * 1000)
        text = secrets.scrub(_decode(response.body, response.charset))
        host = urlsplit(response.url).hostname or "The server"
        if not 200 <= response.status < 400:
            raise classify_status(response.status, response.headers, text, host)
        body: Any = text
        if str(config.get("response") or "json") == "json":
            body = self._parse_json(text, host)
        output = {"status": response.status, "headers": _header_map(response.headers, secrets), "body": body}
        return AttemptResult(output=output, meta={"latency_ms": latency_ms})

    def _credential(
        self, claim: Claim, reference: Any
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
        from executions.models import Run

        run = Run.objects.select_related("created_by").filter(pk=claim.run_id).first()
        starter = run.created_by if run is not None else None
        try:
            credential = credential_for_run(reference, starter)
        except CredentialUnavailable as problem:
            raise NodeError(problem.code, problem.message, retryable=False) from None
        headers, query = credential.request_parts()
        return headers, query, credential.secret()

    def _parse_json(self, text: str, host: str) -> Any:
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as error:
            raise NodeError(
                "invalid_json",
                f"{host} answered with a body that is not JSON ({error}): {shorten(text, SNIPPET_CHARS)!r}",
                retryable=True,
            ) from None
