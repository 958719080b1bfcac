"""The three state machines of an execution — run, node run, attempt — each as one table.

Every status change anywhere goes through :func:`check_transition`, so an illegal move raises
instead of silently corrupting a run. Terminal states never change, with one declared exception:
``POST …/retry/`` moves a finished run back to ``running`` and resets the node runs it re-executes
to ``pending`` (their attempts, which are history, are never touched).
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class NodeStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class AttemptStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_RUN = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
TERMINAL_NODE = frozenset({NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.CANCELLED})
TERMINAL_ATTEMPT = frozenset({AttemptStatus.SUCCEEDED, AttemptStatus.FAILED, AttemptStatus.CANCELLED})
#: Node runs that keep a run alive: something is in flight or will be.
ACTIVE_NODE = frozenset({NodeStatus.QUEUED, NodeStatus.RUNNING, NodeStatus.WAITING, NodeStatus.RETRYING})

RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset(
        {RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}
    ),
    RunStatus.RUNNING: frozenset(
        {RunStatus.WAITING, RunStatus.PAUSED, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}
    ),
    RunStatus.WAITING: frozenset(
        {RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}
    ),
    RunStatus.PAUSED: frozenset({RunStatus.RUNNING, RunStatus.WAITING, RunStatus.CANCELLED}),
    # Only through POST …/retry/ (see module docstring).
    RunStatus.SUCCEEDED: frozenset({RunStatus.RUNNING}),
    RunStatus.FAILED: frozenset({RunStatus.RUNNING}),
    RunStatus.CANCELLED: frozenset({RunStatus.RUNNING}),
}

NODE_TRANSITIONS: dict[NodeStatus, frozenset[NodeStatus]] = {
    NodeStatus.PENDING: frozenset(
        {
            NodeStatus.QUEUED,
            NodeStatus.RUNNING,
            NodeStatus.WAITING,
            NodeStatus.SUCCEEDED,
            NodeStatus.FAILED,
            NodeStatus.SKIPPED,
            NodeStatus.CANCELLED,
        }
    ),
    # queued → failed | retrying: the attempt failed before a worker claimed it.
    NodeStatus.QUEUED: frozenset(
        {NodeStatus.RUNNING, NodeStatus.RETRYING, NodeStatus.FAILED, NodeStatus.CANCELLED}
    ),
    # running → queued: the lease expired and the same attempt is offered again.
    NodeStatus.RUNNING: frozenset(
        {
            NodeStatus.QUEUED,
            NodeStatus.RETRYING,
            NodeStatus.SUCCEEDED,
            NodeStatus.FAILED,
            NodeStatus.CANCELLED,
        }
    ),
    NodeStatus.WAITING: frozenset(
        {NodeStatus.QUEUED, NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.CANCELLED}
    ),
    NodeStatus.RETRYING: frozenset({NodeStatus.QUEUED, NodeStatus.CANCELLED}),
    # Reset by POST …/retry/ only (see module docstring).
    NodeStatus.SUCCEEDED: frozenset({NodeStatus.PENDING}),
    NodeStatus.FAILED: frozenset({NodeStatus.PENDING}),
    NodeStatus.SKIPPED: frozenset({NodeStatus.PENDING}),
    NodeStatus.CANCELLED: frozenset({NodeStatus.PENDING}),
}

ATTEMPT_TRANSITIONS: dict[AttemptStatus, frozenset[AttemptStatus]] = {
    AttemptStatus.QUEUED: frozenset({AttemptStatus.RUNNING, AttemptStatus.FAILED, AttemptStatus.CANCELLED}),
    # running → queued: the lease expired and the attempt is offered to another worker.
    AttemptStatus.RUNNING: frozenset(
        {AttemptStatus.QUEUED, AttemptStatus.SUCCEEDED, AttemptStatus.FAILED, AttemptStatus.CANCELLED}
    ),
    AttemptStatus.SUCCEEDED: frozenset(),
    AttemptStatus.FAILED: frozenset(),
    AttemptStatus.CANCELLED: frozenset(),
}


class IllegalTransition(Exception):
    """A status change its state machine does not allow; the API turns it into a 409."""

    def __init__(self, machine: str, current: str, target: str) -> None:
        super().__init__(f"A {machine} cannot go from {current} to {target}.")
        self.machine = machine
        self.current = current
        self.target = target


def check_run_transition(current: RunStatus, target: RunStatus) -> None:
    if target not in RUN_TRANSITIONS[current]:
        raise IllegalTransition("run", current, target)


def check_node_transition(current: NodeStatus, target: NodeStatus) -> None:
    if target not in NODE_TRANSITIONS[current]:
        raise IllegalTransition("node run", current, target)


def check_attempt_transition(current: AttemptStatus, target: AttemptStatus) -> None:
    if target not in ATTEMPT_TRANSITIONS[current]:
        raise IllegalTransition("attempt", current, target)
