"""Both run modes: the broker reaches a worker, the channel layer delivers, settings fail clearly.

Each test here runs twice: in the embedded run (SQLite, memory broker, worker threads, in-memory
channel layer) and in the services run (Postgres, Redis, a real `celery worker` process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_the_configured_database_is_the_one_of_the_mode(db: Any) -> None:
    expected = "postgresql" if settings.SERVICES_MODE else "sqlite"
    assert connection.vendor == expected
    if not settings.SERVICES_MODE:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"


def test_a_task_goes_through_the_broker_to_a_worker(worker: Any) -> None:
    from executions.tasks import ping

    marker = uuid.uuid4().hex
    ping.delay(marker)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and cache.get(f"flowdeck:ping:{marker}") is None:
        time.sleep(0.02)
    answered_by = cache.get(f"flowdeck:ping:{marker}")
    assert answered_by is not None
    # Embedded: a thread of this process; services: another process.
    assert (answered_by.split(":")[1] == str(os.getpid())) is (not settings.SERVICES_MODE)


def test_the_channel_layer_delivers_group_messages() -> None:
    layer = get_channel_layer()
    expected_backend = "RedisPubSubChannelLayer" if settings.SERVICES_MODE else "InMemoryChannelLayer"
    assert type(layer).__name__ == expected_backend

    async def round_trip() -> list[dict[str, Any]]:
        group = f"test.{uuid.uuid4().hex}"
        channels = [await layer.new_channel() for _ in range(2)]
        for channel in channels:
            await layer.group_add(group, channel)
        await layer.group_send(group, {"type": "run.event", "seq": 1})
        received = [await layer.receive(channel) for channel in channels]
        for channel in channels:
            await layer.group_discard(group, channel)
        return received

    assert async_to_sync(round_trip)() == [{"type": "run.event", "seq": 1}] * 2


def settings_import(settings_module: str, **environment: str) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"}
    }
    clean.update(environment, DJANGO_SETTINGS_MODULE=settings_module)
    code = "import django; django.setup(); from django.conf import settings; print(settings.RUN_MODE)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True)


@pytest.mark.parametrize(
    "environment, message",
    [
        ({"DATABASE_URL": "postgresql://x@127.0.0.1/x"}, "DATABASE_URL is set but REDIS_URL is not"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "REDIS_URL is set but DATABASE_URL is not"),
    ],
)
def test_one_service_url_alone_is_a_configuration_error(environment: dict[str, str], message: str) -> None:
    result = settings_import("config.settings.dev", **environment)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


def test_no_service_url_means_embedded() -> None:
    result = settings_import("config.settings.dev", FLOWDECK_DATA_DIR=str(ROOT / "var" / "test-modes"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "embedded"


@pytest.mark.parametrize(
    "environment, message",
    [
        ({"ALLOWED_HOSTS": "flowdeck.example.com"}, "SECRET_KEY must be set in production"),
        (
            {"SECRET_KEY": "django-insecure-" + "x" * 60, "ALLOWED_HOSTS": "a.example"},
            "SECRET_KEY is too weak",
        ),
        ({"SECRET_KEY": "short", "ALLOWED_HOSTS": "a.example"}, "SECRET_KEY is too weak"),
        (
            {"SECRET_KEY": "k" * 10 + "Q7-pL2vX9s_Z4mN8rT1wY6bC3dF5gH0jK2lP9oI8uE7yR6tW5q"},
            "ALLOWED_HOSTS must be set",
        ),
    ],
)
def test_production_refuses_to_start_without_a_real_secret_and_hosts(
    environment: dict[str, str], message: str
) -> None:
    result = settings_import("config.settings.prod", **environment)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_a_real_secret_and_hosts() -> None:
    result = settings_import(
        "config.settings.prod",
        SECRET_KEY="Q7-pL2vX9s_Z4mN8rT1wY6bC3dF5gH0jK2lP9oI8uE7yR6tW5qAa1",
        ALLOWED_HOSTS="a.example",
    )
    assert result.returncode == 0, result.stderr


def test_env_example_documents_every_variable_the_settings_read() -> None:
    import re

    read = set()
    for path in (ROOT / "config" / "settings").glob("*.py"):
        read |= set(re.findall(r'env(?:_bool|_int|_list)?\("([A-Z0-9_]+)"', path.read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read - documented == set()
