"""Signals other apps listen to, so the engine need not know them."""

from __future__ import annotations

import time

from django.dispatch import Signal

#: Sent after every sweep with ``counts`` (what each step found) and ``duration_ms``.
sweep_finished = Signal()


def sweep_and_announce() -> dict[str, int]:
    """The sweep, then `sweep_finished` (callers: the beat task and the embedded sweep thread)."""
    from .recovery import sweep

    started = time.monotonic()
    counts = sweep()
    sweep_finished.send(None, counts=counts, duration_ms=int((time.monotonic() - started) * 1000))
    return counts
