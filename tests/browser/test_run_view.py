"""The live run view in a real browser: nodes change state as the worker runs them, a dropped
socket or a lost message is caught up with every event exactly once, a rejected branch shows as
skipped, and a failed node is retried from the inspector. Everything is arranged and checked
through the API, as an operator's integrations would."""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ApiClient, ApiError, LiveServer, unique_name

DEMO = Path(__file__).resolve().parents[2] / "workflows" / "demo" / "1-ticket-triage.json"
LIVE_TIMEOUT_MS = 20_000

#: The demo's scripted provider, streaming slowly enough for a browser to watch the text arrive.
PROVIDER_CONFIG: dict[str, Any] = {
    "rules": [
        {"match": "(?is)^Classify.*(down|outage)", "reply": {"priority": "high", "category": "outage"}},
        {"match": "(?i)^Classify", "reply": {"priority": "normal", "category": "question"}},
        {
            "match": "(?i)^Draft a reply",
            "reply": "Hi! Thanks for getting in touch. We are on it; expect a reply within one business day.",
        },
    ],
    "default": "ok",
    "chunk_chars": 6,
    "chunk_delay_s": 0.12,
}

#: Records every socket the page opens, can refuse new ones, and can drop run events, so a test
#: can cut the page's connection or lose a message on purpose.
SOCKET_SPY = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__blockSockets = false;
  window.__dropRunEvents = 0;
  class SpiedSocket extends Native {
    constructor(url, protocols) {
      if (window.__blockSockets) throw new Error("blocked by the test");
      super(url, protocols);
      window.__sockets.push(this);
    }
    set onmessage(handler) {
      super.onmessage = handler && ((event) => {
        if (window.__dropRunEvents > 0 && String(event.data).includes('"seq"')) {
          window.__dropRunEvents -= 1;
          return;
        }
        handler(event);
      });
    }
    get onmessage() {
      return super.onmessage;
    }
  }
  window.WebSocket = SpiedSocket;
})();
"""


#: The REST route a page reads stored events from (gaps, and polling while its socket is down).
STORED_EVENTS = re.compile(r".*/api/runs/[^/]+/events/.*")


def ensure_demo_agents(server: LiveServer) -> None:
    """The scripted provider and the demo's agents (slugs are global, so created once per server)."""
    api = server.api_as("admin")
    slugs = {agent["slug"] for agent in api.get("/api/agents/", page_size=100)["results"]}
    if {"triage-bot", "reply-writer", "flaky-writer"} <= slugs:
        return
    provider = api.post(
        "/api/providers/", {"name": "Browser scripted", "kind": "scripted", "config": PROVIDER_CONFIG}
    )
    flaky = api.post(
        "/api/providers/",
        {
            "name": "Browser flaky",
            "kind": "scripted",
            "config": {
                "fail": {"code": "bad_request", "message": "refused once", "attempts": 1},
                "default": "fine now",
            },
        },
    )
    agents = [
        ("triage-bot", provider["id"], "json"),
        ("reply-writer", provider["id"], "text"),
        ("flaky-writer", flaky["id"], "text"),
    ]
    for slug, provider_id, output_format in agents:
        try:
            api.post(
                "/api/agents/",
                {
                    "slug": slug,
                    "name": slug.replace("-", " ").title(),
                    "provider": provider_id,
                    "model": "scripted-demo",
                    "output_format": output_format,
                },
            )
        except ApiError as error:
            if error.status != 400:
                raise


def demo_graph(approvers: list[str]) -> dict[str, Any]:
    """The ticket-triage demo, its approval assigned to ``approvers``."""
    graph = copy.deepcopy(json.loads(DEMO.read_text())["graph"])
    for node in graph["nodes"]:
        if node["id"] == "escalate":
            node["config"]["assignees"] = {"users": approvers, "groups": []}
            node["config"]["form"] = {
                "type": "object",
                "properties": {"severity": {"type": "string", "enum": ["sev1", "sev2"], "title": "Severity"}},
            }
    return graph


