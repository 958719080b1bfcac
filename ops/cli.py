"""What the management commands share: finding workflows and users by name, and driving a run
from a command's own process while showing its progress.

The embedded mode keeps its broker in the server's memory, where no other process can reach it
(DESIGN §4). A command therefore runs the engine itself: it starts an embedded worker pool in its
own process for as long as it needs one. If the command stops early, nothing is lost: the rows
stay in the database and the server's sweep re-sends what was queued.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, OutputWrapper

from executions import notify
from executions.engine.states import TERMINAL_RUN, AttemptStatus, RunStatus
from executions.models import NodeAttempt, NodeRun, Run, RunEvent
from workflows.models import Workflow

#: How often the progress display reads new events when nothing wakes it earlier.
POLL_INTERVAL_S = 0.25


def find_workflow(reference: str) -> Workflow:
    """A workflow by id, or by exact name when that name is unique among live workflows."""
    if reference.isdigit():
        workflow = Workflow.objects.filter(pk=int(reference)).first()
        if workflow is None:
            raise CommandError(f"No workflow has the id {reference}.")
        return workflow
    matches = list(Workflow.objects.filter(name=reference, is_archived=False)[:2])
    if not matches:
        raise CommandError(f"No workflow is named {reference!r}.")
    if len(matches) > 1:
        raise CommandError(f"Several workflows are named {reference!r}; give the id instead.")
    return matches[0]


def find_user(username: str) -> Any:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"No active user is named {username!r}.")
    return user


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(f"{what} is not valid JSON: {error}") from None


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """`k=v` pairs; a value that parses as JSON (numbers, true, lists…) is taken as JSON."""
    result: dict[str, Any] = {}
    for pair in pairs:
        name, separator, raw = pair.partition("=")
        if not separator or not name:
            raise CommandError(f"--input expects name=value, not {pair!r}.")
        try:
            result[name] = json.loads(raw)
        except json.JSONDecodeError:
            result[name] = raw
    return result


@contextmanager
def engine_in_this_process() -> Iterator[None]:
    """In the embedded mode, a worker pool in this process while the block runs (one already
    running, as in tests, is reused and left running). Services mode: workers run elsewhere."""
    if settings.SERVICES_MODE:
        yield
        return
    from config import embedded

    started_here = embedded.current_runtime() is None
    embedded.start_runtime()
    try:
        yield
    finally:
        if started_here:
            embedded.stop_runtime()


def waits_on_someone(run_id: Any) -> bool:
    return NodeRun.objects.filter(
        run_id=run_id, status="waiting", wait_reason__in=notify.SOMEONE_REASONS
    ).exists()


def has_work_in_flight(run_id: Any) -> bool:
    return NodeAttempt.objects.filter(
        run_id=run_id, status__in=[AttemptStatus.QUEUED, AttemptStatus.RUNNING]
    ).exists()


def run_status(run_id: Any) -> RunStatus | None:
    value = Run.objects.filter(pk=run_id).values_list("status", flat=True).first()
    return RunStatus(value) if value is not None else None


def is_quiet(run_id: Any) -> bool:
    """Nothing more happens without the clock or a person: finished, paused, or waiting with no
    attempt queued or running. A command may hand the run back to the server at this point."""
    status = run_status(run_id)
    if status is None or status in TERMINAL_RUN or status == RunStatus.PAUSED:
        return True
    return status == RunStatus.WAITING and not has_work_in_flight(run_id)


def wait_until(run_id: Any, timeout_s: float, is_done: Callable[[], bool]) -> bool:
    """Wait for ``is_done``, woken early when the run settles (executions.notify)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if is_done():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        notify.wait_until_settled(run_id, min(remaining, POLL_INTERVAL_S), is_done)


# Events that change what the display shows for a node, and the word it shows.
NODE_STATES = {
    "node.queued": "queued",
    "node.started": "running",
    "node.skipped": "skipped",
    "node.waiting": "waiting",
    "node.retrying": "retrying",
    "node.succeeded": "succeeded",
    "node.failed": "failed",
    "node.cancelled": "cancelled",
}


@dataclass
class ProgressDisplay:
    """Prints node states as they change, reading the run's stored events in seq order."""

    run_id: Any
    stream: OutputWrapper
    enabled: bool = True
    last_seq: int = 0
    started: float = field(default_factory=time.monotonic)
    states: dict[str, str] = field(default_factory=dict)

    def poll(self) -> None:
        events = list(RunEvent.objects.filter(run_id=self.run_id, seq__gt=self.last_seq).order_by("seq"))
        for event in events:
            self.last_seq = event.seq
            self._show(event)

    def _show(self, event: RunEvent) -> None:
        elapsed = f"{time.monotonic() - self.started:7.2f}s"
        data = event.data or {}
        if event.type in NODE_STATES and event.node_id:
            name = event.node_id + (f" [{event.scope}]" if event.scope else "")
            state = NODE_STATES[event.type]
            self.states[name] = state
            detail = self._detail(event.type, data)
            self._write(f"{elapsed}  {name:<32} {state}{detail}")
        elif event.type == "run.status":
            self._write(f"{elapsed}  run is {data.get('status')}")
        elif event.type == "approval.requested":
            self._write(f"{elapsed}  approval {data.get('approval_id', '')} waits for a decision")

    @staticmethod
    def _detail(event_type: str, data: dict[str, Any]) -> str:
        if event_type == "node.succeeded" and data.get("duration_ms") is not None:
            extra = f"  {data['duration_ms']} ms"
            if data.get("cost_usd"):
                extra += f"  ${data['cost_usd']}"
            return extra
        if event_type in ("node.failed", "node.retrying") and isinstance(data.get("error"), dict):
            error = data["error"]
            return f"  {error.get('code', '')}: {error.get('message', '')}"
        if event_type == "node.waiting" and data.get("reason"):
            return f"  on {data['reason']}"
        return ""

    def _write(self, line: str) -> None:
        if self.enabled:
            self.stream.write(line)
            self.stream.flush()


def follow(run_id: Any, display: ProgressDisplay, timeout_s: float) -> bool:
    """Show the run's progress until it finishes; False if ``timeout_s`` ran out first.

    A run waiting on a person or an agent keeps the command waiting (someone may decide in the
    browser); a paused run ends the wait.
    """

    def finished() -> bool:
        display.poll()
        status = run_status(run_id)
        return status is None or status in TERMINAL_RUN or status == RunStatus.PAUSED

    deadline = time.monotonic() + timeout_s
    while True:
        if finished():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        # A run waiting on someone is "settled" for notify and would wake us at once: sleep then.
        if waits_on_someone(run_id):
            time.sleep(min(remaining, POLL_INTERVAL_S * 2))
        else:
            notify.wait_until_settled(run_id, min(remaining, POLL_INTERVAL_S), finished)
