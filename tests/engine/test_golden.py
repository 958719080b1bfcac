"""Golden runs: one small graph per rule of DESIGN §3 "Execution semantics", with the exact events.

Each ``golden/<name>.json`` holds a graph, its inputs, a script of what the outside world does
(workers finishing attempts, time passing, people deciding, operators pausing or retrying) and the
exact outcome: every event as ``[type, node_id, scope]`` in order (``run.status`` events are listed
apart, as ``expected_run_statuses``), every node run's final status and the run's result.

``FLOWDECK_UPDATE_GOLDEN=1`` rewrites the expectations from the current engine. Read every rewritten
expectation against DESIGN before keeping it: a golden file that merely records what the engine does
protects nothing. ``check`` steps and ``expect_illegal`` are never rewritten.

Steps (one action key each; ``scope`` defaults to ``""``; a node label is ``node`` or ``node@scope``):

- ``{"complete": node, "output": …}`` — a worker claims the current attempt (if nobody has) and
  succeeds; ``{"fail": node, "code", "retryable", "retry_after_s"?, "unclaimed"?}`` likewise fails
  (``unclaimed``: before any worker claimed the attempt);
  ``{"claim": node}`` only claims it.
- ``{"resolve": node, "output", "handle"?}`` — an approval is decided or an agent task finishes;
  ``{"fail_wait": node, "code"}`` — the wait can no longer succeed.
- ``{"pass_time": seconds}`` — fires every retry timer and delay that falls due, earliest first.
- ``{"pause": true}``, ``{"resume": true}``, ``{"cancel": by}``, ``{"retry": [[node, scope], …]}``
  (empty: the default targets, every failed node).
- ``{"late_result": [node, scope], "attempt", "output"}`` — must be discarded.
- ``{"check": {…}}`` — asserts mid-run: ``run_status``, ``dispatched`` ({label: attempt}),
  ``waiting`` ([labels]), ``timers`` ({label: ISO due time}), ``statuses``, ``attempts``,
  ``inputs``, ``outputs`` (subsets, by label; null for a node run not created yet), ``stopped``
  ([[label, attempt, reason]], all StopWork effects so far) and ``event`` (the last event with
  that type, node and scope has at least this ``data``, and ``attempt`` if given).
- Any action with ``"expect_illegal": true`` must raise :class:`IllegalTransition` and change
  nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from executions.engine.states import IllegalTransition
from tests.engine.simulator import Simulation
from workflows.validation import validate_graph

GOLDEN_DIR = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN_DIR.glob("*.json"))
UPDATE = os.environ.get("FLOWDECK_UPDATE_GOLDEN") == "1"

KNOWN_KEYS = frozenset(
    {
        "description",
        "graph",
        "inputs",
        "variables",
        "steps",
        "expected_trace",
        "expected_run_statuses",
        "expected_statuses",
        "expected_run",
        "expected_node_outputs",
    }
)


def label(node_id: str, scope: str) -> str:
    return f"{node_id}@{scope}" if scope else node_id


def unlabel(text: str) -> tuple[str, str]:
    node_id, _, scope = text.partition("@")
    return node_id, scope


# --- running a case --------------------------------------------------------------------------------


def apply_step(simulation: Simulation, step: dict[str, Any]) -> None:
    if step.get("expect_illegal"):
        action = {key: value for key, value in step.items() if key != "expect_illegal"}
        before = (len(simulation.events), simulation.run_status, simulation.statuses())
        with pytest.raises(IllegalTransition):
            apply_step(simulation, action)
        assert (len(simulation.events), simulation.run_status, simulation.statuses()) == before
        return
    scope = step.get("scope", "")
    if "complete" in step:
        simulation.complete(step["complete"], scope, step.get("output"), step.get("meta"))
    elif "fail" in step:
        simulation.fail(
            step["fail"],
            scope,
            code=step.get("code", "boom"),
            retryable=step.get("retryable", False),
            retry_after_s=step.get("retry_after_s"),
            claim=not step.get("unclaimed", False),
        )
    elif "claim" in step:
        simulation.claim(step["claim"], scope)
    elif "resolve" in step:
        simulation.resolve(step["resolve"], scope, step.get("output"), step.get("handle", "out"))
    elif "fail_wait" in step:
        simulation.fail_wait(step["fail_wait"], scope, step.get("code", "timed_out"))
    elif "pass_time" in step:
        simulation.pass_time(step["pass_time"])
    elif "pause" in step:
        simulation.pause()
    elif "resume" in step:
        simulation.resume()
    elif "cancel" in step:
        simulation.cancel(step["cancel"])
    elif "retry" in step:
        simulation.retry(*(tuple(target) for target in step["retry"]))
    elif "late_result" in step:
        node_id, late_scope = step["late_result"]
        assert simulation.late_result((node_id, late_scope), step["attempt"], step.get("output")) is False
    elif "check" in step:
        check(simulation, step["check"])
    else:
        raise AssertionError(f"Unknown step {step!r}")


def check(simulation: Simulation, expected: dict[str, Any]) -> None:
    nodes = simulation.state.nodes
    for key, value in expected.items():
        if key == "run_status":
            actual: Any = str(simulation.run_status)
        elif key == "dispatched":
            actual = {label(*dispatch.key): dispatch.attempt for dispatch in simulation.dispatched.values()}
        elif key == "waiting":
            actual = sorted(label(*wait_key) for wait_key in simulation.waiting)
            value = sorted(value)
        elif key == "timers":
            actual = {label(*timer.key): timer.due_at.isoformat() for timer in simulation.timers}
        elif key in ("statuses", "attempts", "inputs", "outputs"):
            field = {"statuses": "status", "attempts": "attempts", "inputs": "input", "outputs": "output"}[
                key
            ]
            actual = {name: _field(nodes.get(unlabel(name)), field) for name in value}
        elif key == "stopped":
            actual = [[label(*stop.key), stop.attempt, stop.reason] for stop in simulation.stopped]
        elif key == "event":
            matching = [
                event
                for event in simulation.events
                if (event.type, event.node_id, event.scope)
                == (value["type"], value.get("node_id"), value.get("scope", ""))
            ]
            assert matching, f"no {value['type']} event for {value.get('node_id')}"
            actual = {name: matching[-1].data.get(name) for name in value.get("data", {})}
            if "attempt" in value:
                actual = {**actual, "attempt": matching[-1].attempt}
            value = {**value.get("data", {}), **({"attempt": value["attempt"]} if "attempt" in value else {})}
        else:
            raise AssertionError(f"Unknown check {key!r}")
        assert actual == value, f"check {key}"


def _field(node_run: Any, field: str) -> Any:
    """A node run's field; null for a node run that does not exist (yet)."""
    if node_run is None:
        return None
    value = getattr(node_run, field)
    return str(value) if field == "status" else value


