"""Starting runs and checking that a run survived a fault exactly as if nothing had happened."""

from __future__ import annotations

from typing import Any

from executions import services
from executions.models import NodeAttempt, NodeRun, Run, RunEvent, Timer
from tests.support.processes import wait_until
from workflows import services as workflow_services

#: Generous: a fault test waits for a state with this deadline, never for a fixed time.
DEADLINE_S = 45.0
POLL_S = 0.05


def published(owner: Any, graph_json: dict[str, Any], name: str = "fault") -> Any:
    workflow = workflow_services.create_workflow(owner=owner, name=name, graph=graph_json)
    workflow_services.publish_workflow(workflow, author=owner)
    workflow.refresh_from_db()
    return workflow


def start_run(workflow: Any, owner: Any, inputs: dict[str, Any] | None = None) -> Run:
    """The real run start: a pending run, and `advance_run` sent after commit (on the private broker)."""
    return services.create_run(
        workflow=workflow,
        version=workflow.active_version,
        draft_graph=None,
        inputs=inputs or {},
        variables={},
        user=owner,
    )


def attempt_of(run: Run, node_id: str, scope: str = "") -> NodeAttempt | None:
    return (
        NodeAttempt.objects.filter(run=run, node_run__node_id=node_id, node_run__scope=scope)
        .order_by("-number")
        .first()
    )


def wait_for_attempt(
    run: Run, node_id: str, status: str, claims: int | None = None, timeout_s: float = DEADLINE_S
) -> NodeAttempt:
    def check() -> NodeAttempt | None:
        attempt = attempt_of(run, node_id)
        if attempt is None or attempt.status != status:
            return None
        if claims is not None and attempt.claims != claims:
            return None
        return attempt

    wanted = f"attempt of {node_id} to be {status}" + (f" with {claims} claims" if claims else "")
    return wait_until(check, timeout_s, wanted, POLL_S)


def wait_for_run(run: Run, status: str = "succeeded", timeout_s: float = DEADLINE_S) -> Run:
    def check() -> Run | None:
        found = Run.objects.get(pk=run.pk)
        return found if found.status == status else None

    try:
        return wait_until(check, timeout_s, f"run to be {status}", POLL_S)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{describe(run)}") from None


def describe(run: Run) -> str:
    """The run as rows, for a failure message: what state was it stuck in?"""
    found = Run.objects.get(pk=run.pk)
    lines = [f"run {found.pk}: {found.status} outputs={found.outputs} error={found.error}"]
    for row in NodeRun.objects.filter(run=run).order_by("created_at", "id"):
        lines.append(f"  node {row.node_id}[{row.scope}] {row.status} output={row.output!r}")
    for attempt in NodeAttempt.objects.filter(run=run).select_related("node_run"):
        lines.append(
            f"  attempt {attempt.node_run.node_id}#{attempt.number} {attempt.status} claims={attempt.claims} "
            f"lease={attempt.lease_expires_at} sent={attempt.last_sent_at} worker={attempt.worker}"
        )
    for timer in Timer.objects.filter(run=run):
        lines.append(f"  timer {timer.kind} due {timer.due_at}")
    for event in RunEvent.objects.filter(run=run).order_by("seq"):
        lines.append(f"  #{event.seq} {event.ts:%H:%M:%S.%f} {event.type} {event.node_id or ''} {event.data}")
    return "\n".join(lines)


def events(run: Run, node_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    rows = RunEvent.objects.filter(run=run).order_by("seq")
    if node_id is not None:
        rows = rows.filter(node_id=node_id)
    return [(event.type, event.data) for event in rows]


def snapshot(run: Run) -> dict[str, Any]:
    """Everything a late result could change: run, node runs, attempts, events, timers."""
    return {
        "run": Run.objects.filter(pk=run.pk).values().get(),
        "node_runs": list(NodeRun.objects.filter(run=run).order_by("id").values()),
        "attempts": list(NodeAttempt.objects.filter(run=run).order_by("id").values()),
        "events": list(RunEvent.objects.filter(run=run).order_by("seq").values()),
        "timers": list(Timer.objects.filter(run=run).order_by("id").values()),
    }


def assert_finished_as_without_fault(
    run: Run, expected_outputs: Any, failed_nodes: frozenset[str] = frozenset()
) -> Run:
    """The invariants every fault test ends with (DESIGN §4: recorded results are exactly-once).

    - the run succeeded with the outputs the same graph gives without the fault;
    - its events have gap-free seq 1..n;
    - each node run that succeeded has exactly one `node.succeeded` event, and a dispatched one
      exactly one SUCCEEDED attempt (``failed_nodes`` failed on purpose: no SUCCEEDED attempt);
    - no node run is left non-terminal, no timer is left behind.
    """
    found = Run.objects.get(pk=run.pk)
    assert found.status == "succeeded", describe(run)
    assert found.outputs == expected_outputs, describe(run)
    seqs = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    assert found.next_seq == len(seqs) + 1
    for row in NodeRun.objects.filter(run=run):
        where = f"{row.node_id}[{row.scope}]"
        assert row.status in ("succeeded", "skipped", "failed"), f"{where} is {row.status}"
        succeeded_events = RunEvent.objects.filter(
            run=run, node_id=row.node_id, scope=row.scope, type="node.succeeded"
        ).count()
        succeeded_attempts = NodeAttempt.objects.filter(node_run=row, status="succeeded").count()
        if row.node_id in failed_nodes:
            assert row.status == "failed" and succeeded_events == 0 and succeeded_attempts == 0, where
            continue
        if row.status == "succeeded":
            assert succeeded_events == 1, f"{where}: {succeeded_events} node.succeeded events"
            if NodeAttempt.objects.filter(node_run=row).exists():
                assert succeeded_attempts == 1, f"{where}: {succeeded_attempts} succeeded attempts"
    assert not Timer.objects.filter(run=run).exists()
    return found


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two snapshots, field by field (empty when nothing changed)."""
    found: list[str] = []
    for section in before:
        old, new = before[section], after[section]
        old_rows = [old] if isinstance(old, dict) else old
        new_rows = [new] if isinstance(new, dict) else new
        if len(old_rows) != len(new_rows):
            found.append(f"{section}: {len(old_rows)} rows → {len(new_rows)}")
            continue
        for index, (old_row, new_row) in enumerate(zip(old_rows, new_rows, strict=True)):
            for name in old_row:
                if old_row[name] != new_row[name]:
                    found.append(f"{section}[{index}].{name}: {old_row[name]!r} → {new_row[name]!r}")
    return found
