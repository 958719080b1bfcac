"""Session login for the browser, bearer tokens for everything else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import ApiToken, hash_token
from tests.api.helpers import database_snapshot


def issue(client: APIClient, **body: Any) -> Any:
    return client.post("/api/auth/token/", body, format="json")


def test_a_token_is_shown_once_stored_hashed_and_works(users: dict[str, Any]) -> None:
    response = issue(APIClient(), username="owner", password="pw-owner", name="laptop", expires_in_s=3600)
    assert response.status_code == 201
    body = response.json()
    raw = body["token"]
    assert raw.startswith("fdt_") and body["name"] == "laptop" and body["expires_at"]
    stored = ApiToken.objects.get()
    assert stored.key_hash == hash_token(raw) and raw not in {stored.key_hash, stored.hint}

    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    me = client.get("/api/auth/me/")
    assert me.status_code == 200 and me.json()["username"] == "owner"
    listed = client.get("/api/auth/tokens/").json()["results"]
    assert [row["name"] for row in listed] == ["laptop"]
    assert raw not in str(listed)


def test_bad_credentials_get_401_and_issue_nothing(users: dict[str, Any]) -> None:
    response = issue(APIClient(), username="owner", password="wrong")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username or password."}
    assert not ApiToken.objects.exists()


def test_a_revoked_token_stops_working(users: dict[str, Any]) -> None:
    token, raw = ApiToken.issue(users["owner"])
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.delete(f"/api/auth/tokens/{token.pk}/").status_code == 204
    response = client.get("/api/workflows/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_expired_token_is_refused(users: dict[str, Any]) -> None:
    token, raw = ApiToken.issue(users["owner"], expires_in_s=60)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/workflows/").status_code == 401


def test_a_user_cannot_see_or_revoke_another_users_token(users: dict[str, Any], api_client_for: Any) -> None:
    token, _ = ApiToken.issue(users["owner"])
    stranger = api_client_for(users["stranger"])
    assert stranger.get("/api/auth/tokens/").json()["count"] == 0
    before = database_snapshot()
    assert stranger.delete(f"/api/auth/tokens/{token.pk}/").status_code == 404
    assert database_snapshot() == before


def test_an_inactive_users_token_is_refused(users: dict[str, Any]) -> None:
    _, raw = ApiToken.issue(users["owner"])
    users["owner"].is_active = False
    users["owner"].save()
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/workflows/").status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer    ", "Bearer a b", "Bearer fdt_unknown"])
def test_malformed_or_unknown_bearer_headers_get_401(db: Any, header: str) -> None:
    assert APIClient(HTTP_AUTHORIZATION=header).get("/api/workflows/").status_code == 401


def test_token_issuing_is_throttled(users: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    cache.clear()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"token_issue": "3/min"})
    statuses = [issue(APIClient(), username="owner", password="wrong").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    cache.clear()


def test_session_login_gives_api_access_with_csrf(users: dict[str, Any]) -> None:
    client = APIClient(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    csrf = client.cookies["csrftoken"].value
    login = client.post(
        "/accounts/login/",
        {"username": "owner", "password": "pw-owner", "csrfmiddlewaretoken": csrf},
        format="multipart",
    )
    assert login.status_code == 302
    assert client.get("/api/workflows/").status_code == 200
    # A session-authenticated write without the CSRF token is refused, with one it works.
    assert client.post("/api/workflows/", {"name": "x"}, format="json").status_code == 403
    csrf = client.cookies["csrftoken"].value
    assert (
        client.post("/api/workflows/", {"name": "x"}, format="json", HTTP_X_CSRFTOKEN=csrf).status_code == 201
    )


def test_the_app_shell_requires_login(users: dict[str, Any]) -> None:
    client = APIClient()
    response = client.get("/workflows/12/edit")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/workflows/12/edit"
    client.force_login(users["owner"])
    shell = client.get("/workflows/12/edit")
    assert shell.status_code == 200
    assert b'id="root"' in shell.content and b"flowdeck-boot" in shell.content
