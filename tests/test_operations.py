"""/health, /ready and /metrics."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.api.helpers import linear_graph
from workflows import services


def test_health_is_ok_without_touching_anything() -> None:
    response = Client().get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_reports_every_dependency(db: Any) -> None:
    response = Client().get("/ready")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ready",
        "mode": settings.RUN_MODE,
        "checks": {"database": "ok", "broker": "ok", "channel_layer": "ok"},
    }


def test_metrics_expose_workflow_counts(users: dict[str, Any]) -> None:
    workflow = services.create_workflow(owner=users["owner"], name="a", graph=linear_graph())
    services.publish_workflow(workflow, author=users["owner"])
    services.create_workflow(owner=users["owner"], name="b", graph=linear_graph()).archive()
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'flowdeck_workflows{archived="false"} 1.0' in text
    assert 'flowdeck_workflows{archived="true"} 1.0' in text
    assert "flowdeck_workflow_versions 1.0" in text
    assert f'flowdeck_info{{mode="{settings.RUN_MODE}"}} 1.0' in text


def test_metrics_can_require_a_token(db: Any, settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-metrics"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics").status_code == 200


@pytest.mark.services
def test_ready_names_what_failed_when_redis_is_unreachable(transactional_db: Any) -> None:
    """A real server whose Redis is gone answers 503 naming the broker and the channel layer."""
    import urllib.error
    import urllib.request

    from tests.support.processes import ServerProcess, free_port

    server = ServerProcess.start(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(server.base_url + "/ready", timeout=30)
        import json

        body = json.loads(failure.value.read())
        assert failure.value.code == 503
        assert body["status"] == "unavailable" and body["failed"] == ["broker", "channel_layer"]
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["broker"].startswith("failed: ")
    finally:
        server.stop()
