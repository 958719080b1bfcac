"""Side effects per node type: what a dispatched node does on a worker, and how a waiting node
starts, stops and wakes. The scheduler decides *when*; these modules do the *what*.

Two registries: dispatched types map to an :class:`AttemptHandler` (runs in a Celery task, outside
any transaction, and returns a result or raises :class:`NodeError`); waiting types map to a
:class:`WaitHandler` (runs inside the run's transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from executions.engine.runstate import StartWait
    from executions.models import NodeRun, Timer
    from executions.services import Claim, RunSession


class NodeError(Exception):
    """A node attempt failed; ``retryable`` follows DESIGN §3's classification."""

    def __init__(
        self, code: str, message: str, retryable: bool = False, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after_s = retry_after_s

    def as_error(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


@dataclass
class AttemptResult:
    output: Any
    #: usage, cost_usd, provider_kind, model, latency_ms — whatever the node type measures.
    meta: dict[str, Any] = field(default_factory=dict)


class AttemptHandler(Protocol):
    def execute(self, claim: Claim) -> AttemptResult: ...


class WaitHandler(Protocol):
    def start(self, session: RunSession, effect: StartWait) -> None: ...

    def stop(self, session: RunSession, row: NodeRun, reason: str) -> None: ...

    def timer_due(self, session: RunSession, timer: Timer) -> None: ...


_attempt_handlers: dict[str, AttemptHandler] = {}
_wait_handlers: dict[str, WaitHandler] = {}


def register_attempt_handler(node_type: str, handler: AttemptHandler) -> None:
    _attempt_handlers[node_type] = handler


def register_wait_handler(node_type: str, handler: WaitHandler) -> None:
    _wait_handlers[node_type] = handler


def attempt_handler(node_type: str) -> AttemptHandler | None:
    return _attempt_handlers.get(node_type)


def find_wait_handler(node_type: str) -> WaitHandler | None:
    return _wait_handlers.get(node_type)


def wait_handler(node_type: str) -> WaitHandler:
    try:
        return _wait_handlers[node_type]
    except KeyError:
        raise LookupError(f"No wait handler for node type {node_type!r}.") from None
