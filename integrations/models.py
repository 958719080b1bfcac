"""Credentials that `http` nodes use by reference, and the admin-managed egress allowlist.

A credential's secret is encrypted at rest (agents.crypto) and write-only everywhere: the API, the
admin, exports, events and error messages only ever say whether one is set. Graphs name a
credential by id or name; the secret is decrypted on the worker, for the duration of one request.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models

from agents import crypto
from workflows.choices import Role


class CredentialKind(models.TextChoices):
    BEARER = "bearer", "Bearer token (Authorization: Bearer …)"
    BASIC = "basic", "Basic auth (user name and password)"
    HEADER = "header", "Custom header"
    QUERY = "query", "Query parameter"


class Credential(models.Model):
    #: Unique: a node may reference the credential by name.
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=CredentialKind.choices)
    description = models.TextField(blank=True, default="", max_length=2_000)
    #: Not secret: the user name of a basic credential.
    username = models.CharField(max_length=200, blank=True, default="")
    #: Not secret: the header a `header` credential sets.
    header_name = models.CharField(max_length=200, blank=True, default="")
    #: Not secret: the query parameter a `query` credential adds.
    query_param = models.CharField(max_length=200, blank=True, default="")
    #: The token, password or value. Encrypted; never shown again once saved.
    secret_ciphertext = models.TextField(blank=True, default="", editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credentials")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_ciphertext)

    def set_secret(self, raw: str) -> None:
        self.secret_ciphertext = crypto.encrypt(raw)

    def secret(self) -> str:
        return crypto.decrypt(self.secret_ciphertext)

    def request_parts(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The (headers, query parameters) this credential adds to a request. Holds the plain
        secret: callers keep the result in memory for one request and never log it."""
        secret = self.secret()
        if self.kind == CredentialKind.BEARER:
            return [("Authorization", f"Bearer {secret}")], []
        if self.kind == CredentialKind.BASIC:
            token = base64.b64encode(f"{self.username}:{secret}".encode()).decode("ascii")
            return [("Authorization", f"Basic {token}")], []
        if self.kind == CredentialKind.HEADER:
            return [(self.header_name, secret)], []
        return [], [(self.query_param, secret)]


class CredentialGrant(models.Model):
    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="grants")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="credential_grants")
    role = models.CharField(max_length=10, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["credential", "group"], name="one_credential_grant_per_group")
        ]

    def __str__(self) -> str:
        return f"{self.group} is {self.role} of {self.credential}"


class EgressAllow(models.Model):
    """Opens a host, domain, address or CIDR block that the egress guard refuses by default
    (integrations.egress). Only admins manage these rows."""

    host = models.CharField(
        max_length=255,
        unique=True,
        help_text="A host name (api.internal), *.domain (*.corp.example), an IP address or a CIDR block "
        "(10.1.2.0/24).",
    )
    note = models.CharField(max_length=500, blank=True, default="", help_text="Why this is allowed.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host"]
        verbose_name = "egress allowlist entry"
        verbose_name_plural = "egress allowlist"

    def __str__(self) -> str:
        return self.host

    def clean(self) -> None:
        from .egress import parse_entry

        try:
            parse_entry(self.host)
        except ValueError as error:
            raise ValidationError({"host": str(error)}) from None
        self.host = self.host.strip().lower()
