"""The run routes: who may start, read and control runs, and how bad requests are refused."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group

from executions import services
from executions.models import NodeAttempt, NodeRun, Run, RunEvent, Timer
from tests.executions.graphs import edge, graph, node
from workflows import services as workflow_services
from workflows.models import Workflow, WorkflowGrant

INPUT_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "times": {"type": "integer", "default": 2}},
    "required": ["name"],
}


def greeting_graph(delay_s: float = 60) -> dict[str, Any]:
    return graph(
        [
            node("start", "start", {"input_schema": INPUT_SCHEMA}),
            node("wait", "delay", {"seconds": delay_s}),
            node("end", "end", {"outputs": {"greeting": "{{ 'hi ' ~ inputs.name ~ ' ' ~ vars.tone }}"}}),
        ],
        [edge("start", "wait"), edge("wait", "end")],
        variables=[{"name": "tone", "type": "string", "default": "warmly"}],
    )


@pytest.fixture
def shared(users: dict[str, Any]) -> Workflow:
    workflow = workflow_services.create_workflow(owner=users["owner"], name="greet", graph=greeting_graph())
    for role in ("editor", "runner", "viewer"):
        WorkflowGrant.objects.create(workflow=workflow, group=Group.objects.get(name=f"{role}s"), role=role)
    workflow_services.publish_workflow(workflow, author=users["owner"])
    return workflow


def ledger() -> dict[str, list[Any]]:
    return {
        "runs": sorted(Run.objects.values_list("id", "status", "updated_at")),
        "node_runs": sorted(NodeRun.objects.values_list("id", "status")),
        "attempts": sorted(NodeAttempt.objects.values_list("id", "status")),
        "events": sorted(RunEvent.objects.values_list("run_id", "seq")),
        "timers": sorted(Timer.objects.values_list("id", "due_at")),
    }


def start(client: Any, workflow: Workflow, **body: Any) -> Any:
    return client.post(
        f"/api/workflows/{workflow.pk}/runs/", {"inputs": {"name": "Ada"}, **body}, format="json"
    )


def advanced(run_id: Any) -> Run:
    """What a worker would do with the run's advance message, done here for API-only tests."""
    services.advance(run_id)
    return Run.objects.get(pk=run_id)


@pytest.mark.parametrize(
    "role, expected", [("owner", 201), ("editor", 201), ("runner", 201), ("viewer", 403), ("stranger", 404)]
)
def test_starting_a_run_needs_the_runner_role(
    role: str, expected: int, users: dict[str, Any], shared: Workflow, api_client_for: Callable[[Any], Any]
) -> None:
    before = ledger()
    response = start(api_client_for(users[role]), shared)
    assert response.status_code == expected, response.content
    if expected != 201:
        assert ledger() == before
    else:
        body = response.json()
        assert body["status"] == "pending" and body["version"] == 1 and body["is_draft"] is False
        assert body["inputs"] == {"name": "Ada", "times": 2}
        assert body["created_by"] == role and body["source"] == "manual"


def test_anonymous_cannot_start_or_read(shared: Workflow, api_client_for: Callable[[Any], Any]) -> None:
    anonymous = api_client_for(None)
    assert start(anonymous, shared).status_code == 401
    assert anonymous.get("/api/runs/").status_code == 401


@pytest.mark.parametrize(
    "body, status, detail",
    [
        ({"inputs": {}}, 400, "The inputs do not match the start node's input_schema."),
        ({"inputs": {"name": 3}}, 400, "The inputs do not match the start node's input_schema."),
        ({"variables": {"mood": "x"}}, 400, "The variables do not match the workflow's declared variables."),
        ({"variables": {"tone": 5}}, 400, "The variables do not match the workflow's declared variables."),
        ({"version": 9}, 404, "Version 9 does not exist."),
    ],
)
def test_bad_start_requests_are_refused_and_change_nothing(
    body: dict[str, Any],
    status: int,
    detail: str,
    users: dict[str, Any],
    shared: Workflow,
    api_client_for: Any,
) -> None:
    before = ledger()
    response = start(api_client_for(users["runner"]), shared, **body)
    assert response.status_code == status
    assert response.json()["detail"] == detail
    assert ledger() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"wait_s": 61}, "wait_s"),
        ({"wait_s": 0}, "wait_s"),
        ({"draft": True, "version": 1}, "version"),
        ({"x": 1}, "x"),
    ],
)
def test_malformed_start_bodies_get_field_errors(
    body: dict[str, Any], field: str, users: dict[str, Any], shared: Workflow, api_client_for: Any
) -> None:
    before = ledger()
    response = start(api_client_for(users["owner"]), shared, **body)
    assert response.status_code == 400 and field in response.json()
    assert ledger() == before