def publish(api: ApiClient, name: str, graph: dict[str, Any]) -> int:
    workflow = api.post(
        "/api/workflows/", {"name": unique_name(name), "description": "", "tags": [], "graph": graph}
    )
    api.post(f"/api/workflows/{workflow['id']}/publish/", {"note": "browser test"})
    return int(workflow["id"])


def start_run(api: ApiClient, workflow_id: int, ticket: str) -> str:
    run = api.post(f"/api/workflows/{workflow_id}/runs/", {"inputs": {"ticket": ticket, "customer": "Acme"}})
    return str(run["id"])


def wait_for(check: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def pending_approval(api: ApiClient, run_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: next(iter(api.get("/api/approvals/", run=run_id, status="pending")["results"]), None)
    )


def stored_seqs(api: ApiClient, run_id: str) -> list[int]:
    return [event["seq"] for event in api.get(f"/api/runs/{run_id}/events/", after=0, limit=5000)["events"]]


def node_status(page: Page, node_id: str) -> Any:
    return expect(page.get_by_test_id(f"node-status-{node_id}"))


def shown_seqs(page: Page) -> list[int]:
    page.get_by_test_id("tab-events").click()
    return sorted(
        int(seq)
        for seq in page.locator("[data-testid=run-events] tr[data-seq]").evaluate_all(
            "rows => rows.map(row => row.dataset.seq)"
        )
    )


@pytest.fixture
def demo(flowdeck_server: LiveServer, api: ApiClient) -> int:
    ensure_demo_agents(flowdeck_server)
    return publish(api, "Triage", demo_graph(["bob"]))


def test_nodes_change_state_live_and_llm_text_streams_in(
    page: Page, api: ApiClient, api_as: Any, demo: int
) -> None:
    run_id = start_run(api, demo, "Our checkout is down!")
    page.goto(f"/runs/{run_id}")

    expect(page.get_by_test_id("run-live")).to_have_attribute("data-live", "true")
    node_status(page, "classify").to_have_attribute("data-status", "succeeded", timeout=LIVE_TIMEOUT_MS)
    node_status(page, "escalate").to_have_attribute("data-status", "waiting", timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "waiting")
    node_status(page, "draft").to_have_attribute("data-status", "pending")

    # Watch the reply being written: select the node before it starts.
    page.get_by_test_id("node-draft").click()
    expect(page.get_by_test_id("node-inspector")).to_have_attribute("data-node-id", "draft")
    approval = pending_approval(api, run_id)
    api_as("bob").post(
        f"/api/approvals/{approval['id']}/decide/", {"decision": "reject", "comment": "not an outage"}
    )

    node_status(page, "draft").to_have_attribute("data-status", "running", timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_test_id("streaming-text")).to_contain_text(
        "Thanks for getting", timeout=LIVE_TIMEOUT_MS
    )
    node_status(page, "draft").to_have_attribute("data-status", "succeeded", timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "succeeded", timeout=LIVE_TIMEOUT_MS
    )

    # The rejected approval took the other branch: the on-call end is skipped.
    node_status(page, "escalate").to_have_attribute("data-status", "succeeded")
    node_status(page, "page_oncall").to_have_attribute("data-status", "skipped")
    node_status(page, "answered").to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("attempt-1-output")).to_contain_text("one business day")
    expect(page.get_by_test_id("attempt-1-tokens")).to_contain_text("in")

    page.get_by_test_id("tab-timeline").click()
    expect(page.get_by_test_id("timeline-row-draft@")).to_be_visible()
    assert shown_seqs(page) == stored_seqs(api, run_id)


