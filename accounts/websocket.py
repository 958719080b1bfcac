"""WebSocket handshake security: origin check and bearer-token auth (DESIGN §8).

Browsers authenticate sockets with the session cookie and always send an Origin header, which must
name one of this site's hosts (a foreign page cannot open a socket with the user's cookie).
Other clients authenticate with `Authorization: Bearer <token>` on the handshake — never a token
in the query string — and may omit Origin. Anything else is refused before accept.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host

from .authentication import parse_bearer_header, user_for_bearer_token


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for header_name, value in scope.get("headers", []):
        if header_name == name:
            return bytes(value)
    return None


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def origin_is_allowed(scope: dict[str, Any]) -> bool:
    origin = _header(scope, b"origin")
    if origin is None:
        return _header(scope, b"authorization") is not None
    try:
        parsed = urlparse(origin.decode("latin-1"))
    except UnicodeDecodeError:
        return False
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    return validate_host(parsed.hostname, _allowed_hosts())


class OriginCheckMiddleware:
    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_is_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


class BearerTokenMiddleware:
    """A bearer header, when present, decides who the socket is (an invalid one: nobody)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        header = _header(scope, b"authorization")
        if header is not None:
            raw = parse_bearer_header(header)
            found = await database_sync_to_async(user_for_bearer_token)(raw) if raw else None
            scope = {**scope, "user": found[0] if found else AnonymousUser()}
        return await self.application(scope, receive, send)
