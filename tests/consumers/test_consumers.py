"""The WebSocket consumers through their real ASGI stack (origin check, session and bearer auth)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken
from config.asgi import websocket_application
from executions import consumers, recovery, services
from executions.models import Run, RunEvent, Timer
from tests.executions.graphs import edge, graph, node
from workflows import services as workflow_services

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://testserver")


def two_delays() -> dict[str, Any]:
    return graph(
        [
            node("start", "start"),
            node("first", "delay", {"seconds": 3600}),
            node("second", "delay", {"seconds": 3600}),
            node("end", "end", {"outputs": {"done": "{{ true }}"}}),
        ],
        [edge("start", "first"), edge("first", "second"), edge("second", "end")],
    )


def make_workflow(owner: Any) -> Any:
    workflow = workflow_services.create_workflow(owner=owner, name="live", graph=two_delays())
    workflow_services.publish_workflow(workflow, author=owner)
    workflow.refresh_from_db()
    return workflow


def make_run(owner: Any, workflow: Any = None) -> str:
    workflow = workflow or make_workflow(owner)
    run = services.create_run(
        workflow=workflow,
        version=workflow.active_version,
        draft_graph=None,
        inputs={},
        variables={},
        user=owner,
    )
    services.advance(run.pk)
    return str(run.pk)


def fire_next_delay(run_id: str) -> None:
    """Make the run's pending delay due and let the sweep fire it (commits and publishes events)."""
    Timer.objects.filter(run_id=run_id).update(due_at=timezone.now() - timedelta(seconds=1))
    recovery.sweep()


def seqs(run_id: str) -> list[int]:
    return list(RunEvent.objects.filter(run_id=run_id).order_by("seq").values_list("seq", flat=True))


def session_cookie(user: Any) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (
        b"cookie",
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode(),
    )