def test_a_dropped_socket_catches_up_with_every_event_once(
    page: Page, api: ApiClient, api_as: Any, demo: int
) -> None:
    page.add_init_script(SOCKET_SPY)
    run_id = start_run(api, demo, "The site is down")
    page.goto(f"/runs/{run_id}")
    node_status(page, "escalate").to_have_attribute("data-status", "waiting", timeout=LIVE_TIMEOUT_MS)
    events = page.get_by_test_id("run-events")
    page.get_by_test_id("tab-events").click()
    expect(events).to_have_attribute("data-connections", "1")

    # Cut the connection and keep it cut while the run moves on to its end. The stored events are
    # out of reach too, so only the socket's resume can bring the page up to date.
    page.route(STORED_EVENTS, lambda route: route.abort())
    page.evaluate(
        "() => { window.__blockSockets = true; window.__sockets.forEach((socket) => socket.close()); }"
    )
    expect(page.get_by_test_id("run-live")).to_have_attribute("data-live", "false")
    approval = pending_approval(api, run_id)
    api_as("bob").post(
        f"/api/approvals/{approval['id']}/decide/", {"decision": "approve", "comment": "page them"}
    )
    wait_for(lambda: api.get(f"/api/runs/{run_id}/")["status"] == "succeeded")
    page.wait_for_timeout(3_500)  # longer than the page's REST polling interval
    node_status(page, "escalate").to_have_attribute("data-status", "waiting")

    page.evaluate("() => { window.__blockSockets = false; }")
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "succeeded", timeout=LIVE_TIMEOUT_MS
    )
    node_status(page, "page_oncall").to_have_attribute("data-status", "succeeded")
    node_status(page, "draft").to_have_attribute("data-status", "skipped")

    seqs = stored_seqs(api, run_id)
    expect(events).to_have_attribute("data-last-seq", str(seqs[-1]))
    expect(events).to_have_attribute("data-applied", str(len(seqs)))
    # The reconnect asked for the events after the last one applied: nothing came twice.
    expect(events).to_have_attribute("data-duplicates", "0")
    assert int(events.get_attribute("data-connections") or 0) >= 2
    assert shown_seqs(page) == seqs


def test_a_lost_live_message_is_refetched(page: Page, api: ApiClient, api_as: Any, demo: int) -> None:
    page.add_init_script(SOCKET_SPY)
    run_id = start_run(api, demo, "The site is down")
    page.goto(f"/runs/{run_id}")
    node_status(page, "escalate").to_have_attribute("data-status", "waiting", timeout=LIVE_TIMEOUT_MS)

    page.evaluate("() => { window.__dropRunEvents = 1; }")
    approval = pending_approval(api, run_id)
    api_as("bob").post(f"/api/approvals/{approval['id']}/decide/", {"decision": "approve"})

    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "succeeded", timeout=LIVE_TIMEOUT_MS
    )
    events = page.get_by_test_id("run-events")
    page.get_by_test_id("tab-events").click()
    seqs = stored_seqs(api, run_id)
    expect(events).to_have_attribute("data-last-seq", str(seqs[-1]))
    assert int(events.get_attribute("data-gap-fetches") or 0) >= 1
    assert page.evaluate("() => window.__dropRunEvents") == 0
    assert shown_seqs(page) == seqs


def test_retry_a_failed_node_from_the_inspector(
    page: Page, flowdeck_server: LiveServer, api: ApiClient
) -> None:
    ensure_demo_agents(flowdeck_server)
    graph = {
        "schema_version": 1,
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
            {
                "id": "write",
                "type": "prompt",
                "name": "Write",
                "position": {"x": 300, "y": 0},
                "config": {"agent": "flaky-writer", "prompt": "Say something"},
            },
            {
                "id": "done",
                "type": "end",
                "position": {"x": 600, "y": 0},
                "config": {"outputs": {"text": "{{ nodes.write.output.text }}"}},
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "write"},
            {"id": "e2", "source": "write", "target": "done"},
        ],
    }
    workflow_id = publish(api, "Flaky", graph)
    run_id = str(api.post(f"/api/workflows/{workflow_id}/runs/", {"inputs": {}})["id"])
    page.goto(f"/runs/{run_id}")

    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "failed", timeout=LIVE_TIMEOUT_MS
    )
    node_status(page, "write").to_have_attribute("data-status", "failed")
    node_status(page, "done").to_have_attribute("data-status", "pending")
    page.get_by_test_id("node-write").click()
    expect(page.get_by_test_id("inspector-error")).to_contain_text("refused once")

    page.get_by_test_id("retry-node").click()

    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "succeeded", timeout=LIVE_TIMEOUT_MS
    )
    node_status(page, "write").to_have_attribute("data-status", "succeeded")
    node_status(page, "done").to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("attempt-2-output")).to_contain_text("fine now")
    assert api.get(f"/api/runs/{run_id}/")["outputs"] == {"text": "fine now"}


