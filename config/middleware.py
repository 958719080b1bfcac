"""Middleware that keeps every answer under /api/ in JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.common import CommonMiddleware

logger = logging.getLogger(__name__)


def is_api_path(path: str) -> bool:
    return path.startswith("/api/") or path == "/api"


class ApiErrorMiddleware:
    """Unrouted API paths answer a JSON 404, and an unexpected error a JSON 500 (logged)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            is_api_path(request.path)
            and response.status_code == 404
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return JsonResponse({"detail": "Not found."}, status=404)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return JsonResponse({"detail": "Internal server error."}, status=500)


class FlowdeckCommonMiddleware(CommonMiddleware):
    """Django's CommonMiddleware, minus slash-appending redirects for the API.

    A redirect would drop a POST body (and raises in DEBUG); API clients get a JSON 404 instead.
    """

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        if is_api_path(request.path):
            return False
        return super().should_redirect_with_slash(request)
