"""`Authorization: Bearer <token>` for API clients, scripts and external agents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .models import ApiToken, hash_token

#: last_used_at is refreshed at most this often, so a busy client does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def user_for_bearer_token(raw_token: str) -> tuple[Any, ApiToken] | None:
    """The active user and token for a raw token value, or None. Shared by HTTP and WebSockets."""
    token = ApiToken.objects.usable().select_related("user").filter(key_hash=hash_token(raw_token)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, token


def parse_bearer_header(header_value: str | bytes | None) -> str | None:
    """The token from an Authorization header value, None when it is not a bearer header."""
    if not header_value:
        return None
    if isinstance(header_value, bytes):
        try:
            header_value = header_value.decode("latin-1")
        except UnicodeDecodeError:
            return None
    scheme, _, value = header_value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or ""


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        raw = parse_bearer_header(request.META.get("HTTP_AUTHORIZATION"))
        if raw is None:
            return None
        if not raw or " " in raw:
            raise exceptions.AuthenticationFailed("Malformed bearer token.")
        found = user_for_bearer_token(raw)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return found

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
