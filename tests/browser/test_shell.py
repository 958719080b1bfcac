"""The app shell in a real browser: signing in, navigation, deep links."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, ALICE, log_in


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
