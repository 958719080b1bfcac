"""Drive the pure scheduler the way the persistence layer does, with a scripted outside world.

A :class:`Simulation` owns one run's state and applies one scheduler operation at a time, exactly
like one transaction: start, a worker's result, a timer falling due, a human's decision, cancel,
pause, resume, retry. Dispatched attempts, waits and timers the scheduler asks for are recorded so
a test can complete them in any order it likes. Time only moves when the test moves it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from executions.engine.plan import Plan
from executions.engine.runstate import (
    Dispatch,
    Event,
    NodeKey,
    RunState,
    ScheduleTimer,
    StartWait,
    StopWork,
)
from executions.engine.scheduler import Scheduler
from executions.engine.states import NodeStatus, RunStatus

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class Simulation:
    def __init__(
        self,
        graph: dict[str, Any],
        inputs: dict[str, Any] | None = None,
        variables: dict[str, Any] | None = None,
        max_steps: int = 200,
    ) -> None:
        self.plan = Plan(graph)
        self.state = RunState(
            run_id="run-1", status=RunStatus.PENDING, inputs=inputs or {}, variables=variables or {}
        )
        self.now = EPOCH
        self.max_steps = max_steps
        self.events: list[Event] = []
        #: Dispatched attempts not yet finished, by node key: (attempt number, dispatch).
        self.dispatched: dict[NodeKey, Dispatch] = {}
        self.waiting: dict[NodeKey, StartWait] = {}
        self.timers: list[ScheduleTimer] = []
        self.stopped: list[StopWork] = []
        self.transactions = 0

    # --- one transaction -----------------------------------------------------------------

    def _transaction(self, operation: Callable[[Scheduler], Any]) -> Any:
        scheduler = Scheduler(self.plan, self.state, self.now, self.max_steps)
        result = operation(scheduler)
        self._collect(scheduler)
        more = result is True and operation is not None
        while more and self.state.status in (RunStatus.RUNNING, RunStatus.WAITING):
            scheduler = Scheduler(self.plan, self.state, self.now, self.max_steps)
            more = scheduler.advance()
            self._collect(scheduler)
        return result

    def _collect(self, scheduler: Scheduler) -> None:
        self.transactions += 1
        self.events.extend(scheduler.events)
        for effect in scheduler.effects:
            if isinstance(effect, Dispatch):
                self.dispatched[effect.key] = effect
            elif isinstance(effect, StartWait):
                self.waiting[effect.key] = effect
            elif isinstance(effect, ScheduleTimer):
                self.timers.append(effect)
            elif isinstance(effect, StopWork):
                self.stopped.append(effect)
                self.dispatched.pop(effect.key, None)
                self.waiting.pop(effect.key, None)
                self.timers = [timer for timer in self.timers if timer.key != effect.key]

    # --- operations ------------------------------------------------------------------------

    def start(self) -> Simulation:
        self._transaction(lambda scheduler: scheduler.start())
        return self

    def advance(self) -> Simulation:
        self._transaction(lambda scheduler: scheduler.advance())
        return self

    def claim(self, node_id: str, scope: str = "") -> int:
        """A worker claims the node's current attempt (queued → running)."""
        dispatch = self.dispatched[(node_id, scope)]
        assert self._transaction(lambda scheduler: scheduler.record_started(dispatch.key, dispatch.attempt))
        return dispatch.attempt

    def _claimed(self, node_id: str, scope: str) -> int:
        """The current attempt, claimed now unless a worker already holds it."""
        if self.state.nodes[(node_id, scope)].status == NodeStatus.QUEUED:
            return self.claim(node_id, scope)
        return self.dispatched[(node_id, scope)].attempt

    def complete(
        self, node_id: str, scope: str = "", output: Any = None, meta: dict[str, Any] | None = None
    ) -> None:
        """A worker claims the node's current attempt and succeeds with ``output``."""
        key = (node_id, scope)
        attempt = self._claimed(node_id, scope)
        del self.dispatched[key]
        self._transaction(
            lambda scheduler: scheduler.record_success(key, attempt, output, meta) and scheduler.advance()
        )

    def fail(
        self,
        node_id: str,
        scope: str = "",
        code: str = "boom",
        retryable: bool = False,
        retry_after_s: float | None = None,
        claim: bool = True,
    ) -> None:
        """The node's current attempt fails; with ``claim=False`` before any worker claimed it."""
        key = (node_id, scope)
        attempt = self._claimed(node_id, scope) if claim else self.dispatched[key].attempt
        del self.dispatched[key]
        error = {"code": code, "message": f"{node_id} failed", "retryable": retryable}
        self._transaction(
            lambda scheduler: (
                scheduler.record_failure(key, attempt, error, retry_after_s) and scheduler.advance()
            )
        )

    def late_result(self, key: NodeKey, attempt: int, output: Any) -> bool:
        """A result for an attempt that is no longer current: must change nothing."""
        return bool(self._transaction(lambda scheduler: scheduler.record_success(key, attempt, output)))

    def resolve(self, node_id: str, scope: str = "", output: Any = None, handle: str = "out") -> None:
        """What a waiting node waited for happened (a decision, an agent's result)."""
        key = (node_id, scope)
        self.waiting.pop(key)
        self._transaction(
            lambda scheduler: scheduler.resolve_wait(key, output, handle) and scheduler.advance()
        )

    def fail_wait(self, node_id: str, scope: str = "", code: str = "timed_out", message: str = "") -> None:
        """What a waiting node waited for can no longer happen (approval timeout with ``fail``, an
        agent task out of leases)."""
        key = (node_id, scope)
        self.waiting.pop(key)
        self._transaction(
            lambda scheduler: scheduler.fail_wait(key, code, message or code) and scheduler.advance()
        )

    def pass_time(self, seconds: float) -> None:
        """Move the clock and fire every timer that fell due, earliest first (delays and retries)."""
        self.now += timedelta(seconds=seconds)
        while True:
            due = sorted(
                [timer for timer in self.timers if timer.due_at <= self.now], key=lambda timer: timer.due_at
            )
            due_delays = sorted(
                [
                    wait
                    for wait in self.waiting.values()
                    if wait.reason == "timer" and wait.due_at and wait.due_at <= self.now
                ],
                key=lambda wait: wait.due_at or self.now,
            )
            if not due and not due_delays:
                return
            if due:
                timer = due[0]
                self.timers.remove(timer)
                spent = self._fire_retry(timer.key)
                if spent is False and self.state.status == RunStatus.PAUSED:
                    self.timers.append(timer)
                    return
            else:
                wait = due_delays[0]
                self.waiting.pop(wait.key)
                self._resolve_delay(wait.key)

    def _fire_retry(self, key: NodeKey) -> bool:
        return bool(self._transaction(lambda scheduler: scheduler.fire_retry(key) and scheduler.advance()))

    def _resolve_delay(self, key: NodeKey) -> None:
        node_input = self.state.nodes[key].input
        self._transaction(lambda scheduler: scheduler.resolve_wait(key, node_input) and scheduler.advance())

    def cancel(self, by: str = "tester") -> None:
        self._transaction(lambda scheduler: scheduler.cancel(by))

    def pause(self) -> None:
        self._transaction(lambda scheduler: scheduler.pause())

    def resume(self) -> None:
        """Like ``services.resume_run``: resume, then fire the retry timers that fell due meanwhile."""
        self._transaction(lambda scheduler: scheduler.resume())
        self.pass_time(0)

    def retry(self, *targets: NodeKey) -> None:
        def operation(scheduler: Scheduler) -> bool:
            chosen = list(targets) or scheduler.default_retry_targets()
            return scheduler.retry_from(chosen)

        self._transaction(operation)

    # --- reading ---------------------------------------------------------------------------

    def trace(self, include_run_status: bool = False) -> list[tuple[str, str | None, str]]:
        return [
            (event.type, event.node_id, event.scope)
            for event in self.events
            if include_run_status or event.type != "run.status"
        ]

    def run_statuses(self) -> list[str]:
        """Every status the run went through, in order (from its run.status events)."""
        return [str(event.data["status"]) for event in self.events if event.type == "run.status"]

    def statuses(self, scope: str | None = None) -> dict[str, str]:
        return {
            (node_id if scope is not None else f"{node_id}@{node_scope}" if node_scope else node_id): str(
                run.status
            )
            for (node_id, node_scope), run in sorted(self.state.nodes.items())
            if scope is None or node_scope == scope
        }

    def output(self, node_id: str, scope: str = "") -> Any:
        return self.state.nodes[(node_id, scope)].output

    def status(self, node_id: str, scope: str = "") -> NodeStatus:
        return self.state.nodes[(node_id, scope)].status

    @property
    def run_status(self) -> RunStatus:
        return self.state.status
