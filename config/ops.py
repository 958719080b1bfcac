"""Operations endpoints: `/health` (liveness), `/ready` (dependencies), `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 3.0


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """The process is up and serving. Touches nothing else, so a slow database never kills it."""
    return JsonResponse({"status": "ok"})


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    from config.celery import app

    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT_S)
    from config import embedded

    runtime = embedded.current_runtime()
    if runtime is not None and not runtime.is_alive():
        raise RuntimeError("the embedded worker pool is not running")


async def check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel()
    marker = uuid.uuid4().hex
    await layer.send(channel, {"type": "ready.check", "marker": marker})
    message = await layer.receive(channel)
    if message.get("marker") != marker:
        raise RuntimeError("the channel layer returned another message")


def _failure(name: str, error: BaseException) -> str:
    logger.warning("Readiness check %s failed: %s", name, error)
    return f"failed: {type(error).__name__}: {error}"[:300]


def _run_sync_check(name: str, check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as error:  # a readiness probe reports every failure instead of raising
        return _failure(name, error)
    return "ok"


async def _run_async_check(name: str, check: Callable[[], Any]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except Exception as error:
        return _failure(name, error)
    return "ok"


async def ready(request: HttpRequest) -> JsonResponse:
    """Ready when the database, the broker and the channel layer all answer; else 503 naming which."""
    if request.method != "GET":
        return JsonResponse({"detail": "Method not allowed."}, status=405)
    checks = {
        "database": await sync_to_async(_run_sync_check)("database", check_database),
        "broker": await sync_to_async(_run_sync_check)("broker", check_broker),
        "channel_layer": await _run_async_check("channel_layer", check_channel_layer),
    }
    failed = [name for name, outcome in checks.items() if outcome != "ok"]
    body: dict[str, Any] = {
        "status": "ready" if not failed else "unavailable",
        "mode": settings.RUN_MODE,
        "checks": checks,
    }
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)


class FlowdeckCollector(Collector):
    """Reads the ledger at scrape time, so every web process reports the same figures."""

    def collect(self) -> Iterator[Any]:
        from workflows.models import Workflow, WorkflowVersion

        info = InfoMetricFamily("flowdeck", "Flowdeck build and run mode")
        info.add_metric([], {"mode": settings.RUN_MODE})
        yield info
        workflows = GaugeMetricFamily(
            "flowdeck_workflows", "Workflows by archived state", labels=["archived"]
        )
        workflows.add_metric(["false"], Workflow.objects.filter(is_archived=False).count())
        workflows.add_metric(["true"], Workflow.objects.filter(is_archived=True).count())
        yield workflows
        yield GaugeMetricFamily(
            "flowdeck_workflow_versions", "Published workflow versions", value=WorkflowVersion.objects.count()
        )
        from ops.metrics import families as operations_families

        yield from operations_families()


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if token:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            return JsonResponse({"detail": "A valid metrics token is required."}, status=401)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FlowdeckCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
