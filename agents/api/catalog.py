"""Providers and agents through the API, shared like workflows (owner + group grants).

Provider secrets are write-only: `api_key` is accepted on create and update, never returned; the
API says only whether one is set.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.sharing import get_shared_for, has_role, role_of, visible_to
from workflows.api.serializers import GrantSerializer
from workflows.choices import OWNER, Role
from workflows.services import GrantSpec, grants_from_names

from ..models import Agent, AgentGrant, Provider, ProviderGrant


class SharedSerializer(serializers.ModelSerializer):
    """Owner, the caller's role and the group grants of a shared object."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    role = serializers.SerializerMethodField()
    grants = serializers.ListField(child=GrantSerializer(), required=False, max_length=100, write_only=True)

    @extend_schema_field({"type": "string", "enum": ["owner", "editor", "runner", "viewer"]})
    def get_role(self, shared: Any) -> str | None:
        return role_of(self.context["request"].user, shared)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["grants"] = [{"group": grant.group.name, "role": grant.role} for grant in instance.grants.all()]
        return data

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class ProviderSerializer(SharedSerializer):
    api_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=4096,
        trim_whitespace=True,
        help_text="Write-only. Send an empty string to remove the stored key.",
    )
    has_api_key = serializers.BooleanField(read_only=True)

    class Meta:
        model = Provider
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "api_key",
            "has_api_key",
            "config",
            "max_concurrency",
            "requests_per_minute",
            "timeout_s",
            "owner",
            "role",
            "grants",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "has_api_key", "owner", "role", "created_at", "updated_at"]
        extra_kwargs = {
            "timeout_s": {"min_value": 1, "max_value": 3600},
            "max_concurrency": {"max_value": 1000},
            "requests_per_minute": {"max_value": 1_000_000},
        }

    def validate_config(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object.")
        return value

    def validate_base_url(self, value: str) -> str:
        """A base URL is trusted: the SDK connects to it without the egress guard that every
        other outbound request on a user's behalf goes through. So only staff may set or change
        it; everyone else's providers talk to their vendor's own endpoint."""
        current = self.instance.base_url if isinstance(self.instance, Provider) else ""
        if value != current and not self.context["request"].user.is_staff:
            raise serializers.ValidationError(
                "Only staff can set a provider's base URL: it is trusted and bypasses the egress guard."
            )
        return value


class AgentSerializer(SharedSerializer):
    provider = serializers.PrimaryKeyRelatedField(
        queryset=Provider.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Agent
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "provider",
            "model",
            "system_prompt",
            "temperature",
            "max_tokens",
            "output_format",
            "json_schema",
            "price_input_per_mtok",
            "price_output_per_mtok",
            "owner",
            "role",
            "grants",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "owner", "role", "created_at", "updated_at"]
        extra_kwargs = {
            "temperature": {"min_value": 0, "max_value": 2},
            "max_tokens": {"min_value": 1, "max_value": 1_000_000},
            "price_input_per_mtok": {"min_value": 0},
            "price_output_per_mtok": {"min_value": 0},
        }

    def validate_provider(self, provider: Provider | None) -> Provider | None:
        request = self.context["request"]
        if provider is not None and not has_role(request.user, provider, Role.RUNNER):
            raise serializers.ValidationError("You need the runner role on this provider to use it.")
        return provider

    def validate_json_schema(self, value: Any) -> Any:
        if value is None:
            return value
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as error:
            raise serializers.ValidationError(f"Not a valid JSON Schema: {error.message}") from None
        return value


class SharedViewSet(viewsets.ModelViewSet):
    """CRUD with the sharing roles: viewers read, editors change, the owner deletes and shares."""

    noun = "object"
    grant_model: Any = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Any]:
        model = self.get_serializer_class().Meta.model  # type: ignore[attr-defined]
        base = model.objects.select_related("owner").prefetch_related("grants__group")
        return visible_to(self.request.user, base)

    def get_object(self) -> Any:
        minimum: str = Role.VIEWER if self.request.method in ("GET", "HEAD", "OPTIONS") else Role.EDITOR
        if self.action == "destroy":
            minimum = OWNER
        if self.action == "test_connection":
            minimum = Role.RUNNER
        return get_shared_for(self.request.user, self.get_queryset(), self.kwargs["pk"], minimum, self.noun)

    def _grants(self, data: dict[str, Any]) -> list[GrantSpec] | None:
        if "grants" not in data:
            return None
        try:
            return grants_from_names(data.pop("grants"))
        except ValueError as error:
            raise ValidationError({"grants": [str(error)]}) from None

    def _save(self, serializer: serializers.BaseSerializer[Any], **extra: Any) -> Any:
        grants = self._grants(serializer.validated_data)
        api_key = serializer.validated_data.pop("api_key", None)
        try:
            with transaction.atomic():
                instance = serializer.save(**extra)
                if api_key is not None:
                    instance.set_api_key(api_key)
                    instance.save(update_fields=["api_key_ciphertext"])
                if grants is not None:
                    instance.grants.all().delete()
                    owner_field = self.noun
                    self.grant_model.objects.bulk_create(
                        self.grant_model(**{owner_field: instance, "group": grant.group, "role": grant.role})
                        for grant in grants
                    )
        except IntegrityError:
            raise ValidationError(
                {"detail": f"A {self.noun} with this name or slug already exists."}
            ) from None
        return instance

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        self._save(serializer, owner=self.request.user)

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        if "grants" in serializer.validated_data and not has_role(
            self.request.user, serializer.instance, OWNER
        ):
            raise PermissionDenied("Only the owner may change sharing.")
        self._save(serializer)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        try:
            instance.delete()
        except ProtectedError:
            return Response(
                {"detail": f"This {self.noun} is still in use; remove what uses it first."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProviderViewSet(SharedViewSet):
    serializer_class = ProviderSerializer
    queryset = Provider.objects.none()
    noun = "provider"
    grant_model = ProviderGrant

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "ConnectionTest", {"ok": serializers.BooleanField(), "detail": serializers.CharField()}
        ),
    )
    @action(detail=True, methods=["post"], url_path="test")
    def test_connection(self, request: Request, pk: str) -> Response:
        """Make one small real call with the stored settings and say whether it worked."""
        from ..providers import test_connection

        ok, detail = test_connection(self.get_object())
        return Response({"ok": ok, "detail": detail})


class AgentViewSet(SharedViewSet):
    serializer_class = AgentSerializer
    queryset = Agent.objects.none()
    noun = "agent"
    grant_model = AgentGrant
