"""Triggers in the editor's side panel, in a real browser: a webhook made there starts a run when
a delivery is signed with the secret it showed once; a schedule's bad cron is refused under its
field; a trigger switched off and a secret rotated are read back through the API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import ApiClient, LiveServer, starter_graph, unique_name

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def published_workflow(api: ApiClient) -> int:
    """A workflow with an active version: a trigger's runs use the active version."""
    created = api.post("/api/workflows/", {"name": unique_name("Triggers"), "graph": starter_graph()})
    api.post(f"/api/workflows/{created['id']}/publish/", {"note": "v1", "activate": True})
    return int(created["id"])


def open_triggers(page: Page, workflow_id: int) -> None:
    page.goto(f"/workflows/{workflow_id}")
    expect(page.get_by_test_id("editor")).to_be_visible()
    page.get_by_test_id("tab-triggers").click()
    expect(page.get_by_test_id("triggers-panel")).to_be_visible()


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver(server: LiveServer, hook_url: str, secret: str, payload: dict[str, Any]) -> tuple[int, Any]:
    """POST a signed JSON body to the hook's path on the test server (the shown URL names
    PUBLIC_BASE_URL, which is not where this session's server listens)."""
    body = json.dumps(payload).encode()
    path = urllib.parse.urlsplit(hook_url).path
    request = urllib.request.Request(
        server.url(path),
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Flowdeck-Signature": signature(secret, body, int(time.time())),
        },
    )
    try:
        with _opener.open(request, timeout=30) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        raw = error.read()
        return int(error.code), json.loads(raw) if raw else None


def triggers_of(api: ApiClient, workflow_id: int) -> list[dict[str, Any]]:
    return list(api.get(f"/api/workflows/{workflow_id}/triggers/")["results"])


