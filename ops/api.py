"""`GET /api/ops/` (staff only): the operations figures (ops.figures); `GET /api/templates/` and
`POST /api/templates/{slug}/use/`: the templates gallery (ops.template_gallery)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import figures, template_gallery


class WindowSerializer(serializers.Serializer):
    hours = serializers.IntegerField(min_value=1, max_value=figures.MAX_WINDOW_HOURS, default=24)
    bucket_minutes = serializers.IntegerField(min_value=figures.MIN_BUCKET_MINUTES, default=60)


class OpsView(APIView):
    """Queue depths, workers, external agents, runs, node latency and cost, the sweep, stuck runs."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[
            OpenApiParameter("hours", int, description="How far back the window reaches (default 24)."),
            OpenApiParameter("bucket_minutes", int, description="Width of a chart bucket (default 60)."),
        ],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="ops_retrieve",
    )
    def get(self, request: Request) -> Response:
        params = WindowSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data: dict[str, Any] = params.validated_data
        window = figures.make_window(data["hours"], data["bucket_minutes"])
        return Response(figures.collect(window))


class UseTemplateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data or {}) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({key: ["Unknown field."] for key in sorted(unknown)})
        return attrs


class TemplateListView(APIView):
    """The templates gallery: documented starting points that run offline on scripted agents."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, operation_id="templates_list")
    def get(self, request: Request) -> Response:
        results = [template.describe() for template in template_gallery.templates()]
        return Response({"count": len(results), "next": None, "previous": None, "results": results})


class UseTemplateView(APIView):
    """Create a workflow owned by you from a template (published; its trigger, if any, disabled)."""

    @extend_schema(
        request=UseTemplateSerializer, responses={201: OpenApiTypes.OBJECT}, operation_id="templates_use"
    )
    def post(self, request: Request, slug: str) -> Response:
        params = UseTemplateSerializer(data=request.data if isinstance(request.data, dict) else {})
        params.is_valid(raise_exception=True)
        try:
            used = template_gallery.use_template(request.user, slug, params.validated_data.get("name"))
        except template_gallery.UnknownTemplate:
            raise NotFound("No such template.") from None
        trigger = None
        if used.trigger is not None:
            trigger = {
                "id": used.trigger.pk,
                "kind": used.trigger.kind,
                "name": used.trigger.name,
                "enabled": used.trigger.enabled,
                "config": used.trigger.config,
                "url": (
                    settings.PUBLIC_BASE_URL.rstrip("/") + used.trigger.hook_path
                    if used.trigger.hook_path
                    else None
                ),
                **({"secret": used.secret} if used.secret else {}),
            }
        workflow = used.workflow
        body = {
            "workflow": {
                "id": workflow.pk,
                "name": workflow.name,
                "active_version": workflow.active_version.number if workflow.active_version else None,
            },
            "published": used.published,
            "trigger": trigger,
        }
        return Response(body, status=status.HTTP_201_CREATED)
