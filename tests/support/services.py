"""Find or start the Postgres and Redis servers that the services-mode test suite needs.

``make test`` has to work on a developer machine where Postgres and Redis already run and on a
fresh Debian machine (CI) where nothing runs. This module hides that difference behind two
commands::

    python -m tests.support.services up   --state-dir DIR   # prints DATABASE_URL=… and REDIS_URL=…
    python -m tests.support.services down --state-dir DIR   # stops only what `up` started, removes DIR

For each service, in this order, `up` uses:

1. ``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` when set (it must answer);
2. a server answering on the standard local port (skipped when
   ``FLOWDECK_SERVICES_PREFER_PRIVATE=1``, which is how the private path is exercised on a
   machine that has servers);
3. a private instance on a scratch port with its data under DIR, installing the Debian packages
   first when running as root (or exiting with status 3 and a one-line hint when not).

`up` writes ``DIR/services.env`` (the two URLs) and ``DIR/state.json`` (what it started), so that
`down` stops exactly the private instances and never a server it merely found.

The fault tests import :func:`start_private_redis` and :func:`find_redis_server_binary` to get a
Redis they are allowed to stop and restart.

Only the standard library is imported at module level; psycopg and redis are imported where they
are needed, so that a missing driver is reported as a clear message instead of an ImportError.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

DATABASE_NAME = "flowdeck"
POSTGRES_USER = "postgres"
POSTGRES_PACKAGE = "postgresql"
REDIS_PACKAGE = "redis-server"

STANDARD_POSTGRES_PORT = 5432
STANDARD_POSTGRES_HOST = "127.0.0.1"
# Where Debian (and most other builds) put the server's unix socket.
POSTGRES_SOCKET_DIRS = ("/var/run/postgresql", "/run/postgresql", "/tmp")
STANDARD_REDIS_URL = "redis://127.0.0.1:6379"
# A shared Redis keeps its db 0 for whoever else uses it; the suite flushes only this db.
FOUND_REDIS_DB = 9

POSTGRES_PROBE_TIMEOUT_SECONDS = 2
REDIS_PROBE_TIMEOUT_SECONDS = 1
STARTUP_TIMEOUT_SECONDS = 30
SHUTDOWN_TIMEOUT_SECONDS = 15
PORT_COLLISION_ATTEMPTS = 3

STATE_FILE_NAME = "state.json"
ENV_FILE_NAME = "services.env"
PREFER_PRIVATE_ENV = "FLOWDECK_SERVICES_PREFER_PRIVATE"
EXIT_MISSING_PACKAGES = 3

# A unix socket path must fit in sockaddr_un.sun_path (108 bytes including the NUL).
MAX_UNIX_SOCKET_PATH = 107
LOCALHOST = "127.0.0.1"


class ServicesError(Exception):
    """An expected failure, reported to the user as a clean message without a traceback."""

    exit_status = 1


class MissingPackagesError(ServicesError):
    """The server binaries are missing and we may not install them (not root)."""

    exit_status = EXIT_MISSING_PACKAGES


class PortInUseError(ServicesError):
    """Another process took the scratch port between our probe and the server's bind; retry."""


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as error:
        raise ServicesError(
            f"services mode needs the psycopg package in this Python ({error}): pip install 'psycopg[binary]'"
        ) from None
    return psycopg


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as error:
        raise ServicesError(
            f"services mode needs the redis package in this Python ({error}): pip install redis"
        ) from None
    return redis


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _say(message: str) -> None:
    """Human progress lines go to stderr, so stdout carries only the KEY=value lines."""
    print(message, file=sys.stderr, flush=True)


def running_as_root() -> bool:
    return os.geteuid() == 0


