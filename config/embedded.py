"""The embedded runtime: Celery worker threads inside the one server process.

In the embedded mode there is no broker process: Celery's `memory://` transport keeps its queues in
this process, so only threads of this process can consume them. `manage.py serve` starts the
runtime before serving; tests start it the same way. Other processes never enqueue here.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import worker as celery_worker
from celery.utils.nodenames import anon_nodename

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_runtime: EmbeddedRuntime | None = None


class _ThreadedWorker(celery_worker.WorkController):
    """A Celery worker that reports when its consumer is ready to take messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.consumer_ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: Any) -> None:
        self.consumer_ready.set()


class EmbeddedRuntime:
    def __init__(self, concurrency: int, sweep_interval_s: float) -> None:
        self.concurrency = concurrency
        self.sweep_interval_s = sweep_interval_s
        self._worker: _ThreadedWorker | None = None
        self._thread: threading.Thread | None = None
        self._sweeper: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self, ready_timeout_s: float = 30.0) -> None:
        from config.celery import app

        self._worker = _ThreadedWorker(
            app=app,
            hostname=anon_nodename(),
            pool="threads",
            concurrency=self.concurrency,
            loglevel="WARNING",
            ready_callback=None,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self._thread = threading.Thread(
            target=self._worker.start, name="flowdeck-embedded-worker", daemon=True
        )
        self._thread.start()
        if not self._worker.consumer_ready.wait(ready_timeout_s):
            raise RuntimeError("The embedded worker did not become ready in time.")
        self._stopping.clear()
        self._sweeper = threading.Thread(
            target=self._sweep_forever, name="flowdeck-embedded-sweep", daemon=True
        )
        self._sweeper.start()
        logger.info("Embedded worker started with %d threads.", self.concurrency)

    def _sweep_forever(self) -> None:
        """The embedded mode's stand-in for celery beat: the sweep and the schedule tick, every
        second by default."""
        from django.db import close_old_connections

        from executions.signals import sweep_and_announce as sweep
        from triggers.services import tick_schedules

        while not self._stopping.wait(self.sweep_interval_s):
            for step in (sweep, tick_schedules):
                try:
                    step()
                except Exception:  # the next tick tries again; a failed step must not end the thread
                    logger.exception("The %s failed", step.__name__)
            try:
                close_old_connections()
            except Exception:  # e.g. the database is unreachable: the next tick reconnects
                logger.exception("Closing the sweep's database connections failed")

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the worker loop to finish its current tasks and exit, then wait for it."""
        from celery.worker import state

        self._stopping.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout_s)
            self._sweeper = None
        if self._thread is None:
            return
        state.should_terminate = 0
        self._thread.join(timeout_s)
        state.should_terminate = None
        if self._thread.is_alive():
            logger.warning("The embedded worker did not stop within %.0f s.", timeout_s)
        self._thread = None
        self._worker = None


def start_runtime(concurrency: int | None = None) -> EmbeddedRuntime:
    """Start the process's embedded runtime once; later calls return the running one."""
    global _runtime
    from django.conf import settings

    with _lock:
        if _runtime is None or not _runtime.is_alive():
            runtime = EmbeddedRuntime(
                concurrency or settings.EMBEDDED_WORKER_CONCURRENCY, settings.SWEEP_INTERVAL_S
            )
            runtime.start()
            _runtime = runtime
        return _runtime


def stop_runtime() -> None:
    global _runtime
    with _lock:
        if _runtime is not None:
            _runtime.stop()
            _runtime = None


def current_runtime() -> EmbeddedRuntime | None:
    return _runtime
