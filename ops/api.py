"""`GET /api/ops/` (staff only): the operations figures (ops.figures)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import figures


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
