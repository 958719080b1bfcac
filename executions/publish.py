"""Live events: after commit, stored events and changes go to the channel layer (DESIGN §8).

Groups: ``run.<id>`` (every stored event of the run, in seq order, and live-only ``node.delta``),
``workflow.<id>`` (run summaries), ``user.<id>`` and ``group.<id>`` (approval changes).

Publishing never blocks or fails the transaction that caused it: messages are queued to one
asyncio task per process that sends them in order. In the embedded mode that task runs on the
ASGI server's own event loop (where the in-memory channel layer's consumers live); in the
services mode it runs on a background loop of this process, talking to Redis pub/sub. A message
lost on the way is not lost for clients: they resync from stored events by seq.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)

#: Events per channel-layer message: a burst becomes a few messages, not hundreds.
EVENTS_PER_MESSAGE = 100


class _Publisher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None
        self._server_loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def use_server_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Embedded mode: publish on the loop the ASGI server (and its consumers) run on."""
        if settings.SERVICES_MODE:
            return
        with self._lock:
            if self._server_loop is not loop:
                self._server_loop = loop
                self._loop = None
                self._queue = None

    def send(self, messages: Iterable[tuple[str, dict[str, Any]]]) -> None:
        batch = list(messages)
        if not batch:
            return
        try:
            loop, queue = self._ensure_started()
            loop.call_soon_threadsafe(_put_all, queue, batch)
        except RuntimeError:  # the loop is closing (shutdown); clients resync from stored events
            logger.debug("Dropped %d live messages: no running event loop", len(batch))

    def _ensure_started(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue[tuple[str, dict[str, Any]]]]:
        import os

        with self._lock:
            if self._pid != os.getpid():  # a forked worker process starts its own
                self._loop, self._queue, self._pid = None, None, os.getpid()
            if self._loop is not None and self._queue is not None and not self._loop.is_closed():
                return self._loop, self._queue
            server_loop = self._server_loop
            if server_loop is not None and server_loop.is_running():
                loop = server_loop
            else:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="flowdeck-publisher", daemon=True).start()
            queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
            loop.call_soon_threadsafe(_start_drain, loop, queue)
            self._loop, self._queue = loop, queue
            return loop, queue


def _start_drain(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
    task = loop.create_task(_drain(queue))
    # The drain runs for the loop's whole life; a loop closed under it (a finished test's loop,
    # a server shutting down) is not an error worth a warning.
    task._log_destroy_pending = False  # type: ignore[attr-defined]
    _drains.add(task)
    task.add_done_callback(_drains.discard)


_drains: set[asyncio.Task[None]] = set()


def _put_all(
    queue: asyncio.Queue[tuple[str, dict[str, Any]]], batch: list[tuple[str, dict[str, Any]]]
) -> None:
    for item in batch:
        queue.put_nowait(item)


async def _drain(queue: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    while True:
        group, message = await queue.get()
        try:
            await layer.group_send(group, message)
        except Exception:  # a failed send must not stop the ones after it
            logger.warning("Live message to %s failed", group, exc_info=True)


_publisher = _Publisher()


def use_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    _publisher.use_server_loop(loop)


def run_group(run_id: Any) -> str:
    return f"run.{run_id}"


def workflow_group(workflow_id: Any) -> str:
    return f"workflow.{workflow_id}"


def user_group(user_id: Any) -> str:
    return f"user.{user_id}"


def group_group(group_id: Any) -> str:
    return f"group.{group_id}"


def run_events(run_id: Any, envelopes: list[dict[str, Any]]) -> None:
    """Stored events, after commit, in seq order."""
    group = run_group(run_id)
    _publisher.send(
        (group, {"type": "run.events", "events": envelopes[start : start + EVENTS_PER_MESSAGE]})
        for start in range(0, len(envelopes), EVENTS_PER_MESSAGE)
    )


def node_delta(run_id: Any, node_id: str, scope: str, attempt: int, index: int, text: str) -> None:
    """A streamed piece of LLM text: live only, never stored, no seq."""
    _publisher.send(
        [
            (
                run_group(run_id),
                {
                    "type": "node.delta",
                    "delta": {
                        "node_id": node_id,
                        "scope": scope,
                        "attempt": attempt,
                        "index": index,
                        "text": text,
                    },
                },
            )
        ]
    )


def runs_for_group(user_id: Any) -> str:
    """Summaries of runs of the user's own workflows and of runs they started: a runs list
    opened before the user created a workflow still hears of its runs."""
    return f"runs_for.{user_id}"


def run_summary(workflow_id: Any, summary: dict[str, Any], user_ids: Iterable[Any] = ()) -> None:
    message = {"type": "run.summary", "run": summary}
    groups = [workflow_group(workflow_id), *(runs_for_group(user_id) for user_id in sorted(set(user_ids)))]
    _publisher.send([(group, message) for group in groups])


def approval_change(
    user_ids: Iterable[Any], group_ids: Iterable[Any], approval: dict[str, Any], removed: bool
) -> None:
    message = {"type": "approval.remove" if removed else "approval.upsert", "approval": approval}
    groups = [user_group(user_id) for user_id in user_ids] + [group_group(group_id) for group_id in group_ids]
    _publisher.send((group, message) for group in groups)
