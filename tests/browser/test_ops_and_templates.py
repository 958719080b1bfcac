"""The operations console and the templates gallery in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS_DIR, ApiClient, unique_name


def test_a_new_workflow_starts_from_a_template(page: Page, api: ApiClient) -> None:
    page.goto("/workflows")
    page.get_by_role("link", name="Use template").click()
    expect(page).to_have_url(re.compile(r"/templates$"))
    card = page.get_by_test_id("template-content-pipeline")
    expect(card.get_by_role("heading", name="Content pipeline with parallel reviewers")).to_be_visible()
    card.get_by_role("button", name="How it works").click()
    expect(card.get_by_text("waits for the three")).to_be_visible()
    expect(page.get_by_test_id("templates-page").locator("article")).to_have_count(6)
    page.screenshot(path=ARTIFACTS_DIR / "templates-gallery.png", full_page=True)

    card.get_by_role("button", name="Use template").click()

    expect(page).to_have_url(re.compile(r"/workflows/\d+$"))
    workflow = api.get(f"/api/workflows/{int(page.url.rsplit('/', 1)[1])}/")
    assert workflow["name"] == "Content pipeline"
    assert workflow["active_version"] is not None
    run = api.post(f"/api/workflows/{workflow['id']}/runs/", {"inputs": {"topic": "tests"}, "wait_s": 30})
    assert run["status"] == "succeeded", run


def test_a_template_with_a_webhook_shows_its_secret_once(page: Page) -> None:
    page.goto("/templates")
    page.get_by_test_id("template-webhook-enrichment").get_by_role("button", name="Use template").click()
    notice = page.get_by_test_id("template-created")
    expect(notice).to_contain_text("disabled webhook trigger")
    expect(notice).to_contain_text("/hooks/")
    notice.get_by_role("button", name="Open the workflow").click()
    expect(page).to_have_url(re.compile(r"/workflows/\d+$"))


def test_staff_see_the_operations_console(page: Page, api: ApiClient) -> None:
    workflow = api.post("/api/workflows/", {"name": unique_name("Ops figures")})
    api.post(f"/api/workflows/{workflow['id']}/publish/", {"note": "v1"})
    api.post(f"/api/workflows/{workflow['id']}/runs/", {"inputs": {}, "wait_s": 30})

    page.goto("/workflows")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Operations").click()

    expect(page).to_have_url(re.compile(r"/ops$"))
    expect(page.get_by_test_id("ops-page")).to_have_attribute("data-loaded", "true")
    expect(page.get_by_test_id("ops-queues")).to_contain_text("flowdeck.nodes")
    expect(page.get_by_test_id("ops-workers")).to_contain_text("embedded")
    expect(page.get_by_test_id("ops-chart-latency").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("ops-chart-failures").locator("path.ops-chart__line")).to_have_count(1)
    page.goto("/admin/")
    page.get_by_role("link", name="Operations console").click()
    expect(page).to_have_url(re.compile(r"/ops$"))


def test_others_neither_see_nor_read_the_console(login_as: Callable[[str], Page]) -> None:
    alice = login_as("alice")
    alice.goto("/workflows")
    expect(alice.get_by_role("heading", name="Workflows", level=1)).to_be_visible()
    expect(alice.get_by_role("navigation", name="Main").get_by_role("link", name="Operations")).to_have_count(
        0
    )
    alice.goto("/ops")
    expect(alice.get_by_text("The figures could not be loaded")).to_be_visible()
