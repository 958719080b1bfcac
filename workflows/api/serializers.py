from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import StrictSerializer

from ..access import role_for
from ..choices import Role
from ..models import Workflow, WorkflowVersion
from ..services import EXPORT_FORMAT, EXPORT_FORMAT_VERSION

GRAPH_SCHEMA = {
    "type": "object",
    "description": "A workflow graph (see the node types at /api/node-types/).",
    "properties": {
        "schema_version": {"type": "integer", "enum": [1]},
        "nodes": {"type": "array", "items": {"type": "object"}},
        "edges": {"type": "array", "items": {"type": "object"}},
        "variables": {"type": "array", "items": {"type": "object"}},
        "annotations": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["schema_version", "nodes", "edges"],
}

VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "node_id": {"type": "string"},
        "edge_id": {"type": "string"},
        "path": {"type": "string"},
    },
    "required": ["code", "message"],
}


@extend_schema_field(GRAPH_SCHEMA)
class GraphField(serializers.JSONField):
    pass


class GrantSerializer(StrictSerializer):
    group = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class ValidationErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    node_id = serializers.CharField(required=False)
    edge_id = serializers.CharField(required=False)
    path = serializers.CharField(required=False)


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    # Declared fields are removed from the class by DRF, so this does not shadow Serializer.errors.
    errors = ValidationErrorSerializer(many=True)  # type: ignore[assignment]


class WorkflowSummarySerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    tags = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField(help_text="Your role: owner, editor, runner or viewer.")
    active_version = serializers.SerializerMethodField()

    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "description",
            "tags",
            "owner",
            "role",
            "revision",
            "active_version",
            "is_archived",
            "archived_at",
            "max_concurrent_runs",
            "timeout_s",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_tags(self, workflow: Workflow) -> list[str]:
        return [tag.name for tag in workflow.tags.all()]

    @extend_schema_field({"type": "string", "enum": ["owner", "editor", "runner", "viewer"]})
    def get_role(self, workflow: Workflow) -> str | None:
        return role_for(self.context["request"].user, workflow)

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_active_version(self, workflow: Workflow) -> int | None:
        version = workflow.active_version
        return version.number if version is not None else None


class WorkflowDetailSerializer(WorkflowSummarySerializer):
    graph = GraphField(read_only=True)
    grants = serializers.SerializerMethodField()

    class Meta(WorkflowSummarySerializer.Meta):
        fields = [*WorkflowSummarySerializer.Meta.fields, "graph", "grants"]
        read_only_fields = fields

    @extend_schema_field(GrantSerializer(many=True))
    def get_grants(self, workflow: Workflow) -> list[dict[str, str]]:
        return [{"group": grant.group.name, "role": grant.role} for grant in workflow.grants.all()]


class WorkflowSavedSerializer(WorkflowDetailSerializer):
    """A saved workflow with the full validation of its draft, so incomplete drafts show errors."""

    validation = serializers.SerializerMethodField()

    class Meta(WorkflowDetailSerializer.Meta):
        fields = [*WorkflowDetailSerializer.Meta.fields, "validation"]
        read_only_fields = fields

    @extend_schema_field(ValidationResultSerializer)
    def get_validation(self, workflow: Workflow) -> dict[str, Any]:
        errors = self.context["validation_errors"]
        return {"valid": not errors, "errors": errors}


class WorkflowCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, allow_blank=True, required=False, default="")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=20, required=False, default=list
    )
    graph = GraphField(required=False)
    max_concurrent_runs = serializers.IntegerField(
        min_value=1, max_value=10_000, allow_null=True, required=False
    )
    timeout_s = serializers.IntegerField(min_value=1, max_value=30 * 86_400, allow_null=True, required=False)
    grants = serializers.ListField(child=GrantSerializer(), required=False, max_length=100)


class WorkflowUpdateSerializer(WorkflowCreateSerializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=10_000, allow_blank=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), max_length=20, required=False)
    revision = serializers.IntegerField(
        min_value=1, required=False, help_text="The revision you loaded; required when saving the graph."
    )
    is_archived = serializers.BooleanField(required=False, help_text="false restores an archived workflow.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "graph" in attrs and "revision" not in attrs:
            raise serializers.ValidationError({"revision": ["Required when saving the graph."]})
        return attrs


class ValidateRequestSerializer(StrictSerializer):
    graph = GraphField(required=False, help_text="Validate this graph instead of the saved draft.")


class PublishRequestSerializer(StrictSerializer):
    note = serializers.CharField(max_length=2_000, allow_blank=True, required=False, default="")
    activate = serializers.BooleanField(required=False, default=True)
    revision = serializers.IntegerField(
        min_value=1, required=False, help_text="If given, publish only if the draft is still at it."
    )


class VersionSummarySerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True, allow_null=True, default=None)
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowVersion
        fields = ["number", "note", "author", "checksum", "created_at", "is_active"]
        read_only_fields = fields

    def get_is_active(self, version: WorkflowVersion) -> bool:
        return bool(self.context["workflow"].active_version_id == version.pk)


class VersionDetailSerializer(VersionSummarySerializer):
    graph = GraphField(read_only=True)

    class Meta(VersionSummarySerializer.Meta):
        fields = [*VersionSummarySerializer.Meta.fields, "graph"]
        read_only_fields = fields


class ExportDocumentSerializer(StrictSerializer):
    format = serializers.ChoiceField(choices=[EXPORT_FORMAT])
    version = serializers.ChoiceField(choices=[EXPORT_FORMAT_VERSION])
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, allow_blank=True, required=False, default="")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=20, required=False, default=list
    )
    graph = GraphField()
