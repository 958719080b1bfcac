"""A small client for a run's live events, following the documented resync rule (DESIGN §8).

The rule: apply events in `seq` order; ignore a seq already applied; on a gap, fetch
`GET /api/runs/<id>/events/?after=<last applied seq>` and apply what it returns before going on;
after a reconnect, subscribe with `?after=<last applied seq>`. Following it, a client ends with
every event of the run exactly once, in order, whatever the network or the channel layer dropped.
Used by the live-stream tests and the benchmarks; the browser client implements the same rule.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

TERMINAL_EVENTS = frozenset({"run.succeeded", "run.failed", "run.cancelled"})


def http_json(method: str, url: str, token: str, body: Any = None, timeout: float = 60) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


@dataclass
class RunStream:
    base_url: str
    token: str
    run_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    last_seq: int = 0
    duplicates: int = 0
    gaps_filled: int = 0
    deltas: list[dict[str, Any]] = field(default_factory=list)
    #: Called with each event when it is applied (in seq order), e.g. to time arrivals.
    on_event: Callable[[dict[str, Any]], None] | None = None

    @property
    def websocket_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + f"/ws/runs/{self.run_id}/?after={self.last_seq}"

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1]["type"] in TERMINAL_EVENTS

    def apply(self, event: dict[str, Any]) -> None:
        seq = event["seq"]
        if seq <= self.last_seq:
            self.duplicates += 1
            return
        if seq > self.last_seq + 1:
            self._fill_gap()
            if seq <= self.last_seq:
                self.duplicates += 1
                return
        self.events.append(event)
        self.last_seq = seq
        if self.on_event is not None:
            self.on_event(event)

    def _fill_gap(self) -> None:
        self.gaps_filled += 1
        while True:
            page = http_json(
                "GET",
                f"{self.base_url}/api/runs/{self.run_id}/events/?after={self.last_seq}&limit=5000",
                self.token,
            )
            for event in page["events"]:
                self.events.append(event)
                self.last_seq = event["seq"]
                if self.on_event is not None:
                    self.on_event(event)
            if len(page["events"]) < 5000:
                return

    def handle(self, raw: str | bytes) -> None:
        message = json.loads(raw)
        if message.get("type") == "node.delta":
            self.deltas.append(message["data"])
        elif "seq" in message:
            self.apply(message)

    async def follow(
        self,
        until: Callable[[RunStream], bool] | None = None,
        timeout_s: float = 60,
        max_events: int | None = None,
        quiet_s: float = 2.0,
    ) -> None:
        """Connect (resuming after the last applied seq) and apply events until `until` holds, the
        run finishes, or `max_events` arrived in this connection; then disconnect.

        After `quiet_s` without a message the client asks storage whether it missed the run's last
        events (a lost message with nothing after it leaves no gap to notice). Many clients
        following one quiet run should raise it: each quiet check is an HTTP request."""
        deadline = time.monotonic() + timeout_s
        received = 0
        async with websockets.connect(
            self.websocket_url, additional_headers={"Authorization": f"Bearer {self.token}"}, max_size=2**24
        ) as socket:
            while not self.finished and not (until is not None and until(self)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"run {self.run_id}: still at seq {self.last_seq} after {timeout_s} s")
                try:
                    raw = await asyncio.wait_for(socket.recv(), timeout=min(remaining, quiet_s))
                except TimeoutError:
                    # Quiet socket: ask storage whether anything was missed (the resync rule).
                    await asyncio.to_thread(self._fill_gap)
                    continue
                self.handle(raw)
                received += 1
                if max_events is not None and received >= max_events:
                    return
