"""The approval inbox in a real browser: approvals arrive live (with the navigation badge), show
exactly the payload that flows on, are claimed, released and decided with a form, and a decision
made in one browser finishes the run another browser is watching."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ApiClient, LiveServer
from tests.browser.test_run_view import (
    LIVE_TIMEOUT_MS,
    demo_graph,
    ensure_demo_agents,
    node_status,
    pending_approval,
    publish,
    start_run,
)


@pytest.fixture
def demo_for(flowdeck_server: LiveServer, api: ApiClient) -> Any:
    ensure_demo_agents(flowdeck_server)

    def make(approvers: list[str]) -> int:
        return publish(api, "Inbox triage", demo_graph(approvers))

    return make


def test_another_user_approves_from_the_inbox_while_the_run_is_watched(
    page: Page, login_as: Any, api: ApiClient, api_as: Any, demo_for: Any
) -> None:
    workflow_id = demo_for(["bob"])
    bob = login_as("bob")
    bob.goto("/inbox")
    expect(bob.get_by_test_id("inbox-page")).to_have_attribute("data-live", "true")
    before = api_as("bob").get("/api/approvals/", mine="true", status="pending")["count"]
    expect(bob.get_by_test_id("inbox-pending-count")).to_have_text(str(before))

    run_id = start_run(api, workflow_id, "Checkout is down for everyone")
    page.goto(f"/runs/{run_id}")
    node_status(page, "escalate").to_have_attribute("data-status", "waiting", timeout=LIVE_TIMEOUT_MS)

    # Bob's inbox and its badge change without a reload.
    approval = pending_approval(api, run_id)
    item = bob.get_by_test_id(f"inbox-item-{approval['id']}")
    expect(item).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(bob.get_by_test_id("inbox-pending-count")).to_have_text(str(before + 1))
    expect(bob.get_by_test_id("inbox-count")).to_have_attribute("data-count", str(before + 1))

    item.click()
    detail = bob.get_by_test_id("approval-detail")
    expect(detail).to_contain_text("Escalate an outage reported by Acme")
    expect(bob.get_by_test_id("approval-instructions")).to_contain_text("page the on-call engineer")
    expect(detail.get_by_test_id("approval-due")).to_contain_text(re.compile(r"^Due (tomorrow|in \d+ hours)"))
    payload = bob.get_by_test_id("approval-payload").inner_text()
    assert payload.replace(" ", "").replace("\n", "") == (
        '{"ticket":"Checkoutisdownforeveryone","category":"outage"}'
    ).replace(" ", "")
    expect(bob.get_by_test_id("approval-run-link")).to_have_attribute("href", f"/runs/{run_id}")

    bob.get_by_test_id("form-severity").select_option("sev1")
    bob.get_by_test_id("approval-comment").fill("Paging the on-call engineer")
    bob.get_by_test_id("approval-approve").click()

    expect(bob.get_by_test_id("approval-done")).to_have_text("Approved.")
    expect(item).to_have_count(0)
    expect(bob.get_by_test_id("inbox-pending-count")).to_have_text(str(before))
    # The first browser watches the run finish through the approved branch.
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "succeeded", timeout=LIVE_TIMEOUT_MS
    )
    node_status(page, "page_oncall").to_have_attribute("data-status", "succeeded")
    node_status(page, "draft").to_have_attribute("data-status", "skipped")

    decided = api.get(f"/api/approvals/{approval['id']}/")
    assert decided["status"] == "approved" and decided["decided_by"] == "bob"
    assert decided["comment"] == "Paging the on-call engineer" and decided["data"] == {"severity": "sev1"}
    assert api.get(f"/api/runs/{run_id}/")["outputs"] == {"route": "oncall", "approved_by": "bob"}

    bob.get_by_test_id("inbox-tab-history").click()
    history_item = bob.get_by_test_id("inbox-history").get_by_test_id(f"inbox-item-{approval['id']}")
    expect(history_item).to_contain_text("approved")
    history_item.click()
    expect(bob.get_by_test_id("approval-outcome")).to_contain_text("Decided by bob")


def test_claim_hides_the_approval_from_the_other_assignee_until_released(
    login_as: Any, api: ApiClient, demo_for: Any
) -> None:
    workflow_id = demo_for(["alice", "bob"])
    run_id = start_run(api, workflow_id, "The API is down")
    approval = pending_approval(api, run_id)
    alice = login_as("alice")
    alice.goto("/inbox")
    bob = login_as("bob")
    bob.goto(f"/inbox?approval={approval['id']}")
    alice_item = alice.get_by_test_id(f"inbox-item-{approval['id']}")
    expect(alice_item).to_be_visible()

    bob.get_by_test_id("approval-claim").click()
    expect(bob.get_by_test_id("approval-done")).to_contain_text("Claimed")
    expect(alice_item).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    assert api.get(f"/api/approvals/{approval['id']}/")["claimed_by"] == "bob"

    bob.get_by_test_id("approval-release").click()
    expect(bob.get_by_test_id("approval-done")).to_contain_text("Released")
    expect(alice_item).to_be_visible(timeout=LIVE_TIMEOUT_MS)

    alice_item.click()
    alice.get_by_test_id("approval-comment").fill("Not an outage after all")
    alice.get_by_test_id("approval-reject").click()
    expect(alice.get_by_test_id("approval-done")).to_have_text("Rejected.")
    assert api.get(f"/api/approvals/{approval['id']}/")["status"] == "rejected"
    expect(bob.get_by_test_id(f"inbox-item-{approval['id']}")).to_have_count(0, timeout=LIVE_TIMEOUT_MS)


def test_an_empty_inbox_says_so(login_as: Any) -> None:
    alice = login_as("alice")
    alice.goto("/inbox?tab=history")
    expect(alice.get_by_role("tab", name=re.compile("History"))).to_have_attribute("aria-selected", "true")
    alice.get_by_test_id("inbox-tab-pending").click()
    expect(alice.get_by_test_id("inbox-list")).to_be_attached()


MINT_LINK = """
from django.contrib.auth import get_user_model
from executions.approvals import create_link
from executions.models import Approval
print(create_link(Approval.objects.get(pk="{approval_id}"), get_user_model().objects.get(username="bob")))
"""


def test_the_email_link_page_shows_the_payload_and_decides(
    login_as: Any, api: ApiClient, demo_for: Any, flowdeck_server: LiveServer
) -> None:
    workflow_id = demo_for(["bob"])
    run_id = start_run(api, workflow_id, "Login is down")
    approval = pending_approval(api, run_id)
    minted = flowdeck_server.manage("shell", "-c", MINT_LINK.format(approval_id=approval["id"]))
    token = minted.strip().splitlines()[-1]
    bob = login_as("bob")

    bob.goto(f"/approvals/confirm/{token}/")
    expect(bob.get_by_role("heading", level=1)).to_have_text("Escalate an outage reported by Acme")
    expect(bob.locator(".payload")).to_contain_text('"ticket": "Login is down"')
    expect(bob.get_by_role("link", name=re.compile(r"^run "))).to_have_attribute("href", f"/runs/{run_id}")
    bob.get_by_label("Severity").select_option("sev2")
    bob.get_by_label("Comment").fill("From the e-mail")
    bob.get_by_role("button", name="Approve").click()

    expect(bob.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(bob.locator("main")).to_contain_text("You approved")
    decided = api.get(f"/api/approvals/{approval['id']}/")
    assert decided["status"] == "approved" and decided["data"] == {"severity": "sev2"}
    # Bob has no role on the workflow: he may decide, and the run link says it is not his to see.
    bob.get_by_role("link", name="Watch the run").click()
    expect(bob.locator("main")).to_contain_text("No such run")
    expect(bob.locator("main")).to_contain_text("Approvers without a role on the workflow")
