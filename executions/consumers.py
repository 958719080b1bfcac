"""WebSocket consumers: authenticate, check access, join groups, forward — nothing else.

`ws/runs/<id>/?after=<seq>` hands over from stored to live events without a gap or a duplicate:
it joins the run's group first (live messages queue up meanwhile), sends the stored events after
`after`, then forwards live ones, dropping any seq already sent and filling any gap from the
database. `ws/runs/` streams run summaries; `ws/inbox/` approval changes. Sockets refused by
auth or access are closed before accept.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied
from django.http import Http404

from workflows.access import visible_workflows

from . import publish
from .access import get_run_for
from .models import RunEvent

BACKLOG_PAGE = 1000


def _stored_events(run_id: Any, after: int, until: int | None) -> list[dict[str, Any]]:
    events = RunEvent.objects.filter(run_id=run_id, seq__gt=after).order_by("seq")
    if until is not None:
        events = events.filter(seq__lte=until)
    return [event.envelope() for event in events[:BACKLOG_PAGE]]


class _AuthenticatedConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]

    async def refuse_unless_authenticated(self) -> Any:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close()
            return None
        publish.use_server_loop(asyncio.get_running_loop())
        return user

    async def join(self, groups: list[str]) -> None:
        self.groups_joined = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)


class RunConsumer(_AuthenticatedConsumer):
    async def connect(self) -> None:
        user = await self.refuse_unless_authenticated()
        if user is None:
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            after = int(query.get("after", ["0"])[0])
            run = await database_sync_to_async(get_run_for)(user, self.scope["url_route"]["kwargs"]["run_id"])
        except (ValueError, Http404, PermissionDenied):
            await self.close()
            return
        self.run_id = run.pk
        self.last_seq = max(0, after)
        await self.join([publish.run_group(run.pk)])
        await self.accept()
        await self.send_stored(until=None)

    async def send_stored(self, until: int | None) -> None:
        """Stored events after the last one sent (up to `until`), in pages."""
        while True:
            page = await database_sync_to_async(_stored_events)(self.run_id, self.last_seq, until)
            for event in page:
                await self.send_json(event)
                self.last_seq = event["seq"]
            if len(page) < BACKLOG_PAGE:
                return

    async def run_events(self, message: dict[str, Any]) -> None:
        for event in message["events"]:
            seq = event["seq"]
            if seq <= self.last_seq:
                continue  # already sent from the backlog
            if seq > self.last_seq + 1:
                await self.send_stored(until=seq - 1)  # a live message went missing: fill from storage
            if seq == self.last_seq + 1:
                await self.send_json(event)
                self.last_seq = seq

    async def node_delta(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "node.delta", "data": message["delta"]})


class RunsConsumer(_AuthenticatedConsumer):
    """Summaries of runs of every workflow the user can see (`workflow.<id>` groups)."""

    async def connect(self) -> None:
        user = await self.refuse_unless_authenticated()
        if user is None:
            return
        workflow_ids = await database_sync_to_async(
            lambda: list(visible_workflows(user).values_list("pk", flat=True))
        )()
        self._last_sent: OrderedDict[str, Any] = OrderedDict()
        await self.join(
            [
                publish.runs_for_group(user.pk),
                *[publish.workflow_group(workflow_id) for workflow_id in workflow_ids],
            ]
        )
        await self.accept()

    async def run_summary(self, message: dict[str, Any]) -> None:
        # A summary reaches this socket through the workflow's group and the user's own: send it once.
        run = message["run"]
        key = str(run.get("id"))
        if self._last_sent.get(key) == run:
            return
        self._last_sent[key] = run
        self._last_sent.move_to_end(key)
        while len(self._last_sent) > 1000:
            self._last_sent.popitem(last=False)
        await self.send_json({"type": "run.summary", "run": run})


class InboxConsumer(_AuthenticatedConsumer):
    """Approval changes for the user, directly or through their groups."""

    async def connect(self) -> None:
        user = await self.refuse_unless_authenticated()
        if user is None:
            return
        group_ids = await database_sync_to_async(lambda: list(user.groups.values_list("pk", flat=True)))()
        await self.join(
            [publish.user_group(user.pk), *[publish.group_group(group_id) for group_id in group_ids]]
        )
        await self.accept()

    async def approval_upsert(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "approval.upsert", "approval": message["approval"]})

    async def approval_remove(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "approval.remove", "approval": message["approval"]})
