"""Human approvals: access, decisions, claims, deadlines and e-mail links (DESIGN §5).

The rules are in `executions.engine.approvals`; this module gathers the facts, applies the verdicts
and writes the results. Every change goes through the run's locked transaction (run row first,
then the approval row), so two decisions at the same moment are serialised: exactly one resolves
the approval, and the run resumes once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from typing import Any

import jsonschema
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import signing
from django.core.mail import send_mail
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from workflows.access import visible_workflows

from . import outbox, publish
from .engine.approvals import (
    APPROVE,
    ApprovalStatus,
    Facts,
    Refusal,
    check_approval_transition,
    may_claim,
    may_decide,
    may_release,
    names,
    outcome,
)
from .engine.runstate import NodeKey, StartWait
from .engine.states import TERMINAL_RUN
from .models import Approval, ApprovalDecision, ApprovalLink, NodeRun, Timer, TimerKind
from .services import RunSession, locked_run

EMAIL_KIND = "approval_email"
LINK_LIFETIME = timedelta(days=7)
_link_signer = signing.Signer(salt="flowdeck.approval-link")


class ApprovalRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal

    def body(self) -> dict[str, Any]:
        return {"detail": self.refusal.detail, **dict(self.refusal.extra)}


def payload_hash(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# ====================================================================================
# Access
# ====================================================================================


def _assignee_q(user: Any, prefix: str = "") -> Q:
    group_ids = list(user.groups.values_list("pk", flat=True))
    return Q(**{f"{prefix}assigned_users": user}) | Q(**{f"{prefix}assigned_groups__in": group_ids})


def visible_approvals(user: Any, queryset: QuerySet[Approval] | None = None) -> QuerySet[Approval]:
    """Assignees read their approvals without a role; viewers of the workflow read all of them."""
    queryset = Approval.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    assigned = Approval.objects.filter(_assignee_q(user)).values("pk")
    return queryset.filter(Q(pk__in=assigned) | Q(workflow__in=visible_workflows(user).values("pk")))


def mine(user: Any, queryset: QuerySet[Approval]) -> QuerySet[Approval]:
    """DESIGN §5 `mine=1`: pending, assigned to me (directly or by group), unclaimed or claimed by
    me, not yet decided by me, and not mine to refuse under the self rule."""
    now = timezone.now()
    assigned = Approval.objects.filter(_assignee_q(user)).values("pk")
    return (
        queryset.filter(status=ApprovalStatus.PENDING, pk__in=assigned)
        .filter(Q(claimed_by__isnull=True) | Q(claimed_by=user) | Q(claim_expires_at__lte=now))
        .exclude(decisions__user=user)
        .exclude(Q(requested_by=user) & Q(allow_self_approval=False))
    )


def get_approval_for(user: Any, approval_id: Any) -> Approval:
    approval = (
        visible_approvals(user, Approval.objects.select_related("run", "workflow", "node_run"))
        .filter(pk=_uuid_or_404(approval_id))
        .first()
    )
    if approval is None:
        raise Http404("No such approval.")
    return approval


def _uuid_or_404(value: Any) -> Any:
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404("No such approval.") from None


def is_assignee(user: Any, approval: Approval) -> bool:
    if approval.assigned_users.filter(pk=user.pk).exists():
        return True
    return approval.assigned_groups.filter(pk__in=user.groups.values("pk")).exists()


def facts_for(user: Any, approval: Approval, run_status: str, now: Any) -> Facts:
    claim_is_live = approval.claimed_by_id is not None and (
        approval.claim_expires_at is None or approval.claim_expires_at > now
    )
    return Facts(
        user_id=user.pk,
        is_assignee=is_assignee(user, approval),
        is_self=approval.requested_by_id is not None and approval.requested_by_id == user.pk,
        allow_self_approval=approval.allow_self_approval,
        status=ApprovalStatus(approval.status),
        run_is_finished=run_status in TERMINAL_RUN,
        already_decided=approval.decisions.filter(user=user).exists(),
        required_approvals=approval.required_approvals,
        claimed_by=approval.claimed_by_id if claim_is_live else None,
        claim_is_live=claim_is_live,
    )


def publish_approval(approval_id: Any) -> None:
    """After commit: tell the assignees' inboxes (user.<id>, group.<id>) what changed."""
    from .api.approvals import ApprovalSerializer

    approval = (
        Approval.objects.select_related("workflow", "node_run", "claimed_by", "decided_by")
        .prefetch_related("assigned_users", "assigned_groups")
        .filter(pk=approval_id)
        .first()
    )
    if approval is None:
        return
    publish.approval_change(
        [user.pk for user in approval.assigned_users.all()],
        [group.pk for group in approval.assigned_groups.all()],
        dict(ApprovalSerializer(approval).data),
        removed=approval.status != ApprovalStatus.PENDING,
    )


