from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.text import slugify
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.pagination import MAX_DATABASE_INTEGER

from .. import services
from ..access import get_workflow_for, has_role, visible_workflows
from ..choices import OWNER, Role
from ..models import Workflow, WorkflowVersion
from ..node_types import describe_node_types
from .serializers import (
    ExportDocumentSerializer,
    PublishRequestSerializer,
    ValidateRequestSerializer,
    ValidationResultSerializer,
    VersionDetailSerializer,
    VersionSummarySerializer,
    WorkflowCreateSerializer,
    WorkflowDetailSerializer,
    WorkflowSavedSerializer,
    WorkflowSummarySerializer,
    WorkflowUpdateSerializer,
)

GRAPH_ERRORS_RESPONSE = inline_serializer(
    "GraphErrors",
    {"detail": serializers.CharField(), "errors": serializers.ListField(child=serializers.DictField())},
)
STALE_REVISION_RESPONSE = inline_serializer(
    "StaleRevision", {"detail": serializers.CharField(), "revision": serializers.IntegerField()}
)


def graph_error_response(error: services.GraphShapeError | services.InvalidGraph) -> Response:
    return Response({"detail": str(error), "errors": error.errors}, status=status.HTTP_400_BAD_REQUEST)


def stale_revision_response(error: services.StaleRevision) -> Response:
    return Response(
        {
            "detail": "The draft was saved by someone else since you loaded it.",
            "revision": error.current_revision,
        },
        status=status.HTTP_409_CONFLICT,
    )


class WorkflowFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Text in the name or description")
    owner = django_filters.CharFilter(field_name="owner__username", label="Owner's username")
    tag = django_filters.CharFilter(method="filter_tag", label="Tag")
    is_archived = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_archived",
        label="Archived (default: false)",
    )

    class Meta:
        model = Workflow
        fields = ["search", "owner", "tag", "is_archived"]

    def filter_search(self, queryset: QuerySet[Workflow], name: str, value: str) -> QuerySet[Workflow]:
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))

    def filter_archived(self, queryset: QuerySet[Workflow], name: str, value: str) -> QuerySet[Workflow]:
        return queryset.filter(is_archived=value == "true")

    def filter_tag(self, queryset: QuerySet[Workflow], name: str, value: str) -> QuerySet[Workflow]:
        return queryset.filter(tags__name=" ".join(value.split()).lower())


class NodeTypesView(APIView):
    """Every node type: its config schema, handles, execution and output. The editor is built from this."""

    @extend_schema(
        responses={200: inline_serializer("NodeTypes", {"type": serializers.CharField()}, many=True)}
    )
    def get(self, request: Request) -> Response:
        return Response(describe_node_types())


