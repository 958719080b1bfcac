"""The rules of human approvals (DESIGN §5), as pure functions over plain facts.

The persistence layer gathers the facts (who is asking, who is assigned, who already decided,
who holds the claim) and applies the verdicts; every rule lives here, once, so the API, the
e-mail confirm page and the admin all decide the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


APPROVAL_TRANSITIONS: dict[ApprovalStatus, frozenset[ApprovalStatus]] = {
    ApprovalStatus.PENDING: frozenset(
        {ApprovalStatus.APPROVED, ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED, ApprovalStatus.CANCELLED}
    ),
    ApprovalStatus.APPROVED: frozenset(),
    ApprovalStatus.REJECTED: frozenset(),
    ApprovalStatus.EXPIRED: frozenset(),
    ApprovalStatus.CANCELLED: frozenset(),
}


class IllegalApprovalTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"An approval cannot go from {current} to {target}.")


def check_approval_transition(current: ApprovalStatus, target: ApprovalStatus) -> None:
    if target not in APPROVAL_TRANSITIONS[current]:
        raise IllegalApprovalTransition(current, target)


APPROVE = "approve"
REJECT = "reject"


@dataclass(frozen=True)
class Facts:
    """What is known about one user and one approval when they try to act on it."""

    user_id: int
    #: The user is a direct assignee, or a member of an assigned (or, after escalation, an
    #: escalation) group.
    is_assignee: bool
    #: The user started the run (or owns the trigger that did): "self" in DESIGN §5.
    is_self: bool
    allow_self_approval: bool
    status: ApprovalStatus
    run_is_finished: bool
    already_decided: bool
    required_approvals: int
    claimed_by: int | None
    claim_is_live: bool


@dataclass(frozen=True)
class Refusal:
    """Why an action is refused, as the API answers it."""

    status: int
    detail: str
    #: Extra fields of the answer, e.g. {"decision": …} or {"claimed_by": …}.
    extra: tuple[tuple[str, object], ...] = ()


def may_decide(facts: Facts, resolved_decision: str | None) -> Refusal | None:
    """None if the user may decide now; otherwise why not (403 for who, 409 for when)."""
    if not facts.is_assignee:
        return Refusal(403, "You are not an assignee of this approval.")
    if facts.is_self and not facts.allow_self_approval:
        return Refusal(403, "You started this run, and this approval does not allow self-approval.")
    if facts.status != ApprovalStatus.PENDING:
        return Refusal(409, "already decided", (("decision", resolved_decision),))
    if facts.run_is_finished:
        return Refusal(409, "The run has already finished.")
    if facts.already_decided:
        return Refusal(409, "You have already decided on this approval.")
    if facts.claim_is_live and facts.claimed_by not in (None, facts.user_id):
        return Refusal(409, "claimed", (("claimed_by", facts.claimed_by),))
    return None


def may_claim(facts: Facts) -> Refusal | None:
    refusal = may_decide(facts, None)
    if refusal is not None:
        return refusal
    if facts.required_approvals != 1:
        return Refusal(409, "Claims are only possible when one approval is required.")
    return None


def may_release(facts: Facts) -> Refusal | None:
    if not facts.is_assignee:
        return Refusal(403, "You are not an assignee of this approval.")
    if facts.status != ApprovalStatus.PENDING:
        return Refusal(409, "The approval is no longer pending.")
    if not facts.claim_is_live or facts.claimed_by != facts.user_id:
        return Refusal(409, "You do not hold a claim on this approval.")
    return None


def outcome(required_approvals: int, decisions: Sequence[str]) -> ApprovalStatus:
    """The first reject resolves the approval as rejected; the n-th approve as approved."""
    if REJECT in decisions:
        return ApprovalStatus.REJECTED
    if sum(1 for decision in decisions if decision == APPROVE) >= required_approvals:
        return ApprovalStatus.APPROVED
    return ApprovalStatus.PENDING


def is_listed_as_mine(facts: Facts) -> bool:
    """DESIGN §5 `mine`: what the user can decide right now."""
    return may_decide(facts, None) is None


def names(values: Iterable[object]) -> list[str]:
    """Usernames or group names from a config list, keeping only non-empty strings, in order."""
    seen: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and value:
            seen.setdefault(value, None)
    return list(seen)
