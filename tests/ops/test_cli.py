"""The command line end to end: `run_workflow`, `export_workflow` / `import_workflow`,
`approvals list|decide` and `prune_runs`, through call_command and as real child processes.

A child process in the embedded mode runs the engine itself (DESIGN §4: no other process may
enqueue into the server's in-memory broker); in the services mode it goes through Redis to the
session's worker processes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from agents.models import AgentTask
from executions import services
from executions.models import Approval, NodeAttempt, NodeRun, Run, RunEvent, Timer
from tests.executions.graphs import edge, graph, node
from tests.support.processes import ROOT, child_environment
from workflows import services as workflow_services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db(transaction=True)

DOUBLING = graph(
    [
        node(
            "start",
            "start",
            {"input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}},
        ),
        node("double", "transform", {"mapping": {"value": "inputs.n * 2"}}),
        node("check", "condition", {"expression": "nodes.double.output.value < 100"}),
        node("small", "end", {"outputs": {"value": "{{ nodes.double.output.value }}"}}),
        node("large", "transform", {"mapping": {"boom": "1 / 0"}}),
        node("never", "end", {"outputs": {}}),
    ],
    [
        edge("start", "double"),
        edge("double", "check"),
        edge("check", "small", "true"),
        edge("check", "large", "false"),
        edge("large", "never"),
    ],
)

APPROVAL = graph(
    [
        node("start", "start"),
        node(
            "review",
            "approval",
            {"title": "Ship it?", "assignees": {"users": ["alice"]}, "payload": {"what": "crate"}},
        ),
        node("shipped", "end", {"outputs": {"by": "{{ nodes.review.output.decided_by }}"}}),
        node("held", "end", {"outputs": {"held": "{{ true }}"}}),
    ],
    [edge("start", "review"), edge("review", "shipped", "approved"), edge("review", "held", "rejected")],
)


@pytest.fixture
def people(transactional_db: Any) -> dict[str, Any]:
    user_model = get_user_model()
    return {
        name: user_model.objects.create_user(name, f"{name}@example.com", "pw")
        for name in ("owner", "alice", "bob")
    }


def published(owner: Any, name: str, graph_json: dict[str, Any]) -> Workflow:
    workflow = workflow_services.create_workflow(owner=owner, name=name, graph=graph_json)
    workflow_services.publish_workflow(workflow, author=owner)
    workflow.refresh_from_db()
    return workflow


def run_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def manage(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=child_environment(LOG_LEVEL="WARNING"),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


# --- run_workflow ------------------------------------------------------------------------------


def test_run_workflow_prints_progress_and_the_outputs(worker: Any, people: dict[str, Any]) -> None:
    published(people["owner"], "Doubler", DOUBLING)

    out, err = run_command("run_workflow", "Doubler", "--input", "n=21")

    assert json.loads(out) == {"value": 42}
    lines = err.splitlines()
    assert lines[0].startswith("Run ") and lines[0].endswith("of 'Doubler' (version 1)")
    shown = [line.split()[1:3] for line in lines[1:]]
    assert ["start", "succeeded"] in shown and ["double", "succeeded"] in shown
    assert ["large", "skipped"] in shown and ["small", "succeeded"] in shown
    assert lines[-1].split()[1:] == ["run", "is", "succeeded"]


def test_a_failed_run_exits_1_with_its_error(worker: Any, people: dict[str, Any]) -> None:
    workflow = published(people["owner"], "Doubler", DOUBLING)

    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("run_workflow", str(workflow.pk), "--inputs-json", '{"n": 60}', "--quiet", stdout=out)

    assert refused.value.returncode == 1
    body = json.loads(out.getvalue())
    assert body["status"] == "failed"
    assert Run.objects.get(pk=body["run"]).status == "failed"


def test_bad_inputs_start_nothing(worker: Any, people: dict[str, Any]) -> None:
    published(people["owner"], "Doubler", DOUBLING)
    with pytest.raises(CommandError) as refused:
        run_command("run_workflow", "Doubler", "--input", "n=many")
    assert refused.value.returncode == 1
    assert "input_schema" in str(refused.value)
    with pytest.raises(CommandError, match="No workflow is named"):
        run_command("run_workflow", "Tripler")
    with pytest.raises(CommandError, match="bob may not run 'Doubler'"):
        run_command("run_workflow", "Doubler", "--input", "n=1", "--as", "bob")
    with pytest.raises(CommandError, match="Version 7 does not exist"):
        run_command("run_workflow", "Doubler", "--input", "n=1", "--version", "7")
    assert Run.objects.count() == 0


def test_the_draft_and_a_version_can_be_chosen(worker: Any, people: dict[str, Any]) -> None:
    workflow = published(people["owner"], "Doubler", DOUBLING)
    changed = json.loads(json.dumps(DOUBLING).replace("inputs.n * 2", "inputs.n * 3"))
    workflow_services.save_draft(workflow, changes={"graph": changed}, revision=workflow.revision)

    assert json.loads(run_command("run_workflow", "Doubler", "--input", "n=2", "--quiet")[0]) == {"value": 4}
    out, _ = run_command("run_workflow", "Doubler", "--input", "n=2", "--draft", "--quiet")
    assert json.loads(out) == {"value": 6}
    assert json.loads(
        run_command(
            "run_workflow", "Doubler", "-i" if False else "--input", "n=2", "--version", "1", "--quiet"
        )[0]
    ) == {"value": 4}
    assert Run.objects.filter(version__isnull=True).count() == 1


def test_a_run_still_going_at_the_timeout_exits_2_and_goes_on(worker: Any, people: dict[str, Any]) -> None:
    published(people["owner"], "Ship", APPROVAL)

    with pytest.raises(CommandError) as pending:
        run_command("run_workflow", "Ship", "--timeout", "1")

    assert pending.value.returncode == 2
    run = Run.objects.get()
    assert run.status == "waiting"
    assert f"The run {run.pk} is still waiting" in str(pending.value)


@pytest.mark.slow  # real child processes
def test_run_workflow_in_its_own_process(worker: Any, people: dict[str, Any]) -> None:
    published(people["owner"], "Doubler", DOUBLING)

    done = manage("run_workflow", "Doubler", "--input", "n=5")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"value": 10}
    assert "double" in done.stderr and "run is succeeded" in done.stderr
    failed = manage("run_workflow", "Doubler", "--input", "n=50", "--quiet")
    assert failed.returncode == 1, failed.stderr
    assert json.loads(failed.stdout)["status"] == "failed"


@pytest.mark.slow  # real child processes
def test_ctrl_c_stops_following_and_leaves_the_run_going(worker: Any, people: dict[str, Any]) -> None:
    published(people["owner"], "Ship", APPROVAL)
    child = subprocess.Popen(
        [sys.executable, "manage.py", "run_workflow", "Ship"],
        cwd=ROOT,
        env=child_environment(LOG_LEVEL="WARNING"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not Run.objects.filter(status="waiting").exists() and child.poll() is None:
            assert time.monotonic() < deadline, "the run never reached its approval"
            time.sleep(0.1)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    run = Run.objects.get()
    assert child.returncode == 130, err
    assert f"Stopped following the run {run.pk}; it goes on." in err
    assert run.status == "waiting"


# --- export and import -------------------------------------------------------------------------


def test_export_then_import_round_trips(people: dict[str, Any], tmp_path: Path) -> None:
    workflow = published(people["owner"], "Doubler", DOUBLING)
    target = tmp_path / "doubler.json"

    out, _ = run_command("export_workflow", str(workflow.pk))
    assert json.loads(out) == workflow_services.export_document(workflow)
    run_command("export_workflow", "Doubler", "--version", "1", "--output", str(target))
    assert json.loads(target.read_text()) == workflow_services.export_document(
        workflow, workflow.active_version
    )

    out, _ = run_command(
        "import_workflow", str(target), "--owner", "bob", "--name", "Bob's doubler", "--publish"
    )

    imported = Workflow.objects.get(name="Bob's doubler")
    assert out.splitlines() == [
        f"Imported 'Bob's doubler' as workflow {imported.pk}.",
        "Published version 1.",
    ]
    assert imported.owner == people["bob"]
    assert imported.graph == workflow.graph
    assert imported.active_version is not None and imported.active_version.number == 1


def test_import_refuses_what_is_not_a_workflow_document(people: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something.else", "version": 1, "name": "x", "graph": {}}))
    with pytest.raises(CommandError, match="Not a Flowdeck workflow document"):
        run_command("import_workflow", str(bad), "--owner", "bob")
    with pytest.raises(CommandError, match="No active user"):
        run_command("import_workflow", str(bad), "--owner", "nobody")
    with pytest.raises(CommandError, match="has no version 3"):
        run_command("export_workflow", str(published(people["owner"], "D", DOUBLING).pk), "--version", "3")
    assert Workflow.objects.count() == 1


# --- approvals -------------------------------------------------------------------------------


def start_approval_run(people: dict[str, Any]) -> Run:
    workflow = published(people["owner"], "Ship", APPROVAL)
    run = services.create_run(
        workflow=workflow,
        version=workflow.active_version,
        draft_graph=None,
        inputs={},
        variables={},
        user=people["owner"],
    )
    services.advance(run.pk)
    return Run.objects.get(pk=run.pk)


def test_approvals_list_shows_what_waits_and_for_whom(people: dict[str, Any]) -> None:
    run = start_approval_run(people)
    approval = Approval.objects.get(run=run)

    rows = json.loads(run_command("approvals", "list", "--json")[0])
    assert [(row["id"], row["status"], row["title"], row["assignees"]) for row in rows] == [
        (str(approval.pk), "pending", "Ship it?", ["alice"])
    ]
    assert [
        row["id"] for row in json.loads(run_command("approvals", "list", "--mine-of", "alice", "--json")[0])
    ] == [str(approval.pk)]
    assert json.loads(run_command("approvals", "list", "--mine-of", "bob", "--json")[0]) == []
    assert json.loads(run_command("approvals", "list", "--status", "approved", "--json")[0]) == []
    table, _ = run_command("approvals", "list")
    assert str(approval.pk) in table and "Ship it?" in table and "to alice" in table


def test_approvals_decide_keeps_the_rules(people: dict[str, Any]) -> None:
    run = start_approval_run(people)
    approval = Approval.objects.get(run=run)

    with pytest.raises(CommandError, match="You are not an assignee of this approval"):
        run_command("approvals", "decide", str(approval.pk), "approve", "--as", "bob", "--wait", "0")
    with pytest.raises(CommandError, match="No approval has the id"):
        run_command("approvals", "decide", "not-a-uuid", "approve", "--as", "alice")

    approval.refresh_from_db()
    assert approval.status == "pending" and not approval.decisions.exists()


@pytest.mark.slow  # real child processes
def test_approvals_decide_in_its_own_process_resumes_the_run(worker: Any, people: dict[str, Any]) -> None:
    run = start_approval_run(people)
    approval = Approval.objects.get(run=run)

    done = manage("approvals", "decide", str(approval.pk), "approve", "--as", "alice", "--comment", "fine")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "alice approved: the approval is approved."
    from ops import cli

    assert cli.wait_until(run.pk, 30, lambda: cli.run_status(run.pk) == "succeeded")
    run.refresh_from_db()
    assert run.outputs == {"by": "alice"}
    again = manage("approvals", "decide", str(approval.pk), "reject", "--as", "alice")
    assert again.returncode == 1
    assert "already decided" in again.stderr


# --- prune_runs ------------------------------------------------------------------------------


def seeded_run(workflow: Workflow, status: str, age_days: float, *, with_rows: bool = True) -> Run:
    moment = timezone.now() - timedelta(days=age_days)
    finished = status in {"succeeded", "failed", "cancelled"}
    run = Run.objects.create(workflow=workflow, status=status, finished_at=moment if finished else None)
    Run.objects.filter(pk=run.pk).update(created_at=moment)
    if with_rows:
        node_run = NodeRun.objects.create(run=run, node_id="work", node_type="prompt", status="succeeded")
        NodeAttempt.objects.create(node_run=node_run, run=run, number=1, status="succeeded")
        RunEvent.objects.create(run=run, seq=1, type="run.status", ts=moment, data={"status": status})
        RunEvent.objects.create(run=run, seq=2, type="node.succeeded", node_id="work", ts=moment)
        Timer.objects.create(run=run, node_run=node_run, kind="delay", due_at=moment)
    return run


def test_prune_runs_removes_exactly_the_old_finished_runs(people: dict[str, Any], settings: Any) -> None:
    settings.RUN_RETENTION_DAYS = 30
    workflow = workflow_services.create_workflow(owner=people["owner"], name="Old")
    old_finished = [
        seeded_run(workflow, status, 45)
        for status in ("succeeded", "failed", "cancelled", "succeeded", "failed")
    ]
    old_live = [seeded_run(workflow, status, 45) for status in ("pending", "running", "waiting", "paused")]
    recent = [seeded_run(workflow, status, 10) for status in ("succeeded", "failed")]
    keep = {run.pk for run in old_live + recent}

    out, _ = run_command("prune_runs", "--dry-run")
    assert out.startswith("5 finished run(s) finished before ")
    assert Run.objects.count() == 11

    out, _ = run_command("prune_runs", "--batch-size", "2")

    assert out.startswith("Deleted 5 finished run(s)")
    assert set(Run.objects.values_list("pk", flat=True)) == keep
    gone = [run.pk for run in old_finished]
    for model in (NodeRun, NodeAttempt, RunEvent, Timer):
        assert not model.objects.filter(run_id__in=gone).exists(), model
        assert model.objects.filter(run_id__in=keep).count() == len(keep) * (2 if model is RunEvent else 1)
    assert not AgentTask.objects.filter(run_id__in=gone).exists()

    out, _ = run_command("prune_runs", "--days", "5")
    assert out.startswith("Deleted 2 finished run(s)")
    assert set(Run.objects.values_list("pk", flat=True)) == {run.pk for run in old_live}
