"""Providers and agents through the API: sharing roles, write-only secrets, clean refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group

from agents.models import Agent, AgentGrant, Provider, ProviderGrant

SECRET = "sk-canary-5f1e2d3c4b5a69788796a5b4c3d2e1f0"


def catalog() -> dict[str, list[Any]]:
    return {
        "providers": sorted(
            Provider.objects.values_list("id", "name", "kind", "api_key_ciphertext", "base_url")
        ),
        "agents": sorted(Agent.objects.values_list("id", "slug", "name", "provider_id", "model")),
        "grants": sorted(ProviderGrant.objects.values_list("provider_id", "group_id", "role"))
        + sorted(AgentGrant.objects.values_list("agent_id", "group_id", "role")),
    }


@pytest.fixture
def shared(users: dict[str, Any], api_client_for: Callable[[Any], Any]) -> dict[str, int]:
    owner = api_client_for(users["owner"])
    grants = [{"group": f"{role}s", "role": role} for role in ("editor", "runner", "viewer")]
    provider = owner.post(
        "/api/providers/",
        {
            "name": "Local",
            "kind": "scripted",
            "api_key": SECRET,
            "config": {"replies": ["hi"]},
            "grants": grants,
        },
        format="json",
    )
    assert provider.status_code == 201, provider.content
    agent = owner.post(
        "/api/agents/",
        {
            "slug": "greeter",
            "name": "Greeter",
            "provider": provider.json()["id"],
            "model": "scripted-1",
            "grants": grants,
        },
        format="json",
    )
    assert agent.status_code == 201, agent.content
    return {"provider": provider.json()["id"], "agent": agent.json()["id"]}


def test_the_api_key_is_write_only_and_stored_encrypted(
    shared: dict[str, int], users: dict[str, Any], api_client_for: Any
) -> None:
    client = api_client_for(users["owner"])
    body = client.get(f"/api/providers/{shared['provider']}/").json()
    assert body["has_api_key"] is True and "api_key" not in body
    stored = Provider.objects.get(pk=shared["provider"])
    assert SECRET not in stored.api_key_ciphertext and stored.api_key() == SECRET
    for url in ("/api/providers/", f"/api/providers/{shared['provider']}/", "/api/agents/"):
        assert SECRET not in client.get(url).content.decode()
    cleared = client.patch(f"/api/providers/{shared['provider']}/", {"api_key": ""}, format="json")
    assert cleared.status_code == 200 and cleared.json()["has_api_key"] is False


MATRIX = {
    # action: {role: status}
    "read": {"owner": 200, "editor": 200, "runner": 200, "viewer": 200, "stranger": 404, "anonymous": 401},
    "edit": {"owner": 200, "editor": 200, "runner": 403, "viewer": 403, "stranger": 404, "anonymous": 401},
    "share": {"owner": 200, "editor": 403, "runner": 403, "viewer": 403, "stranger": 404, "anonymous": 401},
    "delete": {"owner": 204, "editor": 403, "runner": 403, "viewer": 403, "stranger": 404, "anonymous": 401},
}


@pytest.mark.parametrize("kind", ["providers", "agents"])
@pytest.mark.parametrize("action", list(MATRIX))
@pytest.mark.parametrize("role", ["owner", "editor", "runner", "viewer", "stranger", "anonymous"])
def test_permission_matrix(
    kind: str, action: str, role: str, shared: dict[str, int], users: dict[str, Any], api_client_for: Any
) -> None:
    object_id = shared["provider" if kind == "providers" else "agent"]
    if kind == "providers" and action == "delete":
        Agent.objects.all().delete()  # a provider in use cannot be deleted (tested below)
    client = api_client_for(None if role == "anonymous" else users[role])
    url = f"/api/{kind}/{object_id}/"
    before = catalog()
    if action == "read":
        response = client.get(url)
    elif action == "edit":
        response = client.patch(url, {"name": "Renamed"}, format="json")
    elif action == "share":
        response = client.patch(url, {"grants": [{"group": "viewers", "role": "editor"}]}, format="json")
    else:
        response = client.delete(url)
    expected = MATRIX[action][role]
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert catalog() == before


def test_lists_show_only_what_is_shared(
    shared: dict[str, int], users: dict[str, Any], api_client_for: Any
) -> None:
    assert api_client_for(users["viewer"]).get("/api/agents/").json()["count"] == 1
    assert api_client_for(users["stranger"]).get("/api/agents/").json()["count"] == 0
    assert api_client_for(users["stranger"]).get("/api/providers/").json()["count"] == 0


def test_a_provider_in_use_cannot_be_deleted(
    shared: dict[str, int], users: dict[str, Any], api_client_for: Any
) -> None:
    before = catalog()
    response = api_client_for(users["owner"]).delete(f"/api/providers/{shared['provider']}/")
    assert response.status_code == 409
    assert catalog() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"slug": "greeter", "name": "Again"}, "slug"),
        ({"slug": "Not A Slug", "name": "x"}, "slug"),
        ({"slug": "x1", "name": "x", "temperature": 5}, "temperature"),
        ({"slug": "x2", "name": "x", "json_schema": {"type": "nonsense"}}, "json_schema"),
        ({"slug": "x3", "name": "x", "mystery": 1}, "mystery"),
    ],
)
def test_bad_agents_are_refused(
    body: dict[str, Any], field: str, shared: dict[str, int], users: dict[str, Any], api_client_for: Any
) -> None:
    before = catalog()
    response = api_client_for(users["owner"]).post("/api/agents/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert catalog() == before


def test_using_a_provider_needs_the_runner_role(
    shared: dict[str, int], users: dict[str, Any], api_client_for: Any
) -> None:
    Group.objects.get(name="viewers").user_set.add(users["stranger"])
    stranger = api_client_for(users["stranger"])
    response = stranger.post(
        "/api/agents/", {"slug": "mine", "name": "m", "provider": shared["provider"]}, format="json"
    )
    assert response.status_code == 400 and "provider" in response.json()


def test_testing_a_scripted_provider_connects(
    shared: dict[str, int], users: dict[str, Any], api_client_for: Any
) -> None:
    response = api_client_for(users["runner"]).post(f"/api/providers/{shared['provider']}/test/")
    assert response.status_code == 200 and response.json()["ok"] is True
    assert (
        api_client_for(users["viewer"]).post(f"/api/providers/{shared['provider']}/test/").status_code == 403
    )


def test_only_staff_set_a_providers_base_url(
    users: dict[str, Any], api_client_for: Callable[[Any], Any], shared: dict[str, int]
) -> None:
    """A base URL bypasses the egress guard (it is trusted), so a non-staff owner or editor can
    neither create a provider with one nor point an existing one at, say, a metadata address."""
    body = {"name": "Internal", "kind": "openai", "base_url": "http://169.254.169.254/v1", "api_key": "k"}
    before = catalog()
    refused = api_client_for(users["owner"]).post("/api/providers/", body, format="json")
    assert refused.status_code == 400 and "base_url" in refused.json()
    moved = api_client_for(users["editor"]).patch(
        f"/api/providers/{shared['provider']}/", {"base_url": "http://10.0.0.5/v1"}, format="json"
    )
    assert moved.status_code == 400 and "base_url" in moved.json()
    assert catalog() == before

    users["stranger"].is_staff = True
    users["stranger"].save()
    staff = api_client_for(users["stranger"])
    created = staff.post("/api/providers/", {**body, "base_url": "http://10.0.0.5:11434/v1"}, format="json")
    assert created.status_code == 201, created.content
    assert Provider.objects.get(pk=created.json()["id"]).base_url == "http://10.0.0.5:11434/v1"
    # Its owner may still change other settings without touching the URL.
    renamed = api_client_for(users["stranger"]).patch(
        f"/api/providers/{created.json()['id']}/", {"name": "Ollama", "base_url": "http://10.0.0.5:11434/v1"}
    )
    assert renamed.status_code == 200, renamed.content