async def connect(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(websocket_application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def receive_until(communicator: WebsocketCommunicator, last_seq: int, timeout: float = 5) -> list[int]:
    received: list[int] = []
    while not received or received[-1] < last_seq:
        message = await communicator.receive_json_from(timeout=timeout)
        received.append(message["seq"])
    return received


@pytest.fixture
def owner_and_run(users: dict[str, Any]) -> tuple[Any, str]:
    return users["owner"], make_run(users["owner"])


async def test_no_credentials_are_refused(owner_and_run: tuple[Any, str]) -> None:
    _, run_id = owner_and_run
    for path in (f"/ws/runs/{run_id}/", "/ws/runs/", "/ws/inbox/"):
        _, connected = await connect(path, [ORIGIN])
        assert not connected, path


async def test_a_bad_bearer_token_is_refused(owner_and_run: tuple[Any, str]) -> None:
    _, run_id = owner_and_run
    _, connected = await connect(f"/ws/runs/{run_id}/", [(b"authorization", b"Bearer fdt_nope")])
    assert not connected


async def test_a_session_and_a_bearer_token_are_accepted(owner_and_run: tuple[Any, str]) -> None:
    owner, run_id = owner_and_run
    cookie = await sync_to_async(session_cookie)(owner)
    _, raw = await sync_to_async(ApiToken.issue)(owner)
    expected = await sync_to_async(seqs)(run_id)
    for headers in ([ORIGIN, cookie], [(b"authorization", f"Bearer {raw}".encode())]):
        communicator, connected = await connect(f"/ws/runs/{run_id}/", headers)
        assert connected
        assert await receive_until(communicator, expected[-1]) == expected
        await communicator.disconnect()


async def test_a_foreign_origin_is_refused_even_with_a_valid_session(owner_and_run: tuple[Any, str]) -> None:
    owner, run_id = owner_and_run
    cookie = await sync_to_async(session_cookie)(owner)
    for origin in (b"https://evil.example", b"null", b"file://"):
        _, connected = await connect(f"/ws/runs/{run_id}/", [(b"origin", origin), cookie])
        assert not connected, origin
    # A browser (session cookie) always sends Origin; without one the socket is refused.
    _, connected = await connect(f"/ws/runs/{run_id}/", [cookie])
    assert not connected


async def test_another_users_run_is_refused(owner_and_run: tuple[Any, str], users: dict[str, Any]) -> None:
    _, run_id = owner_and_run
    _, raw = await sync_to_async(ApiToken.issue)(users["stranger"])
    bearer = (b"authorization", f"Bearer {raw}".encode())
    _, connected = await connect(f"/ws/runs/{run_id}/", [bearer])
    assert not connected
    _, connected = await connect("/ws/runs/00000000-0000-0000-0000-000000000000/", [bearer])
    assert not connected


async def test_after_in_the_middle_then_live_events(owner_and_run: tuple[Any, str]) -> None:
    owner, run_id = owner_and_run
    _, raw = await sync_to_async(ApiToken.issue)(owner)
    stored = await sync_to_async(seqs)(run_id)
    middle = stored[len(stored) // 2]
    communicator, connected = await connect(
        f"/ws/runs/{run_id}/?after={middle}", [(b"authorization", f"Bearer {raw}".encode())]
    )
    assert connected
    assert await receive_until(communicator, stored[-1]) == [seq for seq in stored if seq > middle]
    await sync_to_async(fire_next_delay)(run_id)
    now_stored = await sync_to_async(seqs)(run_id)
    assert await receive_until(communicator, now_stored[-1]) == [
        seq for seq in now_stored if seq > stored[-1]
    ]
    await communicator.disconnect()


async def test_events_committed_during_the_handover_arrive_once_in_order(
    owner_and_run: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run changes between joining the group and reading the backlog: its events are both in
    storage and in the live stream, and the client still gets each exactly once, in order."""
    owner, run_id = owner_and_run
    _, raw = await sync_to_async(ApiToken.issue)(owner)
    real = consumers._stored_events
    calls = {"n": 0}

    def stored_with_a_commit_first(*args: Any) -> list[dict[str, Any]]:
        if calls["n"] == 0:
            fire_next_delay(run_id)  # commits and publishes while the consumer is mid-handover
        calls["n"] += 1
        return real(*args)

    monkeypatch.setattr(consumers, "_stored_events", stored_with_a_commit_first)
    communicator, connected = await connect(
        f"/ws/runs/{run_id}/", [(b"authorization", f"Bearer {raw}".encode())]
    )
    assert connected
    everything = await sync_to_async(seqs)(run_id)
    received = await receive_until(communicator, everything[-1])
    await sync_to_async(fire_next_delay)(run_id)  # the last delay: the run finishes live
    final = await sync_to_async(seqs)(run_id)
    received += await receive_until(communicator, final[-1])
    assert received == final == list(range(1, len(final) + 1))
    assert await communicator.receive_nothing(timeout=0.3)  # nothing sent twice
    assert await sync_to_async(lambda: Run.objects.get(pk=run_id).status)() == "succeeded"
    await communicator.disconnect()


async def test_the_runs_and_inbox_streams(users: dict[str, Any]) -> None:
    owner = users["owner"]
    _, raw = await sync_to_async(ApiToken.issue)(owner)
    bearer = (b"authorization", f"Bearer {raw}".encode())
    workflow = await sync_to_async(make_workflow)(owner)
    runs_socket, connected = await connect("/ws/runs/", [bearer])
    assert connected
    run_id = await sync_to_async(make_run)(owner, workflow)
    summary = await runs_socket.receive_json_from(timeout=5)
    assert summary["type"] == "run.summary" and summary["run"]["id"] == run_id

    approver = users["viewer"]
    _, approver_token = await sync_to_async(ApiToken.issue)(approver)
    inbox, connected = await connect("/ws/inbox/", [(b"authorization", f"Bearer {approver_token}".encode())])
    assert connected

    def run_with_approval() -> str:
        approval_graph = graph(
            [
                node("start", "start"),
                node("ask", "approval", {"title": "ok?", "assignees": {"groups": ["viewers"]}}),
                node("end", "end"),
            ],
            [edge("start", "ask"), edge("ask", "end", "approved")],
        )
        workflow = workflow_services.create_workflow(owner=owner, name="ask", graph=approval_graph)
        workflow_services.publish_workflow(workflow, author=owner)
        workflow.refresh_from_db()
        run = services.create_run(
            workflow=workflow,
            version=workflow.active_version,
            draft_graph=None,
            inputs={},
            variables={},
            user=owner,
        )
        services.advance(run.pk)
        return str(run.pk)

    assert await sync_to_async(Group.objects.filter(name="viewers", user=approver).exists)()
    approval_run = await sync_to_async(run_with_approval)()
    upsert = await inbox.receive_json_from(timeout=5)
    assert upsert["type"] == "approval.upsert" and upsert["approval"]["run"] == approval_run
    assert upsert["approval"]["title"] == "ok?" and upsert["approval"]["status"] == "pending"
    await sync_to_async(services.cancel_run)(approval_run, "owner")
    removed = await inbox.receive_json_from(timeout=5)
    assert removed["type"] == "approval.remove" and removed["approval"]["status"] == "cancelled"
    await runs_socket.disconnect()
    await inbox.disconnect()


async def test_the_runs_stream_hears_of_a_workflow_created_after_it_connected(users: dict[str, Any]) -> None:
    """The socket joined the groups of the workflows that existed when it connected; a workflow
    its user creates afterwards still reaches it (through the user's own group), once per change,
    and nobody else's socket hears of it."""
    owner, stranger = users["owner"], users["stranger"]
    sockets = {}
    for name, user in (("owner", owner), ("stranger", stranger)):
        _, raw = await sync_to_async(ApiToken.issue)(user)
        sockets[name], connected = await connect("/ws/runs/", [(b"authorization", f"Bearer {raw}".encode())])
        assert connected
    run_id = await sync_to_async(make_run)(owner)  # a new workflow, then its run
    seen: list[tuple[str, str]] = []
    while not seen or seen[-1][1] != "waiting":
        message = await sockets["owner"].receive_json_from(timeout=5)
        assert message["type"] == "run.summary" and message["run"]["id"] == run_id
        seen.append((message["run"]["id"], message["run"]["status"]))
    assert len(seen) == len(set(seen)), f"a change was sent twice: {seen}"
    assert await sockets["owner"].receive_nothing(timeout=0.3)
    assert await sockets["stranger"].receive_nothing(timeout=0.3)
    for socket in sockets.values():
        await socket.disconnect()