def test_controls_pause_resume_cancel_and_rerun(page: Page, api: ApiClient, demo: int) -> None:
    run_id = start_run(api, demo, "The site is down")
    page.goto(f"/runs/{run_id}")
    node_status(page, "escalate").to_have_attribute("data-status", "waiting", timeout=LIVE_TIMEOUT_MS)

    page.get_by_test_id("run-pause").click()
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "paused", timeout=LIVE_TIMEOUT_MS
    )
    page.get_by_test_id("run-resume").click()
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "waiting", timeout=LIVE_TIMEOUT_MS
    )
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("run-cancel").click()
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "cancelled", timeout=LIVE_TIMEOUT_MS
    )
    node_status(page, "escalate").to_have_attribute("data-status", "cancelled")
    assert api.get("/api/approvals/", run=run_id)["results"][0]["status"] == "cancelled"

    page.get_by_test_id("run-rerun").click()
    page.wait_for_url(lambda url: "/runs/" in url and run_id not in url)
    new_id = page.get_by_test_id("run-view").get_attribute("data-run-id")
    assert new_id and new_id != run_id
    rerun = api.get(f"/api/runs/{new_id}/")
    assert rerun["inputs"] == api.get(f"/api/runs/{run_id}/")["inputs"] and rerun["version"] == 1

    page.get_by_test_id("open-in-editor").click()
    page.wait_for_url(f"**/workflows/{demo}")


def test_the_runs_page_filters_and_follows_runs_live(
    page: Page, api: ApiClient, api_as: Any, demo: int
) -> None:
    earlier = start_run(api, demo, "A question about invoices")
    wait_for(lambda: api.get(f"/api/runs/{earlier}/")["status"] == "succeeded")
    page.goto(f"/runs?workflow={demo}")
    expect(page.get_by_test_id("runs-page")).to_have_attribute("data-live", "true")
    expect(page.get_by_test_id(f"run-row-{earlier}")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("runs-count")).to_have_text("1 run")

    # A new run appears at the top and follows its status without a reload.
    run_id = start_run(api, demo, "The site is down")
    row = page.get_by_test_id(f"run-row-{run_id}")
    expect(row).to_have_attribute("data-status", "waiting", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("[data-testid=runs-table] tbody tr").first).to_have_attribute(
        "data-testid", f"run-row-{run_id}"
    )
    expect(page.get_by_test_id("runs-count")).to_have_text("2 runs")

    page.get_by_test_id("filter-status").select_option("waiting")
    expect(page.get_by_test_id(f"run-row-{earlier}")).to_have_count(0)
    expect(row).to_be_visible()
    approval = pending_approval(api, run_id)
    api_as("bob").post(f"/api/approvals/{approval['id']}/decide/", {"decision": "approve"})
    # Finished, it no longer matches "waiting" and leaves the list live.
    expect(row).to_have_count(0, timeout=LIVE_TIMEOUT_MS)

    page.get_by_test_id("filter-status").select_option("")
    page.get_by_test_id("filter-source").select_option("webhook")
    expect(page.get_by_test_id("runs-count")).to_have_text("0 runs")
    page.get_by_test_id("filter-source").select_option("api")
    expect(page.get_by_test_id("runs-count")).to_have_text("2 runs")
    page.get_by_test_id(f"run-row-{run_id}").get_by_role("link", name=run_id[:8]).click()
    expect(page.get_by_test_id("run-view")).to_have_attribute("data-run-id", run_id)


