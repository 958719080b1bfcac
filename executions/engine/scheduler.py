"""The deterministic scheduler: given a graph and the state of a run, decide what happens next.

One :class:`Scheduler` is made per transaction. The persistence layer loads the run's state, calls
one operation (start, advance, record a result, cancel, …), and writes back what changed. The
scheduler executes control nodes inline (start, end, condition, switch, parallel, join,
transform, loop bookkeeping), asks for dispatched nodes to be sent to workers, and for waiting
nodes (delay, approval, agent task) to start waiting. It has no clock, no I/O and no randomness:
the caller passes ``now`` (the database clock), so the same state and inputs always give the same
result — which is what lets the tests replay any completion order.

The rules are DESIGN §3 "Execution semantics"; the comments name the rule a branch implements.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from workflows.graph import Edge, Node

from .expressions import ExpressionError, evaluate_expression, render_template
from .plan import Plan
from .runstate import (
    TOP_SCOPE,
    Dispatch,
    Effect,
    Event,
    LoopProgress,
    NodeKey,
    NodeRunState,
    RunState,
    ScheduleTimer,
    StartWait,
    StopWork,
    parent_of_scope,
    pass_scope,
    pass_scope_prefix,
    split_scope,
)
from .states import (
    ACTIVE_NODE,
    TERMINAL_NODE,
    TERMINAL_RUN,
    IllegalTransition,
    NodeStatus,
    RunStatus,
    check_node_transition,
    check_run_transition,
)

#: Inline steps (node executions and skips) one transaction may take before it commits and
#: hands the rest to a fresh `advance_run`, so a huge graph never holds the run lock for long.
MAX_INLINE_STEPS = 200
MAX_OUTPUT_BYTES = 1024 * 1024
PREVIEW_BYTES = 4096

#: Node types that start inline and then wait for something outside the run, and what for.
WAIT_REASONS = {"delay": "timer", "approval": "approval", "agent_task": "agent", "subworkflow": "subworkflow"}
#: Node types the scheduler executes itself, within its transaction.
INLINE_TYPES = frozenset({"start", "end", "condition", "switch", "parallel", "join", "transform", "loop"})

#: Cancellations that only happened because the run or a loop stopped: a retry re-runs them.
RESUMABLE_CANCELS = frozenset({"run_failed", "run_cancelled", "loop_failed"})

EDGE_RESOLVED = frozenset({NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.CANCELLED})


class NodeFailure(Exception):
    """A node cannot complete; carries the error value's fields (DESIGN §3 "Errors")."""

    def __init__(self, code: str, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


def error_value(code: str, message: str, retryable: bool, attempt: int | None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "retryable": retryable, "attempt": attempt}}


def retry_delay_s(
    run_id: str,
    node_id: str,
    scope: str,
    attempt: int,
    backoff_s: float,
    multiplier: float,
    max_backoff_s: float,
    retry_after_s: float | None = None,
) -> float:
    """Back-off before the attempt after ``attempt``: reproducible, because the jitter comes from a
    hash of (run, node, scope, attempt) instead of a random number generator."""
    base = min(backoff_s * multiplier ** (attempt - 1), max_backoff_s)
    digest = hashlib.sha256(f"{run_id}|{node_id}|{scope}|{attempt}".encode()).digest()
    jitter = int.from_bytes(digest[:8], "big") / 2**64
    delay = base * (1 + 0.2 * jitter)
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(retry_after_s, max_backoff_s))
    return delay


def output_preview(output: Any) -> tuple[Any, bool]:
    """The output itself when its JSON fits in 4 KB, else the start of its JSON text."""
    text = json.dumps(output, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) <= PREVIEW_BYTES:
        return output, False
    return text.encode()[:PREVIEW_BYTES].decode(errors="ignore"), True


