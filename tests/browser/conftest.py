"""The browser tier: a real `manage.py serve` process and Debian's Chromium driven by Playwright.

One embedded server (SQLite in a scratch directory, its worker threads in the same process)
serves the whole session; every test gets a fresh browser context signed in through the real
login form, and leaves a screenshot in ``test-artifacts/browser/<test name>.png`` whether it
passed or failed. Tests arrange data through the HTTP API with bearer tokens (``api`` and
``api_as``), exactly as an integrator would, so nothing here shares a database connection with the
server.

Run it on its own: ``python -m tests.runner browser`` (sync Playwright runs an event loop in the
test thread, which must not meet pytest-asyncio's loops, and Django's async-safety check must be
told so: ``DJANGO_ALLOW_ASYNC_UNSAFE=true``). The front end must be built (``make frontend``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import ROOT, ManagedProcess, free_port

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.support.browser import ensure_chromium

ARTIFACTS_DIR = ROOT / "test-artifacts" / "browser"
MANIFEST = ROOT / "static" / "app" / ".vite" / "manifest.json"
SERVER_START_TIMEOUT_S = 60.0
#: Where tests/browser/settings.py finds the server's private copy of static/.
STATIC_COPY_ENV = "FLOWDECK_BROWSER_STATIC_DIR"
#: Playwright's default for every wait (locators, expect, navigation) in this tier.
DEFAULT_TIMEOUT_MS = 10_000
#: Page loads and the sign-in redirect, which a busy shared 2-core machine can stall for seconds.
NAVIGATION_TIMEOUT_MS = 30_000
expect.set_options(timeout=DEFAULT_TIMEOUT_MS)


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    is_staff: bool = False


ADMIN = Account("admin", "admin-password-1", is_staff=True)
ALICE = Account("alice", "alice-password-1")
BOB = Account("bob", "bob-password-1")
ACCOUNTS = {account.username: account for account in (ADMIN, ALICE, BOB)}

CREATE_USERS = """
from django.contrib.auth import get_user_model
User = get_user_model()
for username, password, is_staff in {accounts!r}:
    user = User.objects.create_user(username, f"{{username}}@example.com", password)
    user.is_staff = user.is_superuser = is_staff
    user.save()
"""


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body!r}")
        self.status = status
        self.body = body


# Requests go straight to the local server, whatever proxy the environment names.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class ApiClient:
    """A bearer-token client for arranging data through the real API."""

    base_url: str
    token: str

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with _opener.open(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            raise ApiError(error.code, json.loads(raw) if raw else None) from None
        return json.loads(raw) if raw else None

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", f"{path}?{urllib.parse.urlencode(query)}" if query else path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, {} if body is None else body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


@dataclass
class LiveServer:
    """The running `manage.py serve` process and the scratch directory holding its database."""

    base_url: str
    process: ManagedProcess
    data_dir: Path
    environment: dict[str, str]
    _tokens: dict[str, str] = field(default_factory=dict)

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def api_as(self, username: str) -> ApiClient:
        """An API client for one of the session's accounts (its token is issued once)."""
        if username not in self._tokens:
            account = ACCOUNTS[username]
            issued = ApiClient(self.base_url, "").request(
                "POST",
                "/api/auth/token/",
                {"username": account.username, "password": account.password, "name": "browser tests"},
            )
            self._tokens[username] = issued["token"]
        return ApiClient(self.base_url, self._tokens[username])

    def manage(self, *arguments: str) -> str:
        """Run a management command against the server's database; return its output."""
        return manage(self.environment, *arguments)


