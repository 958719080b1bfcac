"""The templates gallery: the API, and every template run to completion on a real worker (threads
in the embedded mode, celery processes in the services mode) — approvals decided by the test, the
agent task completed by a test agent over the protocol, the http call answered by a local server
that the egress allowlist opens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from agents.models import Agent, Provider
from executions.models import Approval, NodeRun
from integrations.models import EgressAllow
from ops import template_gallery
from tests.integrations.support import LocalServer, Reply, local_server
from triggers.models import Trigger
from workflows.models import Workflow

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED_SLUGS = [
    "support-triage",
    "content-pipeline",
    "batch-documents",
    "nightly-report",
    "webhook-enrichment",
    "external-agent-handoff",
]


@pytest.fixture
def maker(transactional_db: Any) -> Any:
    return get_user_model().objects.create_user("maker", "maker@example.com", "pw")


@pytest.fixture
def client(maker: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(maker)
    return api


def use(client: APIClient, slug: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/templates/{slug}/use/", body, format="json")
    assert response.status_code == 201, response.content
    result: dict[str, Any] = response.json()
    return result


def start(client: APIClient, workflow_id: int, inputs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = client.post(
        f"/api/workflows/{workflow_id}/runs/", {"inputs": inputs, "wait_s": 30, **extra}, format="json"
    )
    assert response.status_code == 201, response.content
    run: dict[str, Any] = response.json()
    return run


def wait_for_run(client: APIClient, run_id: str, status: str = "succeeded") -> dict[str, Any]:
    from ops import cli

    cli.wait_until(run_id, 30, lambda: cli.is_quiet(run_id) and cli.run_status(run_id) != "waiting")
    run: dict[str, Any] = client.get(f"/api/runs/{run_id}/").json()
    assert run["status"] == status, run
    return run


# --- The gallery and its API ---------------------------------------------------------------


def test_the_gallery_lists_six_documented_templates(client: APIClient) -> None:
    response = client.get("/api/templates/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 6
    assert [item["slug"] for item in body["results"]] == EXPECTED_SLUGS
    for item in body["results"]:
        assert len(item["documentation"]) > 200, item["slug"]
        assert item["agents"], item["slug"]
    triggers = {item["slug"]: item["trigger"] for item in body["results"]}
    assert triggers["nightly-report"] == {"kind": "schedule", "name": "Every night at 02:00 UTC"}
    assert triggers["webhook-enrichment"] == {"kind": "webhook", "name": "New lead"}
    assert APIClient().get("/api/templates/").status_code == 401


def test_every_template_uses_scripted_agents_only() -> None:
    for template in template_gallery.templates():
        graph = template.workflow["graph"]
        slugs = {node["config"]["agent"] for node in graph["nodes"] if node["type"] == "prompt"}
        assert slugs == {agent["slug"] for agent in template.agents}, template.slug
        assert template.workflow["format"] == "flowdeck.workflow"


def test_using_a_template_creates_a_published_workflow_owned_by_the_user(
    client: APIClient, maker: Any
) -> None:
    body = use(client, "support-triage", name="Our triage")

    workflow = Workflow.objects.get(pk=body["workflow"]["id"])
    assert (workflow.name, workflow.owner, body["workflow"]["active_version"]) == ("Our triage", maker, 1)
    assert body == {
        "workflow": {"id": workflow.pk, "name": "Our triage", "active_version": 1},
        "published": True,
        "trigger": None,
    }
    [approval] = [node for node in workflow.graph["nodes"] if node["type"] == "approval"]
    assert approval["config"]["assignees"] == {"users": ["maker"]}
    assert Provider.objects.get(name="Scripted: Support ticket triage with approval").kind == "scripted"
    assert set(Agent.objects.values_list("slug", flat=True)) == {"tpl-ticket-classifier", "tpl-reply-writer"}


def test_agents_are_created_once_and_reused(client: APIClient) -> None:
    use(client, "content-pipeline")
    use(client, "content-pipeline")
    assert Workflow.objects.filter(name="Content pipeline").count() == 2
    assert Agent.objects.filter(slug__in=["tpl-writer", "tpl-reviewer"]).count() == 2
    assert Provider.objects.filter(name__startswith="Scripted: Content").count() == 1


def test_a_template_trigger_is_created_disabled(client: APIClient) -> None:
    schedule = use(client, "nightly-report")["trigger"]
    assert schedule["kind"] == "schedule" and schedule["enabled"] is False
    assert schedule["config"]["cron"] == "0 2 * * *"
    assert "secret" not in schedule
    webhook = use(client, "webhook-enrichment")["trigger"]
    assert webhook["kind"] == "webhook" and webhook["enabled"] is False
    assert webhook["secret"] and webhook["url"].endswith("/")
    assert Trigger.objects.filter(enabled=True).count() == 0


def test_an_unknown_template_is_404_and_creates_nothing(client: APIClient) -> None:
    assert client.post("/api/templates/no-such/use/", {}, format="json").status_code == 404
    assert (
        client.post("/api/templates/support-triage/use/", {"colour": "red"}, format="json").status_code == 400
    )
    assert Workflow.objects.count() == 0


# --- Every template runs to completion ----------------------------------------------------------


def test_support_triage_escalates_after_an_approval_and_answers_the_rest(
    worker: Any, client: APIClient
) -> None:
    workflow_id = use(client, "support-triage")["workflow"]["id"]

    answered = start(client, workflow_id, {"ticket": "How do I change my invoice address?"})
    assert answered["status"] == "succeeded", answered
    assert answered["outputs"]["route"] == "reply"

    waiting = start(client, workflow_id, {"ticket": "Checkout is down!", "customer": "Acme"})
    assert waiting["status"] == "waiting", waiting
    approval = Approval.objects.get(run_id=waiting["id"])
    assert approval.title == "Escalate an outage for Acme?"
    decided = client.post(
        f"/api/approvals/{approval.pk}/decide/",
        {"decision": "approve", "comment": "paging", "data": {"severity": "sev1"}},
        format="json",
    )
    assert decided.status_code == 200, decided.content
    run = wait_for_run(client, waiting["id"])
    assert run["outputs"] == {"route": "escalated", "severity": "sev1", "by": "maker"}


def test_content_pipeline_joins_three_parallel_reviewers(worker: Any, client: APIClient) -> None:
    workflow_id = use(client, "content-pipeline")["workflow"]["id"]
    run = start(client, workflow_id, {"topic": "durability"})
    assert run["status"] == "succeeded", run
    assert run["outputs"]["approved"] is True
    assert run["outputs"]["reviewers"] == 3
    assert len(run["outputs"]["notes"]) == 3


def test_batch_documents_retries_each_item_once(worker: Any, client: APIClient) -> None:
    workflow_id = use(client, "batch-documents")["workflow"]["id"]
    documents = [{"name": f"doc-{index}.txt", "text": f"Text {index}."} for index in range(4)]
    run = start(client, workflow_id, {"documents": documents})
    run = wait_for_run(client, run["id"]) if run["status"] != "succeeded" else run
    assert [item["document"] for item in run["outputs"]["summaries"]] == [doc["name"] for doc in documents]
    assert run["outputs"]["count"] == 4
    passes = NodeRun.objects.filter(run_id=run["id"], node_id="summarise")
    assert sorted(passes.values_list("attempts_count", flat=True)) == [2, 2, 2, 2]


def test_nightly_report_runs_with_its_schedule_inputs(worker: Any, client: APIClient) -> None:
    body = use(client, "nightly-report")
    run = start(client, body["workflow"]["id"], body["trigger"]["config"]["inputs"])
    assert run["status"] == "succeeded", run
    assert run["outputs"]["report"].startswith("Nightly report:")
    assert run["outputs"]["backlog_change"] == 0


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as found:
        yield found


def test_webhook_enrichment_calls_the_allowlisted_api(
    worker: Any, client: APIClient, server: LocalServer
) -> None:
    EgressAllow.objects.create(host="127.0.0.1", note="the test's enrichment server")
    server.routes["/enrich"] = lambda request: Reply(
        200,
        {"Content-Type": "application/json"},
        json.dumps({"employees": 120, "industry": "software"}).encode(),
    )
    workflow_id = use(client, "webhook-enrichment")["workflow"]["id"]
    run = start(
        client,
        workflow_id,
        {"email": "ada@example.com", "company": "Engines"},
        variables={"enrich_url": server.url("/enrich")},
    )
    assert run["status"] == "succeeded", run
    assert run["outputs"] == {
        "email": "ada@example.com",
        "enrichment": {"employees": 120, "industry": "software"},
        "score": 82,
        "reason": "Large company in a target industry.",
    }
    [received] = server.received
    assert (received.method, json.loads(received.body)) == (
        "POST",
        {"email": "ada@example.com", "company": "Engines"},
    )


def test_external_agent_handoff_completes_over_the_protocol(worker: Any, client: APIClient) -> None:
    workflow_id = use(client, "external-agent-handoff")["workflow"]["id"]
    run = start(client, workflow_id, {"question": "Where were the outages?"})
    assert run["status"] == "waiting", run

    operator = get_user_model().objects.create_user("operator", "op@example.com", "pw", is_staff=True)
    registrar = APIClient()
    registrar.force_authenticate(operator)
    registered = registrar.post(
        "/api/external-agents/register/", {"name": "researcher", "capabilities": ["research"]}, format="json"
    )
    assert registered.status_code == 201, registered.content
    agent = APIClient()
    agent.credentials(HTTP_AUTHORIZATION=f"Bearer {registered.json()['token']}")
    task = agent.post("/api/agent-tasks/claim/", {"capabilities": ["research"], "wait_s": 5}, format="json")
    assert task.status_code == 200, task.content
    offered = task.json()
    assert offered["input"]["question"] == "Where were the outages?"
    assert offered["input"]["brief"].startswith("Look up last month's incident records")
    result = {"answer": "Frankfurt and Dublin", "sources": ["incidents/2026-11"]}
    completed = agent.post(
        f"/api/agent-tasks/{offered['task_id']}/complete/",
        {"lease_no": offered["lease_no"], "result": result},
        format="json",
    )
    assert completed.status_code == 200, completed.content
    finished = wait_for_run(client, run["id"])
    assert finished["outputs"] == {
        "question": "Where were the outages?",
        "answer": "Frankfurt and Dublin",
        "sources": ["incidents/2026-11"],
    }
