"""`noop`: a dispatched node that calls nothing. Registered in test and benchmark settings only,
so the fault tests and the dispatch benchmarks exercise the real worker path before any node type
that calls out exists there.

Config: ``sleep_s`` (hold the worker this long), ``output`` (what to return; a template),
``fail_times`` (fail this many first attempts with a retryable error), ``fail_code``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from workflows.node_types import FixedHandles, NodeType, get_node_type, register_node_type

from . import AttemptResult, NodeError, register_attempt_handler

if TYPE_CHECKING:
    from executions.services import Claim

NOOP = NodeType(
    type="noop",
    category="testing",
    label="No-op (tests only)",
    description="A dispatched node that sleeps and returns its configured output.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "sleep_s": {"type": "number", "minimum": 0, "maximum": 3600, "title": "Sleep (s)"},
            "output": {"title": "Output", "x-flowdeck": "template"},
            "fail_times": {"type": "integer", "minimum": 0, "maximum": 100, "title": "Fail first attempts"},
            "fail_code": {"type": "string", "maxLength": 64, "title": "Failure code"},
            "fail_retryable": {"type": "boolean", "title": "Failures are retryable"},
        },
    },
    execution="dispatched",
    output_schema={},
    handle_spec=FixedHandles(("out",)),
    allows_retry=True,
)


class NoopHandler:
    def execute(self, claim: Claim) -> AttemptResult:
        config: dict[str, Any] = claim.rendered
        sleep_s = float(config.get("sleep_s") or 0)
        if sleep_s:
            time.sleep(sleep_s)
        if claim.number <= int(config.get("fail_times") or 0):
            raise NodeError(
                config.get("fail_code") or "noop_failure",
                f"Attempt {claim.number} fails on purpose.",
                retryable=bool(config.get("fail_retryable", True)),
            )
        return AttemptResult(output=config.get("output", claim.input))


def install() -> None:
    """Register the type and its handler (once per process)."""
    if get_node_type("noop") is None:
        register_node_type(NOOP)
    register_attempt_handler("noop", NoopHandler())