def test_a_webhook_made_in_the_editor_starts_a_run_when_signed_with_the_secret_shown_once(
    page: Page, api: ApiClient, flowdeck_server: LiveServer
) -> None:
    workflow_id = published_workflow(api)
    open_triggers(page, workflow_id)

    page.get_by_test_id("trigger-add-webhook").click()
    page.get_by_test_id("trigger-name").fill("Orders")
    page.get_by_test_id("trigger-save").click()

    box = page.get_by_test_id("trigger-secret-box")
    expect(box).to_be_visible()
    expect(page.get_by_test_id("trigger-secret-warning")).to_contain_text("see this secret again")
    secret = page.get_by_test_id("trigger-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    [trigger] = triggers_of(api, workflow_id)
    assert trigger["kind"] == "webhook" and trigger["name"] == "Orders" and trigger["enabled"] is True
    assert "secret" not in trigger
    expect(page.get_by_test_id(f"trigger-{trigger['id']}").get_by_test_id("trigger-url")).to_have_text(
        trigger["url"]
    )

    page.get_by_test_id("trigger-secret-dismiss").click()
    expect(box).to_have_count(0)
    page.reload()
    page.get_by_test_id("tab-triggers").click()
    expect(page.get_by_test_id(f"trigger-{trigger['id']}")).to_be_visible()
    assert secret not in page.content()

    status, answer = deliver(flowdeck_server, trigger["url"], secret, {})
    assert status in (200, 202), answer
    run = api.get(f"/api/runs/{answer['run_id']}/")
    assert run["workflow"] == workflow_id
    assert run["source"] == "webhook"
    assert run["trigger"] == trigger["id"]

    status, _ = deliver(flowdeck_server, trigger["url"], "whsec_wrong", {"other": 1})
    assert status == 401

    page.reload()
    page.get_by_test_id("tab-triggers").click()
    fires = page.get_by_test_id(f"trigger-{trigger['id']}").get_by_test_id("trigger-fires")
    fires.locator("summary").click()
    expect(fires.get_by_test_id("trigger-fires-list")).to_contain_text("started")


def test_a_schedule_with_a_bad_cron_shows_the_error_under_the_field_then_saves_a_good_one(
    page: Page, api: ApiClient
) -> None:
    workflow_id = published_workflow(api)
    open_triggers(page, workflow_id)

    page.get_by_test_id("trigger-add-schedule").click()
    page.get_by_test_id("trigger-cron").fill("61 * * * *")
    page.get_by_test_id("trigger-timezone").select_option("Europe/Berlin")
    page.get_by_test_id("trigger-catch-up").select_option("once")
    page.get_by_test_id("trigger-overlap").select_option("skip")
    page.get_by_test_id("trigger-save").click()

    expect(page.get_by_test_id("field-issue-cron")).to_be_visible()
    assert triggers_of(api, workflow_id) == []

    page.get_by_test_id("trigger-cron").fill("30 2 * * 1-5")
    hint = "At 02:30, Monday to Friday (Europe/Berlin time)"
    expect(page.get_by_test_id("field-wrap-cron")).to_contain_text(hint)
    page.get_by_test_id("trigger-save").click()

    expect(page.get_by_test_id("triggers-panel")).to_be_visible()
    [trigger] = triggers_of(api, workflow_id)
    assert trigger["kind"] == "schedule"
    assert trigger["config"] == {
        "cron": "30 2 * * 1-5",
        "timezone": "Europe/Berlin",
        "catch_up": "once",
        "overlap": "skip",
        "inputs": {},
    }
    assert trigger["next_fire_at"] is not None
    row = page.get_by_test_id(f"trigger-{trigger['id']}")
    expect(row.get_by_test_id("trigger-next-fire")).not_to_contain_text("never")


def test_a_trigger_switched_off_and_a_rotated_secret(
    page: Page, api: ApiClient, flowdeck_server: LiveServer
) -> None:
    workflow_id = published_workflow(api)
    created = api.post(f"/api/workflows/{workflow_id}/triggers/", {"kind": "webhook"})
    old_secret = created["secret"]
    open_triggers(page, workflow_id)
    row = page.get_by_test_id(f"trigger-{created['id']}")

    expect(row.get_by_test_id("trigger-toggle")).to_have_text("Disable")
    row.get_by_test_id("trigger-toggle").click()
    expect(row).to_have_attribute("data-enabled", "false")
    assert api.get(f"/api/workflows/{workflow_id}/triggers/{created['id']}/")["enabled"] is False
    status, _ = deliver(flowdeck_server, created["url"], old_secret, {"n": 1})
    assert status == 404

    expect(row.get_by_test_id("trigger-state")).to_have_text("Off")
    row.get_by_test_id("trigger-toggle").click()
    expect(row).to_have_attribute("data-enabled", "true")

    row.get_by_test_id("trigger-rotate").click()
    row.get_by_test_id("trigger-rotate-grace").select_option(label="1 day")
    row.get_by_test_id("trigger-rotate-confirm").click()
    expect(page.get_by_test_id("trigger-secret-box")).to_be_visible()
    new_secret = page.get_by_test_id("trigger-secret").inner_text().strip()
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    expect(row).to_contain_text("Previous secret valid until")

    saved = api.get(f"/api/workflows/{workflow_id}/triggers/{created['id']}/")
    assert saved["enabled"] is True and saved["has_previous_secret"] is True
    status, answer = deliver(flowdeck_server, created["url"], new_secret, {"n": 2})
    assert status in (200, 202), answer
    status, answer = deliver(flowdeck_server, created["url"], old_secret, {"n": 3})
    assert status in (200, 202), answer

    row.get_by_test_id("trigger-delete").click()
    row.get_by_test_id("trigger-delete-confirm").click()
    expect(row).to_have_count(0)
    assert triggers_of(api, workflow_id) == []


def test_a_workflow_event_trigger_made_in_the_editor_follows_another_workflow(
    page: Page, api: ApiClient
) -> None:
    source_name = unique_name("Source")
    source = api.post("/api/workflows/", {"name": source_name, "graph": starter_graph()})
    workflow_id = published_workflow(api)
    open_triggers(page, workflow_id)

    page.get_by_test_id("trigger-add-workflow_event").click()
    page.get_by_test_id("trigger-on-succeeded").uncheck()
    page.get_by_test_id("trigger-save").click()
    expect(page.get_by_test_id("field-issue-workflow")).to_be_visible()
    expect(page.get_by_test_id("field-issue-on")).to_be_visible()

    page.get_by_test_id("trigger-source-workflow").select_option(label=source_name)
    page.get_by_test_id("trigger-on-failed").check()
    page.get_by_test_id("trigger-input-add").click()
    page.get_by_test_id("trigger-input-name-0").fill("why")
    page.get_by_test_id("trigger-input-template-0").fill("{{ event.run.error }}")
    page.get_by_test_id("trigger-input-add").click()
    page.get_by_test_id("trigger-input-name-1").fill("broken")
    page.get_by_test_id("trigger-input-template-1").fill("{{ event.run.outputs")
    page.get_by_test_id("trigger-save").click()
    expect(page.get_by_test_id("field-issue-inputs")).to_contain_text("broken")
    assert triggers_of(api, workflow_id) == []

    page.get_by_label("Remove input broken").click()
    page.get_by_test_id("trigger-save").click()
    expect(page.get_by_test_id("triggers-panel")).to_be_visible()
    [trigger] = triggers_of(api, workflow_id)
    assert trigger["config"] == {
        "workflow": source["id"],
        "on": ["failed"],
        "inputs": {"why": "{{ event.run.error }}"},
    }
    expect(page.get_by_test_id("trigger-event-summary")).to_contain_text(source_name)


VIEWERS_GROUP = """
from django.contrib.auth.models import Group, User
group, _ = Group.objects.get_or_create(name="trigger viewers")
group.user_set.add(User.objects.get(username="alice"))
"""


def test_a_viewer_sees_the_triggers_but_cannot_change_them(
    api: ApiClient, flowdeck_server: LiveServer, login_as: Callable[[str], Page]
) -> None:
    workflow_id = published_workflow(api)
    flowdeck_server.manage("shell", "-c", VIEWERS_GROUP)
    api.patch(f"/api/workflows/{workflow_id}/", {"grants": [{"group": "trigger viewers", "role": "viewer"}]})
    created = api.post(
        f"/api/workflows/{workflow_id}/triggers/",
        {"kind": "schedule", "config": {"cron": "@daily", "timezone": "UTC"}},
    )

    alice = login_as("alice")
    open_triggers(alice, workflow_id)
    row = alice.get_by_test_id(f"trigger-{created['id']}")
    expect(row).to_contain_text("Every day at midnight (UTC time)")
    expect(alice.get_by_test_id("triggers-read-only")).to_be_visible()
    expect(alice.get_by_test_id("trigger-add-webhook")).to_have_count(0)
    expect(row.get_by_test_id("trigger-toggle")).to_have_count(0)
    expect(row.get_by_test_id("trigger-edit")).to_have_count(0)
    expect(row.get_by_test_id("trigger-delete")).to_have_count(0)
