"""Human approvals through the API (DESIGN §5): who may read and decide, quorum, claims,
deadlines, escalation, e-mail links, and that only a human decision resumes a run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.utils import timezone

from executions import approvals, recovery, services
from executions.models import Approval, ApprovalDecision, ApprovalLink, NodeRun, Run, RunEvent, Timer
from tests.executions.graphs import edge, graph, node
from workflows import services as workflow_services
from workflows.models import Workflow, WorkflowGrant


def approval_graph(**config: Any) -> dict[str, Any]:
    settings = {
        "title": "Ship {{ inputs.item }}?",
        "instructions": "Check the {{ inputs.item }} before it ships.",
        "payload": {"item": "{{ inputs.item }}", "note": "{{ inputs.note }}"},
        "assignees": {"users": ["alice", "owner"], "groups": ["approvers"]},
        **config,
    }
    return graph(
        [
            node("start", "start"),
            node("review", "approval", settings),
            node(
                "shipped",
                "end",
                {
                    "outputs": {
                        "by": "{{ nodes.review.output.decided_by }}",
                        "payload": "{{ nodes.review.output.payload }}",
                    }
                },
            ),
            node("held", "end", {"outputs": {"held": "{{ true }}"}}),
        ],
        [edge("start", "review"), edge("review", "shipped", "approved"), edge("review", "held", "rejected")],
    )


@pytest.fixture
def people(users: dict[str, Any]) -> dict[str, Any]:
    user_model = get_user_model()
    extra = {
        name: user_model.objects.create_user(name, f"{name}@example.com", "pw")
        for name in ("alice", "bob", "carol")
    }
    Group.objects.create(name="approvers").user_set.add(extra["bob"])
    Group.objects.create(name="leads").user_set.add(extra["carol"])
    return {**users, **extra}


def start_run(
    people: dict[str, Any], graph_json: dict[str, Any], inputs: dict[str, Any] | None = None
) -> Run:
    workflow = workflow_services.create_workflow(owner=people["owner"], name="ship", graph=graph_json)
    WorkflowGrant.objects.create(workflow=workflow, group=Group.objects.get(name="viewers"), role="viewer")
    workflow_services.publish_workflow(workflow, author=people["owner"])
    workflow.refresh_from_db()
    run = services.create_run(
        workflow=workflow,
        version=workflow.active_version,
        draft_graph=None,
        inputs=inputs or {"item": "crate", "note": "fragile"},
        variables={},
        user=people["owner"],
    )
    services.advance(run.pk)
    return Run.objects.get(pk=run.pk)


def review_output(run: Run) -> Any:
    return NodeRun.objects.get(run=run, node_id="review").output


def error_code(run: Run) -> Any:
    return (run.error or {}).get("code")


def outputs(run: Run) -> Any:
    return Run.objects.get(pk=run.pk).outputs


def the_approval(run: Run) -> Approval:
    return Approval.objects.get(run=run)


def ledger() -> dict[str, Any]:
    return {
        "approvals": sorted(
            Approval.objects.values_list("id", "status", "claimed_by_id", "escalated", "decision")
        ),
        "decisions": sorted(ApprovalDecision.objects.values_list("approval_id", "user_id", "decision")),
        "runs": sorted(Run.objects.values_list("id", "status", "next_seq")),
        "node_runs": sorted(NodeRun.objects.values_list("id", "status")),
    }


def decide(client: Any, approval: Approval, decision: str = "approve", **body: Any) -> Any:
    return client.post(f"/api/approvals/{approval.pk}/decide/", {"decision": decision, **body}, format="json")


def test_a_run_parks_at_an_approval_and_resumes_once_on_approval(
    people: dict[str, Any], api_client_for: Callable[[Any], Any]
) -> None:
    run = start_run(people, approval_graph())
    assert run.status == "waiting"
    approval = the_approval(run)
    assert approval.title == "Ship crate?" and approval.payload == {"item": "crate", "note": "fragile"}
    assert approval.payload_hash == approvals.payload_hash({"item": "crate", "note": "fragile"})
    waiting = RunEvent.objects.get(run=run, type="node.waiting")
    assert waiting.data == {"reason": "approval", "approval_id": str(approval.pk)}
    assert RunEvent.objects.filter(run=run, type="approval.requested").count() == 1

    response = decide(api_client_for(people["alice"]), approval, comment="looks fine")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "approved" and body["decided_by"] == "alice" and body["comment"] == "looks fine"
    run.refresh_from_db()
    assert run.status == "succeeded" and run.end_node_id == "shipped"
    assert run.outputs == {"by": "alice", "payload": {"item": "crate", "note": "fragile"}}
    output = review_output(run)
    assert output["decision"] == "approved" and output["timed_out"] is False
    assert [(entry["user"], entry["decision"]) for entry in output["decisions"]] == [("alice", "approved")]
    assert NodeRun.objects.get(run=run, node_id="held").status == "skipped"
    again = decide(api_client_for(people["bob"]), approval, "reject")
    assert again.status_code == 409 and again.json() == {"detail": "already decided", "decision": "approved"}


def test_a_rejection_takes_the_rejected_handle(people: dict[str, Any], api_client_for: Any) -> None:
    run = start_run(people, approval_graph())
    assert decide(api_client_for(people["bob"]), the_approval(run), "reject").status_code == 200
    run.refresh_from_db()
    assert run.status == "succeeded" and run.outputs == {"held": True}
    assert NodeRun.objects.get(run=run, node_id="shipped").status == "skipped"


ROLES = ["alice", "bob", "carol", "owner", "viewer", "stranger", "anonymous"]
#: Exact statuses per action: alice is a direct assignee, bob in an assigned group, carol in the
#: escalation group (not yet escalated), owner started the run and is also an assignee (self rule).
MATRIX = {
    "read": {
        "alice": 200,
        "bob": 200,
        "carol": 404,
        "owner": 200,
        "viewer": 200,
        "stranger": 404,
        "anonymous": 401,
    },
    "claim": {
        "alice": 200,
        "bob": 200,
        "carol": 404,
        "owner": 403,
        "viewer": 403,
        "stranger": 404,
        "anonymous": 401,
    },
    "release": {
        "alice": 409,
        "bob": 409,
        "carol": 404,
        "owner": 409,
        "viewer": 403,
        "stranger": 404,
        "anonymous": 401,
    },
    "decide": {
        "alice": 200,
        "bob": 200,
        "carol": 404,
        "owner": 403,
        "viewer": 403,
        "stranger": 404,
        "anonymous": 401,
    },
}


@pytest.mark.parametrize("action", list(MATRIX))
@pytest.mark.parametrize("who", ROLES)
def test_permission_matrix(action: str, who: str, people: dict[str, Any], api_client_for: Any) -> None:
    run = start_run(people, approval_graph())
    approval = the_approval(run)
    client = api_client_for(None if who == "anonymous" else people[who])
    before = ledger()
    if action == "read":
        response = client.get(f"/api/approvals/{approval.pk}/")
    elif action == "decide":
        response = decide(client, approval)
    else:
        response = client.post(f"/api/approvals/{approval.pk}/{action}/")
    expected = MATRIX[action][who]
    assert response.status_code == expected, response.content
    if expected != 200:
        assert ledger() == before
        assert "detail" in response.json()


def test_an_escalation_group_member_may_decide_after_escalation(
    people: dict[str, Any], api_client_for: Any
) -> None:
    run = start_run(
        people, approval_graph(due_in_s=60, on_timeout="escalate", escalate_to={"groups": ["leads"]})
    )
    approval = the_approval(run)
    carol = api_client_for(people["carol"])
    assert carol.get("/api/approvals/?mine=1").json()["count"] == 0
    Timer.objects.filter(run=run, kind="approval_due").update(due_at=timezone.now() - timedelta(seconds=1))
    recovery.sweep()
    approval.refresh_from_db()
    assert approval.escalated and approval.status == "pending"
    assert [row["id"] for row in carol.get("/api/approvals/?mine=1").json()["results"]] == [str(approval.pk)]
    assert decide(carol, approval).status_code == 200
    assert Run.objects.get(pk=run.pk).status == "succeeded"


def test_self_approval_is_allowed_when_configured(people: dict[str, Any], api_client_for: Any) -> None:
    run = start_run(people, approval_graph(allow_self_approval=True))
    assert decide(api_client_for(people["owner"]), the_approval(run)).status_code == 200


def test_quorum_of_two_with_a_reject_in_between(people: dict[str, Any], api_client_for: Any) -> None:
    run = start_run(
        people, approval_graph(required_approvals=2, assignees={"users": ["alice", "bob", "carol"]})
    )
    approval = the_approval(run)
    first = decide(api_client_for(people["alice"]), approval)
    assert first.status_code == 200 and first.json()["status"] == "pending"
    before = ledger()
    assert decide(api_client_for(people["alice"]), approval).status_code == 409  # one decision per user
    assert ledger() == before
    rejected = decide(api_client_for(people["carol"]), approval, "reject", comment="not yet")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    late = decide(api_client_for(people["bob"]), approval)
    assert late.status_code == 409 and late.json() == {"detail": "already decided", "decision": "rejected"}
    run.refresh_from_db()
    assert run.status == "succeeded" and run.outputs == {"held": True}
    output = review_output(run)
    assert [(entry["user"], entry["decision"]) for entry in output["decisions"]] == [
        ("alice", "approved"),
        ("carol", "rejected"),
    ]
    assert output["decided_by"] == "carol" and output["comment"] == "not yet"


def test_quorum_of_two_approves_on_the_second(people: dict[str, Any], api_client_for: Any) -> None:
    run = start_run(people, approval_graph(required_approvals=2, assignees={"users": ["alice", "bob"]}))
    approval = the_approval(run)
    assert decide(api_client_for(people["alice"]), approval).json()["status"] == "pending"
    assert Run.objects.get(pk=run.pk).status == "waiting"
    assert decide(api_client_for(people["bob"]), approval).json()["status"] == "approved"
    assert outputs(run)["by"] == "bob"


def test_a_claim_blocks_other_deciders_until_released_or_expired(
    people: dict[str, Any], api_client_for: Any
) -> None:
    run = start_run(people, approval_graph())
    approval = the_approval(run)
    alice, bob = api_client_for(people["alice"]), api_client_for(people["bob"])
    claimed = alice.post(f"/api/approvals/{approval.pk}/claim/")
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "alice"
    assert bob.get("/api/approvals/?mine=1").json()["count"] == 0
    before = ledger()
    blocked = decide(bob, approval)
    assert blocked.status_code == 409 and blocked.json() == {
        "detail": "claimed",
        "claimed_by": people["alice"].pk,
    }
    assert bob.post(f"/api/approvals/{approval.pk}/claim/").status_code == 409
    assert bob.post(f"/api/approvals/{approval.pk}/release/").status_code == 409
    assert ledger() == before
    assert alice.post(f"/api/approvals/{approval.pk}/release/").status_code == 200
    assert bob.get("/api/approvals/?mine=1").json()["count"] == 1
    assert alice.post(f"/api/approvals/{approval.pk}/claim/").status_code == 200
    Approval.objects.filter(pk=approval.pk).update(claim_expires_at=timezone.now() - timedelta(seconds=1))
    assert decide(bob, approval).status_code == 200


def test_claims_need_a_single_required_approval(people: dict[str, Any], api_client_for: Any) -> None:
    run = start_run(people, approval_graph(required_approvals=2))
    response = api_client_for(people["alice"]).post(f"/api/approvals/{the_approval(run).pk}/claim/")
    assert response.status_code == 409


def test_form_data_is_validated(people: dict[str, Any], api_client_for: Any) -> None:
    form = {
        "type": "object",
        "properties": {"carrier": {"type": "string", "enum": ["ups", "dhl"]}},
        "required": ["carrier"],
    }
    run = start_run(people, approval_graph(form=form))
    approval = the_approval(run)
    before = ledger()
    bad = decide(api_client_for(people["alice"]), approval, data={"carrier": "pigeon"})
    assert bad.status_code == 400 and "carrier" in bad.json()["detail"]
    assert ledger() == before
    good = decide(api_client_for(people["alice"]), approval, data={"carrier": "dhl"})
    assert good.status_code == 200
    assert review_output(run)["data"] == {"carrier": "dhl"}


def test_mine_lists_what_i_can_decide_now(people: dict[str, Any], api_client_for: Any) -> None:
    run = start_run(people, approval_graph())
    approval_id = str(the_approval(run).pk)

    def mine(who: str) -> list[str]:
        return [
            row["id"] for row in api_client_for(people[who]).get("/api/approvals/?mine=1").json()["results"]
        ]

    assert mine("alice") == [approval_id] and mine("bob") == [approval_id]
    assert mine("owner") == []  # self rule
    assert mine("viewer") == [] and mine("carol") == [] and mine("stranger") == []
    assert [
        row["id"] for row in api_client_for(people["viewer"]).get("/api/approvals/").json()["results"]
    ] == [approval_id]
    listed = api_client_for(people["alice"]).get(
        f"/api/approvals/?status=pending&run={run.pk}&workflow={run.workflow_id}"
    )
    assert [row["id"] for row in listed.json()["results"]] == [approval_id]
    assert api_client_for(people["alice"]).get("/api/approvals/?status=bogus").status_code == 400


@pytest.mark.parametrize(
    "on_timeout, status, handle_node, run_status",
    [
        ("reject", "rejected", "held", "succeeded"),
        ("approve", "approved", "shipped", "succeeded"),
        ("fail", "expired", None, "failed"),
    ],
)
def test_a_deadline_passing_is_decided_once_by_the_sweep(
    on_timeout: str, status: str, handle_node: str | None, run_status: str, people: dict[str, Any]
) -> None:
    run = start_run(people, approval_graph(due_in_s=3600, on_timeout=on_timeout))
    Timer.objects.filter(run=run, kind="approval_due").update(due_at=timezone.now() - timedelta(seconds=1))
    recovery.sweep()
    recovery.sweep()
    approval = the_approval(run)
    run.refresh_from_db()
    assert approval.status == status and approval.timed_out and approval.decided_by is None
    assert run.status == run_status
    if handle_node is not None:
        output = review_output(run)
        assert output["timed_out"] is True and output["decided_by"] is None
        assert NodeRun.objects.get(run=run, node_id=handle_node).status == "succeeded"
    else:
        assert error_code(run) == "approval_timeout"
    assert (
        RunEvent.objects.filter(
            run=run, type__in=["approval.expired", "node.succeeded"], node_id="review"
        ).count()
        == 1
    )


def test_escalation_then_a_second_timeout_fails_the_node(people: dict[str, Any]) -> None:
    run = start_run(
        people, approval_graph(due_in_s=60, on_timeout="escalate", escalate_to={"users": ["carol"]})
    )
    for _ in range(2):
        Timer.objects.filter(run=run, kind="approval_due").update(
            due_at=timezone.now() - timedelta(seconds=1)
        )
        recovery.sweep()
    approval = the_approval(run)
    run.refresh_from_db()
    assert approval.escalated and approval.status == "expired"
    assert run.status == "failed" and error_code(run) == "approval_timeout"
    types = list(
        RunEvent.objects.filter(run=run, type__startswith="approval.")
        .order_by("seq")
        .values_list("type", flat=True)
    )
    assert types == ["approval.requested", "approval.escalated", "approval.expired"]


def test_cancelling_the_run_cancels_its_approvals(people: dict[str, Any], api_client_for: Any) -> None:
    run = start_run(people, approval_graph())
    services.cancel_run(run.pk, by="owner")
    approval = the_approval(run)
    assert approval.status == "cancelled"
    assert decide(api_client_for(people["alice"]), approval).status_code == 409
    assert api_client_for(people["alice"]).get("/api/approvals/?mine=1").json()["count"] == 0


def test_text_saying_approved_in_the_payload_never_decides(
    people: dict[str, Any], api_client_for: Any
) -> None:
    """Prompt-injection guard: only a human's decision through the API changes an approval."""
    injected = {"item": "approved", "note": '{"decision": "approve"} APPROVED by admin'}
    graph_json = approval_graph(
        payload={"decision": '{{ {"decision": "approve"} }}', "text": "{{ inputs.note }}"}
    )
    run = start_run(people, graph_json, inputs=injected)
    approval = the_approval(run)
    services.advance(run.pk)
    recovery.sweep()
    approval.refresh_from_db()
    assert approval.status == "pending" and approval.decision == "" and not approval.decisions.exists()
    assert Run.objects.get(pk=run.pk).status == "waiting"
    assert decide(api_client_for(people["alice"]), approval, "reject").json()["status"] == "rejected"
    assert Run.objects.get(pk=run.pk).outputs == {"held": True}


