"""Credentials through the API (`/api/credentials/`), shared like workflows (owner + group grants).

The secret is write-only: accepted on create (required) and update (optional: omitted keeps the
stored one), never returned — the API says only whether one is set. Viewers see a credential's
name, kind and non-secret fields so they can pick it in the editor; runs use it when their starter
holds the runner role (integrations.credentials); editors change it; the owner deletes and shares.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from rest_framework import serializers

from agents.api.catalog import SharedSerializer, SharedViewSet

from .models import Credential, CredentialGrant, CredentialKind

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$")
#: Headers Flowdeck sets itself (integrations.egress, executions.handlers.http).
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "content-type"})


class CredentialSerializer(SharedSerializer):
    secret = serializers.CharField(
        write_only=True,
        required=False,
        max_length=8192,
        trim_whitespace=False,
        help_text="Write-only: the token, password or value. Required on create; omit it to keep the "
        "stored one.",
        style={"input_type": "password"},
    )
    has_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = Credential
        fields = [
            "id",
            "name",
            "kind",
            "description",
            "username",
            "header_name",
            "query_param",
            "secret",
            "has_secret",
            "owner",
            "role",
            "grants",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "has_secret", "owner", "role", "created_at", "updated_at"]

    def validate_secret(self, value: str) -> str:
        if not value or "\r" in value or "\n" in value or "\x00" in value:
            raise serializers.ValidationError("Must be non-empty, on one line.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: Credential | None = self.instance  # type: ignore[assignment]
        if instance is None and "secret" not in attrs:
            raise serializers.ValidationError({"secret": ["This field is required."]})

        def current(name: str) -> Any:
            return attrs[name] if name in attrs else getattr(instance, name, "")

        kind = current("kind")
        errors: dict[str, list[str]] = {}
        if kind == CredentialKind.BASIC and not current("username"):
            errors["username"] = ["A basic credential needs a user name."]
        if kind == CredentialKind.BASIC and ":" in (current("username") or ""):
            errors["username"] = ["A basic-auth user name cannot contain ':'."]
        if kind == CredentialKind.HEADER:
            header = current("header_name") or ""
            if not _HEADER_NAME.match(header):
                errors["header_name"] = ["A header credential needs a valid header name."]
            elif header.lower() in _RESERVED_HEADERS:
                errors["header_name"] = [f"{header} is set by Flowdeck and cannot carry a credential."]
        if kind == CredentialKind.QUERY and not (current("query_param") or "").strip():
            errors["query_param"] = ["A query credential needs a parameter name."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CredentialViewSet(SharedViewSet):
    serializer_class = CredentialSerializer
    queryset = Credential.objects.none()
    noun = "credential"
    grant_model = CredentialGrant

    def _save(self, serializer: serializers.BaseSerializer[Any], **extra: Any) -> Any:
        secret = serializer.validated_data.pop("secret", None)
        with transaction.atomic():
            instance = super()._save(serializer, **extra)
            if secret is not None:
                instance.set_secret(secret)
                instance.save(update_fields=["secret_ciphertext", "updated_at"])
        return instance
