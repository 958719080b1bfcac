"""The approval inbox API (DESIGN §7): list, detail, claim, release, decide."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.pagination import MAX_DATABASE_INTEGER
from config.api.serializers import StrictSerializer

from .. import approvals
from ..engine.approvals import ApprovalStatus
from ..models import Approval


class DecisionSerializer(serializers.Serializer):
    user = serializers.CharField()
    decision = serializers.CharField()
    comment = serializers.CharField()
    # Declared fields are removed from the class by DRF, so this does not shadow Serializer.data.
    data = serializers.JSONField(allow_null=True)  # type: ignore[assignment]
    at = serializers.DateTimeField()


class ApprovalSerializer(serializers.ModelSerializer):
    run = serializers.UUIDField(source="run_id", read_only=True)
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    node_id = serializers.CharField(source="node_run.node_id", read_only=True)
    scope = serializers.CharField(source="node_run.scope", read_only=True)
    assignees = serializers.SerializerMethodField()
    claimed_by = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()
    decisions = serializers.SerializerMethodField()

    class Meta:
        model = Approval
        fields = [
            "id",
            "run",
            "workflow",
            "workflow_name",
            "node_id",
            "scope",
            "status",
            "title",
            "instructions",
            "payload",
            "payload_hash",
            "form",
            "assignees",
            "required_approvals",
            "allow_self_approval",
            "due_at",
            "on_timeout",
            "escalated",
            "claimed_by",
            "claim_expires_at",
            "decision",
            "decided_by",
            "decided_at",
            "comment",
            "data",
            "timed_out",
            "decisions",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "users": {"type": "array", "items": {"type": "string"}},
                "groups": {"type": "array", "items": {"type": "string"}},
            },
        }
    )
    def get_assignees(self, approval: Approval) -> dict[str, list[str]]:
        return {
            "users": sorted(user.get_username() for user in approval.assigned_users.all()),
            "groups": sorted(group.name for group in approval.assigned_groups.all()),
        }

    @extend_schema_field({"type": "string", "nullable": True})
    def get_claimed_by(self, approval: Approval) -> str | None:
        return approval.claimed_by.get_username() if approval.claimed_by else None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_decided_by(self, approval: Approval) -> str | None:
        return approval.decided_by.get_username() if approval.decided_by else None

    @extend_schema_field(DecisionSerializer(many=True))
    def get_decisions(self, approval: Approval) -> list[dict[str, Any]]:
        return approvals.node_output(approval)["decisions"]


class DecideSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    comment = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    data = serializers.JSONField(required=False, allow_null=True, default=None)  # type: ignore[assignment]


class ApprovalFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=[(status.value, status.value) for status in ApprovalStatus])
    workflow = django_filters.NumberFilter(
        field_name="workflow_id", min_value=1, max_value=MAX_DATABASE_INTEGER
    )
    run = django_filters.UUIDFilter(field_name="run_id")
    mine = django_filters.ChoiceFilter(
        choices=[("1", "1"), ("true", "true"), ("0", "0"), ("false", "false")],
        method="filter_mine",
        label="Only what I can decide now",
    )

    class Meta:
        model = Approval
        fields = ["status", "workflow", "run", "mine"]

    def filter_mine(self, queryset: QuerySet[Approval], name: str, value: str) -> QuerySet[Approval]:
        if value in ("1", "true"):
            return approvals.mine(self.request.user, queryset)
        return queryset


def refused(error: approvals.ApprovalRefused) -> Response:
    return Response(error.body(), status=error.refusal.status)


class ApprovalViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ApprovalSerializer
    filterset_class = ApprovalFilter
    queryset = Approval.objects.none()
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"

    def get_queryset(self) -> QuerySet[Approval]:
        base = Approval.objects.select_related(
            "workflow", "node_run", "claimed_by", "decided_by"
        ).prefetch_related("assigned_users", "assigned_groups")
        return approvals.visible_approvals(self.request.user, base).order_by("-created_at")

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ApprovalSerializer(approvals.get_approval_for(request.user, pk)).data)

    @extend_schema(request=None, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def claim(self, request: Request, pk: str) -> Response:
        approval = approvals.get_approval_for(request.user, pk)
        try:
            approval = approvals.claim(approval.pk, request.user)
        except approvals.ApprovalRefused as error:
            return refused(error)
        return Response(ApprovalSerializer(approval).data)

    @extend_schema(request=None, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def release(self, request: Request, pk: str) -> Response:
        approval = approvals.get_approval_for(request.user, pk)
        try:
            approval = approvals.release(approval.pk, request.user)
        except approvals.ApprovalRefused as error:
            return refused(error)
        return Response(ApprovalSerializer(approval).data)

    @extend_schema(request=DecideSerializer, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def decide(self, request: Request, pk: str) -> Response:
        approval = approvals.get_approval_for(request.user, pk)
        serializer = DecideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            approval = approvals.decide(
                approval.pk, request.user, data["decision"], data["comment"], data["data"]
            )
        except approvals.ApprovalRefused as error:
            return refused(error)
        return Response(ApprovalSerializer(approval).data)
