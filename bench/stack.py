"""The measured system, brought up once per `make bench` and always torn down (DESIGN §10).

- Postgres and Redis from `python -m tests.support.services up` (found on this machine, or private
  instances it starts); `down` at the end stops only what `up` started.
- A throwaway database `flowdeck_bench_<pid>` on that Postgres, migrated here and dropped at the end,
  so a benchmark never touches anyone's data and starts from empty tables.
- On a Redis that `up` merely *found*, the benchmark moves off the db the services-mode test suite
  uses (it runs workers on the same queue names, which would steal our messages) to BENCH_REDIS_DB.
- One web process (`manage.py serve`, daphne) and WORKER_PROCESSES `celery worker` processes, every
  one with DJANGO_SETTINGS_MODULE=config.settings.bench. The benchmark process itself loads the same
  settings: it sets up data through the ORM and drives the workloads over HTTP and WebSockets.

Workers: 2 processes x prefork concurrency 2 on this 2-core machine. DESIGN §10 fixes "2 worker
processes"; prefork is the production pool (`Procfile`); 2 children each gives 4 execution slots,
so one slot can run a task while another waits on a Postgres or Redis round trip, without
oversubscribing 2 cores that also carry Postgres, Redis, the web process and the load generator.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tests.support.processes import ManagedProcess, child_pids, free_port

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_MODULE = "config.settings.bench"
WORKER_PROCESSES = 2
WORKER_CONCURRENCY = 2
#: The Redis db used on a found (shared) Redis: not the test suite's db 9, not anybody's db 0.
BENCH_REDIS_DB = 10
#: Queues whose stale messages (from an interrupted earlier benchmark) are dropped at start.
QUEUES = ("flowdeck.control", "flowdeck.nodes", "bench.bare")
READY_TIMEOUT_S = 90.0


class StackError(RuntimeError):
    pass


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Services and the throwaway database
# --------------------------------------------------------------------------------------------


def services_up(state_dir: Path) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.services", "up", "--state-dir", str(state_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        raise StackError(f"`tests.support.services up` failed with status {result.returncode}")
    urls = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        if key in ("DATABASE_URL", "REDIS_URL"):
            urls[key] = value.strip()
    state = json.loads((state_dir / "state.json").read_text())
    if (state.get("redis") or {}).get("mode") == "found":
        urls["REDIS_URL"] = with_path(urls["REDIS_URL"], f"/{BENCH_REDIS_DB}")
    return urls


def services_down(state_dir: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "tests.support.services", "down", "--state-dir", str(state_dir)], cwd=ROOT
    )


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def create_database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return with_path(server_url, f"/{name}")


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as connection:
        # FORCE (Postgres 13+) ends sessions a killed process may have left on the database.
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_stale_messages(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        client.delete(*QUEUES, "unacked", "unacked_index")
    finally:
        client.close()


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def process_environment(database_url: str, redis_url: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in ("SQLITE_PATH",)}
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environment


def rss_kib(pid: int) -> int:
    """Resident set size of one process (VmRSS), in KiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages (a prefork child's copy-on-write heap) split among the
    processes sharing them. Reported beside RSS, which counts them once per process."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


@dataclass
class Stack:
    database_url: str
    redis_url: str
    web: ManagedProcess | None = None
    workers: list[ManagedProcess] = field(default_factory=list)
    worker_names: list[str] = field(default_factory=list)
    port: int = 0
    log_paths: list[Path] = field(default_factory=list)
    #: Set when a workload failed: the processes' logs are then kept and their paths printed.
    keep_logs: bool = False

    @property
    def environment(self) -> dict[str, str]:
        return process_environment(self.database_url, self.redis_url)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        """Spawn the web process and the workers without waiting for them."""
        if self.web is not None or self.workers:
            raise StackError("the stack's processes are already running")
        self.port = free_port()
        environment = self.environment
        self.web = self._spawn(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            environment,
            "bench-web",
        )
        self.worker_names = [
            f"bench-{os.getpid()}-{index}-{free_port()}@localhost" for index in range(WORKER_PROCESSES)
        ]
        self.workers = [
            self._spawn(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--loglevel=WARNING",
                    "--pool=prefork",
                    f"--concurrency={WORKER_CONCURRENCY}",
                    "-n",
                    name,
                ],
                environment,
                "bench-worker",
            )
            for name in self.worker_names
        ]

    def _spawn(self, command: list[str], environment: dict[str, str], name: str) -> ManagedProcess:
        process = ManagedProcess.spawn(command, environment, name)
        self.log_paths.append(process.log_path)
        return process

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """The web process answers /health and every worker answers a control ping."""
        from config.celery import app

        deadline = time.monotonic() + timeout_s
        self._check_alive()
        while not self.web_answers():
            self._check_alive()
            if time.monotonic() > deadline:
                raise StackError(f"the web process did not answer /health in {timeout_s} s\n{self.logs()}")
            time.sleep(0.05)
        answered: set[str] = set()
        while len(answered) < len(self.worker_names):
            self._check_alive()
            if time.monotonic() > deadline:
                raise StackError(f"workers answered no ping in {timeout_s} s\n{self.logs()}")
            for reply in app.control.ping(destination=self.worker_names, timeout=0.5) or []:
                answered.update(reply)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _check_alive(self) -> None:
        for process in [self.web, *self.workers]:
            if process is not None and not process.is_running():
                raise StackError(f"a stack process exited early\n{self.logs()}")

    def pids(self) -> dict[str, list[int]]:
        """The web process, the worker main processes and their prefork children."""
        workers = [process.pid for process in self.workers]
        return {
            "web": [self.web.pid] if self.web is not None else [],
            "workers": workers,
            "children": [child for pid in workers for child in child_pids(pid)],
        }

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the web process and by the workers (main processes and pool
        children): the cost of a workload without the waiting a busy machine adds to wall time."""
        pids = self.pids()
        return {
            "web": sum(cpu_seconds(pid) for pid in pids["web"]),
            "workers": sum(cpu_seconds(pid) for pid in pids["workers"] + pids["children"]),
        }

    def logs(self, lines: int = 30) -> str:
        parts = []
        named = [("web", self.web), *zip(self.worker_names, self.workers, strict=True)]
        for name, process in named:
            if process is not None:
                tail = "\n".join(process.log_text().splitlines()[-lines:])
                parts.append(f"--- {name} (log {process.log_path}):\n{tail}")
        return "\n".join(parts)

    def stop(self) -> None:
        """SIGTERM everything first (Celery's warm shutdown), then wait; SIGKILL stragglers."""
        processes = [process for process in [self.web, *self.workers] if process is not None]
        for process in processes:
            if process.is_running():
                with contextlib.suppress(ProcessLookupError):
                    process.process.send_signal(signal.SIGTERM)
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.process.wait(20)
            process.stop(timeout_s=5)  # SIGKILLs what is left of its process group, closes the log
        self.web, self.workers, self.worker_names = None, [], []

    def remove_logs(self) -> None:
        for path in self.log_paths:
            path.unlink(missing_ok=True)
        self.log_paths = []


@contextlib.contextmanager
def running_stack(start_processes: bool = True) -> Iterator[Stack]:
    """Services, a migrated throwaway database, Django set up in this process with the bench
    settings, and (unless told otherwise) the web and worker processes; all gone afterwards, also
    on Ctrl-C or a failing workload."""
    state_dir = Path(tempfile.mkdtemp(prefix="flowdeck-bench-"))
    started = time.monotonic()
    try:
        urls = services_up(state_dir)
    except BaseException:
        services_down(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    database_name = f"flowdeck_bench_{os.getpid()}"
    server_url = urls["DATABASE_URL"]
    stack: Stack | None = None
    try:
        database_url = create_database(server_url, database_name)
        drop_stale_messages(urls["REDIS_URL"])
        os.environ.update(process_environment(database_url, urls["REDIS_URL"]))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        stack = Stack(database_url=database_url, redis_url=urls["REDIS_URL"])
        if start_processes:
            stack.start()
        _say(
            f"stack up in {time.monotonic() - started:.1f} s: database {database_name}, redis "
            f"{urls['REDIS_URL']}, web {stack.base_url if stack.web else '-'}, "
            f"{len(stack.workers)} workers x prefork {WORKER_CONCURRENCY}"
        )
        yield stack
    finally:
        try:
            if stack is not None:
                stack.stop()
                if stack.keep_logs:
                    _say("process logs kept: " + " ".join(str(path) for path in stack.log_paths))
                else:
                    stack.remove_logs()
        finally:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            try:
                drop_database(server_url, database_name)
            finally:
                services_down(state_dir)
                shutil.rmtree(state_dir, ignore_errors=True)
                _say("stack down")


def redis_client(stack: Stack) -> Any:
    import redis

    return redis.Redis.from_url(stack.redis_url, socket_timeout=60, socket_connect_timeout=5)