def _announce(session: RunSession, approval_id: Any) -> None:
    session.after_commit(lambda: publish_approval(approval_id))


# ====================================================================================
# Starting, stopping and timing out (the approval node's wait handler)
# ====================================================================================


def _users_and_groups(spec: Any) -> tuple[QuerySet[Any], QuerySet[Group]]:
    spec = spec if isinstance(spec, dict) else {}
    users = get_user_model().objects.filter(username__in=names(spec.get("users") or []), is_active=True)
    groups = Group.objects.filter(name__in=names(spec.get("groups") or []))
    return users, groups


def _recipients(users: QuerySet[Any], groups: QuerySet[Group]) -> list[int]:
    members = get_user_model().objects.filter(
        Q(pk__in=users.values("pk")) | Q(groups__in=groups), is_active=True
    )
    return sorted(set(members.exclude(email="").values_list("pk", flat=True)))


def _key(approval: Approval) -> NodeKey:
    return (approval.node_run.node_id, approval.node_run.scope)


class ApprovalHandler:
    """The `approval` node: creates its Approval when it starts, and waits for the decision."""

    def start(self, session: RunSession, effect: StartWait) -> None:
        rendered = effect.rendered
        node = session.plan.node(effect.key[0])
        row = session.row(effect.key)
        payload = rendered.get("payload") or {}
        due_in_s = rendered.get("due_in_s")
        due_at = session.now + timedelta(seconds=due_in_s) if due_in_s else None
        escalate_to = rendered.get("escalate_to") or {}
        approval = Approval.objects.create(
            run=session.run,
            node_run=row,
            workflow_id=session.run.workflow_id,
            attempt=session.state.nodes[effect.key].attempts,
            title=str(rendered.get("title") or node.name)[:500],
            instructions=str(rendered.get("instructions") or ""),
            payload=payload,
            payload_hash=payload_hash(payload),
            form=rendered.get("form"),
            escalate_users=names(escalate_to.get("users") or []),
            escalate_groups=names(escalate_to.get("groups") or []),
            required_approvals=int(rendered.get("required_approvals") or 1),
            allow_self_approval=bool(rendered.get("allow_self_approval", False)),
            requested_by_id=session.run.created_by_id,
            due_in_s=due_in_s,
            due_at=due_at,
            on_timeout=rendered.get("on_timeout") or "reject",
        )
        users, groups = _users_and_groups(rendered.get("assignees"))
        approval.assigned_users.set(users)
        approval.assigned_groups.set(groups)
        if due_at is not None:
            session.add_timer(effect.key, TimerKind.APPROVAL_DUE, due_at)
        effect.event.data["approval_id"] = str(approval.pk)
        if due_at is not None:
            effect.event.data["due_at"] = due_at.isoformat()
        row.state = {**row.state, "wait": {**(row.state.get("wait") or {}), "approval_id": str(approval.pk)}}
        row.save(update_fields=["state"])
        session.emit(
            "approval.requested",
            effect.key,
            {
                "approval_id": str(approval.pk),
                "title": approval.title,
                "assignees": {
                    "users": sorted(users.values_list("username", flat=True)),
                    "groups": sorted(groups.values_list("name", flat=True)),
                },
                "required_approvals": approval.required_approvals,
                "due_at": due_at.isoformat() if due_at else None,
            },
            attempt=approval.attempt,
        )
        for user_id in _recipients(users, groups):
            outbox.enqueue(EMAIL_KIND, {"approval_id": str(approval.pk), "user_id": user_id})
        _announce(session, approval.pk)

    def stop(self, session: RunSession, row: NodeRun, reason: str) -> None:
        for approval in Approval.objects.select_for_update().filter(
            node_run=row, status=ApprovalStatus.PENDING
        ):
            check_approval_transition(ApprovalStatus.PENDING, ApprovalStatus.CANCELLED)
            approval.status = ApprovalStatus.CANCELLED
            approval.claimed_by = None
            approval.save(update_fields=["status", "claimed_by"])
            _announce(session, approval.pk)

    def timer_due(self, session: RunSession, timer: Timer) -> None:
        """The due time passed: `on_timeout` decides; `escalate` widens the assignees once."""
        approval = (
            Approval.objects.select_for_update()
            .select_related("node_run")
            .filter(node_run=timer.node_run, status=ApprovalStatus.PENDING)
            .order_by("-created_at")
            .first()
        )
        if approval is None:
            return
        key = _key(approval)
        action = approval.on_timeout
        if action in ("approve", "reject"):
            status = ApprovalStatus.APPROVED if action == "approve" else ApprovalStatus.REJECTED
            resolve(session, approval, status, decided_by=None, comment="", data=None, timed_out=True)
            return
        if action == "escalate" and not approval.escalated:
            users, groups = _users_and_groups(
                {"users": approval.escalate_users, "groups": approval.escalate_groups}
            )
            approval.assigned_users.add(*users)
            approval.assigned_groups.add(*groups)
            approval.escalated = True
            approval.due_at = session.now + timedelta(seconds=approval.due_in_s or 0)
            approval.claimed_by = None
            approval.save(update_fields=["escalated", "due_at", "claimed_by"])
            session.add_timer(key, TimerKind.APPROVAL_DUE, approval.due_at)
            session.emit(
                "approval.escalated",
                key,
                {
                    "approval_id": str(approval.pk),
                    "added": {
                        "users": sorted(users.values_list("username", flat=True)),
                        "groups": sorted(groups.values_list("name", flat=True)),
                    },
                    "due_at": approval.due_at.isoformat(),
                },
                attempt=approval.attempt,
            )
            for user_id in _recipients(users, groups):
                outbox.enqueue(EMAIL_KIND, {"approval_id": str(approval.pk), "user_id": user_id})
            _announce(session, approval.pk)
            return
        check_approval_transition(ApprovalStatus.PENDING, ApprovalStatus.EXPIRED)
        approval.status = ApprovalStatus.EXPIRED
        approval.timed_out = True
        approval.claimed_by = None
        approval.save(update_fields=["status", "timed_out", "claimed_by"])
        session.emit("approval.expired", key, {"approval_id": str(approval.pk)}, attempt=approval.attempt)
        _announce(session, approval.pk)
        why = "after escalation" if approval.escalated else "and on_timeout is fail"
        session.scheduler.fail_wait(key, "approval_timeout", f"Nobody decided by the due time {why}.")
        session.more_work = session.scheduler.advance()


