"""Settings of the browser tier's server: the test settings, serving a private copy of static/.

A `make frontend` or a test run elsewhere in the checkout rebuilds static/app while this server
runs, and Vite empties the directory first: the server would keep handing out the old manifest's
file names, which no longer exist, and every later page would stay blank. The session fixture
copies static/ once (checking the copy is complete) and points this server at the copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from config.settings.test import *  # noqa: F403

_static_copy = Path(os.environ["FLOWDECK_BROWSER_STATIC_DIR"])  # set by tests/browser/conftest.py
STATICFILES_DIRS = [_static_copy]
VITE_MANIFEST_PATH = _static_copy / "app" / ".vite" / "manifest.json"
