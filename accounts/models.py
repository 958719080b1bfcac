"""API bearer tokens: shown once, stored only as a SHA-256 hash, optionally expiring."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "fdt_"


def hash_token(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    #: The first characters of the token, so a user can tell their tokens apart without the value.
    hint = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name or 'token'} ({self.hint}…) of {self.user}"

    @classmethod
    def issue(
        cls, user: models.Model, name: str = "", expires_in_s: int | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token and return it with its raw value, which is never stored or shown again."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = timezone.now() + timedelta(seconds=expires_in_s) if expires_in_s else None
        token = cls.objects.create(
            user=user,
            name=name,
            key_hash=hash_token(raw),
            hint=raw[: len(TOKEN_PREFIX) + 4],
            expires_at=expires_at,
        )
        return token, raw

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
