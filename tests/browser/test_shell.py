"""The app shell in a real browser: signing in, navigation, deep links."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.conftest import ADMIN, ALICE, BOB, ApiClient, Sessions, log_in, unique_name


def test_signing_in_through_the_form_lands_on_the_workflows_page(anonymous_page: Page) -> None:
    log_in(anonymous_page, ALICE.username, ALICE.password)

    expect(anonymous_page).to_have_url(re.compile(r"/workflows$"))
    expect(anonymous_page.get_by_role("heading", name="Workflows", level=1)).to_be_visible()
    expect(anonymous_page.get_by_text("Signed in as alice")).to_be_attached()


def test_a_wrong_password_shows_an_error_and_keeps_the_username(anonymous_page: Page) -> None:
    log_in(anonymous_page, ALICE.username, "not-the-password")

    expect(anonymous_page.get_by_role("alert")).to_contain_text("didn't match")
    expect(anonymous_page.get_by_label("Username")).to_have_value(ALICE.username)
    expect(anonymous_page).to_have_url(re.compile(r"/accounts/login/$"))


def test_a_deep_link_survives_a_reload_and_a_signed_out_visit_returns_to_it(anonymous_page: Page) -> None:
    anonymous_page.goto("/workflows?archived=true")
    expect(anonymous_page).to_have_url(re.compile(r"/accounts/login/\?next="))

    anonymous_page.get_by_label("Username").fill(ADMIN.username)
    anonymous_page.get_by_label("Password").fill(ADMIN.password)
    anonymous_page.get_by_role("button", name="Sign in").click()
    expect(anonymous_page).to_have_url(re.compile(r"/workflows\?archived=true$"))

    anonymous_page.reload()
    expect(anonymous_page).to_have_url(re.compile(r"/workflows\?archived=true$"))
    expect(anonymous_page.get_by_role("heading", name="Workflows", level=1)).to_be_visible()


def test_the_admin_link_is_shown_to_staff_only(page: Page, login_as: Callable[[str], Page]) -> None:
    alice = login_as(ALICE.username)

    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Admin")).to_be_visible()
    expect(alice.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows")).to_be_visible()
    expect(alice.get_by_role("navigation", name="Main").get_by_role("link", name="Admin")).to_have_count(0)


def test_navigation_switches_sections_and_an_unknown_path_says_not_found(page: Page) -> None:
    navigation = page.get_by_role("navigation", name="Main")
    navigation.get_by_role("link", name="Runs").click()
    expect(page).to_have_url(re.compile(r"/runs$"))
    expect(navigation.get_by_role("link", name="Runs")).to_have_attribute("aria-current", "page")

    page.goto("/agents/no/such/page")
    expect(page.get_by_role("heading", level=1)).to_contain_text("not found", ignore_case=True)


def approval_graph(assignee: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "nodes": [
            {"id": "start", "type": "start"},
            {
                "id": "review",
                "type": "approval",
                "config": {"title": "Ship it?", "assignees": {"users": [assignee]}},
            },
            {"id": "shipped", "type": "end"},
            {"id": "held", "type": "end"},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "review"},
            {"id": "e2", "source": "review", "target": "shipped", "source_handle": "approved"},
            {"id": "e3", "source": "review", "target": "held", "source_handle": "rejected"},
        ],
    }


def pending_for(api: ApiClient) -> list[dict[str, Any]]:
    return list(api.get("/api/approvals/", mine="true", status="pending", page_size=500)["results"])


def test_the_inbox_badge_counts_new_approvals_live_and_drops_decided_ones(
    api: ApiClient, api_as: Callable[[str], ApiClient], login_as: Callable[[str], Page]
) -> None:
    bob_api = api_as(BOB.username)
    already_waiting = len(pending_for(bob_api))
    workflow = api.post(
        "/api/workflows/", {"name": unique_name("Needs Bob"), "graph": approval_graph(BOB.username)}
    )
    api.post(f"/api/workflows/{workflow['id']}/publish/", {"note": "first"})
    bob = login_as(BOB.username)
    badge = bob.get_by_role("navigation", name="Main").get_by_test_id("inbox-count")
    if already_waiting:
        expect(badge).to_have_attribute("data-count", str(already_waiting))
    else:
        expect(badge).to_have_count(0)

    for expected in (already_waiting + 1, already_waiting + 2):
        api.post(f"/api/workflows/{workflow['id']}/runs/", {"inputs": {}})
        # No reload: the count follows the ws/inbox/ socket.
        expect(badge).to_have_attribute("data-count", str(expected))
    expect(badge).to_contain_text(f"{already_waiting + 2} approvals waiting")

    newest = max(pending_for(bob_api), key=lambda approval: approval["created_at"])
    bob_api.post(f"/api/approvals/{newest['id']}/decide/", {"decision": "approve"})
    expect(badge).to_have_attribute("data-count", str(already_waiting + 1))


def wait_in(page: Page, check: Callable[[], bool], what: str, timeout_s: float = 10) -> None:
    """Poll ``check`` while letting Playwright run its handlers (a sleep would hold them up)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        page.wait_for_timeout(50)


