from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import StrictSerializer

from ..choices import TriggerKind
from ..models import Trigger, TriggerFire
from ..services import DEFAULT_GRACE_S, MAX_GRACE_S


class TriggerCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=TriggerKind.choices)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    config = serializers.JSONField(required=False, default=dict)
    enabled = serializers.BooleanField(required=False, default=True)


class TriggerUpdateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=TriggerKind.choices, required=False, help_text="Cannot change.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    config = serializers.JSONField(required=False)
    enabled = serializers.BooleanField(required=False)


class RotateSecretSerializer(StrictSerializer):
    grace_s = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_GRACE_S,
        default=DEFAULT_GRACE_S,
        help_text="How long the old secret stays valid, in seconds.",
    )


class TriggerFireSerializer(serializers.ModelSerializer):
    run = serializers.UUIDField(source="run_id", read_only=True, allow_null=True)

    class Meta:
        model = TriggerFire
        fields = ["outcome", "run", "reason", "slot", "created_at"]
        read_only_fields = fields


class TriggerSerializer(serializers.ModelSerializer):
    """A trigger as anyone who may see it sees it: never its secret."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    url = serializers.SerializerMethodField(help_text="Webhooks: where to POST (the token is in the path).")
    has_previous_secret = serializers.SerializerMethodField()

    class Meta:
        model = Trigger
        fields = [
            "id",
            "workflow",
            "kind",
            "name",
            "config",
            "enabled",
            "owner",
            "url",
            "has_previous_secret",
            "previous_secret_expires_at",
            "next_fire_at",
            "last_fired_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_url(self, trigger: Trigger) -> str | None:
        path = trigger.hook_path
        return settings.PUBLIC_BASE_URL.rstrip("/") + path if path else None

    def get_has_previous_secret(self, trigger: Trigger) -> bool:
        expires = trigger.previous_secret_expires_at
        now = self.context.get("now")
        return bool(trigger.previous_secret_encrypted and expires and (now is None or expires > now))


class TriggerDetailSerializer(TriggerSerializer):
    recent_fires = serializers.SerializerMethodField(help_text="The last 20 firings, newest first.")

    class Meta(TriggerSerializer.Meta):
        fields = [*TriggerSerializer.Meta.fields, "recent_fires"]
        read_only_fields = fields

    @extend_schema_field(TriggerFireSerializer(many=True))
    def get_recent_fires(self, trigger: Trigger) -> list[dict[str, Any]]:
        return list(TriggerFireSerializer(trigger.fires.order_by("-created_at", "-id")[:20], many=True).data)


class TriggerWithSecretSerializer(TriggerDetailSerializer):
    """The answer to creating a webhook or rotating its secret: the only time the secret is shown."""

    secret = serializers.SerializerMethodField()

    class Meta(TriggerDetailSerializer.Meta):
        fields = [*TriggerDetailSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_secret(self, trigger: Trigger) -> str | None:
        secret: str | None = self.context.get("secret")
        return secret