def check_output_size(output: Any) -> None:
    try:
        size = len(json.dumps(output, ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError) as error:
        raise NodeFailure("non_json_value", f"The output is not JSON: {error}.") from None
    if size > MAX_OUTPUT_BYTES:
        raise NodeFailure("output_too_large", f"The output is {size} bytes; the limit is 1 MB.")


@dataclass(frozen=True)
class _Readiness:
    """What the incoming edges of a not-yet-started node say."""

    verdict: str  # "wait", "run", "skip" or "unsatisfiable"
    taken: tuple[Edge, ...] = ()
    unresolved: tuple[Edge, ...] = ()


class Scheduler:
    def __init__(self, plan: Plan, state: RunState, now: datetime, max_steps: int = MAX_INLINE_STEPS) -> None:
        self.plan = plan
        self.graph = plan.graph
        self.state = state
        self.now = now if now.tzinfo else now.replace(tzinfo=UTC)
        self.max_steps = max_steps
        self.steps = 0
        self.events: list[Event] = []
        self.effects: list[Effect] = []
        #: Node runs created or changed; the persistence layer writes exactly these back.
        self.touched: set[NodeKey] = set()
        self.run_touched = False

    # ================================================================================
    # Operations (each is one transaction's worth of change)
    # ================================================================================

    def start(self) -> bool:
        """pending → running; executes inline nodes from `start`. Returns whether work remains."""
        self.state.started_at = self.now.isoformat()
        self._set_run_status(RunStatus.RUNNING)
        return self.advance()

    def advance(self) -> bool:
        """Run every ready node (up to the step budget) and settle the run's status.

        Returns True when ready work remains because the step budget ran out: the caller commits
        and enqueues another advance.
        """
        if self.state.status not in (RunStatus.RUNNING, RunStatus.WAITING):
            return False
        worklist: deque[str] = deque([TOP_SCOPE])
        queued = {TOP_SCOPE}
        while worklist and self._run_is_live():
            scope = worklist.popleft()
            queued.discard(scope)
            for follow_up in self._sweep_scope(scope):
                if follow_up not in queued:
                    queued.add(follow_up)
                    worklist.append(follow_up)
            if self.steps >= self.max_steps:
                return True
        self._settle_run()
        return False

    def record_started(self, key: NodeKey, attempt: int) -> bool:
        """A worker claimed the attempt. False (and no change) if the node is not waiting for it."""
        node_run = self.state.nodes.get(key)
        if node_run is None or node_run.status != NodeStatus.QUEUED or node_run.attempts != attempt:
            return False
        self._set_node_status(node_run, NodeStatus.RUNNING)
        self._event("node.started", node_run, {}, attempt=attempt)
        return True

    def record_requeued(self, key: NodeKey, attempt: int, reason: str) -> bool:
        """The attempt's lease expired: the same attempt is offered to a worker again."""
        node_run = self.state.nodes.get(key)
        if node_run is None or node_run.status != NodeStatus.RUNNING or node_run.attempts != attempt:
            return False
        self._set_node_status(node_run, NodeStatus.QUEUED)
        self._event("node.queued", node_run, {"reason": reason}, attempt=attempt)
        return True

    def record_success(
        self, key: NodeKey, attempt: int, output: Any, meta: dict[str, Any] | None = None
    ) -> bool:
        """A dispatched attempt finished. Late or duplicate results (not the current attempt, or a
        node no longer running) change nothing and return False."""
        node_run = self.state.nodes.get(key)
        if node_run is None or node_run.status != NodeStatus.RUNNING or node_run.attempts != attempt:
            return False
        node = self.graph.nodes[key[0]]
        try:
            check_output_size(output)
        except NodeFailure as failure:
            self._fail(node, node_run, failure.code, failure.message, attempt=attempt)
        else:
            self._succeed(node_run, output, "out", meta or {})
        return True

    def record_failure(
        self, key: NodeKey, attempt: int, error: dict[str, Any], retry_after_s: float | None = None
    ) -> bool:
        """A dispatched attempt failed: retry it when the error is retryable and attempts remain."""
        node_run = self.state.nodes.get(key)
        if node_run is None or node_run.status not in (NodeStatus.RUNNING, NodeStatus.QUEUED):
            return False
        if node_run.attempts != attempt:
            return False
        node = self.graph.nodes[key[0]]
        code = str(error.get("code") or "error")
        message = str(error.get("message") or code)
        retryable = bool(error.get("retryable"))
        max_attempts = node.retry.max_attempts if node.retry is not None else 1
        if retryable and attempt < max_attempts and node.retry is not None:
            delay = retry_delay_s(
                self.state.run_id,
                node.id,
                node_run.scope,
                attempt,
                node.retry.backoff_s,
                node.retry.multiplier,
                node.retry.max_backoff_s,
                retry_after_s,
            )
            retry_at = self.now + timedelta(seconds=delay)
            self._set_node_status(node_run, NodeStatus.RETRYING)
            node_run.error = error_value(code, message, retryable, attempt)["error"]
            self._event(
                "node.retrying",
                node_run,
                {"error": node_run.error, "retry_at": retry_at.isoformat()},
                attempt=attempt,
            )
            self.effects.append(ScheduleTimer(node_run.key, "retry", retry_at))
        else:
            self._fail(node, node_run, code, message, retryable=retryable, attempt=attempt)
        return True

    def fire_retry(self, key: NodeKey) -> bool:
        """A retry timer fell due: queue the next attempt (not while paused: it waits for resume)."""
        node_run = self.state.nodes.get(key)
        if node_run is None or node_run.status != NodeStatus.RETRYING:
            return True  # nothing to retry any more: the timer is spent
        if self.state.status == RunStatus.PAUSED:
            return False
        node = self.graph.nodes[key[0]]
        self._dispatch(node, node_run)
        return True

    def resolve_wait(self, key: NodeKey, output: Any, handle: str = "out") -> bool:
        """What a waiting node waited for happened (timer due, approval decided, agent done)."""
        node_run = self.state.nodes.get(key)
        if node_run is None or node_run.status != NodeStatus.WAITING:
            return False
        node = self.graph.nodes[key[0]]
        try:
            check_output_size(output)
        except NodeFailure as failure:
            self._fail(node, node_run, failure.code, failure.message, attempt=node_run.attempts)
            return True
        self._succeed(node_run, output, handle, {})
        return True

    def fail_wait(self, key: NodeKey, code: str, message: str) -> bool:
        node_run = self.state.nodes.get(key)
        if node_run is None or node_run.status != NodeStatus.WAITING:
            return False
        self._fail(self.graph.nodes[key[0]], node_run, code, message, attempt=node_run.attempts)
        return True

    def cancel(self, by: str | None) -> None:
        """Every non-terminal node run is cancelled, its work stopped; late results are discarded."""
        self._set_run_status(RunStatus.CANCELLED)
        self._cancel_where(lambda node_run: True, "run_cancelled")
        self._event("run.cancelled", None, {"by": by})

    def pause(self) -> None:
        """Start nothing new; what runs finishes and is recorded, its successors wait for resume."""
        self._set_run_status(RunStatus.PAUSED)

    def resume(self) -> bool:
        """paused → running. Only a paused run resumes: the table's terminal → running moves
        belong to POST …/retry/, so they must not be reachable through resume."""
        if self.state.status != RunStatus.PAUSED:
            raise IllegalTransition("run", self.state.status, RunStatus.RUNNING)
        self._set_run_status(RunStatus.RUNNING)
        self._fail_scopes_of_failures_recorded_while_paused()
        return self.advance()

    def fail_run(self, code: str, message: str) -> None:
        """The run-level deadline passed (or another run-level failure): stop everything."""
        self._finish_failed({"code": code, "message": message})

    def retry_from(self, targets: Iterable[NodeKey]) -> bool:
        """Re-execute ``targets`` and everything downstream of them in their scopes.

        Upstream outputs are reused as recorded. For a node inside a loop pass the loop re-opens
        that pass and re-aggregates, and the loop's own descendants run again. The run keeps its
        version; attempts already made stay as history and new ones continue their numbering.
        """
        if self.state.status not in TERMINAL_RUN:  # a paused run resumes; it is not retried
            raise IllegalTransition("run", self.state.status, RunStatus.RUNNING)
        # Outer scopes first: a loop reset as a descendant of an outer target starts afresh, so
        # a target inside one of its passes then has nothing left to re-open.
        for key in sorted(set(targets), key=lambda key: (len(split_scope(key[1])), key[1], key[0])):
            self._reset_downstream(key[0], key[1])
        # Work that stopped only because the run or a loop stopped runs again too.
        for node_run in sorted(self.state.nodes.values(), key=lambda run: (run.scope, run.node_id)):
            if node_run.status == NodeStatus.CANCELLED and node_run.cancel_reason in RESUMABLE_CANCELS:
                self._reset_downstream(node_run.node_id, node_run.scope)
        self.state.outputs = None
        self.state.error = None
        self.state.end_node_id = None
        self.run_touched = True
        self._set_run_status(RunStatus.RUNNING)
        return self.advance()

    def default_retry_targets(self) -> list[NodeKey]:
        """Every failed node run, except loops that failed because a node inside them did:
        retrying that node re-opens its pass and re-aggregates the loop, reusing the other passes."""
        failed = [key for key, node_run in self.state.nodes.items() if node_run.status == NodeStatus.FAILED]

        def failed_inside(key: NodeKey) -> bool:
            prefix = pass_scope_prefix(key[1], key[0])
            return any(scope.startswith(prefix) for _, scope in failed)

        return sorted(key for key in failed if not failed_inside(key))

    # ================================================================================
    # Sweeping scopes
    # ================================================================================

    def _run_is_live(self) -> bool:
        return self.state.status in (RunStatus.RUNNING, RunStatus.WAITING)

    def _sweep_scope(self, scope: str) -> list[str]:
        """Execute or skip every ready node of one scope in topological order.

        Returns the scopes to sweep next: passes a loop opened, and the enclosing scope when a
        pass finished (its loop may have finished, making the loop's successors ready).
        """
        follow_ups: list[str] = []
        level = None if scope == TOP_SCOPE else split_scope(scope)[-1][0]
        if level is not None and not self._pass_is_open(scope):
            return [self._pass_stopped(scope)]
        for node_id in self.plan.order(level):
            if not self._run_is_live() or self.steps >= self.max_steps:
                return follow_ups
            if level is not None and not self._pass_is_open(scope):
                return [*follow_ups, self._pass_stopped(scope)]
            node_run = self.state.nodes.get((node_id, scope))
            if node_run is None or node_run.status == NodeStatus.PENDING:
                node = self.graph.nodes[node_id]
                readiness = self._readiness(node, scope)
                if readiness.verdict == "wait":
                    continue
                self.steps += 1
                node_run = self._node_run(node_id, scope)
                if readiness.verdict == "skip":
                    self._skip(node_run)
                elif readiness.verdict == "unsatisfiable":
                    self._fail(
                        node, node_run, "join_unsatisfiable", self._unsatisfiable_message(node, readiness)
                    )
                else:
                    self._execute(node, node_run, readiness)
            if node_run.loop is not None and node_run.status == NodeStatus.RUNNING:
                follow_ups.extend(pass_scope(scope, node_id, index) for index in node_run.loop.active)
        if level is not None and self._run_is_live():
            if not self._pass_is_open(scope):
                return [*follow_ups, self._pass_stopped(scope)]
            follow_ups.extend(self._close_pass_if_done(scope))
        return follow_ups

    def _pass_stopped(self, scope: str) -> str:
        """The pass is closed — typically a node in it (or in a loop nested in it) failed its loop
        (DESIGN §3 "Errors"): nothing more starts in the pass, and the loop's own scope is swept
        instead, since the loop's on_error may have taken a handle its successors wait on (and
        that scope may itself be a pass its failure closed, up to the top level)."""
        return parent_of_scope(scope)[0]

    def _readiness(self, node: Node, scope: str) -> _Readiness:
        """DESIGN §3 "Readiness and skips" and "Joins"."""
        edges = self.graph.level_incoming(node.id)
        if not edges:
            return _Readiness("run")  # `start`, or a loop body's entry node in an open pass
        taken: list[Edge] = []
        unresolved: list[Edge] = []
        for edge in edges:
            source = self.state.nodes.get((edge.source, scope))
            if source is None or source.status not in EDGE_RESOLVED:
                unresolved.append(edge)
            elif source.handle == edge.source_handle:
                taken.append(edge)
        if not taken and not unresolved:
            return _Readiness("skip")
        if node.type != "join":
            if unresolved:
                return _Readiness("wait")
            return _Readiness("run", tuple(taken))
        mode = node.config.get("mode", "all")
        if mode == "all":
            return _Readiness("wait") if unresolved else _Readiness("run", tuple(taken))
        needed = 1 if mode == "any" else int(node.config.get("count", 1))
        if len(taken) >= needed:
            return _Readiness("run", tuple(taken), tuple(unresolved))
        if len(taken) + len(unresolved) < needed:
            return _Readiness("unsatisfiable", tuple(taken), tuple(unresolved))
        return _Readiness("wait")

    def _unsatisfiable_message(self, node: Node, readiness: _Readiness) -> str:
        mode = node.config.get("mode")
        needed = 1 if mode == "any" else node.config.get("count")
        return (
            f"Join {node.id} needs {needed} arriving branch(es) but only {len(readiness.taken)} arrived "
            f"and {len(readiness.unresolved)} can still arrive."
        )

    # ================================================================================
    # Executing one node
    # ================================================================================

    def _node_input(self, node: Node, scope: str, taken: tuple[Edge, ...]) -> Any:
        """DESIGN §3: the single taken predecessor's output, or {source: output} for several."""
        if not self.graph.level_incoming(node.id):
            if node.type == "start":
                return self.state.inputs
            parent_scope, loop_id, index = parent_of_scope(scope)
            loop_run = self.state.nodes[(loop_id, parent_scope)]
            assert loop_run.loop is not None
            return loop_run.loop.item(index)
        outputs = {edge.source: self.state.nodes[(edge.source, scope)].output for edge in taken}
        if len(outputs) == 1:
            return next(iter(outputs.values()))
        return outputs

    def _execute(self, node: Node, node_run: NodeRunState, readiness: _Readiness) -> None:
        scope = node_run.scope
        node_input = self._node_input(node, scope, readiness.taken)
        node_run.input = node_input
        try:
            if node.disabled:
                self._succeed(node_run, node_input, "out", {})
            elif node.type == "loop":
                self._start_loop(node, node_run)
            elif node.type in INLINE_TYPES:
                output, handle = self._run_inline(node, node_run, readiness)
                check_output_size(output)
                self._succeed(node_run, output, handle, {})
                if node.type == "join" and node.config.get("cancel_remaining") and readiness.unresolved:
                    self._cancel_remaining(node, scope, readiness.unresolved)
            elif node.type in WAIT_REASONS:
                self._start_waiting(node, node_run)
            elif self.plan.node_type(node.id) is None:
                raise NodeFailure("unknown_node_type", f"Node type {node.type!r} is not installed.")
            else:
                self._dispatch(node, node_run)
        except NodeFailure as failure:
            self._fail(node, node_run, failure.code, failure.message, retryable=failure.retryable)

    def _run_inline(self, node: Node, node_run: NodeRunState, readiness: _Readiness) -> tuple[Any, str]:
        config = node.config
        if node.type == "start":
            return node_run.input, "out"
        if node.type == "parallel":
            return node_run.input, "out"
        if node.type == "join":
            branches = {
                edge.source: self.state.nodes[(edge.source, node_run.scope)].output
                for edge in readiness.taken
            }
            return {"branches": branches}, "out"
        if node.type == "end":
            outputs = config.get("outputs") or {}
            return {
                name: self._render(node, node_run.scope, source) for name, source in outputs.items()
            }, "out"
        if node.type == "transform":
            mapping = config.get("mapping") or {}
            return {
                name: self._evaluate(node, node_run.scope, source) for name, source in mapping.items()
            }, "out"
        if node.type == "condition":
            value = self._evaluate(node, node_run.scope, config.get("expression", ""))
            if not isinstance(value, bool):
                raise NodeFailure(
                    "not_boolean", f"The condition gave {json.dumps(value)[:200]}, not true or false."
                )
            return {"value": value}, "true" if value else "false"
        if node.type == "switch":
            for case in config.get("cases") or []:
                value = self._evaluate(node, node_run.scope, case.get("expression", ""))
                if not isinstance(value, bool):
                    raise NodeFailure(
                        "not_boolean",
                        f"Case {case.get('handle')!r} gave {json.dumps(value)[:200]}, not true or false.",
                    )
                if value:
                    return {"handle": case["handle"]}, case["handle"]
            return {"handle": "default"}, "default"
        raise NodeFailure("unknown_node_type", f"{node.type} is not an inline node type.")

    def _dispatch(self, node: Node, node_run: NodeRunState) -> None:
        """Queue the next attempt of a node that calls out; a worker executes it after commit."""
        try:
            rendered = self._render_config(node, node_run.scope)
        except NodeFailure as failure:
            self._fail(node, node_run, failure.code, failure.message)
            return
        node_run.attempts += 1
        self._set_node_status(node_run, NodeStatus.QUEUED)
        self._event("node.queued", node_run, {}, attempt=node_run.attempts)
        self.effects.append(
            Dispatch(node_run.key, node.type, node_run.attempts, node_run.input, rendered, node.timeout_s)
        )

    def _start_waiting(self, node: Node, node_run: NodeRunState) -> None:
        reason = WAIT_REASONS[node.type]
        rendered = self._render_config(node, node_run.scope)
        node_run.attempts += 1
        due_at: datetime | None = None
        data: dict[str, Any] = {"reason": reason}
        if node.type == "delay":
            due_at = self._delay_due_at(rendered)
            data["due_at"] = due_at.isoformat()
        self._set_node_status(node_run, NodeStatus.WAITING)
        node_run.wait = dict(data)
        event = self._event("node.waiting", node_run, data, attempt=node_run.attempts)
        self.effects.append(
            StartWait(node_run.key, node.type, reason, node_run.input, rendered, event, due_at)
        )

    def _delay_due_at(self, rendered: dict[str, Any]) -> datetime:
        if "until" in rendered and rendered["until"] is not None:
            until = rendered["until"]
            if not isinstance(until, str):
                raise NodeFailure("invalid_delay", "until must give an ISO 8601 date and time.")
            try:
                moment = datetime.fromisoformat(until)
            except ValueError:
                raise NodeFailure(
                    "invalid_delay", f"until gave {until!r}, not an ISO 8601 date and time."
                ) from None
            return max(moment if moment.tzinfo else moment.replace(tzinfo=UTC), self.now)
        seconds = rendered.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
            raise NodeFailure("invalid_delay", "A delay needs seconds or until.")
        return self.now + timedelta(seconds=max(0.0, float(seconds)))

    # ================================================================================
    # Loops (DESIGN §3 "Loops")
    # ================================================================================

    def _start_loop(self, node: Node, node_run: NodeRunState) -> None:
        config = node.config
        mode = config.get("mode", "for_each")
        max_iterations = int(config.get("max_iterations", 100))
        items: list[Any] | None = None
        total: int | None = None
        if mode == "for_each":
            value = self._evaluate(node, node_run.scope, config.get("items", ""))
            if not isinstance(value, list):
                raise NodeFailure("items_not_a_list", f"items gave {type(value).__name__}, not a list.")
            items, total = value, len(value)
        elif mode == "count":
            count = config.get("count", 0)
            value = self._evaluate(node, node_run.scope, count) if isinstance(count, str) else count
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise NodeFailure(
                    "invalid_count", f"count gave {json.dumps(value)[:100]}, not a whole number."
                )
            total = value
        if total is not None and total > max_iterations:
            raise NodeFailure(
                "max_iterations_exceeded", f"The loop has {total} passes; max_iterations is {max_iterations}."
            )
        node_run.loop = LoopProgress(mode=mode, items=items, total=total)
        self._set_node_status(node_run, NodeStatus.RUNNING)
        self._event("node.started", node_run, {"passes": total})
        self._fill_passes(node, node_run)

    def _fill_passes(self, node: Node, node_run: NodeRunState) -> None:
        """Open passes up to the loop's concurrency; finish the loop when none is left to run."""
        progress = node_run.loop
        assert progress is not None
        concurrency = 1 if progress.mode == "while" else max(1, int(node.config.get("concurrency", 1)))
        max_iterations = int(node.config.get("max_iterations", 100))
        while len(progress.active) < concurrency and not progress.finished:
            index = progress.next_index
            if progress.total is not None and index >= progress.total:
                progress.finished = True
                break
            if progress.mode == "while":
                if not self._while_condition(node, node_run, index):
                    progress.finished = True
                    progress.total = index
                    break
                if index >= max_iterations:
                    raise NodeFailure(
                        "max_iterations_exceeded",
                        f"The while condition still held after {max_iterations} passes (max_iterations).",
                    )
            progress.active.append(index)
            progress.next_index += 1
        self.touched.add(node_run.key)
        if progress.finished and not progress.active:
            count = progress.total if progress.total is not None else len(progress.results)
            output = {"results": [progress.results.get(index) for index in range(count)], "count": count}
            check_output_size(output)
            self._succeed(node_run, output, "out", {})

    def _while_condition(self, node: Node, node_run: NodeRunState, index: int) -> bool:
        progress = node_run.loop
        assert progress is not None
        previous = progress.results.get(index - 1) if index > 0 else None
        context = self._context(node, node_run.scope, own_loop=(node.id, index, None, previous))
        value = self._evaluate_in(node, context, node.config.get("condition", ""))
        if not isinstance(value, bool):
            raise NodeFailure(
                "not_boolean", f"The while condition gave {json.dumps(value)[:200]}, not true or false."
            )
        return value

    def _pass_is_open(self, scope: str) -> bool:
        parent_scope, loop_id, index = parent_of_scope(scope)
        loop_run = self.state.nodes.get((loop_id, parent_scope))
        return (
            loop_run is not None
            and loop_run.status == NodeStatus.RUNNING
            and loop_run.loop is not None
            and index in loop_run.loop.active
        )

    def _close_pass_if_done(self, scope: str) -> list[str]:
        """A pass ends when every body node in it is terminal; record its result, open the next."""
        parent_scope, loop_id, index = parent_of_scope(scope)
        loop_node = self.graph.nodes[loop_id]
        body = self.graph.children(loop_id)
        runs = [self.state.nodes.get((member.id, scope)) for member in body]
        if any(run is None or run.status not in TERMINAL_NODE for run in runs):
            return []
        loop_run = self.state.nodes[(loop_id, parent_scope)]
        progress = loop_run.loop
        assert progress is not None
        try:
            result = self._pass_result(loop_node, scope)
        except NodeFailure as failure:
            self._fail(loop_node, loop_run, failure.code, f"Pass {index}: {failure.message}")
        else:
            progress.active.remove(index)
            progress.results[index] = result
            try:
                self._fill_passes(loop_node, loop_run)
            except NodeFailure as failure:  # the next pass could not open (while condition, limit)
                self._fail(loop_node, loop_run, failure.code, failure.message)
        follow_ups = [parent_scope]
        if loop_run.status == NodeStatus.RUNNING:
            follow_ups.extend(pass_scope(parent_scope, loop_id, active) for active in progress.active)
        return follow_ups

    def _pass_result(self, loop_node: Node, scope: str) -> Any:
        source = loop_node.config.get("result")
        if source:
            context = self._context(loop_node, scope, own_scope_is_pass=True)
            return self._evaluate_in(loop_node, context, source)
        sinks = self.graph.sinks(loop_node.id)
        sink_run = self.state.nodes.get((sinks[0].id, scope)) if sinks else None
        if sink_run is None or sink_run.handle is None:
            return None
        return sink_run.output

    # ================================================================================
    # Outcomes
    # ================================================================================

    def _succeed(self, node_run: NodeRunState, output: Any, handle: str, meta: dict[str, Any]) -> None:
        self._set_node_status(node_run, NodeStatus.SUCCEEDED)
        node_run.output = output
        node_run.handle = handle
        node_run.error = None
        node_run.wait = None
        preview, truncated = output_preview(output)
        data: dict[str, Any] = {
            "handle": handle,
            "duration_ms": meta.get("duration_ms", 0),
            "output_preview": preview,
            "output_truncated": truncated,
        }
        for key in ("usage", "cost_usd"):
            if meta.get(key) is not None:
                data[key] = meta[key]
        attempt = node_run.attempts or None
        event = self._event("node.succeeded", node_run, data, attempt=attempt)
        node_run.succeeded_seq = event.seq

    def _skip(self, node_run: NodeRunState) -> None:
        """All incoming edges are dead: skipped, and the skip propagates through its edges."""
        self._set_node_status(node_run, NodeStatus.SKIPPED)
        self._event("node.skipped", node_run, {})

    def _fail(
        self,
        node: Node,
        node_run: NodeRunState,
        code: str,
        message: str,
        retryable: bool = False,
        attempt: int | None = None,
    ) -> None:
        """DESIGN §3 "Errors": on_error decides between failing the scope and taking a handle."""
        if node_run.status in TERMINAL_NODE:
            return
        value = error_value(
            code, message, retryable, attempt if attempt is not None else node_run.attempts or None
        )
        if node.type == "loop":
            self._stop_passes(node_run, "loop_failed")
        self._set_node_status(node_run, NodeStatus.FAILED)
        node_run.error = value["error"]
        node_run.wait = None
        handle = {"continue": "out", "branch": "error"}.get(node.on_error)
        node_run.handle = handle
        node_run.output = value if handle is not None else None
        data: dict[str, Any] = {"error": value["error"]}
        if handle is not None:
            data["handle"] = handle
        self._event("node.failed", node_run, data, attempt=attempt)
        if handle is None:
            self._fail_scope(node_run.scope, node.id, value["error"])

    def _fail_scope(self, scope: str, node_id: str, error: dict[str, Any]) -> None:
        """A failure with on_error "fail": the run fails at top level; in a pass, the loop fails.

        While the run is paused the failure is only recorded (a paused run cannot fail, and pause
        changes nothing beyond recording results); :meth:`resume` applies it.
        """
        if self.state.status == RunStatus.PAUSED:
            return
        if scope == TOP_SCOPE:
            self._finish_failed({**error, "node_id": node_id})
            return
        parent_scope, loop_id, index = parent_of_scope(scope)
        loop_run = self.state.nodes.get((loop_id, parent_scope))
        if loop_run is None or loop_run.status in TERMINAL_NODE:
            return
        self._fail(
            self.graph.nodes[loop_id],
            loop_run,
            str(error.get("code")),
            f"Pass {index}, node {node_id}: {error.get('message')}",
            retryable=bool(error.get("retryable")),
        )

    def _fail_scopes_of_failures_recorded_while_paused(self) -> None:
        """DESIGN §3 "Pause": a node that failed with on_error "fail" while the run was paused was
        only recorded; now its scope fails (outermost first: a failed run leaves nothing to do)."""
        recorded = sorted(
            (
                node_run
                for node_run in self.state.nodes.values()
                if node_run.status == NodeStatus.FAILED
                and node_run.handle is None
                and self.graph.nodes[node_run.node_id].on_error == "fail"
            ),
            key=lambda node_run: (len(split_scope(node_run.scope)), node_run.scope, node_run.node_id),
        )
        for node_run in recorded:
            if not self._run_is_live():
                return
            if node_run.scope != TOP_SCOPE and not self._pass_is_open(node_run.scope):
                continue  # its loop already failed or finished
            self._fail_scope(node_run.scope, node_run.node_id, node_run.error or {})

    def _stop_passes(self, loop_run: NodeRunState, reason: str) -> None:
        prefix = pass_scope_prefix(loop_run.scope, loop_run.node_id)
        self._cancel_where(lambda node_run: node_run.scope.startswith(prefix), reason)
        if loop_run.loop is not None:
            loop_run.loop.active.clear()

    def _finish_failed(self, error: dict[str, Any]) -> None:
        if self.state.status in TERMINAL_RUN:
            return
        self.state.error = error
        self.state.outputs = None
        self.run_touched = True
        self._cancel_where(lambda node_run: True, "run_failed")
        self._set_run_status(RunStatus.FAILED)
        self._event("run.failed", None, {"error": error})

    def _cancel_where(self, predicate: Any, reason: str) -> None:
        for node_run in sorted(self.state.nodes.values(), key=lambda run: (run.scope, run.node_id)):
            if node_run.status not in TERMINAL_NODE and predicate(node_run):
                self._cancel_node(node_run, reason)

    def _cancel_node(self, node_run: NodeRunState, reason: str) -> None:
        had_work = node_run.status in ACTIVE_NODE
        attempt = node_run.attempts if node_run.status in (NodeStatus.QUEUED, NodeStatus.RUNNING) else None
        self._set_node_status(node_run, NodeStatus.CANCELLED)
        node_run.wait = None
        node_run.cancel_reason = reason
        if node_run.loop is not None:
            node_run.loop.active.clear()
        self._event("node.cancelled", node_run, {"reason": reason})
        if had_work:
            self.effects.append(StopWork(node_run.key, attempt, reason))

    def _cancel_remaining(self, join: Node, scope: str, unarrived: tuple[Edge, ...]) -> None:
        """DESIGN §3 "Joins" with cancel_remaining: cancel what can only lead into unarrived edges.

        A node survives if some forward path from it avoids every not-yet-arrived edge of this
        join (a node with no outgoing edges ends its own path). Computed in reverse topological
        order, so each node is decided after everything it leads to.
        """
        blocked = {edge.id for edge in unarrived}
        level = self.graph.nodes[join.id].parent
        escapes: dict[str, bool] = {}
        for node_id in reversed(self.plan.order(level)):
            outgoing = self.graph.level_outgoing(node_id)
            escapes[node_id] = not outgoing or any(
                edge.id not in blocked and escapes.get(edge.target, False) for edge in outgoing
            )
        for node_id in self.plan.order(level):
            if escapes[node_id]:
                continue
            node_run = self._node_run(node_id, scope)
            if node_run.status not in TERMINAL_NODE:
                if node_run.loop is not None:
                    self._stop_passes(node_run, "join_cancel_remaining")
                self._cancel_node(node_run, "join_cancel_remaining")

    # ================================================================================
    # Run status
    # ================================================================================

    def _settle_run(self) -> None:
        """running ⇄ waiting while work is in flight; succeeded when nothing is left."""
        if not self._run_is_live():
            return
        in_flight = [run for run in self.state.nodes.values() if run.status in ACTIVE_NODE]
        loops_running = any(
            run.status == NodeStatus.RUNNING and run.loop is not None for run in self.state.nodes.values()
        )
        if in_flight or loops_running:
            busy = any(
                run.status in (NodeStatus.QUEUED, NodeStatus.RUNNING) and run.loop is None
                for run in in_flight
            )
            target = RunStatus.RUNNING if busy else RunStatus.WAITING
            if target != self.state.status:
                self._set_run_status(target)
            return
        for node_run in sorted(self.state.nodes.values(), key=lambda run: (run.scope, run.node_id)):
            if node_run.status == NodeStatus.PENDING:
                self._skip(node_run)  # reset by a retry but no longer reached
        self._take_outputs_from_first_end()
        self._set_run_status(RunStatus.SUCCEEDED)
        self._event("run.succeeded", None, {"outputs": self.state.outputs})

    def _take_outputs_from_first_end(self) -> None:
        """DESIGN §3 "Ends": the end that succeeded first (lowest event seq) gives the outputs."""
        ends = [
            node_run
            for node_run in self.state.nodes.values()
            if node_run.scope == TOP_SCOPE
            and node_run.status == NodeStatus.SUCCEEDED
            and self.graph.nodes[node_run.node_id].type == "end"
            and node_run.succeeded_seq is not None
        ]
        first = min(ends, key=lambda node_run: node_run.succeeded_seq or 0, default=None)
        self.state.end_node_id = first.node_id if first is not None else None
        self.state.outputs = first.output if first is not None else None
        self.run_touched = True

    # ================================================================================
    # Retry from a node
    # ================================================================================

    def _reset_downstream(self, node_id: str, scope: str) -> None:
        """Reset a node and its descendants in ``scope`` to pending, and re-open its pass."""
        level = self.graph.nodes[node_id].parent
        for candidate in self.plan.order(level):
            if candidate == node_id or self.graph.is_upstream(node_id, candidate):
                self._reset_node(candidate, scope)
        if scope != TOP_SCOPE:
            self._reopen_pass(scope)

    def _reopen_pass(self, scope: str) -> None:
        """A node of this pass runs again: the loop re-opens the pass and will re-aggregate.

        A loop that had finished goes back to running with its other passes' results kept, and its
        own descendants are reset (they consumed the old aggregate); enclosing loops likewise.
        """
        parent_scope, loop_id, index = parent_of_scope(scope)
        loop_run = self.state.nodes.get((loop_id, parent_scope))
        if loop_run is None or loop_run.loop is None:
            return  # the loop itself was reset: it starts afresh
        progress = loop_run.loop
        if loop_run.status != NodeStatus.RUNNING:
            level = self.graph.nodes[loop_id].parent
            for candidate in self.plan.order(level):
                if self.graph.is_upstream(loop_id, candidate):
                    self._reset_node(candidate, parent_scope)
            loop_input = loop_run.input
            self._clear(loop_run)
            loop_run.input = loop_input  # recorded upstream data, reused like every other input
            self._set_node_status(loop_run, NodeStatus.RUNNING)
            self._event("node.started", loop_run, {"passes": progress.total})
            progress.active = [i for i in range(progress.next_index) if i not in progress.results]
            if parent_scope != TOP_SCOPE:
                self._reopen_pass(parent_scope)
        progress.results.pop(index, None)
        if index not in progress.active:
            progress.active.append(index)
            progress.active.sort()
        self.touched.add(loop_run.key)

    def _reset_node(self, node_id: str, scope: str) -> None:
        node_run = self.state.nodes.get((node_id, scope))
        if node_run is None:
            return
        if node_run.status not in TERMINAL_NODE and node_run.status != NodeStatus.PENDING:
            self._cancel_node(node_run, "retry")
        if node_run.loop is not None:
            prefix = pass_scope_prefix(scope, node_id)
            for inner in sorted(self.state.nodes.values(), key=lambda run: (run.scope, run.node_id)):
                if inner.scope.startswith(prefix):
                    if inner.status not in TERMINAL_NODE and inner.status != NodeStatus.PENDING:
                        self._cancel_node(inner, "retry")
                    self._clear(inner)
                    inner.loop = None
            node_run.loop = None
        self._clear(node_run)

    def _clear(self, node_run: NodeRunState) -> None:
        if node_run.status != NodeStatus.PENDING:
            self._set_node_status(node_run, NodeStatus.PENDING)
            self._event("node.reset", node_run, {"reason": "retry"})
        node_run.input = None
        node_run.output = None
        node_run.handle = None
        node_run.error = None
        node_run.succeeded_seq = None
        node_run.wait = None
        node_run.cancel_reason = None

    # ================================================================================
    # Expressions
    # ================================================================================

    def _context(
        self,
        node: Node,
        scope: str,
        own_loop: tuple[str, int, Any, Any] | None = None,
        own_scope_is_pass: bool = False,
    ) -> dict[str, Any]:
        """The evaluation context of DESIGN §3: only plain data, only the nodes the node reads.

        ``nodes.<id>`` resolves lexically: a node of the same body gives its instance in this pass,
        an outer node its instance in the enclosing scope (the first `depth` parts of the scope).
        """
        parts = split_scope(scope)
        nodes: dict[str, Any] = {}
        for reference in self.plan.referenced_nodes(node.id):
            if reference not in self.graph.nodes:
                continue
            depth = self.plan.depth(reference)
            instance_scope = "/".join(f"{loop_id}[{index}]" for loop_id, index in parts[:depth])
            instance = self.state.nodes.get((reference, instance_scope))
            if instance is None:
                nodes[reference] = {"status": "pending", "output": None}
            else:
                visible = instance.status in (NodeStatus.SUCCEEDED, NodeStatus.FAILED)
                nodes[reference] = {
                    "status": str(instance.status),
                    "output": instance.output if visible else None,
                }
        context: dict[str, Any] = {
            "inputs": self.state.inputs,
            "vars": self.state.variables,
            "run": {"id": self.state.run_id, "started_at": self.state.started_at},
            "nodes": nodes,
        }
        loops: dict[str, Any] = {}
        innermost: dict[str, Any] | None = None
        for depth_index, (loop_id, index) in enumerate(parts):
            loop_scope = "/".join(f"{lid}[{i}]" for lid, i in parts[:depth_index])
            loop_run = self.state.nodes.get((loop_id, loop_scope))
            progress = loop_run.loop if loop_run is not None else None
            item = progress.item(index) if progress is not None else None
            previous = progress.results.get(index - 1) if progress is not None and index > 0 else None
            loops[loop_id] = {"item": item, "index": index}
            innermost = {"item": item, "index": index, "previous": previous}
        if own_loop is not None:
            loop_id, index, item, previous = own_loop
            loops[loop_id] = {"item": item, "index": index}
            innermost = {"item": item, "index": index, "previous": previous}
        context["loops"] = loops
        if innermost is not None:
            context["loop"] = innermost
        return context

    def _evaluate(self, node: Node, scope: str, source: Any) -> Any:
        return self._evaluate_in(node, self._context(node, scope), source)

    def _evaluate_in(self, node: Node, context: dict[str, Any], source: Any) -> Any:
        if not isinstance(source, str):
            return source
        try:
            return evaluate_expression(source, context)
        except ExpressionError as error:
            raise NodeFailure(error.code, error.message) from None

    def _render(self, node: Node, scope: str, source: Any) -> Any:
        if not isinstance(source, str):
            return source
        try:
            return render_template(source, self._context(node, scope))
        except ExpressionError as error:
            raise NodeFailure(error.code, error.message) from None

    def _render_config(self, node: Node, scope: str) -> dict[str, Any]:
        """The node's config with every template and expression replaced by its value."""
        rendered: dict[str, Any] = json.loads(json.dumps(node.config))
        fields = self.plan.fields(node.id)
        if not fields:
            return rendered
        context = self._context(node, scope)
        for template_field in fields:
            try:
                if template_field.kind == "expression":
                    value = evaluate_expression(template_field.source, context)
                else:
                    value = render_template(template_field.source, context)
            except ExpressionError as error:
                where = ".".join(str(part) for part in template_field.path)
                raise NodeFailure(error.code, f"{where}: {error.message}") from None
            target: Any = rendered
            for part in template_field.path[:-1]:
                target = target[part]
            target[template_field.path[-1]] = value
        return rendered

    # ================================================================================
    # Bookkeeping
    # ================================================================================

    def _node_run(self, node_id: str, scope: str) -> NodeRunState:
        key = (node_id, scope)
        node_run = self.state.nodes.get(key)
        if node_run is None:
            node_run = NodeRunState(node_id=node_id, scope=scope)
            self.state.nodes[key] = node_run
        self.touched.add(key)
        return node_run

    def _set_node_status(self, node_run: NodeRunState, status: NodeStatus) -> None:
        check_node_transition(node_run.status, status)
        node_run.status = status
        self.touched.add(node_run.key)

    def _set_run_status(self, status: RunStatus) -> None:
        previous = self.state.status
        check_run_transition(previous, status)
        self.state.status = status
        self.run_touched = True
        self._event("run.status", None, {"status": str(status), "previous": str(previous)})

    def _event(
        self, event_type: str, node_run: NodeRunState | None, data: dict[str, Any], attempt: int | None = None
    ) -> Event:
        event = Event(
            seq=self.state.next_seq,
            type=event_type,
            node_id=node_run.node_id if node_run is not None else None,
            scope=node_run.scope if node_run is not None else TOP_SCOPE,
            attempt=attempt,
            data=data,
        )
        self.state.next_seq += 1
        self.events.append(event)
        return event