def test_after_the_inbox_socket_reconnects_the_count_is_refetched(
    api: ApiClient, api_as: Callable[[str], ApiClient], sessions: Sessions
) -> None:
    bob_api = api_as(BOB.username)
    already_waiting = len(pending_for(bob_api))
    workflow = api.post(
        "/api/workflows/", {"name": unique_name("Needs Bob later"), "graph": approval_graph(BOB.username)}
    )
    api.post(f"/api/workflows/{workflow['id']}/publish/", {"note": "first"})
    # Bob's inbox socket answers but never hears from the server: only a refetch can move the badge.
    sockets: list[WebSocketRoute] = []
    counts_fetched: list[str] = []
    bob = sessions.new_page(BOB.username)
    bob.route_web_socket("**/ws/inbox/", lambda socket: sockets.append(socket))
    bob.on(
        "response",
        lambda response: counts_fetched.append(response.url) if "/api/approvals/" in response.url else None,
    )
    log_in(bob, BOB.username, BOB.password)
    expect(bob).to_have_url(re.compile(r"/workflows$"))
    # Loaded at start and again once the socket is open; after that only a reconnect refetches.
    wait_in(
        bob,
        lambda: len(sockets) == 1 and len(counts_fetched) == 2,
        "the count fetched after the socket opened",
    )
    badge = bob.get_by_role("navigation", name="Main").get_by_test_id("inbox-count")

    api.post(f"/api/workflows/{workflow['id']}/runs/", {"inputs": {}})
    wait_in(bob, lambda: len(pending_for(bob_api)) == already_waiting + 1, "the approval")
    bob.wait_for_timeout(1_000)  # what a live update would have needed, with room to spare
    if already_waiting:
        expect(badge).to_have_attribute("data-count", str(already_waiting))
    else:
        expect(badge).to_have_count(0)

    sockets[-1].close()

    expect(badge).to_have_attribute("data-count", str(already_waiting + 1))
    assert (len(sockets), len(counts_fetched)) == (2, 3)


def test_going_offline_shows_a_banner_that_clears_when_the_connection_returns(page: Page) -> None:
    page.context.set_offline(True)
    banner = page.get_by_role("alert").filter(has_text="You are offline")
    expect(banner).to_be_visible()

    page.context.set_offline(False)
    expect(banner).to_have_count(0)


def test_a_request_that_gets_no_answer_says_the_server_is_unreachable(page: Page) -> None:
    # Every API call fails as if the server were down (the inbox socket's refetches too).
    page.route("**/api/**", lambda route: route.abort("connectionrefused"))
    page.get_by_label("Search workflows").fill("anything")

    banner = page.get_by_role("alert").filter(has_text="Flowdeck keeps trying")
    expect(banner).to_contain_text("Cannot reach the Flowdeck server")
    expect(page.get_by_role("alert").filter(has_text="You appear to be offline")).to_be_visible()

    page.unroute("**/api/**")
    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_text("0 workflows matching “anything”")).to_be_visible()
    expect(banner).to_have_count(0)


def test_the_sign_in_page_follows_the_app_theme_both_ways(anonymous_page: Page) -> None:
    anonymous_page.add_init_script("localStorage.setItem('flowdeck-theme', 'dark')")
    anonymous_page.goto("/accounts/login/")
    html = anonymous_page.locator("html")
    expect(html).to_have_attribute("data-theme", "dark")
    expect(anonymous_page.locator("body")).to_have_css("background-color", "rgb(15, 17, 21)")

    anonymous_page.get_by_role("button", name="Switch between light and dark theme").click()
    expect(html).to_have_attribute("data-theme", "light")
    expect(anonymous_page.locator("body")).to_have_css("background-color", "rgb(246, 247, 249)")
    assert anonymous_page.evaluate("localStorage.getItem('flowdeck-theme')") == "light"


def test_logging_out_ends_the_session(page: Page) -> None:
    expect(page.get_by_text("Signed in as admin")).to_be_attached()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.goto("/workflows")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/workflows$"))
