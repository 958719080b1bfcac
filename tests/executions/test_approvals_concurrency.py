"""Approvals under concurrency: simultaneous decisions, and several approvals pending at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from executions import notify
from executions.models import Approval, NodeAttempt, Run, RunEvent
from tests.executions.graphs import edge, graph, node
from tests.executions.test_approvals import people  # noqa: F401 (fixture)
from workflows import services as workflow_services


def published(owner: Any, graph_json: dict[str, Any]) -> Any:
    workflow = workflow_services.create_workflow(owner=owner, name="concurrent", graph=graph_json)
    workflow_services.publish_workflow(workflow, author=owner)
    return workflow


def start(owner: Any, workflow: Any, inputs: dict[str, Any] | None = None) -> str:
    client = APIClient()
    client.force_authenticate(owner)
    response = client.post(
        f"/api/workflows/{workflow.pk}/runs/", {"inputs": inputs or {}, "wait_s": 30}, format="json"
    )
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def settle(run_id: str) -> Run:
    notify.wait_until_settled(
        run_id, 30, lambda: Run.objects.get(pk=run_id).status in ("succeeded", "failed")
    )
    return Run.objects.get(pk=run_id)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_decisions_at_the_same_moment_resolve_once(worker: Any, people: dict[str, Any]) -> None:  # noqa: F811
    approval_node = node("gate", "approval", {"title": "Go?", "assignees": {"users": ["alice", "bob"]}})
    after = node("after", "noop", {"output": "{{ nodes.gate.output.decided_by }}"})
    workflow = published(
        people["owner"],
        graph(
            [
                node("start", "start"),
                approval_node,
                after,
                node("end", "end", {"outputs": {"by": "{{ nodes.after.output }}"}}),
            ],
            [edge("start", "gate"), edge("gate", "after", "approved"), edge("after", "end")],
        ),
    )
    run_id = start(people["owner"], workflow)
    approval = Approval.objects.get(run_id=run_id)
    barrier = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def decide(username: str) -> None:
        client = APIClient()
        client.force_authenticate(people[username])
        barrier.wait()
        statuses[username] = client.post(
            f"/api/approvals/{approval.pk}/decide/", {"decision": "approve"}, format="json"
        ).status_code
        connection.close()

    threads = [threading.Thread(target=decide, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses.values()) == [200, 409]
    winner = next(name for name, status in statuses.items() if status == 200)
    run = settle(run_id)
    assert run.status == "succeeded" and run.outputs == {"by": winner}
    assert NodeAttempt.objects.filter(run_id=run_id, node_run__node_id="after").count() == 1
    assert RunEvent.objects.filter(run_id=run_id, type="node.succeeded", node_id="gate").count() == 1
    assert approval.decisions.count() == 1


@pytest.mark.django_db(transaction=True)
def test_approvals_in_a_loop_pass_and_a_parallel_branch_all_wait(worker: Any, people: dict[str, Any]) -> None:  # noqa: F811
    """Two passes with an approval each, plus one in a parallel branch: three pending at once; the
    run finishes after the last decision, never before, never twice."""
    ask = {"assignees": {"users": ["alice"]}}
    workflow = published(
        people["owner"],
        graph(
            [
                node("start", "start"),
                node("fork", "parallel"),
                node(
                    "each",
                    "loop",
                    {"mode": "for_each", "items": "['a', 'b']", "max_iterations": 5, "concurrency": 2},
                ),
                node("per_item", "approval", {**ask, "title": "item {{ loop.item }}"}, parent="each"),
                node("side", "approval", {**ask, "title": "side"}),
                node("both", "join", {"mode": "all"}),
                node("end", "end", {"outputs": {"passes": "{{ nodes.each.output.count }}"}}),
            ],
            [
                edge("start", "fork"),
                edge("fork", "each"),
                edge("fork", "side"),
                edge("each", "both"),
                edge("side", "both", "approved"),
                edge("both", "end"),
            ],
        ),
    )
    run_id = start(people["owner"], workflow)
    pending = list(Approval.objects.filter(run_id=run_id).order_by("title"))
    assert [approval.title for approval in pending] == ["item a", "item b", "side"]
    assert all(approval.status == "pending" for approval in pending)
    alice = APIClient()
    alice.force_authenticate(people["alice"])
    for index, approval in enumerate(pending):
        assert (
            alice.post(
                f"/api/approvals/{approval.pk}/decide/", {"decision": "approve"}, format="json"
            ).status_code
            == 200
        )
        run = Run.objects.get(pk=run_id)
        if index < 2:
            assert run.status == "waiting", f"finished after {index + 1} decisions"
    run = settle(run_id)
    assert run.status == "succeeded" and run.outputs == {"passes": 2}
    assert RunEvent.objects.filter(run_id=run_id, type="run.succeeded").count() == 1
    assert RunEvent.objects.filter(run_id=run_id, type="node.succeeded", node_id="end").count() == 1