# ====================================================================================
# Decisions and claims
# ====================================================================================


def node_output(approval: Approval) -> dict[str, Any]:
    """The approval node's output (DESIGN §3), built only from stored decisions: nothing an LLM or
    upstream node wrote can stand in for a human's decision."""
    decided = {ApprovalStatus.APPROVED: "approved", ApprovalStatus.REJECTED: "rejected"}.get(
        ApprovalStatus(approval.status), ""
    )
    return {
        "decision": decided,
        "decided_by": approval.decided_by.get_username() if approval.decided_by else None,
        "comment": approval.comment,
        "data": approval.data,
        "decided_at": approval.decided_at.isoformat() if approval.decided_at else None,
        "payload": approval.payload,
        "timed_out": approval.timed_out,
        "decisions": [
            {
                "user": decision.user.get_username(),
                "decision": "approved" if decision.decision == APPROVE else "rejected",
                "comment": decision.comment,
                "data": decision.data,
                "at": decision.at.isoformat(),
            }
            for decision in approval.decisions.select_related("user").order_by("at", "pk")
        ],
    }


def resolve(
    session: RunSession,
    approval: Approval,
    status: ApprovalStatus,
    *,
    decided_by: Any,
    comment: str,
    data: Any,
    timed_out: bool,
) -> None:
    check_approval_transition(ApprovalStatus(approval.status), status)
    approval.status = status
    approval.decision = APPROVE if status == ApprovalStatus.APPROVED else "reject"
    approval.decided_by = decided_by
    approval.decided_at = session.now
    approval.comment = comment
    approval.data = data
    approval.timed_out = timed_out
    approval.claimed_by = None
    approval.save()
    _announce(session, approval.pk)
    Timer.objects.filter(node_run_id=approval.node_run_id, kind=TimerKind.APPROVAL_DUE).delete()
    key = _key(approval)
    handle = "approved" if status == ApprovalStatus.APPROVED else "rejected"
    session.scheduler.resolve_wait(key, node_output(approval), handle)
    session.more_work = session.scheduler.advance()