def observe(simulation: Simulation, case: dict[str, Any]) -> dict[str, Any]:
    state = simulation.state
    run: dict[str, Any] = {"status": str(state.status), "outputs": state.outputs}
    if state.end_node_id is not None:
        run["end_node_id"] = state.end_node_id
    if state.error is not None:
        run["error_code"] = state.error.get("code")
    observed: dict[str, Any] = {
        "expected_trace": [list(entry) for entry in simulation.trace()],
        "expected_run_statuses": simulation.run_statuses(),
        "expected_statuses": simulation.statuses(),
        "expected_run": run,
    }
    if "expected_node_outputs" in case:
        observed["expected_node_outputs"] = {
            name: state.nodes[unlabel(name)].output for name in case["expected_node_outputs"]
        }
    return observed


def run_case(case: dict[str, Any]) -> Simulation:
    simulation = Simulation(case["graph"], inputs=case.get("inputs"), variables=case.get("variables"))
    simulation.start()
    for number, step in enumerate(case["steps"]):
        try:
            apply_step(simulation, step)
        except AssertionError as error:
            raise AssertionError(f"step {number} {json.dumps(step)}: {error}") from error
    return simulation


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_golden(path: Path) -> None:
    case = json.loads(path.read_text())
    assert set(case) <= KNOWN_KEYS, set(case) - KNOWN_KEYS
    assert validate_graph(case["graph"]) == [], "golden graphs must be valid graphs"
    simulation = run_case(case)
    observed = observe(simulation, case)
    if UPDATE:
        path.write_text(dump_case({**case, **observed}))
        return
    assert observed["expected_trace"] == case["expected_trace"]
    assert observed["expected_run_statuses"] == case["expected_run_statuses"]
    assert observed["expected_statuses"] == case["expected_statuses"]
    assert observed["expected_run"] == case["expected_run"]
    if "expected_node_outputs" in case:
        assert observed["expected_node_outputs"] == case["expected_node_outputs"]


def test_every_golden_case_is_reviewed() -> None:
    """A case without expectations was added but never run, let alone reviewed."""
    for path in CASES:
        case = json.loads(path.read_text())
        assert case.get("description"), path.name
        assert "expected_trace" in case or UPDATE, path.name


# --- writing cases readably ------------------------------------------------------------------------

_ORDER = (
    "description",
    "graph",
    "inputs",
    "variables",
    "steps",
    "expected_trace",
    "expected_run_statuses",
    "expected_statuses",
    "expected_run",
    "expected_node_outputs",
)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _lines(items: list[Any], indent: str) -> str:
    if not items:
        return "[]"
    inner = ",\n".join(f"{indent}  {_compact(item)}" for item in items)
    return f"[\n{inner}\n{indent}]"


def dump_case(case: dict[str, Any]) -> str:
    """JSON with one node, edge, step or event per line, so diffs of golden files stay readable."""
    parts = []
    for key in _ORDER:
        if key not in case:
            continue
        value = case[key]
        if key == "graph":
            graph_parts = []
            for graph_key, graph_value in value.items():
                if graph_key in ("nodes", "edges", "variables") and isinstance(graph_value, list):
                    rendered = _lines(graph_value, "    ")
                else:
                    rendered = _compact(graph_value)
                graph_parts.append(f'    "{graph_key}": {rendered}')
            text = "{\n" + ",\n".join(graph_parts) + "\n  }"
        elif key in ("steps", "expected_trace"):
            text = _lines(value, "  ")
        elif key in ("expected_statuses", "expected_node_outputs") and value:
            inner = ",\n".join(f"    {_compact(name)}: {_compact(item)}" for name, item in value.items())
            text = "{\n" + inner + "\n  }"
        else:
            text = _compact(value)
        parts.append(f'  "{key}": {text}')
    return "{\n" + ",\n".join(parts) + "\n}\n"
