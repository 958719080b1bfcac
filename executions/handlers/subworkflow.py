"""`subworkflow`: start a child run of another workflow and wait for it, holding no worker; the
child's outputs become the node's output (DESIGN §3, §4).

The life of one node attempt, each step its own transaction:

1. **Start** (the parent's transaction, run row locked): check depth, access and inputs, then create
   the child run (pending; advanced by a worker after commit) linked to the parent by ``parent_run``
   and ``parent_node``. The node waits with ``child_run_id`` in its wait state. A refusal (depth,
   access, unknown workflow or version, inputs that do not fit) cannot fail the node inside this
   transaction — the scheduler has already written it — so it is recorded in the wait state and
   a timer due now fails the node in the next transaction.
2. **The child finishes** (the child's transaction): a listener on the child's terminal status
   sends ``resume_parent_run`` after commit. Only ids travel; the child's row is never locked
   together with the parent's (never two run rows in one transaction).
3. **Resume** (the parent's transaction): if the node still waits for *this* child, it succeeds with
   the child's outputs, or fails (not retryable) naming the child run. A repeat finds the node no
   longer waiting and changes nothing, so the parent resumes exactly once.

A lost message is found again by :func:`sweep` (called from executions.recovery): parents still
waiting on a child that finished, and children still live although their parent stopped waiting
(the parent was cancelled or failed). Cancelling the parent cancels the child, after commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery import shared_task
from django.conf import settings
from django.db import transaction

from executions.engine.states import TERMINAL_RUN, NodeStatus, RunStatus
from executions.models import NodeRun, Run, RunSource, Timer, TimerKind

if TYPE_CHECKING:
    from executions.engine.runstate import StartWait
    from executions.services import RunSession

logger = logging.getLogger(__name__)

WAIT_REASON = "subworkflow"
MAX_MESSAGE_CHARS = 500
BATCH = 200
LIVE_RUN = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.PAUSED)


class ChildRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


# ====================================================================================
# 1. Start: the parent's transaction
# ====================================================================================


def create_child_run(session: RunSession, row: NodeRun, rendered: dict[str, Any]) -> Run:
    """Check and create the child run (pending); raises ChildRefused with nothing created."""
    from executions.starting import StartRefused, check_run_request
    from workflows.access import has_role
    from workflows.choices import Role
    from workflows.models import Workflow

    parent = session.run
    depth = parent.nesting_depth + 1
    limit = settings.SUBWORKFLOW_MAX_DEPTH
    if depth > limit:
        raise ChildRefused(
            "max_depth_exceeded",
            f"A sub-workflow here would be nested {depth} deep; the limit is {limit} "
            "(does a workflow call itself?).",
        )
    workflow_id = rendered.get("workflow")
    starter = parent.created_by
    workflow = (
        Workflow.objects.filter(pk=workflow_id).first()
        if isinstance(workflow_id, int) and not isinstance(workflow_id, bool)
        else None
    )
    if workflow is None or starter is None or not has_role(starter, workflow, Role.VIEWER):
        raise ChildRefused(
            "unknown_workflow", f"There is no workflow {workflow_id!r} the run's starter can see."
        )
    if not has_role(starter, workflow, Role.RUNNER):
        raise ChildRefused(
            "subworkflow_forbidden",
            f"The run was started by {starter.get_username()!r}, who needs the runner role on "
            f"workflow {workflow.name!r} to run it.",
        )
    if workflow.is_archived:
        raise ChildRefused("subworkflow_refused", f"Workflow {workflow.name!r} is archived.")
    version = rendered.get("version", "active")
    if version in (None, "", "active"):
        version_number = None
    elif isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        version_number = version
    else:
        raise ChildRefused("subworkflow_refused", f"version must be a number or 'active', not {version!r}.")
    inputs = rendered.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise ChildRefused("subworkflow_refused", "The inputs must form an object.")
    try:
        plan = check_run_request(
            workflow,
            starter,
            inputs=inputs,
            variables={},
            version_number=version_number,
            draft=False,
        )
    except StartRefused as refusal:
        details = "; ".join(
            f"{error.get('path', '')} {error.get('message', '')}".strip() for error in refusal.errors or []
        )
        message = f"Workflow {workflow.name!r} refused the run: {refusal.detail}" + (
            f" ({details})" if details else ""
        )
        raise ChildRefused("subworkflow_refused", _shorten(message)) from None
    child = Run.objects.create(
        workflow=workflow,
        version=plan.version,
        inputs=plan.inputs,
        variables=plan.variables,
        created_by=starter,
        source=RunSource.SUBWORKFLOW,
        chain_depth=parent.chain_depth,
        parent_run=parent,
        parent_node=row,
        nesting_depth=depth,
    )
    child_id = child.pk
    session.after_commit(lambda: _enqueue_advance(child_id))
    return child


def _enqueue_advance(run_id: Any) -> None:
    from executions import services

    services.enqueue_advance(run_id)


class SubworkflowHandler:
    def start(self, session: RunSession, effect: StartWait) -> None:
        key = effect.key
        row = session.row(key)
        node = session.plan.node(key[0])
        wait: dict[str, Any] = {}
        try:
            with transaction.atomic():  # a savepoint: a refusal leaves no half-made child behind
                child = create_child_run(session, row, effect.rendered)
        except ChildRefused as refusal:
            wait["refused"] = {"code": refusal.code, "message": refusal.message}
            session.add_timer(key, TimerKind.SUBWORKFLOW, session.now)
        else:
            wait["child_run_id"] = str(child.pk)
            if node.timeout_s:
                due_at = session.now + timedelta(seconds=node.timeout_s)
                wait["due_at"] = due_at.isoformat()
                session.add_timer(key, TimerKind.SUBWORKFLOW, due_at)
            effect.event.data.update(
                {name: value for name, value in wait.items() if name in ("child_run_id", "due_at")}
            )
        node_state = session.state.nodes[key]
        node_state.wait = {**(node_state.wait or {}), **wait}
        row.state = {**row.state, "wait": {**(row.state.get("wait") or {}), **wait}}
        row.save(update_fields=["state"])

    def stop(self, session: RunSession, row: NodeRun, reason: str) -> None:
        """The node was cancelled (the parent was cancelled, failed or timed out): cancel its live
        child after commit, in the child's own transaction."""
        children = list(Run.objects.filter(parent_node=row, status__in=LIVE_RUN).values_list("pk", flat=True))
        parent_id = session.run.pk
        if children:
            session.after_commit(lambda: _send_cancels(children, parent_id))

    def timer_due(self, session: RunSession, timer: Timer) -> None:
        """A refusal recorded at start, or the node's deadline (timeout_s) for the child."""
        node_run = timer.node_run
        assert node_run is not None
        key = (node_run.node_id, node_run.scope)
        node_state = session.state.nodes.get(key)
        if node_state is None or node_state.status != NodeStatus.WAITING:
            return
        wait = node_state.wait or {}
        refused = wait.get("refused")
        if refused:
            session.scheduler.fail_wait(key, str(refused["code"]), str(refused["message"]))
            return
        child_id = wait.get("child_run_id")
        timeout_s = session.plan.node(key[0]).timeout_s
        session.scheduler.fail_wait(
            key,
            "timeout",
            f"The sub-workflow run {child_id} did not finish within {timeout_s:g} s (timeout_s).",
        )
        if child_id:
            parent_id = session.run.pk
            session.after_commit(lambda: send_cancel_child(child_id, parent_id))