def test_no_active_version_is_a_409(users: dict[str, Any], api_client_for: Any) -> None:
    workflow = workflow_services.create_workflow(
        owner=users["owner"], name="draft only", graph=greeting_graph()
    )
    response = start(api_client_for(users["owner"]), workflow)
    assert response.status_code == 409
    assert not Run.objects.exists()


def test_draft_runs_need_an_editor_and_a_valid_draft(
    users: dict[str, Any], shared: Workflow, api_client_for: Any
) -> None:
    assert start(api_client_for(users["runner"]), shared, draft=True).status_code == 403
    response = start(api_client_for(users["editor"]), shared, draft=True)
    assert (
        response.status_code == 201
        and response.json()["is_draft"] is True
        and response.json()["version"] is None
    )
    broken = greeting_graph()
    broken["edges"] = []
    workflow_services.save_draft(shared, changes={"graph": broken}, revision=shared.revision)
    before = ledger()
    refused = start(api_client_for(users["editor"]), shared, draft=True)
    assert refused.status_code == 400 and refused.json()["errors"]
    assert ledger() == before


def test_reading_runs_follows_the_workflow_role(
    users: dict[str, Any], shared: Workflow, api_client_for: Any
) -> None:
    run_id = start(api_client_for(users["owner"]), shared).json()["id"]
    for role in ("owner", "editor", "runner", "viewer"):
        client = api_client_for(users[role])
        assert client.get(f"/api/runs/{run_id}/").status_code == 200
        assert client.get(f"/api/runs/{run_id}/events/").status_code == 200
        assert [row["id"] for row in client.get("/api/runs/").json()["results"]] == [run_id]
    stranger = api_client_for(users["stranger"])
    assert stranger.get(f"/api/runs/{run_id}/").status_code == 404
    assert stranger.get(f"/api/runs/{run_id}/events/").status_code == 404
    assert stranger.get("/api/runs/").json()["count"] == 0
    assert stranger.get("/api/runs/not-a-uuid/").status_code == 404


@pytest.mark.parametrize("action", ["cancel", "pause", "resume", "retry"])
@pytest.mark.parametrize("role, expected", [("viewer", 403), ("stranger", 404)])
def test_controlling_a_run_needs_the_runner_role(
    action: str, role: str, expected: int, users: dict[str, Any], shared: Workflow, api_client_for: Any
) -> None:
    run_id = start(api_client_for(users["owner"]), shared).json()["id"]
    advanced(run_id)
    before = ledger()
    response = api_client_for(users[role]).post(f"/api/runs/{run_id}/{action}/", {}, format="json")
    assert response.status_code == expected
    assert ledger() == before


