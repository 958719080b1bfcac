"""`delay`: a durable timer; when it is due the node succeeds with its input as output."""

from __future__ import annotations

from typing import TYPE_CHECKING

from executions.models import TimerKind

if TYPE_CHECKING:
    from executions.engine.runstate import StartWait
    from executions.models import NodeRun, Timer
    from executions.services import RunSession


class DelayHandler:
    def start(self, session: RunSession, effect: StartWait) -> None:
        assert effect.due_at is not None
        session.add_timer(effect.key, TimerKind.DELAY, effect.due_at)

    def stop(self, session: RunSession, row: NodeRun, reason: str) -> None:
        """Its timer is deleted with the node run's other timers; nothing else to undo."""

    def timer_due(self, session: RunSession, timer: Timer) -> None:
        node_run = timer.node_run
        assert node_run is not None
        key = (node_run.node_id, node_run.scope)
        session.scheduler.resolve_wait(key, session.state.nodes[key].input)
