from __future__ import annotations

from datetime import UTC
from typing import Any

import django_filters
from django import forms
from django.db import connection
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.pagination import MAX_DATABASE_INTEGER
from workflows.access import get_workflow_for
from workflows.choices import Role

from .. import notify, services
from ..access import get_run_for, visible_runs
from ..engine.states import IllegalTransition, RunStatus
from ..models import NodeRun, Run, RunEvent, RunSource
from ..starting import StartRefused, check_run_request
from .serializers import (
    EventPageSerializer,
    NodeRunDetailSerializer,
    NodeRunSerializer,
    RetryRequestSerializer,
    RunDetailSerializer,
    RunSummarySerializer,
    StartRunSerializer,
)

MAX_EVENT_PAGE = 5000
DEFAULT_EVENT_PAGE = 500


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def conflict(error: Exception) -> Response:
    return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)


def run_queryset() -> QuerySet[Run]:
    return Run.objects.select_related("workflow", "version", "created_by")


def wait_for_settled_run(run_id: Any, wait_s: float) -> None:
    """Hold the request until the run settles, without holding a database connection."""

    def settled_now() -> bool:
        run_status = Run.objects.filter(pk=run_id).values_list("status", flat=True).first()
        waits_on_someone = (
            run_status == RunStatus.WAITING
            and NodeRun.objects.filter(
                run_id=run_id, status="waiting", wait_reason__in=notify.SOMEONE_REASONS
            ).exists()
        )
        settled = run_status is None or notify.is_settled(RunStatus(run_status), waits_on_someone)
        if not settled:
            connection.close()
        return settled

    notify.wait_until_settled(run_id, wait_s, settled_now)


class StartRunView(APIView):
    """Start a run of the workflow (its active version by default)."""

    @extend_schema(
        request=StartRunSerializer,
        responses={201: RunSummarySerializer},
        operation_id="workflows_runs_create",
    )
    def post(self, request: Request, pk: str) -> Response:
        workflow = get_workflow_for(request.user, pk, Role.RUNNER)
        data = validated(StartRunSerializer, request.data)
        try:
            plan = check_run_request(
                workflow,
                request.user,
                inputs=data["inputs"],
                variables=data["variables"],
                version_number=data.get("version"),
                draft=data["draft"],
            )
        except StartRefused as refusal:
            return Response(refusal.body(), status=refusal.status)
        run = services.create_run(
            workflow=workflow,
            version=plan.version,
            draft_graph=plan.draft_graph,
            inputs=plan.inputs,
            variables=plan.variables,
            user=request.user,
            source=RunSource.API if request.auth is not None else RunSource.MANUAL,
        )
        if data.get("wait_s"):
            wait_for_settled_run(run.pk, data["wait_s"])
        return Response(
            RunSummarySerializer(run_queryset().get(pk=run.pk)).data, status=status.HTTP_201_CREATED
        )