# ====================================================================================
# 2. The child finished: its own transaction
# ====================================================================================


def record_child_finished(run: Run) -> None:
    """A services.run_finished_listeners entry: in the child's transaction, with its row locked."""
    if run.parent_run_id is None or run.parent_node_id is None:
        return
    child_id = run.pk
    transaction.on_commit(lambda: send_resume_parent(child_id))


def send_resume_parent(child_run_id: Any) -> None:
    resume_parent_run.delay(str(child_run_id))


def _send_cancels(child_run_ids: list[Any], parent_run_id: Any) -> None:
    for child_run_id in child_run_ids:
        send_cancel_child(child_run_id, parent_run_id)


def send_cancel_child(child_run_id: Any, parent_run_id: Any) -> None:
    cancel_child_run.delay(str(child_run_id), str(parent_run_id))


@shared_task(name="flowdeck.resume_parent_run", queue="flowdeck.control")
def resume_parent_run(child_run_id: str) -> None:
    resume_parent(child_run_id)


@shared_task(name="flowdeck.cancel_child_run", queue="flowdeck.control")
def cancel_child_run(child_run_id: str, parent_run_id: str) -> None:
    cancel_child(child_run_id, parent_run_id)


# ====================================================================================
# 3. Resume the parent, or cancel a child: one run locked per transaction
# ====================================================================================


