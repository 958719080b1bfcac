"""Runs the test tiers and prints how long each took: `python -m tests.runner all|fast|checks|bench`.

Tiers:
  checks    ruff, mypy, and `makemigrations --check`
  engine    pure-Python tests of the graph layer and the engine (no database)
  embedded  every other test in the embedded mode (SQLite, in-process broker and channel layer)
  services  the same suite against real Postgres and Redis with real worker processes
  frontend  the front end's type check and unit tests
  browser   the built app in headless Chromium against a real embedded server (tests/browser)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

#: Tests that need neither a database nor Django settings; they run once, in their own tier.
PURE_TESTS = [
    "tests/engine",
    "tests/workflows/test_validation_rules.py",
    "tests/workflows/test_validation_properties.py",
    "tests/workflows/test_node_types.py",
]
#: Browser tests run sync Playwright and get a pytest run (and tier) of their own.
BROWSER_TESTS = "tests/browser"
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL")
FRONTEND_BUNDLE_MANIFEST = ROOT / "static" / "app" / ".vite" / "manifest.json"
FRONTEND_INPUTS = [
    "frontend/src",
    "frontend/index.html",
    "frontend/vite.config.ts",
    "frontend/package-lock.json",
]
MYPY_PACKAGES = [
    "config",
    "accounts",
    "workflows",
    "executions",
    "agents",
    "frontend",
    "tests",
    "bench",
    "triggers",
    "integrations",
    "ops",
]


@dataclass
class TierResult:
    name: str
    seconds: float
    passed: bool
    detail: str = ""


def embedded_environment() -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    return environment


def run(command: list[str], environment: dict[str, str] | None = None) -> bool:
    print(f"$ {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=ROOT, env=environment or embedded_environment()).returncode == 0


def pytest(arguments: list[str], environment: dict[str, str] | None = None) -> bool:
    return run([PYTHON, "-m", "pytest", "-q", *arguments], environment)


def tier_checks() -> bool:
    results = [
        run([PYTHON, "-m", "ruff", "check", "."]),
        run([PYTHON, "-m", "ruff", "format", "--check", "."]),
        run([PYTHON, "manage.py", "makemigrations", "--check", "--dry-run", "-v", "1"]),
        run([PYTHON, "-m", "mypy", *MYPY_PACKAGES]),
    ]
    return all(results)


def tier_engine() -> bool:
    return pytest([*PURE_TESTS, "-p", "no:django", "-W", "ignore::pytest.PytestConfigWarning"])


def tier_embedded(markers: str = "not services") -> bool:
    ignores = [f"--ignore={path}" for path in [*PURE_TESTS, BROWSER_TESTS]]
    return pytest(["tests", *ignores, "-m", markers])


def tier_embedded_fast() -> bool:
    """The embedded tier without the slow end-to-end tests (real servers, 100 sockets)."""
    return tier_embedded("not services and not slow")


def tier_services() -> bool:
    state_dir = Path(tempfile.mkdtemp(prefix="flowdeck-services-"))
    up = subprocess.run(
        [PYTHON, "-m", "tests.support.services", "up", "--state-dir", str(state_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    sys.stderr.write(up.stderr)
    if up.returncode != 0:
        shutil.rmtree(state_dir, ignore_errors=True)
        return False
    environment = embedded_environment()
    for line in up.stdout.splitlines():
        key, _, value = line.partition("=")
        if key in SERVICE_VARIABLES:
            environment[key] = value
    try:
        ignores = [f"--ignore={path}" for path in [*PURE_TESTS, BROWSER_TESTS]]
        return pytest(["tests", *ignores], environment)
    finally:
        subprocess.run(
            [PYTHON, "-m", "tests.support.services", "down", "--state-dir", str(state_dir)], cwd=ROOT
        )


def tier_frontend() -> bool:
    npm = shutil.which("npm")
    if npm is None:
        print("npm is not installed: the front-end tier needs Node.js 20+ and npm.", file=sys.stderr)
        return False
    return run([npm, "--prefix", "frontend", "run", "--silent", "typecheck"]) and run(
        [npm, "--prefix", "frontend", "test", "--silent"]
    )


def newest_modification(paths: list[str]) -> float:
    newest = 0.0
    for name in paths:
        path = ROOT / name
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(file.stat().st_mtime for file in files if file.is_file())])
    return newest


def frontend_bundle_is_current() -> bool:
    if not FRONTEND_BUNDLE_MANIFEST.exists():
        return False
    return FRONTEND_BUNDLE_MANIFEST.stat().st_mtime >= newest_modification(FRONTEND_INPUTS)


def tier_browser() -> bool:
    """Build the bundle if a source is newer, find or install Chromium, then drive the real app."""
    if not frontend_bundle_is_current():
        npm = shutil.which("npm")
        if npm is None:
            print("npm is not installed: the browser tier needs the built front end.", file=sys.stderr)
            return False
        if not run([npm, "--prefix", "frontend", "run", "--silent", "build"]):
            return False
    if not run([PYTHON, "-m", "tests.support.browser"]):
        return False
    environment = embedded_environment()
    # Sync Playwright runs an event loop in the test thread; Django must not refuse ORM calls there.
    environment["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    return pytest([BROWSER_TESTS], environment)


def tier_bench() -> bool:
    return run([PYTHON, "-m", "bench"])


TIERS: dict[str, Callable[[], bool]] = {
    "checks": tier_checks,
    "engine": tier_engine,
    "embedded": tier_embedded,
    "embedded-fast": tier_embedded_fast,
    "services": tier_services,
    "frontend": tier_frontend,
    "browser": tier_browser,
    "bench": tier_bench,
}
SELECTIONS = {
    "all": ["checks", "engine", "embedded", "services", "frontend", "browser"],
    "fast": ["engine", "embedded-fast"],
}


def main(argv: list[str]) -> int:
    selection = argv[0] if argv else "all"
    names = SELECTIONS.get(selection, [selection])
    unknown = [name for name in names if name not in TIERS]
    if unknown:
        print(f"Unknown tier(s): {', '.join(unknown)}. Choose from: {', '.join([*SELECTIONS, *TIERS])}.")
        return 2
    results: list[TierResult] = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        started = time.monotonic()
        passed = TIERS[name]()
        results.append(TierResult(name, time.monotonic() - started, passed))
    print("\ntier        time      result")
    for result in results:
        print(f"{result.name:<10} {result.seconds:7.1f} s  {'passed' if result.passed else 'FAILED'}")
    total = sum(result.seconds for result in results)
    print(f"{'total':<10} {total:7.1f} s")
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