def manage(environment: dict[str, str], *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(arguments)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def unique_name(prefix: str) -> str:
    """Tests share one server; a unique name keeps each test's workflows apart (search finds them)."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def starter_graph() -> dict[str, Any]:
    """The smallest valid graph: a start node wired to an end node."""
    return {
        "schema_version": 1,
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
            {"id": "end", "type": "end", "position": {"x": 320, "y": 0}},
        ],
        "edges": [{"id": "e_start_end", "source": "start", "target": "end"}],
    }


def copy_static_files(destination: Path, attempts: int = 5) -> None:
    """Copy static/ (with the built front end) to ``destination``, retrying while a rebuild that
    started elsewhere leaves the manifest naming files that are not there yet."""
    for attempt in range(attempts):
        shutil.rmtree(destination, ignore_errors=True)
        try:
            shutil.copytree(ROOT / "static", destination)
            manifest = json.loads((destination / MANIFEST.relative_to(ROOT / "static")).read_text())
        except (OSError, ValueError):
            manifest = None
        if manifest is not None and all(
            (destination / "app" / entry["file"]).exists() for entry in manifest.values()
        ):
            return
        time.sleep(1 + attempt)
    raise RuntimeError(f"could not copy a complete front-end build from {ROOT / 'static'}")


def server_environment(data_dir: Path) -> dict[str, str]:
    """The embedded mode with every piece of state (SQLite, secret files, static files) in ``data_dir``."""
    environment = {
        key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}
    }
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.browser.settings",
            STATIC_COPY_ENV: str(data_dir / "static"),
            "FLOWDECK_DATA_DIR": str(data_dir),
            "SQLITE_PATH": str(data_dir / "flowdeck.sqlite3"),
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    return environment


def _answers(url: str) -> bool:
    try:
        with _opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture(scope="session")
def flowdeck_server() -> Iterator[LiveServer]:
    if not MANIFEST.exists():
        pytest.exit(f"the front end is not built ({MANIFEST} is missing): run `make frontend` first", 2)
    data_dir = Path(tempfile.mkdtemp(prefix="flowdeck-browser-"))
    environment = server_environment(data_dir)
    port = free_port()
    process: ManagedProcess | None = None
    try:
        copy_static_files(data_dir / "static")
        manage(environment, "migrate", "--noinput", "-v", "0")
        accounts = [(account.username, account.password, account.is_staff) for account in ACCOUNTS.values()]
        manage(environment, "shell", "-c", CREATE_USERS.format(accounts=accounts))
        process = ManagedProcess.spawn(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
            environment,
            "browser-server",
        )
        server = LiveServer(f"http://127.0.0.1:{port}", process, data_dir, environment)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _answers(server.url("/health")):
            if not process.is_running():
                raise RuntimeError(f"the server exited early:\n{process.log_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer in {SERVER_START_TIMEOUT_S} s")
            time.sleep(0.1)
        yield server
    finally:
        if process is not None:
            process.stop()
            # Kept beside the screenshots: the server's side of whatever a test saw.
            ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(process.log_path, ARTIFACTS_DIR / "server.log")
            process.log_path.unlink(missing_ok=True)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Headless Chromium from the Debian package (Playwright's own download is never used)."""
    launched = playwright_instance.chromium.launch(
        executable_path=ensure_chromium(),
        headless=True,
        # --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
        args=["--no-sandbox", "--no-proxy-server", "--disable-dev-shm-usage"],
    )
    yield launched
    launched.close()


@pytest.fixture
def api(flowdeck_server: LiveServer) -> ApiClient:
    """The staff account's API client."""
    return flowdeck_server.api_as(ADMIN.username)


@pytest.fixture
def api_as(flowdeck_server: LiveServer) -> Callable[[str], ApiClient]:
    return flowdeck_server.api_as


def artifact_name(item: pytest.Item, suffix: str = "") -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", item.name).strip("-")
    return f"{name}{suffix}.png"


@dataclass
class Sessions:
    """Every browser context a test opened, screenshotted and closed when the test ends."""

    browser: Browser
    flowdeck_server: LiveServer
    opened: list[tuple[str, BrowserContext, Page]] = field(default_factory=list)

    def new_page(self, label: str) -> Page:
        context = self.browser.new_context(
            base_url=self.flowdeck_server.base_url, viewport={"width": 1280, "height": 800}
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        page = context.new_page()
        self.opened.append((label, context, page))
        return page

    def login(self, username: str) -> Page:
        """A page signed in as ``username`` through the real login form, on the workflows page."""
        account = ACCOUNTS[username]
        page = self.new_page(username)
        log_in(page, account.username, account.password)
        page.wait_for_url(re.compile(r"/workflows/?$"), timeout=NAVIGATION_TIMEOUT_MS)
        return page

    def close(self, item: pytest.Item) -> None:
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        for index, (label, context, page) in enumerate(self.opened):
            suffix = "" if index == 0 else f"-{label}"
            try:
                page.screenshot(path=str(ARTIFACTS_DIR / artifact_name(item, suffix)), full_page=True)
            except Exception as error:  # a crashed page must not hide the test's own failure
                print(f"screenshot of {label} failed: {error}", file=sys.stderr)
            context.close()


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def sessions(
    request: pytest.FixtureRequest, browser: Browser, flowdeck_server: LiveServer
) -> Iterator[Sessions]:
    opened = Sessions(browser, flowdeck_server)
    yield opened
    opened.close(request.node)


@pytest.fixture
def anonymous_page(sessions: Sessions) -> Page:
    """A page with no session (for the login form itself)."""
    return sessions.new_page("anonymous")


@pytest.fixture
def page(sessions: Sessions) -> Page:
    """A page signed in as the staff account ``admin`` through the login form."""
    return sessions.login(ADMIN.username)


@pytest.fixture
def login_as(sessions: Sessions) -> Callable[[str], Page]:
    """``login_as("alice")``: another signed-in user, in a browser context of its own."""
    return sessions.login