def prefer_private_instances() -> bool:
    return os.environ.get(PREFER_PRIVATE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def free_local_port() -> int:
    """Ask the OS for a port nobody listens on right now (the caller retries if it loses a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        return int(probe.getsockname()[1])


def _run(
    command: Sequence[str | os.PathLike[str]],
    *,
    timeout: float,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command without a shell, turning "not found" and timeouts into ServicesError."""
    argv = [os.fspath(part) for part in command]
    try:
        return subprocess.run(
            argv, cwd=cwd, env=env, timeout=timeout, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise ServicesError(f"services: cannot run {argv[0]}: command not found") from None
    except subprocess.TimeoutExpired:
        raise ServicesError(f"services: `{shlex.join(argv)}` did not finish within {timeout:.0f} s") from None


def _output_tail(result: subprocess.CompletedProcess[str], lines: int = 15) -> str:
    text = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part and part.strip())
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def _file_tail(path: Path, lines: int = 10, start_offset: int = 0) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(start_offset)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _wait_until(check: Callable[[], str | None], timeout: float, poll_seconds: float = 0.1) -> str | None:
    """Call ``check`` until it returns None (success) or ``timeout`` passes; return the last reason."""
    deadline = time.monotonic() + timeout
    while True:
        reason = check()
        if reason is None or time.monotonic() >= deadline:
            return reason
        time.sleep(poll_seconds)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs. A zombie counts as gone: the init of some containers never reaps."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    # The state letter follows the parenthesised command name, which may itself contain spaces.
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _process_command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _wait_for_exit(pid: int, timeout: float) -> bool:
    return _wait_until(lambda: None if not process_alive(pid) else "still running", timeout, 0.05) is None


def _terminate(pid: int, expected_name: str) -> None:
    """Last resort when a clean shutdown did not work: TERM, then KILL, only if it is still ours."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if not process_alive(pid):
            return
        command_line = _process_command_line(pid)
        if command_line and expected_name not in command_line:
            return  # the pid was reused by something else; not ours to kill
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _wait_for_exit(pid, grace):
            return


def _read_pid_file(path: Path) -> int | None:
    try:
        first_line = path.read_text().splitlines()[0]
        return int(first_line.strip())
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------------------------
# Probes: does something answer?
# --------------------------------------------------------------------------------------------


def postgres_problem(url: str, timeout: int = POSTGRES_PROBE_TIMEOUT_SECONDS) -> str | None:
    """Return None when ``url`` answers a query, else a one-line reason why not."""
    psycopg = _import_psycopg()
    try:
        with psycopg.connect(url, connect_timeout=timeout, autocommit=True) as connection:
            connection.execute("SELECT 1")
    except (psycopg.Error, OSError, ValueError) as error:
        return _first_line(error)
    return None


def redis_problem(url: str, timeout: float = REDIS_PROBE_TIMEOUT_SECONDS) -> str | None:
    """Return None when ``url`` answers PING (including SELECT of its db), else a reason."""
    redis = _import_redis()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    except ValueError as error:
        return _first_line(error)
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        return _first_line(error)
    finally:
        client.close()
    return None


def postgres_url(host: str, port: int, database: str, user: str = POSTGRES_USER) -> str:
    """Build a libpq URL; a unix socket directory goes in percent-encoded, as libpq documents."""
    host_part = quote(host, safe="") if host.startswith("/") else host
    return f"postgresql://{user}@{host_part}:{port}/{database}"


@dataclass(frozen=True)
class FoundPostgres:
    """A server answering on the standard port, reached over TCP or the local unix socket."""

    host: str
    port: int

    def url(self, database: str) -> str:
        return postgres_url(self.host, self.port, database)

    def describe(self) -> str:
        if self.host.startswith("/"):
            return f"unix socket {self.host}/.s.PGSQL.{self.port}"
        return f"{self.host}:{self.port}"


def find_local_postgres() -> FoundPostgres | None:
    """Look for a trust-auth server on 127.0.0.1:5432, then on the usual unix socket directories."""
    tcp = FoundPostgres(STANDARD_POSTGRES_HOST, STANDARD_POSTGRES_PORT)
    if postgres_problem(tcp.url("postgres")) is None:
        return tcp
    for socket_dir in POSTGRES_SOCKET_DIRS:
        if not os.path.exists(os.path.join(socket_dir, f".s.PGSQL.{STANDARD_POSTGRES_PORT}")):
            continue
        via_socket = FoundPostgres(socket_dir, STANDARD_POSTGRES_PORT)
        if postgres_problem(via_socket.url("postgres")) is None:
            return via_socket
    return None


def find_local_redis() -> str | None:
    """Return the URL of our db on a Redis answering on 127.0.0.1:6379, or None."""
    url = f"{STANDARD_REDIS_URL}/{FOUND_REDIS_DB}"
    # Probing with the db selected also catches a server configured with fewer databases.
    return url if redis_problem(url) is None else None


# --------------------------------------------------------------------------------------------
# Preparing a Postgres server for pytest-django
# --------------------------------------------------------------------------------------------


def ensure_role_can_create_databases(url: str) -> None:
    """pytest-django creates ``test_<name>`` databases, so the role needs CREATEDB (or superuser)."""
    psycopg = _import_psycopg()
    try:
        with psycopg.connect(url, connect_timeout=5, autocommit=True) as connection:
            row = connection.execute(
                "SELECT rolname, rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            if row is not None and row[1]:
                return
            role = row[0] if row else "current user"
            try:
                connection.execute("ALTER ROLE CURRENT_USER CREATEDB")
            except psycopg.Error as error:
                raise ServicesError(
                    f"postgres: role {role} cannot create databases and could not be granted CREATEDB "
                    f"({_first_line(error)}); pytest-django needs it for its test_* databases"
                ) from None
    except psycopg.Error as error:
        raise ServicesError(
            f"postgres: could not check the role's privileges: {_first_line(error)}"
        ) from None


def ensure_database(maintenance_url: str, name: str) -> None:
    """Create database ``name`` unless it exists (a found server may already have it)."""
    psycopg = _import_psycopg()
    from psycopg import sql

    try:
        with psycopg.connect(maintenance_url, connect_timeout=5, autocommit=True) as connection:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return
            # A concurrent run may create it between our check and our CREATE.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        raise ServicesError(f"postgres: could not create database {name}: {_first_line(error)}") from None


# --------------------------------------------------------------------------------------------
# Binaries and packages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresBinaries:
    initdb: str
    pg_ctl: str


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (-1,)


def find_postgres_binaries() -> PostgresBinaries | None:
    """Debian installs each major version under /usr/lib/postgresql/N/bin; take the highest."""
    candidates: list[tuple[tuple[int, ...], PostgresBinaries]] = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        bin_dir = os.path.dirname(initdb)
        pg_ctl = os.path.join(bin_dir, "pg_ctl")
        if _is_executable(initdb) and _is_executable(pg_ctl):
            version = os.path.basename(os.path.dirname(bin_dir))
            candidates.append((_version_key(version), PostgresBinaries(initdb, pg_ctl)))
    if candidates:
        return max(candidates, key=lambda candidate: candidate[0])[1]
    # Outside Debian's layout (a hand-built or Homebrew server) the tools are on PATH.
    initdb_on_path, pg_ctl_on_path = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb_on_path and pg_ctl_on_path:
        return PostgresBinaries(initdb_on_path, pg_ctl_on_path)
    return None


def find_redis_server_binary() -> str | None:
    """``redis-server`` on PATH, or where Debian puts it when PATH is minimal (e.g. under sudo)."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    for candidate in ("/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"):
        if _is_executable(candidate):
            return candidate
    return None


def missing_packages_message(need_postgres: bool, need_redis: bool) -> str:
    """The one line a non-root user sees: what to install, or which variables to set instead."""
    services = [name for name, needed in (("PostgreSQL", need_postgres), ("Redis", need_redis)) if needed]
    packages = [
        name for name, needed in ((POSTGRES_PACKAGE, need_postgres), (REDIS_PACKAGE, need_redis)) if needed
    ]
    variables = [
        name
        for name, needed in (("TEST_DATABASE_URL", need_postgres), ("TEST_REDIS_URL", need_redis))
        if needed
    ]
    noun = "package" if len(packages) == 1 else "packages"
    return (
        f"services mode needs {' and '.join(services)}: install the Debian {noun} {' and '.join(packages)} "
        f"(sudo apt-get install {' '.join(packages)}), or set {' and '.join(variables)}"
    )


def install_debian_packages(packages: Sequence[str]) -> None:
    """Install quietly as root; the apt output is shown only when something fails."""
    _say(f"services: installing {' '.join(packages)} with apt-get (this takes a minute) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        result = _run(command, env=env, timeout=1800)
        if result.returncode != 0:
            raise ServicesError(
                f"services: `{shlex.join(command)}` failed with status {result.returncode}:\n"
                f"{_output_tail(result)}"
            )


def ensure_server_binaries(need_postgres: bool, need_redis: bool) -> None:
    """Make sure the binaries for the private instances exist, installing them when root."""
    postgres_missing = need_postgres and find_postgres_binaries() is None
    redis_missing = need_redis and find_redis_server_binary() is None
    if not (postgres_missing or redis_missing):
        return
    if not running_as_root():
        raise MissingPackagesError(missing_packages_message(postgres_missing, redis_missing))
    packages = [POSTGRES_PACKAGE] * postgres_missing + [REDIS_PACKAGE] * redis_missing
    install_debian_packages(packages)
    if (postgres_missing and find_postgres_binaries() is None) or (
        redis_missing and find_redis_server_binary() is None
    ):
        raise ServicesError(
            f"services: installed {' '.join(packages)} but still cannot find the server binaries"
        )


# --------------------------------------------------------------------------------------------
# A private Postgres
# --------------------------------------------------------------------------------------------


def _as_user(command: Sequence[str | os.PathLike[str]], user: str | None) -> list[str]:
    """Postgres refuses to run as root, so as root its tools run as the postgres account."""
    argv = [os.fspath(part) for part in command]
    return ["runuser", "-u", user, "--", *argv] if user else argv


@dataclass
class PrivatePostgres:
    """A throwaway cluster on a scratch port; everything it writes lives under ``directory``."""

    pg_ctl: str
    directory: Path
    port: int
    socket_dir: Path
    run_as: str | None
    pid: int | None = None
    # True when the socket directory had to live outside ``directory`` (path too long) and is ours.
    remove_socket_dir: bool = False

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str = DATABASE_NAME) -> str:
        return postgres_url(LOCALHOST, self.port, database)

    def start(self) -> None:
        """Start the server and wait until it answers; raise PortInUseError on a lost port race."""
        log_offset = _file_size(self.log_file)
        server_options = " ".join(
            [
                f"-p {self.port}",
                f"-k {shlex.quote(str(self.socket_dir))}",  # pg_ctl hands this string to a shell
                f"-c listen_addresses={LOCALHOST}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        command: list[str | os.PathLike[str]] = [
            self.pg_ctl, "-D", self.data_dir, "-l", self.log_file, "-o", server_options,
            "-w", "-t", str(STARTUP_TIMEOUT_SECONDS), "start",
        ]  # fmt: skip
        result = _run(
            _as_user(command, self.run_as), cwd=self.directory, timeout=STARTUP_TIMEOUT_SECONDS + 15
        )
        if result.returncode != 0:
            log_tail = _file_tail(self.log_file, start_offset=log_offset)
            if "Address already in use" in log_tail:
                raise PortInUseError(f"postgres: port {self.port} was taken")
            raise ServicesError(
                f"postgres: private server failed to start (pg_ctl waits up to {STARTUP_TIMEOUT_SECONDS} s); "
                f"see {self.log_file}\n{log_tail or _output_tail(result)}"
            )
        self.pid = _read_pid_file(self.data_dir / "postmaster.pid")
        problem = _wait_until(lambda: postgres_problem(self.url("postgres")), STARTUP_TIMEOUT_SECONDS)
        if problem is not None:
            raise ServicesError(
                f"postgres: private server on port {self.port} started but does not answer ({problem}); "
                f"see {self.log_file}"
            )

    def _pg_ctl(self, *arguments: str | os.PathLike[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return _run(_as_user([self.pg_ctl, "-D", self.data_dir, *arguments], self.run_as),
                    cwd=self.directory, timeout=timeout)  # fmt: skip

    def stop(self) -> None:
        """Fast shutdown through pg_ctl; idempotent, and a signal is the fallback."""
        server_running = (
            self.data_dir.is_dir()
            and _is_executable(self.pg_ctl)
            and self._pg_ctl("status", timeout=30).returncode == 0  # 3 means "not running"
        )
        if server_running:
            self._pg_ctl("-m", "fast", "-w", "-t", str(SHUTDOWN_TIMEOUT_SECONDS), "stop",
                         timeout=SHUTDOWN_TIMEOUT_SECONDS + 15)  # fmt: skip
        if self.pid is not None and process_alive(self.pid):
            _terminate(self.pid, "postgres")
        if self.pid is not None and process_alive(self.pid):
            raise ServicesError(
                f"postgres: private server (pid {self.pid}) would not stop; see {self.log_file}"
            )
        if self.remove_socket_dir:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def to_state(self) -> dict[str, Any]:
        return {
            "mode": "private",
            "pg_ctl": self.pg_ctl,
            "directory": str(self.directory),
            "port": self.port,
            "socket_dir": str(self.socket_dir),
            "run_as": self.run_as,
            "pid": self.pid,
            "remove_socket_dir": self.remove_socket_dir,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PrivatePostgres:
        return cls(
            pg_ctl=state["pg_ctl"],
            directory=Path(state["directory"]),
            port=int(state["port"]),
            socket_dir=Path(state["socket_dir"]),
            run_as=state.get("run_as"),
            pid=state.get("pid"),
            remove_socket_dir=bool(state.get("remove_socket_dir")),
        )


def _postgres_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        raise ServicesError(
            f"postgres: running as root needs a '{POSTGRES_USER}' system user to own the private cluster "
            f"(the Debian package {POSTGRES_PACKAGE} creates it)"
        ) from None


def _prepare_directory_for_postgres_user(state_dir: Path, postgres_dir: Path) -> None:
    """Postgres runs as its own user: give it its folder and let it through the (0700) state dir."""
    account = _postgres_account()
    os.chown(postgres_dir, account.pw_uid, account.pw_gid)
    # mkdtemp makes DIR 0700; search (not read) permission for others is enough to reach DIR/postgres.
    state_dir.chmod(state_dir.stat().st_mode | 0o001)
    probe = _run(_as_user(["test", "-w", postgres_dir], POSTGRES_USER), timeout=30)
    if probe.returncode != 0:
        raise ServicesError(
            f"postgres: the {POSTGRES_USER} user cannot write to {postgres_dir} (a parent directory is "
            f"closed to it); use a state dir it can reach, such as one made by `mktemp -d`"
        )


def _choose_socket_dir(postgres_dir: Path, owner: pwd.struct_passwd | None) -> tuple[Path, bool]:
    """Use the data folder for the socket unless its path is too long for a unix socket."""
    if len(str(postgres_dir)) + len("/.s.PGSQL.65535.lock") <= MAX_UNIX_SOCKET_PATH:
        return postgres_dir, False
    short_dir = Path(tempfile.mkdtemp(prefix="flowdeck-pg-"))
    if owner is not None:
        os.chown(short_dir, owner.pw_uid, owner.pw_gid)
    return short_dir, True


def start_private_postgres(directory: Path, binaries: PostgresBinaries | None = None) -> PrivatePostgres:
    """initdb a trust-auth cluster in ``directory`` and start it on a free port."""
    binaries = binaries or find_postgres_binaries()
    if binaries is None:
        raise ServicesError(missing_packages_message(need_postgres=True, need_redis=False))
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    run_as: str | None = None
    owner: pwd.struct_passwd | None = None
    if running_as_root():
        run_as, owner = POSTGRES_USER, _postgres_account()
        _prepare_directory_for_postgres_user(directory.parent, directory)
    socket_dir, remove_socket_dir = _choose_socket_dir(directory, owner)

    data_dir = directory / "data"
    initdb_command: list[str | os.PathLike[str]] = [
        binaries.initdb, "-D", data_dir, "--auth=trust", "-U", POSTGRES_USER,
        "--encoding=UTF8", "--no-locale", "--no-sync",
    ]  # fmt: skip
    initdb = _run(_as_user(initdb_command, run_as), cwd=directory, timeout=180)
    if initdb.returncode != 0:
        if remove_socket_dir:
            shutil.rmtree(socket_dir, ignore_errors=True)
        raise ServicesError(f"postgres: initdb failed in {data_dir}:\n{_output_tail(initdb)}")

    server = PrivatePostgres(binaries.pg_ctl, directory, 0, socket_dir, run_as, None, remove_socket_dir)
    for attempt in range(1, PORT_COLLISION_ATTEMPTS + 1):
        server.port = free_local_port()
        try:
            server.start()
            return server
        except PortInUseError:
            if attempt == PORT_COLLISION_ATTEMPTS:
                raise
        except BaseException:
            with contextlib.suppress(ServicesError):
                server.stop()
            raise
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# A private Redis
# --------------------------------------------------------------------------------------------


@dataclass
class PrivateRedis:
    """A throwaway Redis on a scratch port that tests may stop, restart and flush at will.

    Nothing is persisted (no RDB, no AOF), so a restart brings back an empty server on the same
    port: the URL stays valid, the data does not.
    """

    binary: str
    directory: Path
    port: int
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOCALHOST}:{self.port}/0"

    @property
    def log_file(self) -> Path:
        return self.directory / "redis.log"

    @property
    def pid_file(self) -> Path:
        return self.directory / "redis.pid"

    def start(self) -> None:
        """Start (daemonized) on ``self.port`` and wait until PING answers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pid_file.unlink(missing_ok=True)
        log_offset = _file_size(self.log_file)
        command: list[str | os.PathLike[str]] = [
            self.binary, "--port", str(self.port), "--bind", LOCALHOST, "--save", "",
            "--appendonly", "no", "--daemonize", "yes", "--dir", self.directory,
            "--pidfile", self.pid_file, "--logfile", self.log_file,
        ]  # fmt: skip
        result = _run(command, cwd=self.directory, timeout=STARTUP_TIMEOUT_SECONDS)
        if result.returncode != 0:
            raise ServicesError(f"redis: redis-server refused to start:\n{_output_tail(result)}")

        def not_ready() -> str | None:
            # Read the log first: a port squatter may accept the connection and never answer PING.
            log_text = _file_tail(self.log_file, lines=50, start_offset=log_offset)
            if "Address already in use" in log_text:
                raise PortInUseError(f"redis: port {self.port} was taken")
            pid = _read_pid_file(self.pid_file)
            if pid is not None and not process_alive(pid):
                raise ServicesError(
                    f"redis: private server exited during start-up; see {self.log_file}\n{log_text}"
                )
            return redis_problem(self.url)

        problem = _wait_until(not_ready, STARTUP_TIMEOUT_SECONDS, poll_seconds=0.05)
        if problem is not None:
            raise ServicesError(
                f"redis: private server on port {self.port} did not answer within "
                f"{STARTUP_TIMEOUT_SECONDS} s ({problem}); see {self.log_file}"
            )
        self.pid = _read_pid_file(self.pid_file) or self._pid_from_server()

    def _pid_from_server(self) -> int | None:
        redis = _import_redis()
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return int(client.info("server")["process_id"])
        except (redis.RedisError, OSError, KeyError, ValueError):
            return None
        finally:
            client.close()

    def stop(self) -> None:
        """SHUTDOWN NOSAVE, falling back to signals; idempotent, and never stops someone else's server."""
        pid = self.pid or _read_pid_file(self.pid_file)
        if pid is not None and process_alive(pid):
            if not (self._ask_to_shut_down(pid) and _wait_for_exit(pid, SHUTDOWN_TIMEOUT_SECONDS)):
                _terminate(pid, "redis")
            if process_alive(pid):
                raise ServicesError(f"redis: private server (pid {pid}) would not stop; see {self.log_file}")
        self.pid = None
        self.pid_file.unlink(missing_ok=True)

    def _ask_to_shut_down(self, pid: int) -> bool:
        """Send SHUTDOWN NOSAVE if the server on our port is the process we started."""
        try:
            redis = _import_redis()
        except ServicesError:
            return False  # no client library: the caller falls back to signals
        if self._pid_from_server() != pid:
            return False
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)
        try:
            client.shutdown(nosave=True)
        except (redis.RedisError, OSError):
            pass  # the server drops the connection as it exits; the caller checks the process
        finally:
            client.close()
        return True

    def restart(self) -> None:
        """Stop and start again on the same port, so URLs handed out earlier stay valid."""
        self.stop()
        self.start()

    def flushall(self) -> None:
        redis = _import_redis()
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)
        try:
            client.flushall()
        finally:
            client.close()

    def to_state(self) -> dict[str, Any]:
        return {
            "mode": "private",
            "binary": self.binary,
            "directory": str(self.directory),
            "port": self.port,
            "pid": self.pid,
            "url": self.url,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PrivateRedis:
        return cls(state["binary"], Path(state["directory"]), int(state["port"]), state.get("pid"))


def start_private_redis(directory: str | os.PathLike[str], binary: str | None = None) -> PrivateRedis:
    """Start a private Redis with its files in ``directory`` on a free port (used by fault tests)."""
    binary = binary or find_redis_server_binary()
    if binary is None:
        raise ServicesError(missing_packages_message(need_postgres=False, need_redis=True))
    server = PrivateRedis(binary, Path(directory).resolve(), port=0)
    for attempt in range(1, PORT_COLLISION_ATTEMPTS + 1):
        server.port = free_local_port()
        try:
            server.start()
            return server
        except PortInUseError:
            if attempt == PORT_COLLISION_ATTEMPTS:
                raise
        except BaseException:
            with contextlib.suppress(ServicesError):
                server.stop()
            raise
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# up / down
# --------------------------------------------------------------------------------------------


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    temporary.replace(path)


def _read_state(state_dir: Path) -> dict[str, Any]:
    state_file = state_dir / STATE_FILE_NAME
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError) as error:
        raise ServicesError(f"services: cannot read {state_file}: {_first_line(error)}") from None
    if not isinstance(state, dict):
        raise ServicesError(f"services: {state_file} is not a state file written by `up`")
    return state


def _stop_private_instances(state: dict[str, Any], mention_external: bool = True) -> list[str]:
    """Stop what ``state`` says we started; return the problems instead of stopping at the first."""
    problems: list[str] = []
    postgres_state = state.get("postgres") or {}
    if postgres_state.get("mode") == "private":
        try:
            PrivatePostgres.from_state(postgres_state).stop()
            _say(f"postgres: stopped private instance on {LOCALHOST}:{postgres_state['port']}")
        except ServicesError as error:
            problems.append(str(error))
    elif postgres_state and mention_external:
        _say(f"postgres: left the {postgres_state.get('mode', 'external')} server running")
    redis_state = state.get("redis") or {}
    if redis_state.get("mode") == "private":
        try:
            PrivateRedis.from_state(redis_state).stop()
            _say(f"redis: stopped private instance on {LOCALHOST}:{redis_state['port']}")
        except ServicesError as error:
            problems.append(str(error))
    elif redis_state and mention_external:
        _say(f"redis: left the {redis_state.get('mode', 'external')} server running")
    return problems


def _bring_up_postgres(state_dir: Path, state: dict[str, Any], found: FoundPostgres | None) -> str:
    """Return DATABASE_URL, recording in ``state`` what was used or started."""
    given_url = os.environ.get("TEST_DATABASE_URL")
    if given_url:
        problem = postgres_problem(given_url)
        if problem is not None:
            raise ServicesError(f"postgres: TEST_DATABASE_URL is set but does not answer: {problem}")
        ensure_role_can_create_databases(given_url)
        state["postgres"] = {"mode": "given"}
        _say("postgres: using TEST_DATABASE_URL")
        return given_url
    if found is not None:
        ensure_role_can_create_databases(found.url("postgres"))
        ensure_database(found.url("postgres"), DATABASE_NAME)
        state["postgres"] = {"mode": "found", "address": found.describe()}
        _say(f"postgres: found at {found.describe()}")
        return found.url(DATABASE_NAME)

    started_at = time.monotonic()
    server = start_private_postgres(state_dir / "postgres")
    state["postgres"] = server.to_state()
    _write_json_atomically(state_dir / STATE_FILE_NAME, state)  # recorded before anything can fail
    ensure_role_can_create_databases(server.url("postgres"))
    ensure_database(server.url("postgres"), DATABASE_NAME)
    _say(
        f"postgres: started private instance on {LOCALHOST}:{server.port} in "
        f"{time.monotonic() - started_at:.1f} s (data in {server.data_dir}, log {server.log_file})"
    )
    return server.url(DATABASE_NAME)


def _bring_up_redis(state_dir: Path, state: dict[str, Any], found_url: str | None) -> str:
    """Return REDIS_URL, recording in ``state`` what was used or started."""
    given_url = os.environ.get("TEST_REDIS_URL")
    if given_url:
        problem = redis_problem(given_url)
        if problem is not None:
            raise ServicesError(f"redis: TEST_REDIS_URL is set but does not answer: {problem}")
        state["redis"] = {"mode": "given"}
        _say("redis: using TEST_REDIS_URL")
        return given_url
    if found_url is not None:
        state["redis"] = {"mode": "found", "url": found_url}
        _say(f"redis: found at {LOCALHOST}:6379, using db {FOUND_REDIS_DB}")
        return found_url

    started_at = time.monotonic()
    server = start_private_redis(state_dir / "redis")
    state["redis"] = server.to_state()
    _write_json_atomically(state_dir / STATE_FILE_NAME, state)
    _say(
        f"redis: started private instance on {LOCALHOST}:{server.port} in "
        f"{time.monotonic() - started_at:.1f} s (log {server.log_file})"
    )
    return server.url


def up(state_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Find or start both services; write services.env and state.json; return the two URLs.

    Both services are probed before either is started, so that missing packages are reported (or
    installed in one apt-get run) before anything is left running.
    """
    # A missing driver is reported here, before anything is started.
    _import_psycopg()
    _import_redis()
    state_dir = Path(state_dir).resolve()
    if (state_dir / STATE_FILE_NAME).exists():
        _say(f"services: {state_dir} holds an earlier run's state; stopping what it started first")
        down(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"postgres": None, "redis": None}
    _write_json_atomically(state_dir / STATE_FILE_NAME, state)  # marks DIR as ours for `down`

    look_locally = not prefer_private_instances()
    found_postgres = None
    if not os.environ.get("TEST_DATABASE_URL") and look_locally:
        found_postgres = find_local_postgres()
    found_redis = None
    if not os.environ.get("TEST_REDIS_URL") and look_locally:
        found_redis = find_local_redis()
    ensure_server_binaries(
        need_postgres=not os.environ.get("TEST_DATABASE_URL") and found_postgres is None,
        need_redis=not os.environ.get("TEST_REDIS_URL") and found_redis is None,
    )

    try:
        urls = {
            "DATABASE_URL": _bring_up_postgres(state_dir, state, found_postgres),
            "REDIS_URL": _bring_up_redis(state_dir, state, found_redis),
        }
    except BaseException:
        # Leave nothing running behind a failed `up`; keep DIR so its logs can be read.
        _stop_private_instances(state, mention_external=False)
        state = {"postgres": None, "redis": None}
        _write_json_atomically(state_dir / STATE_FILE_NAME, state)
        raise
    _write_json_atomically(state_dir / STATE_FILE_NAME, state)
    (state_dir / ENV_FILE_NAME).write_text("".join(f"{key}={value}\n" for key, value in urls.items()))
    return urls


def down(state_dir: str | os.PathLike[str]) -> None:
    """Stop the private instances recorded by `up`, then remove DIR. Safe to run twice."""
    state_dir = Path(state_dir).resolve()
    if not state_dir.exists():
        return
    if not (state_dir / STATE_FILE_NAME).exists():
        if any(state_dir.iterdir()):
            raise ServicesError(
                f"services: {state_dir} has no {STATE_FILE_NAME}; not deleting what `up` did not create"
            )
        state_dir.rmdir()
        return
    problems = _stop_private_instances(_read_state(state_dir))
    if problems:
        raise ServicesError("\n".join([*problems, f"services: kept {state_dir} so `down` can be retried"]))
    shutil.rmtree(state_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.services",
        description="Find or start Postgres and Redis for the services-mode test suite.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in (
        ("up", "find or start the servers; print DATABASE_URL=... and REDIS_URL=..."),
        ("down", "stop what `up` started and remove the state directory"),
    ):
        command = commands.add_parser(name, help=summary)
        command.add_argument("--state-dir", required=True, type=Path, help="scratch dir for data and state")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "up":
            for key, value in up(arguments.state_dir).items():
                print(f"{key}={value}", flush=True)
        else:
            down(arguments.state_dir)
    except ServicesError as error:
        print(error, file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