def _locked(session: RunSession, approval_id: Any) -> Approval:
    return Approval.objects.select_for_update().select_related("node_run", "run").get(pk=approval_id)


def check_form_data(approval: Approval, data: Any) -> None:
    if approval.form is None:
        return
    errors = sorted(
        jsonschema.Draft202012Validator(approval.form).iter_errors(data if data is not None else {}),
        key=lambda error: list(map(str, error.absolute_path)),
    )
    if errors:
        details = "; ".join(
            f"/{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors[:20]
        )
        raise ApprovalRefused(Refusal(400, f"The form data does not match the approval's form: {details}"))


def decide(approval_id: Any, user: Any, decision: str, comment: str = "", data: Any = None) -> Approval:
    """Record one user's decision; resolve the approval on the n-th approve or the first reject.

    Raises ApprovalRefused (and changes nothing) when the user may not decide now.
    """
    run_id = Approval.objects.filter(pk=approval_id).values_list("run_id", flat=True).first()
    if run_id is None:
        raise Http404("No such approval.")
    with locked_run(run_id) as session:
        approval = _locked(session, approval_id)
        facts = facts_for(user, approval, session.run.status, session.now)
        refusal = may_decide(facts, _resolved_decision(approval))
        if refusal is not None:
            raise ApprovalRefused(refusal)
        check_form_data(approval, data)
        ApprovalDecision.objects.create(
            approval=approval, user=user, decision=decision, comment=comment, data=data
        )
        verdict = outcome(
            approval.required_approvals, list(approval.decisions.values_list("decision", flat=True))
        )
        session.emit(
            "approval.decided",
            _key(approval),
            {
                "approval_id": str(approval.pk),
                "decision": "approved" if decision == APPROVE else "rejected",
                "by": user.get_username(),
                "resolved": verdict != ApprovalStatus.PENDING,
            },
            attempt=approval.attempt,
        )
        if verdict != ApprovalStatus.PENDING:
            resolve(session, approval, verdict, decided_by=user, comment=comment, data=data, timed_out=False)
        else:
            if approval.claimed_by_id == user.pk:
                approval.claimed_by = None
                approval.save(update_fields=["claimed_by"])
            _announce(session, approval.pk)
    approval.refresh_from_db()
    return approval


def _resolved_decision(approval: Approval) -> str | None:
    return {ApprovalStatus.APPROVED: "approved", ApprovalStatus.REJECTED: "rejected"}.get(
        ApprovalStatus(approval.status),
        approval.status if approval.status != ApprovalStatus.PENDING else None,
    )


def claim(approval_id: Any, user: Any) -> Approval:
    run_id = Approval.objects.filter(pk=approval_id).values_list("run_id", flat=True).first()
    with locked_run(run_id) as session:
        approval = _locked(session, approval_id)
        refusal = may_claim(facts_for(user, approval, session.run.status, session.now))
        if refusal is not None:
            raise ApprovalRefused(refusal)
        approval.claimed_by = user
        approval.claim_expires_at = session.now + timedelta(seconds=settings.APPROVAL_CLAIM_TTL_S)
        approval.save(update_fields=["claimed_by", "claim_expires_at"])
        _announce(session, approval.pk)
        session.emit(
            "approval.claimed",
            _key(approval),
            {
                "approval_id": str(approval.pk),
                "by": user.get_username(),
                "expires_at": approval.claim_expires_at.isoformat(),
            },
            attempt=approval.attempt,
        )
    approval.refresh_from_db()
    return approval


def release(approval_id: Any, user: Any) -> Approval:
    run_id = Approval.objects.filter(pk=approval_id).values_list("run_id", flat=True).first()
    with locked_run(run_id) as session:
        approval = _locked(session, approval_id)
        refusal = may_release(facts_for(user, approval, session.run.status, session.now))
        if refusal is not None:
            raise ApprovalRefused(refusal)
        approval.claimed_by = None
        approval.claim_expires_at = None
        approval.save(update_fields=["claimed_by", "claim_expires_at"])
        _announce(session, approval.pk)
        session.emit(
            "approval.released",
            _key(approval),
            {"approval_id": str(approval.pk), "by": user.get_username()},
            attempt=approval.attempt,
        )
    approval.refresh_from_db()
    return approval


