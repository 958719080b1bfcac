"""Real server, worker and beat processes for services-mode tests, pointed at the test database.

Every process starts in its own session (process group), so ``kill()`` can SIGKILL a prefork
worker together with its pool children, as a machine crash would, and ``stop()`` never leaves an
orphaned child behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self, TypeVar

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent
T = TypeVar("T")


def test_database_url() -> str:
    """DATABASE_URL for the database pytest-django created, so child processes share it."""
    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgresql://{user}{password}@{host}:{port}/{params['NAME']}"


def child_environment(**overrides: str) -> dict[str, str]:
    """The environment of a child process sharing this test session's database (and Redis).

    Services mode: DATABASE_URL names the Postgres test database. Embedded mode: no service URLs,
    and SQLITE_PATH names the test database file (the child is then a complete embedded server).
    """
    from django.conf import settings

    environment = dict(os.environ)
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1"})
    if settings.SERVICES_MODE:
        environment.update({"DATABASE_URL": test_database_url(), "REDIS_URL": os.environ["REDIS_URL"]})
    else:
        environment.pop("DATABASE_URL", None)
        environment.pop("REDIS_URL", None)
        environment["SQLITE_PATH"] = str(connection.settings_dict["NAME"])
    environment.update(overrides)
    return environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], T | None], timeout_s: float, what: str, interval_s: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy and return that; fail naming ``what``.

    Tests wait for a state (a row, a status) with a deadline instead of sleeping a fixed time.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (a prefork worker's pool processes), read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        # After the command name: state, ppid, … ; a zombie is already gone for our purposes.
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@dataclass
class ManagedProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @classmethod
    def spawn(cls, command: list[str], environment: dict[str, str], name: str) -> Self:
        log_path = Path(tempfile.mkstemp(prefix=f"flowdeck-{name}-", suffix=".log")[1])
        log = log_path.open("wb")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return cls(process, log_path, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (a warm shutdown for Celery), then SIGKILL to the whole group on timeout."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.process.wait()
        self._kill_group()  # pool children a crashed main process left behind
        self._log.close()

    def kill(self) -> None:
        """SIGKILL the process and its children: no chance to clean up, as in a crash."""
        self._kill_group()
        self.process.wait()
        self._log.close()

    def _kill_group(self) -> None:
        # The group id is our child's pid (start_new_session): only processes we started.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def stop_together(*processes: ManagedProcess, timeout_s: float = 15.0) -> None:
    """SIGTERM every process first, then wait for each: the shutdowns overlap."""
    for managed in processes:
        if managed.is_running():
            managed.process.send_signal(signal.SIGTERM)
    for managed in processes:
        managed.stop(timeout_s)


class CeleryWorkerProcess(ManagedProcess):
    broker_url: str
    queues: list[str]

    @classmethod
    def launch(
        cls, concurrency: int = 2, *, queues: Sequence[str] | None = None, **environment: str
    ) -> CeleryWorkerProcess:
        """Spawn a real prefork worker without waiting for it (see :meth:`wait_ready`)."""
        hostname = f"test-{os.getpid()}-{free_port()}@localhost"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "-n",
            hostname,
            "--without-gossip",
            "--without-mingle",
        ]
        if queues:
            command.append("--queues=" + ",".join(queues))
        child_env = child_environment(**environment)
        worker = cls.spawn(command, child_env, "worker")
        worker.broker_url = child_env["REDIS_URL"]
        worker.queues = list(queues or ())
        return worker

    def wait_ready(self, timeout_s: float = 60.0) -> Self:
        """Return once the worker consumed a ping through its own broker; stop it on failure."""
        try:
            wait_for_ping(
                timeout_s,
                self,
                redis_url=self.broker_url,
                queue=self.queues[0] if self.queues else None,
            )
        except BaseException:
            self.stop()
            raise
        return self

    @classmethod
    def start(
        cls,
        concurrency: int = 2,
        ready_timeout_s: float = 60.0,
        *,
        queues: Sequence[str] | None = None,
        **environment: str,
    ) -> CeleryWorkerProcess:
        """Start a real worker and return once it has consumed a ping through the broker."""
        return cls.launch(concurrency, queues=queues, **environment).wait_ready(ready_timeout_s)


def send_task(
    redis_url: str,
    name: str,
    args: Sequence[Any],
    queue: str | None = None,
    countdown: float | None = None,
) -> None:
    """Publish a task message on the broker at ``redis_url``, whatever this process's broker is,
    to ``queue`` (default: the queue the task is declared with, as ``task.delay`` would).

    Fault tests use a private Redis; the test process must never enqueue on the session Redis
    for their runs, so every message it sends names its broker explicitly.
    """
    from kombu import Connection

    from config.celery import app

    app.loader.import_default_modules()  # the task modules (autodiscovery), for their queues
    task = app.tasks.get(name)
    if task is None:
        raise LookupError(f"no Celery task named {name!r}")
    with Connection(redis_url) as broker:
        app.send_task(
            name,
            args=list(args),
            queue=queue or getattr(task, "queue", None),
            countdown=countdown,
            connection=broker,
        )


def wait_for_ping(
    timeout_s: float,
    process: ManagedProcess,
    *,
    redis_url: str | None = None,
    queue: str | None = None,
) -> None:
    """Send `flowdeck.ping` through the broker at ``redis_url`` (default: this process's) and
    wait until a worker recorded the answer in that Redis."""
    import redis
    from django.core.cache import cache

    url = redis_url or os.environ["REDIS_URL"]
    marker = uuid.uuid4().hex
    send_task(url, "flowdeck.ping", [marker], queue=queue)
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    key = cache.make_key(f"flowdeck:ping:{marker}")
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.process.poll() is not None:
                raise RuntimeError(f"the process exited early:\n{process.log_text()}")
            if client.exists(key):
                return
            time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError(f"no ping answered within {timeout_s} s:\n{process.log_text()}")


class BeatProcess(ManagedProcess):
    """`celery beat`: sends `flowdeck.sweep` every SWEEP_INTERVAL_S (set it in ``environment``).
    Its schedule and pid files live in a scratch directory, never in the checkout."""

    state_dir: Path

    @classmethod
    def launch(cls, **environment: str) -> BeatProcess:
        state_dir = Path(tempfile.mkdtemp(prefix="flowdeck-beat-"))
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel=INFO",
            f"--schedule={state_dir / 'schedule'}",
            f"--pidfile={state_dir / 'beat.pid'}",
        ]
        beat = cls.spawn(command, child_environment(**environment), "beat")
        beat.state_dir = state_dir
        return beat

    @classmethod
    def start(cls, **environment: str) -> BeatProcess:
        return cls.launch(**environment)

    def stop(self, timeout_s: float = 15.0) -> None:
        super().stop(timeout_s)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def kill(self) -> None:
        super().kill()
        shutil.rmtree(self.state_dir, ignore_errors=True)


class ServerProcess(ManagedProcess):
    port: int

    @classmethod
    def start(cls, ready_timeout_s: float = 60.0, **environment: str) -> ServerProcess:
        port = free_port()
        command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]
        server = cls.spawn(command, child_environment(**environment), "server")
        server.port = port
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{server.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return server
            except OSError:
                time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"server not listening in {ready_timeout_s} s:\n{server.log_text()}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
