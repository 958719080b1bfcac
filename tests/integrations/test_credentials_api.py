"""`/api/credentials/`: secrets are write-only and encrypted; sharing roles decide who sees, changes,
deletes and shares; refused requests change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.models import Credential

pytestmark = pytest.mark.django_db

SECRET = "sk-live-0123456789abcdef-credential"
SHARED = [{"group": "viewers", "role": "viewer"}, {"group": "editors", "role": "editor"}]


def create(client: Any, **fields: Any) -> Any:
    body = {"name": "crm", "kind": "bearer", "secret": SECRET, "grants": SHARED, **fields}
    return client.post("/api/credentials/", body, format="json")


def test_the_secret_is_stored_encrypted_and_never_returned(
    users: dict[str, Any], api_client_for: Any
) -> None:
    client = api_client_for(users["owner"])

    response = create(client, description="CRM API")

    assert response.status_code == 201, response.content
    body = response.json()
    assert SECRET not in response.content.decode()
    assert "secret" not in body and "secret_ciphertext" not in body
    assert (body["name"], body["kind"], body["has_secret"], body["owner"], body["role"]) == (
        "crm",
        "bearer",
        True,
        "owner",
        "owner",
    )
    stored = Credential.objects.get(pk=body["id"])
    assert SECRET not in stored.secret_ciphertext
    assert stored.secret() == SECRET
    for path in ("/api/credentials/", f"/api/credentials/{stored.pk}/"):
        listed = client.get(path)
        assert listed.status_code == 200 and SECRET not in listed.content.decode()


def test_the_openapi_schema_marks_the_secret_write_only(users: dict[str, Any], api_client_for: Any) -> None:
    schema = api_client_for(users["owner"]).get("/api/schema/?format=json")

    components = schema.json()["components"]["schemas"]
    assert "secret" not in components["Credential"]["properties"]
    assert components["CredentialRequest"]["properties"]["secret"]["writeOnly"] is True


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"secret": None}, "secret"),
        ({"secret": ""}, "secret"),
        ({"secret": "two\nlines"}, "secret"),
        ({"kind": "basic"}, "username"),
        ({"kind": "header"}, "header_name"),
        ({"kind": "header", "header_name": "Host"}, "header_name"),
        ({"kind": "header", "header_name": "bad name"}, "header_name"),
        ({"kind": "query"}, "query_param"),
        ({"kind": "oauth"}, "kind"),
        ({"value": "x"}, "value"),
    ],
)
def test_invalid_credentials_are_refused_and_nothing_is_saved(
    users: dict[str, Any], api_client_for: Any, fields: dict[str, Any], field: str
) -> None:
    body = {"name": "crm", "kind": "bearer", "secret": SECRET, **fields}
    if body["secret"] is None:
        del body["secret"]  # a credential without a secret is refused
    response = api_client_for(users["owner"]).post("/api/credentials/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Credential.objects.count() == 0


def test_each_kind_keeps_its_non_secret_fields(users: dict[str, Any], api_client_for: Any) -> None:
    client = api_client_for(users["owner"])

    basic = create(client, name="b", kind="basic", username="robot").json()
    header = create(client, name="h", kind="header", header_name="X-Api-Key").json()
    query = create(client, name="q", kind="query", query_param="api_key").json()

    assert (basic["username"], header["header_name"], query["query_param"]) == (
        "robot",
        "X-Api-Key",
        "api_key",
    )
    assert Credential.objects.get(name="h").request_parts() == ([("X-Api-Key", SECRET)], [])
    assert Credential.objects.get(name="q").request_parts() == ([], [("api_key", SECRET)])


def test_names_are_unique(users: dict[str, Any], api_client_for: Any) -> None:
    client = api_client_for(users["owner"])
    assert create(client).status_code == 201

    again = create(client)

    assert again.status_code == 400
    assert Credential.objects.count() == 1


def test_strangers_see_nothing_and_viewers_only_read(users: dict[str, Any], api_client_for: Any) -> None:
    credential_id = create(api_client_for(users["owner"])).json()["id"]
    before = Credential.objects.values().get(pk=credential_id)
    stranger = api_client_for(users["stranger"])
    viewer = api_client_for(users["viewer"])

    assert stranger.get("/api/credentials/").json()["count"] == 0
    assert stranger.get(f"/api/credentials/{credential_id}/").status_code == 404
    assert (
        stranger.patch(f"/api/credentials/{credential_id}/", {"secret": "x" * 8}, format="json").status_code
        == 404
    )
    seen = viewer.get(f"/api/credentials/{credential_id}/")
    assert seen.status_code == 200 and seen.json()["role"] == "viewer" and seen.json()["has_secret"] is True
    assert (
        viewer.patch(f"/api/credentials/{credential_id}/", {"secret": "x" * 8}, format="json").status_code
        == 403
    )
    assert viewer.delete(f"/api/credentials/{credential_id}/").status_code == 403
    assert api_client_for(users["runner"]).get(f"/api/credentials/{credential_id}/").status_code == 404
    assert Credential.objects.values().get(pk=credential_id) == before
    assert api_client_for(None).get("/api/credentials/").status_code == 401


def test_editors_change_but_only_the_owner_shares_and_deletes(
    users: dict[str, Any], api_client_for: Any
) -> None:
    credential_id = create(api_client_for(users["owner"])).json()["id"]
    editor = api_client_for(users["editor"])

    described = editor.patch(f"/api/credentials/{credential_id}/", {"description": "rotated"}, format="json")
    kept = Credential.objects.get(pk=credential_id)
    rotated = editor.patch(f"/api/credentials/{credential_id}/", {"secret": "new-" + SECRET}, format="json")
    share = editor.patch(
        f"/api/credentials/{credential_id}/",
        {"grants": [{"group": "runners", "role": "runner"}]},
        format="json",
    )
    delete = editor.delete(f"/api/credentials/{credential_id}/")

    assert described.status_code == 200 and kept.secret() == SECRET and kept.description == "rotated"
    assert rotated.status_code == 200 and SECRET not in rotated.content.decode()
    assert Credential.objects.get(pk=credential_id).secret() == "new-" + SECRET
    assert share.status_code == 403 and delete.status_code == 403
    assert sorted(Credential.objects.get(pk=credential_id).grants.values_list("group__name", "role")) == [
        ("editors", "editor"),
        ("viewers", "viewer"),
    ]
    owner = api_client_for(users["owner"])
    assert owner.delete(f"/api/credentials/{credential_id}/").status_code == 204
    assert Credential.objects.count() == 0
