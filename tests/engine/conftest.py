"""The pure engine tests run without Django (``-p no:django``): register the test-only ``noop``
dispatched node type here, since no settings module does it for them."""

from __future__ import annotations

from executions.handlers.noop import NOOP
from workflows.node_types import get_node_type, register_node_type

if get_node_type("noop") is None:
    register_node_type(NOOP)
