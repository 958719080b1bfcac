"""The in-memory picture of one run that the scheduler reads and changes, and what it asks for.

The persistence layer loads a :class:`RunState` from its rows (with the run row locked), lets the
scheduler change it, then writes back the node runs it touched, the events it appended and the
effects it requested — all in the same transaction. Everything here is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .states import NodeStatus, RunStatus

#: (node id, scope) — a node run is unique per run, node and scope.
NodeKey = tuple[str, str]

TOP_SCOPE = ""


def pass_scope(parent_scope: str, loop_id: str, index: int) -> str:
    """The scope of pass ``index`` of ``loop_id``; nested passes are joined by ``/``."""
    own = f"{loop_id}[{index}]"
    return own if parent_scope == TOP_SCOPE else f"{parent_scope}/{own}"


def pass_scope_prefix(parent_scope: str, loop_id: str) -> str:
    """What every pass scope of ``loop_id`` (and everything nested in it) starts with."""
    return f"{loop_id}[" if parent_scope == TOP_SCOPE else f"{parent_scope}/{loop_id}["


def split_scope(scope: str) -> list[tuple[str, int]]:
    """``"outer[1]/inner[0]"`` → ``[("outer", 1), ("inner", 0)]``, outermost first."""
    if scope == TOP_SCOPE:
        return []
    parts = []
    for part in scope.split("/"):
        loop_id, _, rest = part.partition("[")
        parts.append((loop_id, int(rest.rstrip("]"))))
    return parts


def join_scope(parts: list[tuple[str, int]]) -> str:
    return "/".join(f"{loop_id}[{index}]" for loop_id, index in parts)


def parent_of_scope(scope: str) -> tuple[str, str, int]:
    """(parent scope, loop id, pass index) of a pass scope."""
    parts = split_scope(scope)
    loop_id, index = parts[-1]
    return join_scope(parts[:-1]), loop_id, index


@dataclass
class LoopProgress:
    """Bookkeeping of a running loop, stored with its node run."""

    mode: str
    items: list[Any] | None
    #: Number of passes when known up front (for_each, count); None for while.
    total: int | None
    next_index: int = 0
    active: list[int] = field(default_factory=list)
    results: dict[int, Any] = field(default_factory=dict)
    #: while loops stop when their condition turns false; the pass count is then final.
    finished: bool = False

    def item(self, index: int) -> Any:
        if self.mode == "for_each" and self.items is not None:
            return self.items[index]
        if self.mode == "count":
            return index
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "items": self.items,
            "total": self.total,
            "next_index": self.next_index,
            "active": list(self.active),
            "results": {str(index): value for index, value in self.results.items()},
            "finished": self.finished,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoopProgress:
        return cls(
            mode=data["mode"],
            items=data.get("items"),
            total=data.get("total"),
            next_index=data.get("next_index", 0),
            active=list(data.get("active", [])),
            results={int(index): value for index, value in data.get("results", {}).items()},
            finished=data.get("finished", False),
        )


@dataclass
class NodeRunState:
    node_id: str
    scope: str
    status: NodeStatus = NodeStatus.PENDING
    input: Any = None
    output: Any = None
    #: The handle the node took: its edges from this handle are taken, all others dead.
    handle: str | None = None
    error: dict[str, Any] | None = None
    #: Number of attempts made so far (the current attempt's number).
    attempts: int = 0
    #: seq of this node's node.succeeded event: the first end to succeed gives the run's outputs.
    succeeded_seq: int | None = None
    loop: LoopProgress | None = None
    #: What a waiting node waits for (reason, due_at, approval id, …).
    wait: dict[str, Any] | None = None
    #: Why a cancelled node was cancelled (run_cancelled, run_failed, join_cancel_remaining, …).
    cancel_reason: str | None = None

    @property
    def key(self) -> NodeKey:
        return (self.node_id, self.scope)


@dataclass
class RunState:
    run_id: str
    status: RunStatus
    inputs: dict[str, Any]
    variables: dict[str, Any]
    started_at: str | None = None
    outputs: Any = None
    error: dict[str, Any] | None = None
    end_node_id: str | None = None
    next_seq: int = 1
    nodes: dict[NodeKey, NodeRunState] = field(default_factory=dict)


# --- What the scheduler produces -------------------------------------------------------------


@dataclass
class Event:
    seq: int
    type: str
    node_id: str | None
    scope: str
    attempt: int | None
    data: dict[str, Any]


@dataclass(frozen=True)
class Dispatch:
    """Create attempt ``attempt`` of a dispatched node and send it to a worker after commit."""

    key: NodeKey
    node_type: str
    attempt: int
    input: Any
    rendered: dict[str, Any]
    timeout_s: float | None


@dataclass(frozen=True)
class StartWait:
    """A node that waits for a human, a timer or an external agent has started waiting."""

    key: NodeKey
    node_type: str
    reason: str
    input: Any
    rendered: dict[str, Any]
    #: The node.waiting event, which the persistence layer may enrich (e.g. with an approval id).
    event: Event
    due_at: datetime | None = None


@dataclass(frozen=True)
class ScheduleTimer:
    """A durable timer: `retry` re-dispatches a retrying node when due."""

    key: NodeKey
    kind: str
    due_at: datetime


@dataclass(frozen=True)
class StopWork:
    """Work started for a node that must stop: cancel its attempt, its wait and its timers."""

    key: NodeKey
    attempt: int | None
    reason: str


Effect = Dispatch | StartWait | ScheduleTimer | StopWork
