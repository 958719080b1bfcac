"""Find or install the Chromium that the browser tests drive.

Playwright's own browser download is not used: the tests drive Debian's ``chromium`` package
through ``executable_path``, so the tier works on machines that cannot reach Playwright's CDN and
the browser is updated with the rest of the system. As with Postgres and Redis in
:mod:`tests.support.services`, a missing browser is installed with apt-get when running as root;
otherwise the tier stops with one line naming the package to install.

    python -m tests.support.browser   # prints the path of the Chromium binary, installing it if needed

``FLOWDECK_CHROMIUM`` names a binary explicitly (another build, or a Chrome for Testing).
"""

from __future__ import annotations

import os
import shutil
import sys

from tests.support.services import ServicesError, install_debian_packages, running_as_root

CHROMIUM_PACKAGE = "chromium"
CHROMIUM_ENV = "FLOWDECK_CHROMIUM"
#: Where Debian and Ubuntu put the binary, for when PATH is minimal (e.g. under sudo).
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium")


class BrowserUnavailableError(ServicesError):
    """No Chromium, and we may not install one (not root), or the named binary does not exist."""


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_chromium() -> str | None:
    """The explicitly named binary, else a ``chromium`` on PATH, else Debian's usual paths."""
    named = os.environ.get(CHROMIUM_ENV, "").strip()
    if named:
        if not _is_executable(named):
            raise BrowserUnavailableError(f"{CHROMIUM_ENV}={named} is not an executable file")
        return named
    for name in ("chromium", "chromium-browser"):
        on_path = shutil.which(name)
        if on_path:
            return on_path
    return next((path for path in CHROMIUM_CANDIDATES if _is_executable(path)), None)


def ensure_chromium() -> str:
    """Return the path of a Chromium binary, installing the Debian package first when root."""
    found = find_chromium()
    if found:
        return found
    if not running_as_root():
        raise BrowserUnavailableError(
            f"the browser tests need Chromium: install the Debian package {CHROMIUM_PACKAGE} "
            f"(sudo apt-get install {CHROMIUM_PACKAGE}), or set {CHROMIUM_ENV} to a Chromium binary"
        )
    install_debian_packages([CHROMIUM_PACKAGE])
    found = find_chromium()
    if found is None:
        raise BrowserUnavailableError(f"installed {CHROMIUM_PACKAGE} but still cannot find its binary")
    return found


def main() -> int:
    try:
        print(ensure_chromium())
    except ServicesError as error:
        print(error, file=sys.stderr)
        return error.exit_status
    return 0


if __name__ == "__main__":
    sys.exit(main())