class _UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, handed to the database in UTC: Postgres refuses offsets beyond
    ±15:59 that ISO 8601 (and so the parser) allows, and a moment near year 1 or 9999 may not exist
    in UTC at all — both are the client's mistake (400), never the server's."""

    def to_python(self, value: Any) -> Any:
        parsed = super().to_python(value)
        if parsed is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            message = "Enter a date and time that exists in UTC (years 1 to 9999)."
            raise forms.ValidationError(message) from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _UtcIsoDateTimeField


class RunFilter(django_filters.FilterSet):
    workflow = django_filters.NumberFilter(
        field_name="workflow_id", min_value=1, max_value=MAX_DATABASE_INTEGER
    )
    status = django_filters.ChoiceFilter(choices=[(value.value, value.value) for value in RunStatus])
    source = django_filters.ChoiceFilter(choices=RunSource.choices)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Run
        fields = ["workflow", "status", "source", "created_after", "created_before"]


class NodeRunFilter(django_filters.FilterSet):
    scope = django_filters.CharFilter(field_name="scope")
    node_id = django_filters.CharFilter(field_name="node_id")
    status = django_filters.CharFilter(field_name="status")

    class Meta:
        model = NodeRun
        fields = ["scope", "node_id", "status"]


class RunViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = RunSummarySerializer
    filterset_class = RunFilter
    queryset = Run.objects.none()
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"

    def get_queryset(self) -> QuerySet[Run]:
        return visible_runs(self.request.user, run_queryset())

    def run(self, minimum_role: str = Role.VIEWER) -> Run:
        return get_run_for(self.request.user, self.kwargs["pk"], minimum_role, queryset=run_queryset())

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(RunDetailSerializer(self.run()).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("scope", str),
            OpenApiParameter("node_id", str),
            OpenApiParameter("status", str),
        ],
        responses=NodeRunSerializer(many=True),
    )
    @action(detail=True, methods=["get"], url_path="node-runs", filterset_class=None)
    def node_runs(self, request: Request, pk: str) -> Response:
        """Node runs of every scope (loop passes live here), paginated up to 500 a page."""
        run = self.run()
        rows = NodeRunFilter(request.query_params, queryset=run.node_runs.prefetch_related("attempts"))
        if not rows.is_valid():
            raise ValidationError(rows.errors)
        page = self.paginate_queryset(rows.qs.order_by("scope", "created_at", "id"))
        return self.get_paginated_response(NodeRunSerializer(page, many=True).data)

    @extend_schema(parameters=[OpenApiParameter("scope", str)], responses=NodeRunDetailSerializer)
    @action(
        detail=True,
        methods=["get"],
        url_path=r"node-runs/(?P<node_id>[a-z][a-z0-9_]{0,63})",
        filterset_class=None,
    )
    def node_run(self, request: Request, pk: str, node_id: str) -> Response:
        """One node run with every attempt in full."""
        run = self.run()
        row = get_object_or_404(
            run.node_runs.prefetch_related("attempts"),
            node_id=node_id,
            scope=request.query_params.get("scope", ""),
        )
        return Response(NodeRunDetailSerializer(row).data)

    @extend_schema(
        parameters=[OpenApiParameter("after", int), OpenApiParameter("limit", int)],
        responses=EventPageSerializer,
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def events(self, request: Request, pk: str) -> Response:
        """Stored events after a seq, in seq order: how clients resync after a gap."""
        run = self.run()
        try:
            after = int(request.query_params.get("after", 0))
            limit = int(request.query_params.get("limit", DEFAULT_EVENT_PAGE))
        except ValueError:
            raise ValidationError({"detail": "after and limit must be whole numbers."}) from None
        if not 0 <= after <= MAX_DATABASE_INTEGER or not 1 <= limit <= MAX_EVENT_PAGE:
            raise ValidationError({"detail": f"after must be ≥ 0 and limit between 1 and {MAX_EVENT_PAGE}."})
        events = list(RunEvent.objects.filter(run=run, seq__gt=after).order_by("seq")[:limit])
        return Response(
            {
                "events": [event.envelope() for event in events],
                "next_after": events[-1].seq if events else after,
            }
        )

    @extend_schema(request=None, responses=RunSummarySerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request: Request, pk: str) -> Response:
        run = self.run(Role.RUNNER)
        try:
            services.cancel_run(run.pk, by=request.user.get_username())
        except IllegalTransition as error:
            return conflict(error)
        return Response(RunSummarySerializer(self.run()).data)

    @extend_schema(request=None, responses=RunSummarySerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def pause(self, request: Request, pk: str) -> Response:
        run = self.run(Role.RUNNER)
        try:
            services.pause_run(run.pk)
        except IllegalTransition as error:
            return conflict(error)
        return Response(RunSummarySerializer(self.run()).data)

    @extend_schema(request=None, responses=RunSummarySerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def resume(self, request: Request, pk: str) -> Response:
        run = self.run(Role.RUNNER)
        try:
            services.resume_run(run.pk)
        except IllegalTransition as error:
            return conflict(error)
        return Response(RunSummarySerializer(self.run()).data)

    @extend_schema(request=RetryRequestSerializer, responses=RunSummarySerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def retry(self, request: Request, pk: str) -> Response:
        """Re-execute a node (default: every failed node) and everything downstream of it."""
        run = self.run(Role.RUNNER)
        data = validated(RetryRequestSerializer, request.data)
        try:
            services.retry_run(run.pk, data.get("node_id"), data.get("scope"))
        except (IllegalTransition, services.NothingToRetry) as error:
            return conflict(error)
        return Response(RunSummarySerializer(self.run()).data)
