"""Bad request bodies get a clear 4xx and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from tests.api.helpers import database_snapshot


@pytest.fixture
def client(users: dict[str, Any], api_client_for: Any) -> Any:
    return api_client_for(users["owner"])


def post_raw(client: Any, body: bytes, content_type: str = "application/json") -> Any:
    return client.generic("POST", "/api/workflows/", body, content_type=content_type)


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"name": ', "JSON parse error"),
        (b'{"name": NaN}', "JSON parse error"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b'{"name": "a\\u0000b"}', "NUL character"),
        (b'{"name": "\\ud800"}', "lone surrogates"),
        (b'{"name": "x", "graph": ' + b"[" * 100 + b"]" * 100 + b"}", "nested deeper than 64"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64"),
    ],
)
def test_malformed_json_is_a_400(client: Any, body: bytes, message: str) -> None:
    before = database_snapshot()
    response = post_raw(client, body)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert database_snapshot() == before


def test_a_non_json_body_is_a_415(client: Any) -> None:
    response = post_raw(client, b"name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json() == {
        "detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.'
    }


@override_settings(API_MAX_BODY_BYTES=1000)
def test_an_oversized_body_is_a_413(client: Any) -> None:
    before = database_snapshot()
    response = post_raw(client, b'{"name": "' + b"x" * 2000 + b'"}')
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body larger than 1000 bytes."}
    assert database_snapshot() == before


def test_a_body_that_is_not_an_object_is_a_400(client: Any) -> None:
    response = post_raw(client, b"[1, 2]")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


def test_unrouted_api_paths_answer_json_404(client: Any) -> None:
    for path in ("/api/nothing/", "/api/workflows", "/api/workflows/abc/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"


def test_a_wrong_method_is_a_405(client: Any) -> None:
    response = client.put("/api/workflows/1/", {}, format="json")
    assert response.status_code == 405
