"""The trigger routes: who may see and change triggers, per-kind config checks, secrets shown once."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.triggers.helpers import ledger, published, share
from triggers.models import Trigger

pytestmark = pytest.mark.django_db

SCHEDULE = {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"}


@pytest.fixture
def workflow(users: dict[str, Any]) -> Any:
    found = published(users["owner"])
    share(found)
    return found


def url(workflow: Any, *rest: Any) -> str:
    return "/".join([f"/api/workflows/{workflow.pk}/triggers", *map(str, rest)]) + "/"


def create(client: Any, workflow: Any, **body: Any) -> Any:
    return client.post(url(workflow), body, format="json")


@override_settings(PUBLIC_BASE_URL="https://flowdeck.example.com/")
def test_a_webhook_shows_its_url_always_and_its_secret_only_at_creation(
    users: dict[str, Any], workflow: Any, api_client_for: Any
) -> None:
    client = api_client_for(users["editor"])
    response = create(client, workflow, kind="webhook", name="orders")
    assert response.status_code == 201, response.content
    body = response.json()
    trigger = Trigger.objects.get(pk=body["id"])
    assert body["url"] == f"https://flowdeck.example.com/hooks/{trigger.token}/"
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["owner"] == "editor" and body["kind"] == "webhook" and body["config"] == {}
    # Encrypted at rest: the stored column is not the secret, and decrypts to it.
    assert body["secret"] not in trigger.secret_encrypted
    assert trigger.current_secret() == body["secret"]
    listed = client.get(url(workflow)).json()["results"][0]
    for shown in (listed, client.get(url(workflow, trigger.pk)).json()):
        assert "secret" not in shown and body["secret"] not in json.dumps(shown)
        assert shown["url"] == body["url"]


def test_rotation_returns_the_new_secret_once_and_keeps_the_old_for_the_grace(
    users: dict[str, Any], workflow: Any, api_client_for: Any
) -> None:
    client = api_client_for(users["owner"])
    created = create(client, workflow, kind="webhook").json()
    response = client.post(url(workflow, created["id"], "rotate-secret"), {"grace_s": 600}, format="json")
    assert response.status_code == 200, response.content
    rotated = response.json()
    assert rotated["secret"] != created["secret"] and rotated["has_previous_secret"] is True
    trigger = Trigger.objects.get(pk=created["id"])
    assert trigger.valid_secrets(timezone.now()) == [rotated["secret"], created["secret"]]
    later = trigger.previous_secret_expires_at
    assert later is not None
    assert trigger.valid_secrets(later + timedelta(seconds=1)) == [rotated["secret"]]
    detail = client.get(url(workflow, created["id"])).json()
    assert "secret" not in detail and rotated["secret"] not in json.dumps(detail)


@pytest.mark.parametrize("body", [{"grace_s": -1}, {"grace_s": 7 * 24 * 3600 + 1}, {"grace": 5}])
def test_bad_rotation_requests_change_nothing(
    body: dict[str, Any], users: dict[str, Any], workflow: Any, api_client_for: Any
) -> None:
    client = api_client_for(users["owner"])
    created = create(client, workflow, kind="webhook").json()
    before = ledger()
    response = client.post(url(workflow, created["id"], "rotate-secret"), body, format="json")
    assert response.status_code == 400
    assert ledger() == before


def test_only_webhooks_rotate_secrets(users: dict[str, Any], workflow: Any, api_client_for: Any) -> None:
    client = api_client_for(users["owner"])
    created = create(client, workflow, kind="schedule", config=SCHEDULE).json()
    response = client.post(url(workflow, created["id"], "rotate-secret"), {}, format="json")
    assert response.status_code == 400 and "webhook" in response.json()["detail"]


@pytest.mark.parametrize(
    "role, expected", [("owner", 201), ("editor", 201), ("runner", 403), ("viewer", 403), ("stranger", 404)]
)
def test_creating_a_trigger_needs_the_editor_role(
    role: str, expected: int, users: dict[str, Any], workflow: Any, api_client_for: Any
) -> None:
    before = ledger()
    response = create(api_client_for(users[role]), workflow, kind="schedule", config=SCHEDULE)
    assert response.status_code == expected, response.content
    if expected != 201:
        assert ledger() == before
    else:
        assert Trigger.objects.get().owner == users[role]


def test_viewers_list_triggers_without_secrets_and_strangers_see_nothing(
    users: dict[str, Any], workflow: Any, api_client_for: Any
) -> None:
    created = create(api_client_for(users["owner"]), workflow, kind="webhook").json()
    listed = api_client_for(users["viewer"]).get(url(workflow))
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [created["id"]]
    stranger = api_client_for(users["stranger"])
    assert stranger.get(url(workflow)).status_code == 404
    assert stranger.get(url(workflow, created["id"])).status_code == 404
    assert stranger.patch(url(workflow, created["id"]), {"enabled": False}, format="json").status_code == 404
    assert stranger.delete(url(workflow, created["id"])).status_code == 404
    assert Trigger.objects.get().enabled is True


def test_another_users_trigger_is_not_found_through_a_workflow_of_ones_own(
    users: dict[str, Any], workflow: Any, api_client_for: Any
) -> None:
    theirs = create(api_client_for(users["owner"]), workflow, kind="webhook").json()
    mine = published(users["stranger"], name="mine")
    client = api_client_for(users["stranger"])
    before = ledger()
    assert client.get(url(mine, theirs["id"])).status_code == 404
    assert client.patch(url(mine, theirs["id"]), {"enabled": False}, format="json").status_code == 404
    assert client.post(url(mine, theirs["id"], "rotate-secret"), {}, format="json").status_code == 404
    assert client.delete(url(mine, theirs["id"])).status_code == 404
    assert client.get(url(mine, 2**70)).status_code == 404
    assert ledger() == before


@pytest.mark.parametrize(
    "kind, config, field",
    [
        ("webhook", {"secret": "mine"}, "secret"),
        ("schedule", {}, "cron"),
        ("schedule", {"cron": "* * *"}, "cron"),
        ("schedule", {"cron": "61 * * * *"}, "cron"),
        ("schedule", {"cron": "0 0 31 2 *"}, "cron"),
        ("schedule", {"cron": "@often"}, "cron"),
        ("schedule", {"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ("schedule", {"cron": "0 9 * * *", "timezone": "../../etc/passwd"}, "timezone"),
        ("schedule", {"cron": "0 9 * * *", "catch_up": "some"}, "catch_up"),
        ("schedule", {"cron": "0 9 * * *", "overlap": "queue"}, "overlap"),
        ("schedule", {"cron": "0 9 * * *", "inputs": [1]}, "inputs"),
        ("schedule", {"cron": "0 9 * * *", "every": 5}, "every"),
        ("workflow_event", {"on": ["succeeded"]}, "workflow"),
        ("workflow_event", {"workflow": "1", "on": ["succeeded"]}, "workflow"),
        ("workflow_event", {"workflow": True, "on": ["succeeded"]}, "workflow"),
        ("workflow_event", {"workflow": 1, "on": ["finished"]}, "on"),
        ("workflow_event", {"workflow": 1, "on": []}, "on"),
        ("workflow_event", {"workflow": 1, "inputs": {"x": "{{ event.run.outputs"}}, "inputs"),
        ("workflow_event", {"workflow": 1, "inputs": {"x": "{% import 'y' as z %}"}}, "inputs"),
    ],
)
def test_invalid_configs_get_field_errors_and_change_nothing(
    kind: str, config: dict[str, Any], field: str, users: dict[str, Any], workflow: Any, api_client_for: Any
) -> None:
    before = ledger()
    response = create(api_client_for(users["owner"]), workflow, kind=kind, config=config)
    assert response.status_code == 400, response.content
    assert field in response.json()["config"], response.json()
    assert ledger() == before


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "cron"},
        {"kind": "webhook", "config": "nope"},
        {"kind": "webhook", "extra": 1},
        {"kind": "webhook", "enabled": "maybe"},
        {"kind": "webhook", "config": {"a": "\u0000"}},
        {},
    ],
)
def test_malformed_bodies_are_400(
    body: dict[str, Any], users: dict[str, Any], workflow: Any, api_client_for: Any
) -> None:
    before = ledger()
    response = create(api_client_for(users["owner"]), workflow, **body)
    assert response.status_code == 400, response.content
    assert ledger() == before


def test_a_workflow_event_source_must_be_visible_to_the_owner(
    users: dict[str, Any], workflow: Any, api_client_for: Any
) -> None:
    hidden = published(users["stranger"], name="hidden")
    client = api_client_for(users["owner"])
    before = ledger()
    config = {"workflow": hidden.pk, "on": ["succeeded"]}
    response = create(client, workflow, kind="workflow_event", config=config)
    assert response.status_code == 400
    assert response.json()["config"]["workflow"] == ["No such workflow (you need the viewer role on it)."]
    assert ledger() == before
    share(hidden)  # the owner is in no group, so still nothing; the viewer can see it now
    viewer_config = {"workflow": hidden.pk, "on": ["failed", "succeeded", "failed"]}
    # The viewer has no editor role on `workflow`; the editor does, and is in no viewers group.
    by_viewer = create(api_client_for(users["viewer"]), workflow, kind="workflow_event", config=viewer_config)
    assert by_viewer.status_code == 403
    made = create(api_client_for(users["editor"]), workflow, kind="workflow_event", config=viewer_config)
    assert made.status_code == 201, made.content
    assert made.json()["config"] == {"workflow": hidden.pk, "on": ["failed", "succeeded"], "inputs": {}}
    assert Trigger.objects.get(pk=made.json()["id"]).source_workflow == hidden


def test_changing_the_config_makes_the_editor_the_owner(
    users: dict[str, Any], workflow: Any, api_client_for: Any
) -> None:
    created = create(api_client_for(users["owner"]), workflow, kind="schedule", config=SCHEDULE).json()
    editor = api_client_for(users["editor"])
    renamed = editor.patch(url(workflow, created["id"]), {"name": "daily"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["owner"] == "owner"
    changed = editor.patch(
        url(workflow, created["id"]), {"config": {**SCHEDULE, "cron": "0 10 * * *"}}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["owner"] == "editor"
    assert changed.json()["config"]["cron"] == "0 10 * * *"
    refused = editor.patch(url(workflow, created["id"]), {"kind": "webhook"}, format="json")
    assert refused.status_code == 400 and "kind" in refused.json()
    assert (
        api_client_for(users["runner"])
        .patch(url(workflow, created["id"]), {"enabled": False}, format="json")
        .status_code
        == 403
    )
    assert Trigger.objects.get().enabled is True


def test_deleting_a_trigger_keeps_its_runs(users: dict[str, Any], workflow: Any, api_client_for: Any) -> None:
    from executions import services
    from executions.models import Run

    client = api_client_for(users["owner"])
    created = create(client, workflow, kind="webhook").json()
    trigger = Trigger.objects.get(pk=created["id"])
    run = services.create_run(
        workflow=workflow,
        version=workflow.active_version,
        draft_graph=None,
        inputs={"ticket": "t"},
        variables={},
        user=users["owner"],
        source="webhook",
        trigger=trigger,
    )
    assert client.get(f"/api/runs/{run.pk}/").json()["trigger"] == trigger.pk
    assert client.delete(url(workflow, trigger.pk)).status_code == 204
    assert not Trigger.objects.exists()
    assert Run.objects.get(pk=run.pk).trigger_id is None
    assert client.get(f"/api/runs/{run.pk}/").json()["trigger"] is None


def test_the_secret_is_never_logged(
    users: dict[str, Any], workflow: Any, api_client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = api_client_for(users["owner"])
    created = create(client, workflow, kind="webhook").json()
    rotated = client.post(url(workflow, created["id"], "rotate-secret"), {}, format="json").json()
    assert created["secret"] not in caplog.text and rotated["secret"] not in caplog.text


def test_the_admin_lists_triggers_without_secrets(
    users: dict[str, Any], workflow: Any, api_client_for: Any, admin_client: Any
) -> None:
    created = create(api_client_for(users["owner"]), workflow, kind="webhook").json()
    listing = admin_client.get("/admin/triggers/trigger/")
    page = admin_client.get(f"/admin/triggers/trigger/{created['id']}/change/")
    assert listing.status_code == 200 and page.status_code == 200
    assert created["secret"] not in page.content.decode()
    assert admin_client.get("/admin/triggers/triggerfire/").status_code == 200
