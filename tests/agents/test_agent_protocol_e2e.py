"""The agent protocol end to end: two agent processes (`examples/echo_agent.py`) compete for one
task on a real server process; the first holds its lease past expiry, the sweep offers the task
again, the second completes it, and the first one's late result is refused with 409.

Both modes: embedded (one `manage.py serve` process with its worker threads and sweep thread,
SQLite) and services (the server, a `celery worker` and a `celery beat` process, Postgres and
Redis pub/sub for the long-poll wake-ups).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from accounts.models import ApiToken
from agents.models import AgentTask
from bench.live_client import http_json
from executions.models import NodeRun, Run, RunEvent
from tests.executions.graphs import edge, graph, node
from tests.support.processes import (
    BeatProcess,
    CeleryWorkerProcess,
    ManagedProcess,
    ServerProcess,
    stop_together,
    wait_until,
)
from workflows import services as workflow_services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ECHO_AGENT = Path(__file__).resolve().parents[2] / "examples" / "echo_agent.py"
#: A quick sweep, so an expired lease is offered again within half a second.
SWEEP_INTERVAL_S = "0.5"
LEASE_S = 2
T = TypeVar("T")


@pytest.fixture
def stack() -> Iterator[ServerProcess]:
    server = ServerProcess.start(SWEEP_INTERVAL_S=SWEEP_INTERVAL_S)
    helpers: list[ManagedProcess] = []
    try:
        if settings.SERVICES_MODE:
            helpers.append(CeleryWorkerProcess.start(SWEEP_INTERVAL_S=SWEEP_INTERVAL_S))
            helpers.append(BeatProcess.start(SWEEP_INTERVAL_S=SWEEP_INTERVAL_S))
        yield server
    finally:
        stop_together(server, *helpers)


@pytest.fixture
def agents(stack: ServerProcess) -> Iterator[list[ManagedProcess]]:
    started: list[ManagedProcess] = []
    yield started
    stop_together(*started)


def start_agent(
    started: list[ManagedProcess], server: ServerProcess, token_file: Path, *arguments: str
) -> ManagedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FLOWDECK_")}
    environment["NO_PROXY"] = "127.0.0.1,localhost"
    command = [
        sys.executable,
        str(ECHO_AGENT),
        "--server",
        server.base_url,
        "--token-file",
        str(token_file),
        "--wait-s",
        "5",
        "--max-tasks",
        "1",
        *arguments,
    ]
    agent = ManagedProcess.spawn(command, environment, "agent")
    started.append(agent)
    return agent


def wait_for(check: Callable[[], T | None], timeout_s: float, what: str, *logged: ManagedProcess) -> T:
    """wait_until, with the agents' logs as they are when the wait fails."""
    try:
        return wait_until(check, timeout_s, what)
    except AssertionError as error:
        logs = "\n".join(f"--- {process.log_path.name}:\n{process.log_text()}" for process in logged)
        raise AssertionError(f"{error}\n{logs}") from None


def publish_echo_workflow(owner: Any) -> int:
    workflow = workflow_services.create_workflow(
        owner=owner,
        name="echo",
        graph=graph(
            [
                node("start", "start"),
                node(
                    "shout",
                    "agent_task",
                    {
                        "capability": "echo-e2e",
                        "input": {"text": "{{ inputs.text }}"},
                        "lease_s": LEASE_S,
                        "max_leases": 3,
                    },
                ),
                node("done", "end", {"outputs": {"reply": "{{ nodes.shout.output }}"}}),
            ],
            [edge("start", "shout"), edge("shout", "done")],
        ),
    )
    workflow_services.publish_workflow(workflow, author=owner)
    return int(workflow.pk)


def test_a_lease_held_past_expiry_loses_to_the_other_agent_and_the_run_finishes_once(
    stack: ServerProcess, agents: list[ManagedProcess], tmp_path: Path
) -> None:
    ops = get_user_model().objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    _, user_token = ApiToken.issue(ops)
    workflow_id = publish_echo_workflow(ops)
    capability = ["--capability", "echo-e2e", "--user-token", user_token]

    # The slow agent works three leases long and never extends: its lease will expire.
    slow = start_agent(
        agents,
        stack,
        tmp_path / "slow.json",
        *capability,
        "--name",
        "slow",
        "--work-s",
        str(3 * LEASE_S),
        "--no-extend",
    )
    wait_for(lambda: "waiting for tasks" in slow.log_text(), 30, "the slow agent to start", slow)
    run = http_json(
        "POST",
        f"{stack.base_url}/api/workflows/{workflow_id}/runs/",
        user_token,
        {"inputs": {"text": "hello"}},
    )
    task = wait_for(
        lambda: (
            AgentTask.objects.filter(run_id=run["id"], status="leased").select_related("leased_by").first()
        ),
        30,
        "the slow agent's claim",
        slow,
    )
    assert task.leased_by is not None and task.leased_by.name == "slow" and task.lease_no == 1

    # The quick agent long-polls alongside; it gets the task once the sweep offers it again.
    quick = start_agent(agents, stack, tmp_path / "quick.json", *capability, "--name", "quick")
    finished = wait_for(
        lambda: Run.objects.filter(pk=run["id"], status__in=["succeeded", "failed", "cancelled"]).first(),
        60,
        "the run to finish",
        slow,
        quick,
    )
    wait_for(lambda: not slow.is_running(), 30, "the slow agent to report late", slow)
    wait_for(lambda: not quick.is_running(), 30, "the quick agent to finish", quick)

    assert finished.status == "succeeded", finished.error
    assert finished.outputs is not None
    reply = finished.outputs["reply"]
    assert reply["agent"] == "quick" and reply["text"] == "HELLO"
    task.refresh_from_db()
    assert task.status == "completed" and task.lease_no == 2 and task.result == reply
    assert task.leased_by is not None and task.leased_by.name == "quick"
    assert f"completed task={task.pk} lease_no=2" in quick.log_text()
    assert f"lost lease task={task.pk} lease_no=1 (409" in slow.log_text()
    assert slow.process.returncode == 0 and quick.process.returncode == 0

    agent_events = [
        (event.type, event.data.get("agent"), event.data.get("lease_no"))
        for event in RunEvent.objects.filter(run_id=run["id"], type__startswith="agent_task.").order_by("seq")
    ]
    assert agent_events == [
        ("agent_task.offered", None, None),
        ("agent_task.claimed", "slow", 1),
        ("agent_task.lease_expired", "slow", 1),
        ("agent_task.claimed", "quick", 2),
        ("agent_task.completed", None, 2),
    ]
    assert RunEvent.objects.filter(run_id=run["id"], type="run.succeeded").count() == 1
    assert RunEvent.objects.filter(run_id=run["id"], type="node.succeeded", node_id="shout").count() == 1
    assert NodeRun.objects.get(run_id=run["id"], node_id="shout").output == reply
