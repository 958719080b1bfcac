"""The external agent protocol through the API (DESIGN §6): registration and its permission,
agent tokens, heartbeats, claims (with long-poll), leases fenced by `lease_no`, results resuming
the run exactly once, the sweep re-offering expired leases up to `max_leases`, the node's overall
`timeout_s`, and cancellation. Every refusal is checked to have changed nothing."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from agents import external
from agents.models import AgentTask, ExternalAgent
from executions import recovery, services
from executions.models import NodeRun, Run, RunEvent, Timer
from tests.executions.graphs import edge, graph, node
from workflows import services as workflow_services

ClientFor = Callable[[Any], APIClient]


# ====================================================================================
# Helpers
# ====================================================================================


def agent_task_graph(node_fields: dict[str, Any] | None = None, **config: Any) -> dict[str, Any]:
    settings = {
        "capability": "ocr",
        "input": {"text": "{{ inputs.text }}", "n": "{{ inputs.n }}"},
        "lease_s": 60,
        "max_leases": 3,
        **config,
    }
    return graph(
        [
            node("start", "start"),
            node("work", "agent_task", settings, **(node_fields or {})),
            node("done", "end", {"outputs": {"result": "{{ nodes.work.output }}"}}),
        ],
        [edge("start", "work"), edge("work", "done")],
    )


def start_run(
    owner: Any,
    graph_json: dict[str, Any],
    text: str = "hello",
    n: int = 1,
    inputs: dict[str, Any] | None = None,
) -> Run:
    workflow = workflow_services.create_workflow(owner=owner, name=f"agent work {text}", graph=graph_json)
    workflow_services.publish_workflow(workflow, author=owner)
    workflow.refresh_from_db()
    run = services.create_run(
        workflow=workflow,
        version=workflow.active_version,
        draft_graph=None,
        inputs=inputs if inputs is not None else {"text": text, "n": n},
        variables={},
        user=owner,
    )
    services.advance(run.pk)
    return Run.objects.get(pk=run.pk)


def task_of(run: Run) -> AgentTask:
    return AgentTask.objects.get(run=run)


def as_agent(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def register(client: APIClient, name: str = "scanner", capabilities: tuple[str, ...] = ("ocr",)) -> APIClient:
    response = client.post(
        "/api/external-agents/register/", {"name": name, "capabilities": list(capabilities)}, format="json"
    )
    assert response.status_code == 201, response.content
    return as_agent(response.json()["token"])


def agent_id(client: APIClient) -> str:
    return str(client.post("/api/external-agents/heartbeat/").json()["id"])


def claim(client: APIClient, **body: Any) -> Any:
    return client.post("/api/agent-tasks/claim/", body, format="json")


def complete(client: APIClient, task_id: Any, lease_no: int, result: Any) -> Any:
    body = {"lease_no": lease_no, "result": result}
    return client.post(f"/api/agent-tasks/{task_id}/complete/", body, format="json")


def fail(client: APIClient, task_id: Any, lease_no: int, message: str, code: str | None = None) -> Any:
    error = {"message": message, **({"code": code} if code else {})}
    return client.post(
        f"/api/agent-tasks/{task_id}/fail/", {"lease_no": lease_no, "error": error}, format="json"
    )


def extend(client: APIClient, task_id: Any, lease_no: int, **body: Any) -> Any:
    return client.post(f"/api/agent-tasks/{task_id}/extend/", {"lease_no": lease_no, **body}, format="json")


def expire_lease(task: AgentTask) -> None:
    AgentTask.objects.filter(pk=task.pk).update(lease_expires_at=services.db_now() - timedelta(seconds=1))


def events(run: Run, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    return [
        (event.type, event.data)
        for event in RunEvent.objects.filter(run=run, type__startswith=prefix).order_by("seq")
    ]


def event_types(run: Run, prefix: str = "agent_task.") -> list[str]:
    return [event_type for event_type, _ in events(run, prefix)]


def ledger() -> dict[str, Any]:
    return {
        "tasks": sorted(
            AgentTask.objects.values_list(
                "id", "status", "lease_no", "leased_by_id", "lease_expires_at", "result", "error"
            )
        ),
        "runs": sorted(Run.objects.values_list("id", "status", "next_seq", "updated_at")),
        "node_runs": sorted(NodeRun.objects.values_list("id", "status", "output")),
        "events": RunEvent.objects.count(),
        "timers": sorted(Timer.objects.values_list("id", "due_at")),
        "agents": sorted(ExternalAgent.objects.values_list("id", "revoked_at")),
    }


@pytest.fixture
def people(users: dict[str, Any]) -> dict[str, Any]:
    user_model = get_user_model()
    ops = user_model.objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    registrar = user_model.objects.create_user("registrar", "registrar@example.com", "pw")
    robots = Group.objects.create(name="robot-keepers")
    robots.permissions.add(
        Permission.objects.get(codename="add_externalagent", content_type__app_label="agents")
    )
    registrar.groups.add(robots)
    return {**users, "ops": ops, "registrar": registrar}


@pytest.fixture
def scanner(people: dict[str, Any], api_client_for: ClientFor) -> APIClient:
    return register(api_client_for(people["registrar"]), "scanner")


@pytest.fixture
def rival(people: dict[str, Any], api_client_for: ClientFor) -> APIClient:
    return register(api_client_for(people["ops"]), "rival")


# ====================================================================================
# Registration, tokens, heartbeats, listing, revoking
# ====================================================================================


def test_registering_needs_staff_or_the_add_permission(
    people: dict[str, Any], api_client_for: ClientFor
) -> None:
    body = {"name": "scanner", "capabilities": ["ocr", "ocr", "translate"], "version": "1.2"}
    url = "/api/external-agents/register/"
    assert api_client_for(None).post(url, body, format="json").status_code == 401
    refused = api_client_for(people["owner"]).post(url, body, format="json")
    assert refused.status_code == 403 and "agents.add_externalagent" in refused.json()["detail"]
    assert ExternalAgent.objects.count() == 0

    for username in ("ops", "registrar"):
        response = api_client_for(people[username]).post(url, body, format="json")
        assert response.status_code == 201, response.content
        answer = response.json()
        assert set(answer) == {"id", "token", "name", "capabilities"}
        assert answer["token"].startswith("fda_") and answer["capabilities"] == ["ocr", "translate"]
        agent = ExternalAgent.objects.get(pk=answer["id"])
        assert agent.registered_by == people[username] and agent.version == "1.2"
        assert agent.token_hash == hashlib.sha256(answer["token"].encode()).hexdigest()


def test_registering_with_a_user_bearer_token_works(people: dict[str, Any]) -> None:
    _, raw = ApiToken.issue(people["registrar"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    scanner = register(client)
    assert scanner.post("/api/external-agents/heartbeat/").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"capabilities": ["ocr"]},
        {"name": "", "capabilities": ["ocr"]},
        {"name": "x" * 201, "capabilities": ["ocr"]},
        {"name": "scanner"},
        {"name": "scanner", "capabilities": []},
        {"name": "scanner", "capabilities": "ocr"},
        {"name": "scanner", "capabilities": ["x" * 201]},
        {"name": "scanner", "capabilities": [{"nested": 1}]},
        {"name": "scanner", "capabilities": ["ocr"], "surprise": True},
        ["not", "an", "object"],
    ],
)
def test_registration_refuses_bad_bodies_with_400(
    people: dict[str, Any], api_client_for: ClientFor, body: Any
) -> None:
    response = api_client_for(people["ops"]).post("/api/external-agents/register/", body, format="json")
    assert response.status_code == 400, response.content
    assert ExternalAgent.objects.count() == 0


def test_agent_routes_take_only_live_agent_tokens(
    people: dict[str, Any], api_client_for: ClientFor, scanner: APIClient
) -> None:
    _, user_token = ApiToken.issue(people["ops"])
    routes = ["/api/external-agents/heartbeat/", "/api/agent-tasks/claim/"]
    for credentials in [None, "Bearer fda_not-a-real-token", f"Bearer {user_token}", "Bearer ", "Basic abc"]:
        client = APIClient()
        if credentials:
            client.credentials(HTTP_AUTHORIZATION=credentials)
        for route in routes:
            response = client.post(route, {}, format="json")
            assert response.status_code == 401, (credentials, route, response.content)
            assert response["WWW-Authenticate"] == 'Bearer realm="agents"'
    # An agent token is not a user token.
    assert scanner.get("/api/workflows/").status_code == 401
    assert scanner.post("/api/agent-tasks/claim/", {}, format="json").status_code == 204

    scanner_id = agent_id(scanner)
    revoked = api_client_for(people["registrar"]).post(f"/api/external-agents/{scanner_id}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    for route in routes:
        response = scanner.post(route, {}, format="json")
        assert response.status_code == 401 and response.json() == {"detail": "This agent has been revoked."}


def test_an_agent_of_a_deactivated_user_is_refused(people: dict[str, Any], scanner: APIClient) -> None:
    get_user_model().objects.filter(pk=people["registrar"].pk).update(is_active=False)
    assert scanner.post("/api/external-agents/heartbeat/").status_code == 401


def test_heartbeats_keep_an_agent_alive(
    people: dict[str, Any], api_client_for: ClientFor, scanner: APIClient, settings: Any
) -> None:
    scanner_id = agent_id(scanner)
    ExternalAgent.objects.filter(pk=scanner_id).update(
        last_heartbeat_at=timezone.now() - timedelta(seconds=settings.EXTERNAL_AGENT_ALIVE_S + 1)
    )
    listing = api_client_for(people["registrar"]).get("/api/external-agents/").json()
    assert [(entry["id"], entry["is_alive"]) for entry in listing["results"]] == [(scanner_id, False)]

    before = timezone.now()
    response = scanner.post("/api/external-agents/heartbeat/")
    assert response.status_code == 200
    answer = response.json()
    assert answer["id"] == scanner_id and answer["alive"] is True and "server_time" in answer
    agent = ExternalAgent.objects.get(pk=scanner_id)
    assert agent.last_heartbeat_at is not None and agent.last_heartbeat_at >= before and agent.is_alive
    detail = api_client_for(people["registrar"]).get(f"/api/external-agents/{scanner_id}/").json()
    assert detail["is_alive"] is True and detail["registered_by"] == "registrar"


def test_agents_are_listed_for_staff_and_for_whoever_registered_them(
    people: dict[str, Any], api_client_for: ClientFor, scanner: APIClient, rival: APIClient
) -> None:
    def listed(username: str) -> list[str]:
        body = api_client_for(people[username]).get("/api/external-agents/").json()
        assert set(body) == {"count", "next", "previous", "results"}
        return sorted(entry["name"] for entry in body["results"])

    assert listed("ops") == ["rival", "scanner"]
    assert listed("registrar") == ["scanner"]
    assert listed("stranger") == []
    assert api_client_for(None).get("/api/external-agents/").status_code == 401
    rival_id = agent_id(rival)
    assert api_client_for(people["registrar"]).get(f"/api/external-agents/{rival_id}/").status_code == 404


def test_only_staff_and_the_registering_user_may_revoke(
    people: dict[str, Any], api_client_for: ClientFor, scanner: APIClient
) -> None:
    url = f"/api/external-agents/{agent_id(scanner)}/revoke/"
    before = ledger()
    assert api_client_for(people["stranger"]).post(url).status_code == 404
    assert api_client_for(people["owner"]).post(url).status_code == 404
    assert ledger() == before
    assert api_client_for(people["ops"]).post(url).status_code == 200
    again = api_client_for(people["registrar"]).post(url)
    assert again.status_code == 409 and again.json() == {"detail": "The agent is already revoked."}


# ====================================================================================
# Claims
# ====================================================================================


def test_a_claim_with_nothing_offered_answers_204(scanner: APIClient) -> None:
    response = claim(scanner, capabilities=["ocr"])
    assert response.status_code == 204 and response.content == b""


@pytest.mark.parametrize(
    "body",
    [
        {"wait_s": 31},
        {"wait_s": -1},
        {"wait_s": "soon"},
        {"capabilities": []},
        {"capabilities": "ocr"},
        {"capabilities": ["ocr"], "lease_s": 5},
    ],
)
def test_a_claim_refuses_bad_bodies_with_400(scanner: APIClient, body: dict[str, Any]) -> None:
    assert claim(scanner, **body).status_code == 400


def test_a_claim_for_a_capability_the_agent_did_not_register_is_refused(
    people: dict[str, Any], scanner: APIClient
) -> None:
    start_run(people["owner"], agent_task_graph(capability="translate"))
    before = ledger()
    response = claim(scanner, capabilities=["ocr", "translate"])
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The agent did not register these capabilities.",
        "unregistered": ["translate"],
    }
    assert ledger() == before


def test_a_claim_leases_the_oldest_open_task_of_the_agents_capabilities(
    people: dict[str, Any], scanner: APIClient
) -> None:
    first = start_run(people["owner"], agent_task_graph(lease_s=45), text="first")
    second = start_run(people["owner"], agent_task_graph(), text="second")
    start_run(people["owner"], agent_task_graph(capability="translate"), text="elsewhere")
    assert first.status == "waiting"
    waiting = RunEvent.objects.get(run=first, type="node.waiting")
    assert waiting.data == {"reason": "agent", "task_id": str(task_of(first).pk)}

    before = services.db_now()
    response = claim(scanner)  # default: every capability the agent registered
    assert response.status_code == 200, response.content
    lease = response.json()
    assert set(lease) == {"task_id", "capability", "lease_no", "lease_expires_at", "input"}
    task = task_of(first)
    assert lease["task_id"] == str(task.pk) and lease["lease_no"] == 1 and lease["capability"] == "ocr"
    assert lease["input"] == {"text": "first", "n": 1}
    assert task.status == "leased" and str(task.leased_by_id) == agent_id(scanner)
    assert task.lease_expires_at is not None
    assert before + timedelta(seconds=44) <= task.lease_expires_at <= before + timedelta(seconds=50)
    assert event_types(first) == ["agent_task.offered", "agent_task.claimed"]
    claimed = events(first, "agent_task.claimed")[0][1]
    assert claimed["lease_no"] == 1 and claimed["agent"] == "scanner"

    assert claim(scanner, capabilities=["ocr"]).json()["task_id"] == str(task_of(second).pk)
    assert claim(scanner).status_code == 204


def test_an_orphaned_task_is_cancelled_instead_of_blocking_the_tasks_behind_it(
    people: dict[str, Any], scanner: APIClient
) -> None:
    orphaned = start_run(people["owner"], agent_task_graph(), text="orphaned")
    behind = start_run(people["owner"], agent_task_graph(), text="behind")
    # Simulate a bug elsewhere: the node stopped waiting without cancelling its task.
    NodeRun.objects.filter(run=orphaned, node_id="work").update(status="cancelled")
    assert claim(scanner).status_code == 204
    assert task_of(orphaned).status == "cancelled"
    assert events(orphaned, "agent_task.cancelled")[0][1]["reason"] == "node_not_waiting"
    assert claim(scanner).json()["task_id"] == str(task_of(behind).pk)


# ====================================================================================
# Completing, failing, extending
# ====================================================================================


def test_completing_resumes_the_run_exactly_once(people: dict[str, Any], scanner: APIClient) -> None:
    run = start_run(people["owner"], agent_task_graph(), text="scan me")
    lease = claim(scanner).json()
    result = {"text": "SCAN ME", "pages": [1, 2]}

    response = complete(scanner, lease["task_id"], lease["lease_no"], result)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "task_id": lease["task_id"],
        "status": "completed",
        "lease_no": 1,
        "lease_expires_at": lease["lease_expires_at"],
    }
    run.refresh_from_db()
    assert run.status == "succeeded" and run.outputs == {"result": result}
    assert NodeRun.objects.get(run=run, node_id="work").output == result
    task = task_of(run)
    assert task.status == "completed" and task.result == result and task.finished_at is not None

    before = ledger()
    again = complete(scanner, lease["task_id"], lease["lease_no"], {"text": "twice"})
    assert again.status_code == 409
    assert again.json() == {"detail": "The task is already completed.", "status": "completed"}
    assert ledger() == before
    assert event_types(run) == ["agent_task.offered", "agent_task.claimed", "agent_task.completed"]
    assert RunEvent.objects.filter(run=run, type="node.succeeded", node_id="work").count() == 1
    assert RunEvent.objects.filter(run=run, type="run.succeeded").count() == 1


def test_failing_fails_the_node_with_the_agents_message(people: dict[str, Any], scanner: APIClient) -> None:
    run = start_run(people["owner"], agent_task_graph())
    lease = claim(scanner).json()
    response = fail(
        scanner, lease["task_id"], lease["lease_no"], "The scan is unreadable.", code="unreadable"
    )
    assert response.status_code == 200 and response.json()["status"] == "failed"
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error == {
        "code": "agent_failed",
        "message": "The scan is unreadable.",
        "retryable": False,
        "attempt": 1,
        "node_id": "work",
    }
    task = task_of(run)
    assert task.status == "failed"
    assert task.error == {
        "code": "unreadable",
        "message": "The scan is unreadable.",
        "agent_id": agent_id(scanner),
    }
    assert event_types(run) == ["agent_task.offered", "agent_task.claimed", "agent_task.failed"]
    assert complete(scanner, lease["task_id"], lease["lease_no"], {}).status_code == 409


def test_a_failure_takes_the_error_branch_when_the_node_says_so(
    people: dict[str, Any], scanner: APIClient
) -> None:
    run = start_run(people["owner"], agent_task_graph(node_fields={"on_error": "continue"}))
    lease = claim(scanner).json()
    assert fail(scanner, lease["task_id"], lease["lease_no"], "No pages.").status_code == 200
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert run.outputs == {
        "result": {
            "error": {"code": "agent_failed", "message": "No pages.", "retryable": False, "attempt": 1}
        }
    }


def test_extending_moves_the_expiry_by_the_database_clock(people: dict[str, Any], scanner: APIClient) -> None:
    run = start_run(people["owner"], agent_task_graph(lease_s=30))
    lease = claim(scanner).json()
    before = services.db_now()
    response = extend(scanner, lease["task_id"], lease["lease_no"], lease_s=600)
    assert response.status_code == 200, response.content
    expires_at = task_of(run).lease_expires_at
    assert expires_at is not None and before + timedelta(seconds=599) <= expires_at
    assert response.json()["lease_no"] == 1
    default = extend(scanner, lease["task_id"], lease["lease_no"])  # the task's lease_s again
    task = task_of(run)
    assert default.status_code == 200 and task.lease_expires_at is not None
    assert task.lease_expires_at <= services.db_now() + timedelta(seconds=31)
    assert event_types(run)[-2:] == ["agent_task.extended", "agent_task.extended"]


def test_stale_leases_and_other_agents_are_refused_without_side_effects(
    people: dict[str, Any], scanner: APIClient, rival: APIClient
) -> None:
    start_run(people["owner"], agent_task_graph())
    lease = claim(scanner).json()
    task_id = lease["task_id"]
    before = ledger()

    for response in (
        complete(rival, task_id, 1, {"stolen": True}),
        fail(rival, task_id, 1, "no"),
        extend(rival, task_id, 1),
    ):
        assert response.status_code == 403
        assert response.json() == {"detail": "This task is not leased to this agent."}
    for quoted, response in (
        (2, complete(scanner, task_id, 2, {})),
        (7, fail(scanner, task_id, 7, "no")),
        (2, extend(scanner, task_id, 2)),
    ):
        assert response.status_code == 409
        assert response.json() == {
            "detail": f"Lease {quoted} is not the current lease of this task.",
            "status": "leased",
        }
    assert ledger() == before


def test_a_result_over_1_mb_is_refused_with_413(people: dict[str, Any], scanner: APIClient) -> None:
    run = start_run(people["owner"], agent_task_graph())
    lease = claim(scanner).json()
    before = ledger()
    response = complete(scanner, lease["task_id"], 1, {"text": "x" * (1024 * 1024)})
    assert response.status_code == 413 and "at most 1048576" in response.json()["detail"]
    beyond_the_body_cap = complete(scanner, lease["task_id"], 1, "y" * (3 * 1024 * 1024))
    assert beyond_the_body_cap.status_code == 413
    assert ledger() == before
    assert complete(scanner, lease["task_id"], 1, {"text": "x" * 1000}).status_code == 200
    run.refresh_from_db()
    assert run.status == "succeeded"


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("complete", {"result": {}}),
        ("complete", {"lease_no": 1}),
        ("complete", {"lease_no": 0, "result": {}}),
        ("complete", {"lease_no": "one", "result": {}}),
        ("complete", {"lease_no": 2**40, "result": {}}),
        ("complete", {"lease_no": 1, "result": {}, "extra": 1}),
        ("fail", {"lease_no": 1}),
        ("fail", {"lease_no": 1, "error": "broken"}),
        ("fail", {"lease_no": 1, "error": {"code": "x"}}),
        ("fail", {"lease_no": 1, "error": {"message": "m", "code": "no spaces allowed"}}),
        ("fail", {"lease_no": 1, "error": {"message": "m", "extra": 1}}),
        ("extend", {"lease_no": 1, "lease_s": 0}),
        ("extend", {"lease_no": 1, "lease_s": 86_401}),
        ("extend", {}),
    ],
)
def test_lease_routes_refuse_bad_bodies_with_400(
    people: dict[str, Any], scanner: APIClient, route: str, body: dict[str, Any]
) -> None:
    start_run(people["owner"], agent_task_graph())
    lease = claim(scanner).json()
    before = ledger()
    response = scanner.post(f"/api/agent-tasks/{lease['task_id']}/{route}/", body, format="json")
    assert response.status_code == 400, response.content
    assert ledger() == before


@pytest.mark.parametrize("task_id", ["not-a-uuid", "6f1c3b9e-0000-4000-8000-000000000000"])
def test_an_unknown_task_is_404(scanner: APIClient, task_id: str) -> None:
    response = complete(scanner, task_id, 1, {})
    assert response.status_code == 404 and response.json() == {"detail": "No such task."}


# ====================================================================================
# Expired leases, the deadline, cancellation, revocation
# ====================================================================================


def test_an_expired_lease_is_offered_again_until_max_leases_then_the_node_fails(
    people: dict[str, Any], scanner: APIClient, rival: APIClient
) -> None:
    run = start_run(people["owner"], agent_task_graph(max_leases=2))
    first = claim(scanner).json()
    task = task_of(run)
    expire_lease(task)
    # Expired but not yet swept: a late result is refused all the same.
    late = complete(scanner, first["task_id"], 1, {"late": True})
    assert late.status_code == 409 and "expired" in late.json()["detail"]
    assert recovery.sweep()["agent_task_leases"] == 1
    task.refresh_from_db()
    assert (task.status, task.lease_no, task.leased_by_id, task.lease_expires_at) == ("open", 1, None, None)
    expired = events(run, "agent_task.lease_expired")[0][1]
    assert expired["lease_no"] == 1 and expired["reason"] == "lease_expired" and expired["offered_again"]
    assert complete(scanner, first["task_id"], 1, {}).json()["detail"] == (
        "Your lease ended; the task was offered again."
    )

    second = claim(rival).json()
    assert second["task_id"] == first["task_id"] and second["lease_no"] == 2
    stale = complete(scanner, first["task_id"], 1, {"late": True})
    assert stale.status_code == 409  # the former holder: 409, not 403
    assert stale.json()["detail"] == "Your lease ended; another agent holds the task now."

    expire_lease(task)
    recovery.sweep()
    task.refresh_from_db()
    run.refresh_from_db()
    message = "No agent finished the task in 2 leases (max_leases 2)."
    assert task.status == "failed" and task.error == {"code": "max_leases", "message": message}
    assert run.status == "failed"
    assert run.error == {
        "code": "max_leases",
        "message": message,
        "retryable": False,
        "attempt": 1,
        "node_id": "work",
    }
    assert event_types(run) == [
        "agent_task.offered",
        "agent_task.claimed",
        "agent_task.lease_expired",
        "agent_task.claimed",
        "agent_task.lease_expired",
        "agent_task.failed",
    ]
    assert complete(rival, first["task_id"], 2, {}).status_code == 409
    assert recovery.sweep()["agent_task_leases"] == 0


def test_the_nodes_timeout_s_is_the_overall_deadline(people: dict[str, Any], scanner: APIClient) -> None:
    run = start_run(people["owner"], agent_task_graph(node_fields={"timeout_s": 300}))
    timer = Timer.objects.get(run=run)
    assert timer.kind == external.AGENT_DEADLINE
    assert run.started_at is not None
    assert abs((timer.due_at - run.started_at).total_seconds() - 300) < 5
    waiting = RunEvent.objects.get(run=run, type="node.waiting").data
    assert waiting["due_at"] == timer.due_at.isoformat()
    lease = claim(scanner).json()
    extend(scanner, lease["task_id"], 1, lease_s=3600)  # a lease may outlast the deadline; the node may not

    Timer.objects.filter(pk=timer.pk).update(due_at=services.db_now() - timedelta(seconds=1))
    recovery.sweep()
    run.refresh_from_db()
    task = task_of(run)
    message = "No agent finished the task within the node's timeout_s (300 s)."
    assert run.status == "failed" and run.error is not None
    assert (run.error["code"], run.error["message"]) == ("agent_timeout", message)
    assert task.status == "failed" and task.error == {"code": "agent_timeout", "message": message}
    assert not Timer.objects.filter(run=run).exists()
    assert complete(scanner, lease["task_id"], 1, {}).status_code == 409


def test_a_result_in_time_removes_the_deadline(people: dict[str, Any], scanner: APIClient) -> None:
    run = start_run(people["owner"], agent_task_graph(node_fields={"timeout_s": 300}))
    lease = claim(scanner).json()
    assert complete(scanner, lease["task_id"], 1, "done").status_code == 200
    assert not Timer.objects.filter(run=run).exists()


def test_cancelling_the_run_cancels_its_tasks(people: dict[str, Any], scanner: APIClient) -> None:
    leased_run = start_run(people["owner"], agent_task_graph(), text="leased")
    open_run = start_run(people["owner"], agent_task_graph(), text="open")
    lease = claim(scanner).json()
    assert lease["task_id"] == str(task_of(leased_run).pk)

    services.cancel_run(leased_run.pk, by="owner")
    services.cancel_run(open_run.pk, by="owner")
    assert task_of(leased_run).status == "cancelled" and task_of(open_run).status == "cancelled"
    assert events(leased_run, "agent_task.cancelled")[0][1]["reason"] == "run_cancelled"
    response = extend(scanner, lease["task_id"], 1)
    assert response.status_code == 409 and response.json()["status"] == "cancelled"
    assert complete(scanner, lease["task_id"], 1, {}).status_code == 409
    assert claim(scanner).status_code == 204
    assert Run.objects.get(pk=leased_run.pk).status == "cancelled"


def test_revoking_an_agent_offers_its_leases_again(
    people: dict[str, Any], api_client_for: ClientFor, scanner: APIClient, rival: APIClient
) -> None:
    run = start_run(people["owner"], agent_task_graph())
    lease = claim(scanner).json()
    response = api_client_for(people["registrar"]).post(f"/api/external-agents/{agent_id(scanner)}/revoke/")
    assert response.status_code == 200
    assert task_of(run).status == "open"
    assert events(run, "agent_task.lease_expired")[0][1]["reason"] == "agent_revoked"
    again = claim(rival).json()
    assert again["task_id"] == lease["task_id"] and again["lease_no"] == 2


def test_each_loop_pass_offers_its_own_task_and_results_keep_pass_order(
    people: dict[str, Any], scanner: APIClient
) -> None:
    loop_graph = graph(
        [
            node("start", "start"),
            node(
                "pages",
                "loop",
                {"mode": "for_each", "items": "inputs.pages", "max_iterations": 10, "concurrency": 3},
            ),
            node(
                "scan",
                "agent_task",
                {"capability": "ocr", "input": {"page": "{{ loop.item }}"}},
                parent="pages",
            ),
            node("done", "end", {"outputs": {"scans": "{{ nodes.pages.output.results }}"}}),
        ],
        [edge("start", "pages"), edge("pages", "done")],
    )
    run = start_run(people["owner"], loop_graph, inputs={"pages": [1, 2, 3]})
    leases = [claim(scanner).json() for _ in range(3)]
    assert sorted(lease["input"]["page"] for lease in leases) == [1, 2, 3]
    assert claim(scanner).status_code == 204
    for lease in sorted(leases, key=lambda lease: -lease["input"]["page"]):
        response = complete(scanner, lease["task_id"], 1, {"scanned": lease["input"]["page"]})
        assert response.status_code == 200, response.content
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert run.outputs == {"scans": [{"scanned": 1}, {"scanned": 2}, {"scanned": 3}]}
    assert sorted(AgentTask.objects.values_list("node_run__scope", flat=True)) == [
        "pages[0]",
        "pages[1]",
        "pages[2]",
    ]


def test_retrying_a_failed_run_offers_a_new_task(people: dict[str, Any], scanner: APIClient) -> None:
    run = start_run(people["owner"], agent_task_graph())
    first = claim(scanner).json()
    assert fail(scanner, first["task_id"], 1, "Try again later.").status_code == 200
    services.retry_run(run.pk)
    second = claim(scanner).json()
    assert second["task_id"] != first["task_id"] and second["lease_no"] == 1
    assert complete(scanner, second["task_id"], 1, "second time lucky").status_code == 200
    run.refresh_from_db()
    assert run.status == "succeeded" and run.outputs == {"result": "second time lucky"}
    statuses = dict(AgentTask.objects.values_list("id", "status"))
    assert {str(key): value for key, value in statuses.items()} == {
        first["task_id"]: "failed",
        second["task_id"]: "completed",
    }


# ====================================================================================
# Long-poll and concurrency (several threads, so committed data: transactional tests)
# ====================================================================================


def in_thread(action: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``action`` in a thread with its own database connection, closed at the end."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = action()
        except BaseException as error:  # surfaced by the test's asserts
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


@pytest.fixture
def committed_people(transactional_db: Any) -> Iterator[dict[str, Any]]:
    user_model = get_user_model()
    yield {
        "owner": user_model.objects.create_user("owner", "owner@example.com", "pw"),
        "ops": user_model.objects.create_user("ops", "ops@example.com", "pw", is_staff=True),
    }


def test_a_long_poll_returns_as_soon_as_a_task_is_offered_holding_no_connection(
    committed_people: dict[str, Any], api_client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanner = register(api_client_for(committed_people["ops"]))
    connection_while_waiting: list[bool] = []
    original_wait = external.OfferListener.wait

    def observed_wait(self: external.OfferListener, timeout_s: float) -> bool:
        connection_while_waiting.append(connection.connection is not None)
        return original_wait(self, timeout_s)

    monkeypatch.setattr(external.OfferListener, "wait", observed_wait)
    # Safety polls far apart: only the offer's announcement can answer the claim quickly.
    monkeypatch.setattr(external, "POLL_FIRST_S", 20.0)
    monkeypatch.setattr(external, "POLL_MAX_S", 20.0)
    started = time.monotonic()
    thread, outcome = in_thread(lambda: claim(scanner, wait_s=25))
    while not connection_while_waiting and time.monotonic() - started < 10:
        time.sleep(0.02)
    run = start_run(committed_people["owner"], agent_task_graph(), text="wake up")
    thread.join(30)
    elapsed = time.monotonic() - started

    assert "error" not in outcome, outcome
    response = outcome["value"]
    assert response.status_code == 200, response.content
    assert response.json()["task_id"] == str(task_of(run).pk)
    assert elapsed < 10  # woken by the offer, not by a safety poll (20 s) or the deadline (25 s)
    assert connection_while_waiting and not any(connection_while_waiting)


def test_a_long_poll_answers_204_at_its_deadline(
    committed_people: dict[str, Any], api_client_for: ClientFor
) -> None:
    scanner = register(api_client_for(committed_people["ops"]))
    started = time.monotonic()
    response = claim(scanner, wait_s=0.6)
    assert response.status_code == 204
    assert 0.6 <= time.monotonic() - started < 5


def test_concurrent_claims_never_share_a_task(
    committed_people: dict[str, Any], api_client_for: ClientFor
) -> None:
    runs = [
        start_run(committed_people["owner"], agent_task_graph(), text=f"page {index}") for index in range(5)
    ]
    agents = [register(api_client_for(committed_people["ops"]), f"scanner-{index}") for index in range(7)]
    barrier = threading.Barrier(len(agents))

    def claim_together(client: APIClient) -> Callable[[], Any]:
        def action() -> Any:
            barrier.wait(10)
            return claim(client)

        return action

    threads = [in_thread(claim_together(client)) for client in agents]
    for thread, _ in threads:
        thread.join(30)
    responses = [outcome["value"] for _, outcome in threads]
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 5 + [204] * 2
    claimed = [response.json()["task_id"] for response in responses if response.status_code == 200]
    assert sorted(claimed) == sorted(str(task_of(run).pk) for run in runs)
    assert set(AgentTask.objects.values_list("status", "lease_no")) == {("leased", 1)}
    assert RunEvent.objects.filter(type="agent_task.claimed").count() == 5


def test_concurrent_completions_resume_the_run_once(
    committed_people: dict[str, Any], api_client_for: ClientFor
) -> None:
    scanner = register(api_client_for(committed_people["ops"]))
    run = start_run(committed_people["owner"], agent_task_graph())
    lease = claim(scanner).json()
    barrier = threading.Barrier(3)

    def complete_together(index: int) -> Callable[[], Any]:
        def action() -> Any:
            barrier.wait(10)
            return complete(scanner, lease["task_id"], 1, {"by": index})

        return action

    threads = [in_thread(complete_together(index)) for index in range(3)]
    for thread, _ in threads:
        thread.join(30)
    responses = [outcome["value"] for _, outcome in threads]
    assert sorted(response.status_code for response in responses) == [200, 409, 409]
    winner = next(index for index, response in enumerate(responses) if response.status_code == 200)
    run.refresh_from_db()
    assert run.status == "succeeded" and run.outputs == {"result": {"by": winner}}
    assert RunEvent.objects.filter(run=run, type="node.succeeded", node_id="work").count() == 1
    assert RunEvent.objects.filter(run=run, type="run.succeeded").count() == 1
