"""The `agent_task` node's wait handler: the node hands its rendered input to whichever external
agent claims it (agents.external) and waits, holding no worker slot, until the agent completes or
fails the task, the node's overall deadline (``timeout_s``) passes, or the node is stopped.

Runs inside the run's locked transaction (executions.services.RunSession), like every wait handler.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import external
from .models import AgentTask

if TYPE_CHECKING:
    from executions.engine.runstate import StartWait
    from executions.models import NodeRun, Timer
    from executions.services import RunSession

#: The node type's defaults (workflows.node_types.AGENT_TASK).
DEFAULT_LEASE_S = 60
DEFAULT_MAX_LEASES = 3


class AgentTaskHandler:
    def start(self, session: RunSession, effect: StartWait) -> None:
        """Offer the task (status open) and, if the node has ``timeout_s``, set its deadline."""
        rendered = effect.rendered
        key = effect.key
        node = session.plan.node(key[0])
        row = session.row(key)
        task = AgentTask.objects.create(
            run=session.run,
            node_run=row,
            capability=str(rendered.get("capability") or ""),
            input=rendered.get("input") or {},
            lease_s=_positive(rendered.get("lease_s"), DEFAULT_LEASE_S),
            max_leases=_positive(rendered.get("max_leases"), DEFAULT_MAX_LEASES),
        )
        due_at = session.now + timedelta(seconds=node.timeout_s) if node.timeout_s else None
        if due_at is not None:
            session.add_timer(key, external.AGENT_DEADLINE, due_at)
        wait: dict[str, Any] = {"task_id": str(task.pk)}
        if due_at is not None:
            wait["due_at"] = due_at.isoformat()
        effect.event.data.update(wait)
        node_state = session.state.nodes[key]
        node_state.wait = {**(node_state.wait or {}), **wait}
        row.state = {**row.state, "wait": {**(row.state.get("wait") or {}), **wait}}
        row.save(update_fields=["state"])
        session.emit(
            "agent_task.offered",
            key,
            {
                "task_id": str(task.pk),
                "capability": task.capability,
                "lease_s": task.lease_s,
                "max_leases": task.max_leases,
                "due_at": wait.get("due_at"),
            },
            attempt=node_state.attempts,
        )
        capability = task.capability
        session.after_commit(lambda: external.announce_offer(capability))

    def stop(self, session: RunSession, row: NodeRun, reason: str) -> None:
        """The node was cancelled: so is its task (its deadline timer is deleted by the caller)."""
        external.cancel_tasks(session, row.pk, (row.node_id, row.scope), reason)

    def timer_due(self, session: RunSession, timer: Timer) -> None:
        node_run = timer.node_run
        assert node_run is not None
        key = (node_run.node_id, node_run.scope)
        external.time_out(session, node_run.pk, key, session.plan.node(node_run.node_id).timeout_s)


def _positive(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return default
    return value
