"""Tests for tests/support/services.py, mostly its private-instance path.

These start real Postgres and Redis servers on scratch ports (about 2 s in all), so they skip
when the server binaries are not installed. They need no Django settings:

    .venv/bin/pytest tests/support -p no:django -q
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import services

# The services tier runs these: it is where `up` has found or installed the servers.
pytestmark = [pytest.mark.services, pytest.mark.timeout(180)]

REPO_ROOT = Path(__file__).resolve().parents[2]

needs_postgres_binaries = pytest.mark.skipif(
    services.find_postgres_binaries() is None, reason="PostgreSQL server binaries are not installed"
)
needs_redis_binary = pytest.mark.skipif(
    services.find_redis_server_binary() is None, reason="redis-server is not installed"
)


def run_services_script(
    command: str, state_dir: Path, **environment: str
) -> subprocess.CompletedProcess[str]:
    """Run the module as `make test` does, never letting the caller's TEST_* URLs leak in."""
    env = {
        key: value for key, value in os.environ.items() if key not in {"TEST_DATABASE_URL", "TEST_REDIS_URL"}
    }
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-m", "tests.support.services", command, "--state-dir", str(state_dir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


def parse_key_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def refuses_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def process_owner_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A state dir as `make test` makes it with `mktemp -d`, in /tmp where postgres can reach it.

    pytest's tmp_path would not do: /tmp/pytest-of-root is 0700, closed to the postgres user.
    """
    directory = Path(tempfile.mkdtemp(prefix="flowdeck-services-test-"))
    try:
        yield directory
    finally:
        run_services_script("down", directory)  # stops whatever a failed test left running
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[services.PrivateRedis]:
    server = services.start_private_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------------------------
# up / down, private path
# --------------------------------------------------------------------------------------------


@needs_postgres_binaries
@needs_redis_binary
def test_up_starts_private_servers_that_answer_and_down_removes_them(state_dir: Path) -> None:
    import psycopg
    import redis

    started = run_services_script("up", state_dir, FLOWDECK_SERVICES_PREFER_PRIVATE="1")
    assert started.returncode == 0, started.stderr
    assert "Traceback" not in started.stderr
    assert "postgres: started private instance on 127.0.0.1:" in started.stderr
    assert "redis: started private instance on 127.0.0.1:" in started.stderr

    urls = parse_key_values(started.stdout)
    assert set(urls) == {"DATABASE_URL", "REDIS_URL"}
    assert parse_key_values((state_dir / "services.env").read_text()) == urls
    database_url, redis_url = urlsplit(urls["DATABASE_URL"]), urlsplit(urls["REDIS_URL"])
    assert (database_url.hostname, database_url.path) == ("127.0.0.1", "/flowdeck")
    assert database_url.port not in (None, 5432)
    assert redis_url.port not in (None, 6379)

    state = json.loads((state_dir / "state.json").read_text())
    postgres_pid, redis_pid = state["postgres"]["pid"], state["redis"]["pid"]
    assert services.process_alive(postgres_pid)
    assert services.process_alive(redis_pid)
    if os.geteuid() == 0:  # Postgres refuses root, so it must have been started through runuser
        assert process_owner_uid(postgres_pid) == pwd.getpwnam("postgres").pw_uid

    with psycopg.connect(urls["DATABASE_URL"], autocommit=True) as connection:
        row = connection.execute("SELECT current_database(), inet_server_port(), current_setting('fsync')")
        assert row.fetchone() == ("flowdeck", database_url.port, "off")
        # pytest-django creates and drops test_* databases.
        connection.execute("CREATE DATABASE test_services_probe")
        connection.execute("DROP DATABASE test_services_probe")
    client = redis.Redis.from_url(urls["REDIS_URL"])
    client.set("probe", "ok")
    assert client.get("probe") == b"ok"
    client.close()

    stopped = run_services_script("down", state_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert not state_dir.exists()
    assert not services.process_alive(postgres_pid)
    assert not services.process_alive(redis_pid)
    assert refuses_connections(database_url.port)
    assert refuses_connections(redis_url.port)


def test_down_is_idempotent(tmp_path: Path) -> None:
    state_dir = tmp_path / "never-started"
    for _ in range(2):
        result = run_services_script("down", state_dir)
        assert (result.returncode, result.stderr) == (0, "")


def test_down_refuses_to_delete_a_directory_up_did_not_create(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = run_services_script("down", tmp_path)
    assert result.returncode == 1
    assert "not deleting" in result.stderr
    assert (tmp_path / "precious.txt").exists()


def test_missing_packages_as_non_root_is_one_line_and_status_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(services.PREFER_PRIVATE_ENV, "1")
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.delenv("TEST_REDIS_URL", raising=False)
    monkeypatch.setattr(services, "running_as_root", lambda: False)
    monkeypatch.setattr(services, "find_postgres_binaries", lambda: None)
    monkeypatch.setattr(services, "find_redis_server_binary", lambda: None)

    status = services.main(["up", "--state-dir", str(tmp_path / "services")])

    captured = capsys.readouterr()
    assert status == services.EXIT_MISSING_PACKAGES
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "apt-get install postgresql redis-server" in captured.err
    assert "TEST_DATABASE_URL and TEST_REDIS_URL" in captured.err


def test_a_given_url_that_does_not_answer_is_a_clean_error(tmp_path: Path) -> None:
    dead_port = services.free_local_port()
    result = run_services_script(
        "up", tmp_path / "services", TEST_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{dead_port}/x"
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("postgres: TEST_DATABASE_URL is set but does not answer")
    assert "Traceback" not in result.stderr
    assert run_services_script("down", tmp_path / "services").returncode == 0


@pytest.mark.skipif(
    services.find_local_postgres() is None or services.find_local_redis() is None,
    reason="no Postgres on 5432 and Redis on 6379 to find",
)
def test_found_servers_are_used_and_left_running(tmp_path: Path) -> None:
    state_dir = tmp_path / "services"
    started = run_services_script("up", state_dir, FLOWDECK_SERVICES_PREFER_PRIVATE="0")
    assert started.returncode == 0, started.stderr
    urls = parse_key_values(started.stdout)
    assert urlsplit(urls["DATABASE_URL"]).path == "/flowdeck"
    assert urls["REDIS_URL"] == f"redis://127.0.0.1:6379/{services.FOUND_REDIS_DB}"

    assert run_services_script("down", state_dir).returncode == 0
    assert not state_dir.exists()
    assert services.postgres_problem(urls["DATABASE_URL"]) is None
    assert services.redis_problem(urls["REDIS_URL"]) is None


# --------------------------------------------------------------------------------------------
# PrivateRedis, as the fault tests use it
# --------------------------------------------------------------------------------------------


@needs_redis_binary
def test_private_redis_restart_keeps_the_port_and_the_url_valid(private_redis: services.PrivateRedis) -> None:
    import redis

    url, port, first_pid = private_redis.url, private_redis.port, private_redis.pid
    client = redis.Redis.from_url(url)
    client.set("before-restart", "1")

    private_redis.restart()

    assert (private_redis.url, private_redis.port) == (url, port)
    assert first_pid is not None and not services.process_alive(first_pid)
    assert private_redis.pid not in (None, first_pid)
    assert client.ping()  # the client made before the restart reconnects to the same URL
    assert client.get("before-restart") is None  # nothing is persisted across a restart
    client.close()


@needs_redis_binary
def test_private_redis_flushall_empties_every_db(private_redis: services.PrivateRedis) -> None:
    import redis

    clients = [redis.Redis(host="127.0.0.1", port=private_redis.port, db=db) for db in (0, 3)]
    for client in clients:
        client.set("key", "value")
    private_redis.flushall()
    assert [client.dbsize() for client in clients] == [0, 0]
    for client in clients:
        client.close()


@needs_redis_binary
def test_private_redis_stop_leaves_no_process_and_is_idempotent(tmp_path: Path) -> None:
    server = services.start_private_redis(tmp_path / "redis")
    pid = server.pid
    assert pid is not None and services.process_alive(pid)

    server.stop()
    server.stop()

    assert not services.process_alive(pid)
    assert refuses_connections(server.port)
    assert services.redis_problem(server.url) is not None


@needs_redis_binary
def test_private_redis_retries_when_its_scratch_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken_port = squatter.getsockname()[1]
        offered_ports = iter([taken_port])
        real_free_local_port = services.free_local_port
        monkeypatch.setattr(
            services, "free_local_port", lambda: next(offered_ports, None) or real_free_local_port()
        )

        server = services.start_private_redis(tmp_path / "redis")
        try:
            assert server.port != taken_port
            assert services.redis_problem(server.url) is None
        finally:
            server.stop()