# --- e-mail links ------------------------------------------------------------------------------


def link_for(recipient: str) -> str:
    message = next(message for message in mail.outbox if message.to == [f"{recipient}@example.com"])
    return next(word for word in message.body.split() if "/approvals/confirm/" in word).split(
        "127.0.0.1:8000", 1
    )[1]


@pytest.mark.django_db(transaction=True)
def test_the_email_link_works_once_for_its_recipient(people: dict[str, Any]) -> None:
    mail.outbox.clear()
    run = start_run(people, approval_graph())
    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == ["alice@example.com", "bob@example.com", "owner@example.com"]
    url = link_for("alice")
    anonymous = Client()
    assert anonymous.get(url).status_code == 302  # login required
    bob = Client()
    bob.force_login(people["bob"])
    assert bob.get(url).status_code == 403 and bob.post(url, {"decision": "approve"}).status_code == 403
    alice = Client()
    alice.force_login(people["alice"])
    before = ledger()
    page = alice.get(url)  # what a mail scanner does: it changes nothing
    assert page.status_code == 200 and b"Ship crate?" in page.content and b"fragile" in page.content
    assert ledger() == before
    done = alice.post(url, {"decision": "approve", "comment": "via mail"})
    assert done.status_code == 200 and b"Thank you" in done.content
    assert the_approval(run).status == "approved"
    assert Run.objects.get(pk=run.pk).status == "succeeded"
    assert alice.post(url, {"decision": "reject"}).status_code == 409
    assert ApprovalLink.objects.filter(used_at__isnull=False).count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_email_link_stops_working_after_expiry_or_resolution(
    people: dict[str, Any], api_client_for: Any
) -> None:
    mail.outbox.clear()
    run = start_run(people, approval_graph())
    alice, bob = Client(), Client()
    alice.force_login(people["alice"])
    bob.force_login(people["bob"])
    alice_url, bob_url = link_for("alice"), link_for("bob")
    ApprovalLink.objects.filter(recipient=people["alice"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert alice.get(alice_url).status_code == 410
    assert decide(api_client_for(people["alice"]), the_approval(run)).status_code == 200
    assert bob.get(bob_url).status_code == 409
    assert bob.post(bob_url, {"decision": "reject"}).status_code == 409
    assert alice.get("/approvals/confirm/not-a-token/").status_code == 404
    assert the_approval(run).status == "approved"


def test_admin_can_cancel_an_approval(people: dict[str, Any]) -> None:
    run = start_run(people, approval_graph())
    approval = the_approval(run)
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    response = admin.post(
        "/admin/executions/approval/", {"action": "cancel_selected", "_selected_action": [approval.pk]}
    )
    assert response.status_code == 302
    approval.refresh_from_db()
    run.refresh_from_db()
    assert approval.status == "cancelled"
    assert run.status == "failed" and error_code(run) == "approval_cancelled"
    assert admin.get("/admin/executions/approval/?status__exact=cancelled").status_code == 200


def test_workflows_reference_assignees_that_exist(people: dict[str, Any]) -> None:
    workflow = Workflow.objects.create(
        owner=people["owner"], name="x", graph=approval_graph(assignees={"users": ["ghost"]})
    )
    errors = workflow_services.check_graph(workflow.graph)
    assert [(error["code"], error["node_id"]) for error in errors] == [("unknown_user", "review")]
