"""Schemathesis drives every operation of /api/schema/ with generated requests: no 5xx, ever.

It runs in-process against the test database (thrown away afterwards), authenticated with a
bearer token of a user who owns a published workflow, so generated ids sometimes hit real rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from accounts.models import ApiToken
from tests.api.helpers import linear_graph, transform
from workflows import services

#: Generated requests per operation; raise it for a deeper (slower) search: FLOWDECK_FUZZ_EXAMPLES=200.
FUZZ_EXAMPLES = int(os.environ.get("FLOWDECK_FUZZ_EXAMPLES", "12"))

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def keep_the_test_connection_open() -> Iterator[None]:
    """The raw WSGI handler closes the DB connection around each request; Django's test client
    avoids that the same way, so the test transaction survives between generated requests."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def bearer_token(django_user_model: Any) -> str:
    user = django_user_model.objects.create_user("fuzzer", password="fuzz-password")
    workflow = services.create_workflow(owner=user, name="Fuzzed", graph=linear_graph(transform("a")))
    services.publish_workflow(workflow, author=user)
    _, raw = ApiToken.issue(user)
    return raw


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
@pytest.mark.slow  # a fuzz run over every operation
def test_no_operation_answers_a_server_error(case: Any, bearer_token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {bearer_token}"})
    case.validate_response(response, checks=[not_a_server_error])