def test_loop_passes_and_parallel_branches_drill_down(page: Page, api: ApiClient) -> None:
    document = json.loads((DEMO.parent / "2-document-review.json").read_text())
    workflow_id = publish(api, "Review", document["graph"])
    paragraphs = ["short one", "word " * 130, "another short paragraph"]
    run_id = str(
        api.post(
            f"/api/workflows/{workflow_id}/runs/", {"inputs": {"title": "Doc", "paragraphs": paragraphs}}
        )["id"]
    )
    page.goto(f"/runs/{run_id}")

    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "succeeded", timeout=LIVE_TIMEOUT_MS
    )
    expect(page.get_by_test_id("branches-reviews")).to_have_text("3/3 branches done")
    expect(page.get_by_test_id("arrivals-findings")).to_have_text("3/3 arrived")
    expect(page.get_by_test_id("passes-paragraph_lengths")).to_have_attribute("data-succeeded", "3")
    expect(page.get_by_test_id("passes-paragraph_lengths")).to_have_attribute("data-total", "3")
    # No pass picked: the body node sums up its passes.
    node_status(page, "measure").to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("node-measure")).to_contain_text("3 succeeded")
    # Clicking it shows its first pass.
    page.get_by_test_id("node-measure").click()
    expect(page.get_by_test_id("node-inspector")).to_have_attribute("data-scope", "paragraph_lengths[0]")
    expect(page.get_by_test_id("inspector-output")).to_contain_text('"words": 2')

    page.get_by_test_id("node-paragraph_lengths").locator(".fd-loop__header").click()
    passes = page.get_by_test_id("loop-passes-paragraph_lengths")
    expect(passes).to_contain_text("3 total")
    page.get_by_test_id("pass-paragraph_lengths-1").click()
    rows = page.get_by_test_id("pass-rows-paragraph_lengths")
    expect(rows).to_contain_text("measure")
    expect(rows).to_contain_text('"too_long":true')
    expect(page.get_by_test_id("passes-paragraph_lengths")).to_contain_text("showing pass 1")

    rows.get_by_role("button", name="measure").click()
    inspector = page.get_by_test_id("node-inspector")
    expect(inspector).to_have_attribute("data-scope", "paragraph_lengths[1]")
    expect(page.get_by_test_id("inspector-output")).to_contain_text('"words": 130')
    assert api.get(f"/api/runs/{run_id}/")["outputs"]["long_paragraphs"] == [1]


ADD_TO_GROUP = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
group, _ = Group.objects.get_or_create(name="{group}")
get_user_model().objects.get(username="{username}").groups.add(group)
"""


def test_a_viewer_watches_without_the_controls(
    login_as: Any, flowdeck_server: LiveServer, api: ApiClient, demo: int
) -> None:
    flowdeck_server.manage("shell", "-c", ADD_TO_GROUP.format(group="run-watchers", username="alice"))
    api.patch(f"/api/workflows/{demo}/", {"grants": [{"group": "run-watchers", "role": "viewer"}]})
    run_id = start_run(api, demo, "The site is down")
    alice = login_as("alice")

    alice.goto(f"/runs/{run_id}")

    node_status(alice, "escalate").to_have_attribute("data-status", "waiting", timeout=LIVE_TIMEOUT_MS)
    expect(alice.get_by_test_id("open-in-editor")).to_be_visible()
    expect(alice.get_by_test_id("run-cancel")).to_have_count(0)
    expect(alice.get_by_test_id("run-rerun")).to_have_count(0)
    api.post(f"/api/runs/{run_id}/cancel/")
    expect(alice.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "cancelled", timeout=LIVE_TIMEOUT_MS
    )


def test_without_sockets_the_page_follows_the_run_over_rest(
    page: Page, api: ApiClient, api_as: Any, demo: int
) -> None:
    page.add_init_script(SOCKET_SPY)
    page.add_init_script("window.__blockSockets = true;")
    run_id = start_run(api, demo, "The site is down")
    page.goto(f"/runs/{run_id}")

    node_status(page, "escalate").to_have_attribute("data-status", "waiting", timeout=LIVE_TIMEOUT_MS)
    approval = pending_approval(api, run_id)
    api_as("bob").post(f"/api/approvals/{approval['id']}/decide/", {"decision": "reject"})
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "succeeded", timeout=LIVE_TIMEOUT_MS
    )
    expect(page.get_by_test_id("run-live")).to_have_attribute("data-live", "false")
    node_status(page, "page_oncall").to_have_attribute("data-status", "skipped")
    assert shown_seqs(page) == stored_seqs(api, run_id)
    assert page.evaluate("() => window.__sockets.length") == 0