def resume_parent(child_run_id: Any) -> bool:
    """Resolve the parent's node with the finished child's result, if it still waits for it."""
    from executions import services

    link = (
        Run.objects.filter(pk=child_run_id, status__in=TERMINAL_RUN)
        .values("parent_run_id", "parent_node__node_id", "parent_node__scope")
        .first()
    )
    if link is None or link["parent_run_id"] is None or link["parent_node__node_id"] is None:
        return False
    key = (link["parent_node__node_id"], link["parent_node__scope"])
    with services.locked_run(link["parent_run_id"]) as session:
        node_state = session.state.nodes.get(key)
        waiting_for = (node_state.wait or {}).get("child_run_id") if node_state is not None else None
        if node_state is None or node_state.status != NodeStatus.WAITING or waiting_for != str(child_run_id):
            session.discard()
            return False
        # Read (not locked) inside the parent's transaction: a terminal run changes only through
        # POST …/retry/, and a child retried meanwhile is simply not terminal here.
        child = Run.objects.filter(pk=child_run_id).values("status", "outputs", "error").first()
        if child is None or child["status"] not in TERMINAL_RUN:
            session.discard()
            return False
        if child["status"] == RunStatus.SUCCEEDED:
            session.scheduler.resolve_wait(key, child["outputs"])
        else:
            error = child["error"] or {}
            if child["status"] == RunStatus.CANCELLED:
                code, message = "subworkflow_cancelled", f"The sub-workflow run {child_run_id} was cancelled."
            else:
                code = "subworkflow_failed"
                message = _shorten(
                    f"The sub-workflow run {child_run_id} failed: "
                    f"{error.get('code', 'error')}: {error.get('message', '')}".rstrip(": ")
                )
            session.scheduler.fail_wait(key, code, message)
        Timer.objects.filter(
            run=session.run, node_run__node_id=key[0], node_run__scope=key[1], kind=TimerKind.SUBWORKFLOW
        ).delete()
        session.more_work = session.scheduler.advance()
    return True


def cancel_child(child_run_id: Any, parent_run_id: Any) -> bool:
    """Cancel a child whose parent stopped waiting for it; a finished child is left alone."""
    from executions import services

    try:
        with services.locked_run(child_run_id) as session:
            if session.run.status in TERMINAL_RUN:
                session.discard()
                return False
            session.scheduler.cancel(f"parent run {parent_run_id}")
    except Run.DoesNotExist:
        return False
    return True


# ====================================================================================
# The sweep: what a lost message left behind
# ====================================================================================


def sweep(now: datetime) -> int:
    """Resume parents still waiting on a child that finished, and cancel live children whose
    parent node no longer waits for them. Both re-check under the run lock before acting."""
    cutoff = now - timedelta(seconds=settings.ENGINE_STALE_AFTER_S)
    finished = Run.objects.filter(
        parent_node__status=NodeStatus.WAITING,
        parent_node__wait_reason=WAIT_REASON,
        status__in=TERMINAL_RUN,
        finished_at__lt=cutoff,
    ).values_list("pk", "parent_node__state")[:BATCH]
    acted = sum(
        1
        for child_id, node_state in finished
        # An older child of a node that was retried since matches too; skip it without locking.
        if ((node_state or {}).get("wait") or {}).get("child_run_id") == str(child_id)
        and resume_parent(child_id)
    )
    live = Run.objects.filter(
        parent_node__isnull=False, status__in=LIVE_RUN, updated_at__lt=cutoff
    ).values_list("pk", "parent_run_id", "parent_node__status", "parent_node__state")[:BATCH]
    for child_id, parent_id, node_status, node_state in live:
        waits_for = ((node_state or {}).get("wait") or {}).get("child_run_id")
        abandoned = node_status == NodeStatus.CANCELLED or (
            node_status == NodeStatus.WAITING and waits_for != str(child_id)
        )
        if abandoned and cancel_child(child_id, parent_id):
            acted += 1
    return acted


def install() -> None:
    """Register the wait handler and the terminal-status listener (once per process)."""
    from executions import services

    from . import register_wait_handler

    register_wait_handler("subworkflow", SubworkflowHandler())
    if record_child_finished not in services.run_finished_listeners:
        services.run_finished_listeners.append(record_child_finished)