def test_pause_resume_cancel_and_illegal_moves(
    users: dict[str, Any], shared: Workflow, api_client_for: Any
) -> None:
    client = api_client_for(users["runner"])
    run_id = start(client, shared).json()["id"]
    assert advanced(run_id).status == "waiting"  # on its 60-second delay
    assert client.post(f"/api/runs/{run_id}/resume/").status_code == 409
    assert client.post(f"/api/runs/{run_id}/pause/").json()["status"] == "paused"
    before = ledger()
    assert client.post(f"/api/runs/{run_id}/pause/").status_code == 409
    assert client.post(f"/api/runs/{run_id}/retry/", {}, format="json").status_code == 409
    assert ledger() == before
    assert client.post(f"/api/runs/{run_id}/resume/").json()["status"] == "waiting"
    cancelled = client.post(f"/api/runs/{run_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert not Timer.objects.filter(run_id=run_id).exists()
    assert NodeRun.objects.get(run_id=run_id, node_id="wait").status == "cancelled"
    before = ledger()
    for action in ("cancel", "pause", "resume"):
        assert client.post(f"/api/runs/{run_id}/{action}/").status_code == 409
    assert ledger() == before
    types = list(RunEvent.objects.filter(run_id=run_id).order_by("seq").values_list("type", flat=True))
    assert types[-3:] == ["node.cancelled", "run.status", "run.cancelled"] or types[-3:] == [
        "run.status",
        "node.cancelled",
        "run.cancelled",
    ]


def test_events_page_after_a_seq(users: dict[str, Any], shared: Workflow, api_client_for: Any) -> None:
    client = api_client_for(users["viewer"])
    run_id = start(api_client_for(users["owner"]), shared).json()["id"]
    advanced(run_id)
    everything = client.get(f"/api/runs/{run_id}/events/").json()
    seqs = [event["seq"] for event in everything["events"]]
    assert seqs == list(range(1, len(seqs) + 1)) and everything["next_after"] == seqs[-1]
    page = client.get(f"/api/runs/{run_id}/events/?after=1&limit=2").json()
    assert [event["seq"] for event in page["events"]] == [2, 3] and page["next_after"] == 3
    assert set(page["events"][0]) == {"seq", "type", "node_id", "scope", "attempt", "ts", "data"}
    empty = client.get(f"/api/runs/{run_id}/events/?after=999").json()
    assert empty == {"events": [], "next_after": 999}
    for query in ("after=-1", "limit=0", "limit=5001", "after=x"):
        assert client.get(f"/api/runs/{run_id}/events/?{query}").status_code == 400


def test_run_list_filters(users: dict[str, Any], shared: Workflow, api_client_for: Any) -> None:
    client = api_client_for(users["owner"])
    first = start(client, shared).json()["id"]
    second = start(client, shared).json()["id"]
    services.cancel_run(second, by="owner")

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/runs/?{query}")
        assert response.status_code == 200, response.content
        return sorted(row["id"] for row in response.json()["results"])

    assert ids(f"workflow={shared.pk}") == sorted([first, second])
    assert ids("status=cancelled") == [second]
    assert ids("status=pending") == [first]
    assert ids("source=manual") == sorted([first, second]) and ids("source=webhook") == []
    assert ids("created_after=2000-01-01T00:00:00Z") == sorted([first, second])
    assert ids("created_before=2000-01-01T00:00:00Z") == []
    assert client.get("/api/runs/?status=nonsense").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_wait_s_answers_at_the_deadline_when_the_run_is_still_going(
    worker: Any, users: dict[str, Any], shared: Workflow, api_client_for: Any
) -> None:
    client = api_client_for(users["owner"])
    started = time.monotonic()
    body = start(client, shared, wait_s=0.5).json()
    assert 0.5 <= time.monotonic() - started < 5
    assert body["status"] == "waiting"
    detail = client.get(f"/api/runs/{body['id']}/").json()
    assert {row["node_id"]: row["status"] for row in detail["node_runs"]} == {
        "start": "succeeded",
        "wait": "waiting",
    }
    node = client.get(f"/api/runs/{body['id']}/node-runs/wait/").json()
    assert node["wait_reason"] == "timer" and node["attempts"] == []


def test_the_run_detail_shows_the_variables_it_started_with(
    users: dict[str, Any], shared: Workflow, api_client_for: Callable[[Any], Any]
) -> None:
    """So a re-run can start with the same ones (the list's summaries leave them out)."""
    client = api_client_for(users["runner"])
    overridden = start(client, shared, variables={"tone": "dryly"}).json()["id"]
    defaulted = start(client, shared).json()["id"]
    assert client.get(f"/api/runs/{overridden}/").json()["variables"] == {"tone": "dryly"}
    assert client.get(f"/api/runs/{defaulted}/").json()["variables"] == {"tone": "warmly"}
    assert "variables" not in client.get("/api/runs/").json()["results"][0]


@pytest.mark.parametrize(
    "query, expected",
    [
        # ISO 8601 allows offsets Postgres refuses: handed over in UTC instead.
        ("created_before=7354-09-05T08%3A23%3A44%2B23%3A40", 200),
        ("created_after=2026-01-01T00%3A00%3A00-23%3A59", 200),
        # A moment that does not exist in UTC.
        ("created_after=9999-12-31T23%3A59%3A59-05%3A00", 400),
        ("created_before=0001-01-01T00%3A00%3A00%2B05%3A00", 400),
        ("created_before=not-a-date", 400),
    ],
)
def test_date_filters_take_any_iso_offset_and_refuse_what_cannot_exist(
    query: str, expected: int, users: dict[str, Any], shared: Workflow, api_client_for: Callable[[Any], Any]
) -> None:
    response = api_client_for(users["owner"]).get(f"/api/runs/?{query}")
    assert response.status_code == expected, response.content