class WorkflowViewSet(viewsets.GenericViewSet):
    filterset_class = WorkflowFilter
    queryset = Workflow.objects.none()
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return WorkflowSummarySerializer if self.action == "list" else WorkflowDetailSerializer

    def get_queryset(self) -> QuerySet[Workflow]:
        base = Workflow.objects.select_related("owner", "active_version").prefetch_related(
            "tags", "grants__group"
        )
        return visible_workflows(self.request.user, base)

    def workflow(self, minimum_role: str) -> Workflow:
        return get_workflow_for(
            self.request.user, self.kwargs["pk"], minimum_role, queryset=self.get_queryset()
        )

    def saved_response(self, workflow: Workflow, status_code: int = status.HTTP_200_OK) -> Response:
        context = {**self.get_serializer_context(), "validation_errors": services.check_graph(workflow.graph)}
        return Response(WorkflowSavedSerializer(workflow, context=context).data, status=status_code)

    # --- collection ----------------------------------------------------------------------

    @extend_schema(responses=WorkflowSummarySerializer(many=True))
    def list(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset().defer("graph"))
        if "is_archived" not in request.query_params:
            queryset = queryset.filter(is_archived=False)
        page = self.paginate_queryset(queryset.distinct())
        return self.get_paginated_response(
            WorkflowSummarySerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(
        request=WorkflowCreateSerializer, responses={201: WorkflowSavedSerializer, 400: GRAPH_ERRORS_RESPONSE}
    )
    def create(self, request: Request) -> Response:
        data = self._validated(WorkflowCreateSerializer, request.data)
        try:
            grants = services.grants_from_names(data.pop("grants", []))
            workflow = services.create_workflow(owner=request.user, grants=grants, **data)
        except ValueError as error:
            raise ValidationError({"grants": [str(error)]}) from None
        except services.GraphShapeError as error:
            return graph_error_response(error)
        return self.saved_response(self._reload(workflow), status.HTTP_201_CREATED)

    # --- one workflow ----------------------------------------------------------------------

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(
            WorkflowDetailSerializer(self.workflow(Role.VIEWER), context=self.get_serializer_context()).data
        )

    @extend_schema(
        request=WorkflowUpdateSerializer,
        responses={200: WorkflowSavedSerializer, 400: GRAPH_ERRORS_RESPONSE, 409: STALE_REVISION_RESPONSE},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        workflow = self.workflow(Role.VIEWER)
        data = self._validated(WorkflowUpdateSerializer, request.data)
        owner_only = {"is_archived", "grants"} & set(data)
        if owner_only and not has_role(request.user, workflow, OWNER):
            raise PermissionDenied(f"Only the owner may change {', '.join(sorted(owner_only))}.")
        draft_changes = set(data) - {"is_archived", "revision"}
        if draft_changes and not has_role(request.user, workflow, Role.EDITOR):
            raise PermissionDenied("Saving the draft needs the editor role.")
        try:
            grants = services.grants_from_names(data["grants"]) if "grants" in data else None
        except ValueError as error:
            raise ValidationError({"grants": [str(error)]}) from None
        try:
            services.save_draft(
                workflow,
                changes={key: data[key] for key in services.DRAFT_FIELDS if key in data},
                revision=data.get("revision"),
                tags=data.get("tags"),
                grants=grants,
            )
        except services.GraphShapeError as error:
            return graph_error_response(error)
        except services.StaleRevision as error:
            return stale_revision_response(error)
        if data.get("is_archived") is True:
            services.archive_workflow(workflow)
        elif data.get("is_archived") is False:
            services.restore_workflow(workflow)
        return self.saved_response(self._reload(workflow))

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        """Archive the workflow (its versions and runs are kept; PATCH is_archived=false restores it)."""
        services.archive_workflow(self.workflow(OWNER))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ValidateRequestSerializer, responses=ValidationResultSerializer)
    @action(detail=True, methods=["post"])
    def validate(self, request: Request, pk: str) -> Response:
        workflow = self.workflow(Role.VIEWER)
        data = self._validated(ValidateRequestSerializer, request.data)
        errors = services.check_graph(data.get("graph", workflow.graph))
        return Response({"valid": not errors, "errors": errors})

    @extend_schema(
        request=PublishRequestSerializer,
        responses={
            201: VersionDetailSerializer,
            200: OpenApiResponse(VersionDetailSerializer, description="Unchanged graph: the latest version."),
            400: GRAPH_ERRORS_RESPONSE,
            409: STALE_REVISION_RESPONSE,
        },
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str) -> Response:
        workflow = self.workflow(Role.EDITOR)
        data = self._validated(PublishRequestSerializer, request.data)
        try:
            version, created = services.publish_workflow(
                workflow,
                author=request.user,
                note=data["note"],
                activate=data["activate"],
                revision=data.get("revision"),
            )
        except services.InvalidGraph as error:
            return graph_error_response(error)
        except services.StaleRevision as error:
            return stale_revision_response(error)
        body = VersionDetailSerializer(version, context={"workflow": workflow}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses=VersionSummarySerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str) -> Response:
        workflow = self.workflow(Role.VIEWER)
        versions = workflow.versions.select_related("author").order_by("-number")
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(
            VersionSummarySerializer(page, many=True, context={"workflow": workflow}).data
        )

    @extend_schema(responses=VersionDetailSerializer)
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]{1,9})")
    def version(self, request: Request, pk: str, number: str) -> Response:
        workflow = self.workflow(Role.VIEWER)
        return Response(
            VersionDetailSerializer(self._version(workflow, number), context={"workflow": workflow}).data
        )

    @extend_schema(request=None, responses=VersionSummarySerializer)
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>[0-9]{1,9})/activate")
    def activate(self, request: Request, pk: str, number: str) -> Response:
        """Make this version the active one (activating an older version is the rollback)."""
        workflow = self.workflow(Role.EDITOR)
        version = self._version(workflow, number)
        services.activate_version(workflow, version)
        return Response(VersionSummarySerializer(version, context={"workflow": workflow}).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("version", int, description="Export this version instead of the draft.")
        ],
        responses=ExportDocumentSerializer,
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str) -> Response:
        workflow = self.workflow(Role.VIEWER)
        number = request.query_params.get("version")
        version = self._version(workflow, number) if number is not None else None
        response = Response(services.export_document(workflow, version))
        filename = (slugify(workflow.name) or f"workflow-{workflow.pk}") + ".flowdeck.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(
        request=ExportDocumentSerializer, responses={201: WorkflowSavedSerializer, 400: GRAPH_ERRORS_RESPONSE}
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request: Request) -> Response:
        """Create a new workflow, owned by you, from an export document."""
        document = self._validated(ExportDocumentSerializer, request.data)
        try:
            workflow = services.import_document(request.user, document)
        except services.GraphShapeError as error:
            return graph_error_response(error)
        return self.saved_response(self._reload(workflow), status.HTTP_201_CREATED)

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _reload(self, workflow: Workflow) -> Workflow:
        return self.get_queryset().get(pk=workflow.pk)

    @staticmethod
    def _version(workflow: Workflow, number: Any) -> WorkflowVersion:
        try:
            wanted = int(number)
            if not 1 <= wanted <= MAX_DATABASE_INTEGER:
                raise ValueError(number)
            return workflow.versions.select_related("author").get(number=wanted)
        except (TypeError, ValueError, WorkflowVersion.DoesNotExist):
            raise Http404("No such version.") from None
