"""Shared fixtures: users in every role, authenticated API clients, and a running worker.

The same tests run in both modes; `settings.SERVICES_MODE` decides whether the worker is the
embedded thread pool or real `celery worker` processes against Postgres and Redis.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if not config.pluginmanager.hasplugin("django"):
        return  # the pure tiers run without Django
    from django.conf import settings

    if settings.SERVICES_MODE:
        return
    # In the embedded run, tests that need real services are deselected, not skipped: the
    # services run (same suite, DATABASE_URL and REDIS_URL set) executes them.
    selected = [item for item in items if item.get_closest_marker("services") is None]
    deselected = [item for item in items if item.get_closest_marker("services") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    """One user per relation to a workflow: owner, editor, runner, viewer (through groups), stranger."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user_model = get_user_model()
    created = {
        name: user_model.objects.create_user(name, f"{name}@example.com", "pw-" + name)
        for name in ("owner", "editor", "runner", "viewer", "stranger")
    }
    for role in ("editor", "runner", "viewer"):
        group = Group.objects.create(name=f"{role}s")
        created[role].groups.add(group)
    return created


@pytest.fixture
def api_client_for(db: Any) -> Any:
    """`api_client_for(user)`: a DRF client authenticated as `user` (None: anonymous)."""
    from rest_framework.test import APIClient

    def make(user: Any) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture(scope="session")
def _shared_worker(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Any]:
    """One worker for the whole session: the embedded thread pool, or a real `celery worker`
    process on the test database. Started on first use; tests that kill workers start their own."""
    from django.conf import settings

    if settings.SERVICES_MODE:
        from tests.support.processes import CeleryWorkerProcess

        with django_db_blocker.unblock():
            process = CeleryWorkerProcess.start()
        try:
            yield process
        finally:
            process.stop()
    else:
        from config import embedded

        runtime = embedded.start_runtime(concurrency=2)
        try:
            yield runtime
        finally:
            embedded.stop_runtime()


@pytest.fixture
def worker(transactional_db: Any, _shared_worker: Any) -> Any:
    """A worker consuming the broker. Tests using it see only committed data (transactional)."""
    return _shared_worker


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost() -> None:
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(scope="session", autouse=True)
def _drop_stray_connections_at_the_end(request: Any) -> Iterator[None]:
    """Threads that touched the test database (sync_to_async pools, worker threads) may still hold
    a connection when the session ends; Postgres then refuses to drop the test database. Cut them
    off just before pytest-django's teardown drops it (this fixture depends on its setup, so it
    is torn down first)."""
    services_mode = False
    if request.config.pluginmanager.hasplugin("django"):
        from django.conf import settings

        services_mode = settings.SERVICES_MODE
    if services_mode:
        request.getfixturevalue("django_db_setup")
    yield
    if not services_mode:
        return
    from django.db import connection

    with request.getfixturevalue("django_db_blocker").unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
