"""The engine and the graph layer never import Django (STYLE rule 1), checked in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, json, pkgutil, sys
import executions.engine
imported = ["executions.engine"]
for module in pkgutil.walk_packages(executions.engine.__path__, prefix="executions.engine."):
    importlib.import_module(module.name)
    imported.append(module.name)
for name in ("workflows.graph", "workflows.validation", "workflows.node_types"):
    importlib.import_module(name)
    imported.append(name)
django = sorted(name for name in sys.modules if name.split(".")[0] == "django")
print(json.dumps({"imported": imported, "django": django}))
"""


def test_engine_and_graph_layer_import_without_django() -> None:
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    environment.pop("DJANGO_SETTINGS_MODULE", None)

    finished = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert "executions.engine.expressions" in report["imported"]
    assert "workflows.validation" in report["imported"]
    assert report["django"] == []