def cancel(approval_id: Any, by: str) -> bool:
    """Admin action: the approval is withdrawn and the waiting node fails (its on_error applies)."""
    run_id = Approval.objects.filter(pk=approval_id).values_list("run_id", flat=True).first()
    if run_id is None:
        return False
    with locked_run(run_id) as session:
        approval = _locked(session, approval_id)
        if approval.status != ApprovalStatus.PENDING:
            return False
        check_approval_transition(ApprovalStatus.PENDING, ApprovalStatus.CANCELLED)
        approval.status = ApprovalStatus.CANCELLED
        approval.claimed_by = None
        approval.save(update_fields=["status", "claimed_by"])
        _announce(session, approval.pk)
        Timer.objects.filter(node_run_id=approval.node_run_id, kind=TimerKind.APPROVAL_DUE).delete()
        session.scheduler.fail_wait(
            _key(approval), "approval_cancelled", f"The approval was cancelled by {by}."
        )
        session.more_work = session.scheduler.advance()
    return True


# ====================================================================================
# E-mail links
# ====================================================================================


class LinkRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_link(approval: Approval, recipient: Any) -> str:
    """A signed token bound to (approval, recipient), usable once, expiring at the due time or
    after 7 days, whichever comes first. Only its hash is stored."""
    raw = secrets.token_urlsafe(32)
    expires_at = timezone.now() + LINK_LIFETIME
    if approval.due_at is not None:
        expires_at = min(expires_at, approval.due_at)
    ApprovalLink.objects.create(
        approval=approval, recipient=recipient, token_hash=_token_hash(raw), expires_at=expires_at
    )
    return _link_signer.sign(raw)


def link_for(token: str, user: Any) -> ApprovalLink:
    """The link behind a token, if ``user`` may use it now; LinkRefused says why not."""
    try:
        raw = _link_signer.unsign(token)
    except signing.BadSignature:
        raise LinkRefused(404, "This link is not valid.") from None
    link = (
        ApprovalLink.objects.select_related("approval", "approval__run", "approval__workflow")
        .filter(token_hash=_token_hash(raw))
        .first()
    )
    if link is None:
        raise LinkRefused(404, "This link is not valid.")
    if link.recipient_id != user.pk:
        raise LinkRefused(403, "This link was sent to someone else.")
    if link.used_at is not None:
        raise LinkRefused(409, "This link has already been used.")
    approval = link.approval
    if approval.status != ApprovalStatus.PENDING or approval.run.status in TERMINAL_RUN:
        raise LinkRefused(409, "This approval has already been resolved.")
    if link.expires_at <= timezone.now():
        raise LinkRefused(410, "This link has expired.")
    return link


def decide_by_link(token: str, user: Any, decision: str, comment: str, data: Any) -> Approval:
    link = link_for(token, user)
    approval = decide(link.approval_id, user, decision, comment, data)
    # The decision committed; the link is spent even if marking it races with another use.
    ApprovalLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=timezone.now())
    return approval


def send_approval_email(payload: dict[str, Any]) -> None:
    """Outbox handler: e-mail one assignee a link to decide. Skips approvals no longer pending."""
    approval = Approval.objects.filter(pk=payload["approval_id"]).select_related("workflow").first()
    recipient = get_user_model().objects.filter(pk=payload["user_id"], is_active=True).first()
    if approval is None or recipient is None or not recipient.email:
        return
    if approval.status != ApprovalStatus.PENDING:
        return
    token = create_link(approval, recipient)
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("approval-confirm", args=[token])
    due = f"\nDue: {approval.due_at:%Y-%m-%d %H:%M} UTC" if approval.due_at else ""
    send_mail(
        subject=f"Approval needed: {approval.title}",
        message=(
            f"{approval.workflow.name} is waiting for your decision.\n\n{approval.title}\n\n"
            f"{approval.instructions}{due}\n\nReview and decide: {url}\n\n"
            "The link works once and only for you."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[recipient.email],
    )
