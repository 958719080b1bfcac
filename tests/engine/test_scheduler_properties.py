"""Properties of the scheduler over random valid graphs and random worlds (DESIGN §3, §8).

Hypothesis builds random valid graphs — a DAG at the top level mixing parallel/join (every mode),
condition, switch, transform, dispatched ``noop`` nodes with random retry policies and ``on_error``,
delays and ends, optionally with a loop whose small body may hold a condition or an inner loop —
and keeps only those :func:`validate_graph` accepts. A scripted world then answers every attempt
(success, retryable or final failure, decided per attempt by a hash so any delivery order gives the
same answers), lets time pass, and sometimes pauses, resumes, cancels or retries the run.

Checked for every run: it reaches a terminal status in a bounded number of actions and is never
stuck (live, with nothing queued, waiting or timed); ``seq`` is gap-free; every event type is one of
DESIGN §8's (plus ``node.reset``); run status changes follow the transition table; at most one
success and one terminal event per node run between resets, and nothing after the terminal one; a
skipped node run never queued, started, waited or succeeded; attempt numbers only grow; at the end
every node run is terminal and the outputs come from the first end to succeed. Replaying the same
actions gives the identical events and state (determinism), and — for graphs without ``any`` or
``count`` joins — delivering the same answers in another order gives the same statuses and outputs
whenever no node had to be cancelled (cancellation is the one place where timing legitimately
decides what got done).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from executions.engine.states import (
    RUN_TRANSITIONS,
    TERMINAL_NODE,
    TERMINAL_RUN,
    NodeStatus,
    RunStatus,
)
from tests.engine.simulator import Simulation
from workflows.validation import validate_graph

#: DESIGN §8, plus node.reset (retry from a node) — approval.* events come from the persistence layer.
EVENT_TYPES = frozenset(
    {
        "run.status",
        "run.succeeded",
        "run.failed",
        "run.cancelled",
        "node.queued",
        "node.started",
        "node.skipped",
        "node.waiting",
        "node.retrying",
        "node.succeeded",
        "node.failed",
        "node.cancelled",
        "node.reset",
    }
)
NODE_TERMINAL_EVENTS = frozenset({"node.succeeded", "node.failed", "node.skipped", "node.cancelled"})
RAN_EVENTS = frozenset({"node.queued", "node.started", "node.waiting", "node.retrying", "node.succeeded"})
MAX_ACTIONS = 400
#: 200 examples per property keep the file around 10 s; raise it to hunt (e.g. 5000).
SETTINGS = settings(
    max_examples=int(os.environ.get("FLOWDECK_PROPERTY_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# ====================================================================================================
# Random valid graphs
# ====================================================================================================

#: "inputs.n" is not a boolean: that condition fails (not_boolean).
CONDITIONS = ["true", "false", "inputs.flag", "not inputs.flag", "inputs.n > 1", "inputs.n < 2", "inputs.n"]
TOP_TYPES = [
    "transform",
    "condition",
    "switch",
    "noop",
    "noop",
    "noop",
    "noop",
    "delay",
    "parallel",
    "join",
    "join",
]
HANDLES = {
    "condition": ["true", "false"],
    "switch": ["c1", "c2", "default"],
}


def handles_of(node: dict[str, Any]) -> list[str]:
    return HANDLES.get(node["type"], ["out"])


@st.composite
def retry_policies(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    return {
        "max_attempts": draw(st.integers(1, 3)),
        "backoff_s": draw(st.sampled_from([0.5, 1.0, 2.0])),
        "multiplier": draw(st.sampled_from([1.0, 2.0, 3.0])),
        "max_backoff_s": draw(st.sampled_from([1.0, 5.0])),
    }


def make_node(draw: st.DrawFn, node_id: str, node_type: str, parent: str | None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id, "type": node_type, "config": {}}
    if parent is not None:
        node["parent"] = parent
    if node_type == "transform":
        node["config"] = {"mapping": {"v": draw(st.sampled_from(["inputs.n + 1", "'x'", "[1, 2]"]))}}
    elif node_type == "condition":
        node["config"] = {"expression": draw(st.sampled_from(CONDITIONS))}
        node["on_error"] = draw(st.sampled_from(["fail", "fail", "branch"])) if parent is None else "fail"
    elif node_type == "switch":
        node["config"] = {
            "cases": [
                {"handle": "c1", "expression": draw(st.sampled_from(CONDITIONS))},
                {"handle": "c2", "expression": draw(st.sampled_from(CONDITIONS))},
            ]
        }
    elif node_type == "noop":
        policy = draw(retry_policies())
        if policy is not None:
            node["retry"] = policy
        choices = ["fail", "continue", "branch"] if parent is None else ["fail", "continue"]
        node["on_error"] = draw(st.sampled_from(choices))
    elif node_type == "delay":
        node["config"] = {"seconds": draw(st.sampled_from([0, 1, 5]))}
    elif node_type == "join":
        node["config"] = {"mode": draw(st.sampled_from(["all", "any", "count"]))}
        if draw(st.booleans()):
            node["config"]["cancel_remaining"] = True
    elif node_type == "end":
        node["config"] = {"outputs": {"from": node_id}}
    if node_type not in ("start", "end", "condition", "switch") and draw(st.integers(0, 19)) == 0:
        node["disabled"] = True
    return node


@st.composite
def loop_bodies(
    draw: st.DrawFn, loop_id: str, depth: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A chain of 1 to 3 body nodes (single sink), possibly holding a condition or an inner loop."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    length = draw(st.integers(1, 3))
    for index in range(length):
        choices = ["noop", "noop", "transform", "condition"] + (["loop"] if depth == 0 else [])
        node_type = (
            draw(st.sampled_from(choices))
            if index < length - 1
            else draw(st.sampled_from(["noop", "transform"] + (["loop"] if depth == 0 else [])))
        )
        node_id = f"{loop_id}_b{index}"
        if node_type == "loop":
            inner, inner_nodes, inner_edges = draw(loops(node_id, loop_id, depth + 1))
            nodes.extend([inner, *inner_nodes])
            edges.extend(inner_edges)
        else:
            nodes.append(make_node(draw, node_id, node_type, loop_id))
        if index:
            source = nodes_by_id(nodes)[f"{loop_id}_b{index - 1}"]
            handle = draw(st.sampled_from(handles_of(source)))
            edges.append(edge(source["id"], node_id, handle))
    return nodes, edges


@st.composite
def loops(
    draw: st.DrawFn, loop_id: str, parent: str | None, depth: int
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    mode = draw(st.sampled_from(["for_each", "count", "while"]))
    config: dict[str, Any] = {"mode": mode, "max_iterations": draw(st.sampled_from([2, 3, 5]))}
    if mode == "for_each":
        config["items"] = "inputs.items"
    elif mode == "count":
        config["count"] = draw(st.sampled_from([0, 1, 2, "inputs.n"]))
    else:
        config["condition"] = draw(st.sampled_from(["loop.index < 2", "loop.index < inputs.n", "true"]))
    if mode != "while":
        config["concurrency"] = draw(st.integers(1, 3))
    loop: dict[str, Any] = {"id": loop_id, "type": "loop", "config": config}
    if parent is not None:
        loop["parent"] = parent
        loop["on_error"] = draw(st.sampled_from(["fail", "continue"]))
    else:
        loop["on_error"] = draw(st.sampled_from(["fail", "continue", "branch"]))
    body, body_edges = draw(loop_bodies(loop_id, depth))
    return loop, body, body_edges


def nodes_by_id(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in nodes}


def edge(source: str, target: str, handle: str = "out") -> dict[str, Any]:
    found = {"id": f"{source}__{target}__{handle}", "source": source, "target": target}
    if handle != "out":
        found["source_handle"] = handle
    return found


@st.composite
def graphs(draw: st.DrawFn, partial_joins: bool = True) -> dict[str, Any]:
    """A random DAG: each new top-level node takes edges from 1 to 3 earlier nodes (never from an end)."""
    top: list[dict[str, Any]] = [{"id": "start", "type": "start", "config": {}}]
    extra_nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    size = draw(st.integers(3, 10))
    with_loop = draw(st.booleans())
    loop_at = draw(st.integers(1, size)) if with_loop else -1
    for index in range(1, size + 1):
        sources = [node for node in top if node["type"] != "end"]
        node_id = f"n{index}"
        if index == loop_at:
            node, body, body_edges = draw(loops(node_id, None, 0))
            extra_nodes.extend(body)
            edges.extend(body_edges)
        else:
            node_type = draw(st.sampled_from(TOP_TYPES))
            if node_type == "join" and len(sources) < 2:
                node_type = "transform"
            node = make_node(draw, node_id, node_type, None)
            if node_type == "join" and not partial_joins:
                node["config"]["mode"] = "all"
        if node["type"] == "join":
            chosen = draw(
                st.lists(st.sampled_from(sources), min_size=2, max_size=3, unique_by=lambda n: n["id"])
            )
            for source in chosen:
                edges.append(edge(source["id"], node_id, draw(st.sampled_from(handles_of(source)))))
            if node["config"]["mode"] == "count":
                node["config"]["count"] = draw(st.integers(1, len(chosen)))
        else:
            chosen_edges = draw(
                st.lists(
                    st.tuples(st.sampled_from(sources), st.integers(0, 2)),
                    min_size=1,
                    max_size=3,
                )
            )
            seen = set()
            for source, handle_index in chosen_edges:
                handles = handles_of(source)
                handle = handles[handle_index % len(handles)]
                if (source["id"], handle) not in seen:
                    seen.add((source["id"], handle))
                    edges.append(edge(source["id"], node_id, handle))
        top.append(node)
    # Every on_error: branch needs an edge from its error handle; every graph needs an end.
    for node in list(top):
        if node.get("on_error") == "branch":
            handler: dict[str, Any] = {
                "id": f"{node['id']}_err",
                "type": "end",
                "config": {"outputs": {"from": "error"}},
            }
            top.append(handler)
            edges.append(edge(node["id"], handler["id"], "error"))
    if not any(node["type"] == "end" for node in top):
        last = [node for node in top if node["type"] != "end"][-1]
        top.append({"id": "final", "type": "end", "config": {"outputs": {"from": "final"}}})
        edges.append(edge(last["id"], "final", handles_of(last)[0]))
    graph = {"schema_version": 1, "nodes": top + extra_nodes, "edges": edges}
    errors = validate_graph(graph)
    assume(not errors)
    return graph


@st.composite
def run_inputs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "n": draw(st.integers(0, 3)),
        "flag": draw(st.booleans()),
        "items": draw(st.lists(st.integers(0, 9), max_size=3)),
    }


# ====================================================================================================
# A scripted world
# ====================================================================================================


def answer(salt: int, node_id: str, scope: str, attempt: int, weights: tuple[int, int, int]) -> str:
    """What attempt ``attempt`` of a node run gives: the same whatever order things happen in."""
    digest = hashlib.sha256(f"{salt}|{node_id}|{scope}|{attempt}".encode()).digest()
    roll = int.from_bytes(digest[:4], "big") % sum(weights)
    if roll < weights[0]:
        return "ok"
    return "retryable" if roll < weights[0] + weights[1] else "fatal"


Action = tuple[Any, ...]


def outstanding(simulation: Simulation) -> bool:
    return bool(simulation.dispatched or simulation.waiting or simulation.timers)


def next_due(simulation: Simulation) -> float | None:
    moments = [timer.due_at for timer in simulation.timers]
    moments += [wait.due_at for wait in simulation.waiting.values() if wait.due_at is not None]
    if not moments:
        return None
    return max(0.0, (min(moments) - simulation.now).total_seconds())


def choose_action(
    simulation: Simulation,
    pick: Callable[[int], int],
    salt: int,
    weights: tuple[int, int, int],
    controls: bool,
    used: dict[str, int],
) -> Action | None:
    """The next thing the world does, or None when the run is over."""
    status = simulation.run_status
    if status in TERMINAL_RUN:
        if not controls or used["retry"] >= 2 or pick(2):
            return None
        if status == RunStatus.FAILED and pick(2):
            return ("retry",)  # the default targets: every failed node
        keys = sorted(simulation.state.nodes)
        node_id, scope = keys[pick(len(keys))]
        return ("retry", node_id, scope)
    options: list[Action] = []
    for key in sorted(simulation.dispatched):
        dispatch = simulation.dispatched[key]
        options.append(("deliver", key[0], key[1], answer(salt, key[0], key[1], dispatch.attempt, weights)))
    for key in sorted(simulation.waiting):
        if simulation.waiting[key].reason != "timer":  # approvals and agent tasks never appear here
            options.append(("resolve", key[0], key[1]))
    due = next_due(simulation)
    if due is not None:
        options.append(("time", due + 0.001))
    if controls:
        if status == RunStatus.PAUSED:
            options.append(("resume",))
        elif used["pause"] < 2 and pick(6) == 0:
            options.append(("pause",))
        if used["cancel"] < 1 and pick(12) == 0:
            options.append(("cancel",))
    assert options, f"the run is {status} with nothing queued, waiting or timed: it is stuck"
    return options[pick(len(options))]


def apply(simulation: Simulation, action: Action) -> None:
    kind = action[0]
    if kind == "deliver":
        _, node_id, scope, outcome = action
        if outcome == "ok":
            attempt = simulation.dispatched[(node_id, scope)].attempt
            simulation.complete(node_id, scope, output={"by": node_id, "scope": scope, "attempt": attempt})
        else:
            simulation.fail(node_id, scope, code=outcome, retryable=outcome == "retryable")
    elif kind == "resolve":
        simulation.resolve(action[1], action[2], output={"resolved": action[1]})
    elif kind == "time":
        simulation.pass_time(action[1])
    elif kind == "pause":
        simulation.pause()
    elif kind == "resume":
        simulation.resume()
    elif kind == "cancel":
        simulation.cancel("hypothesis")
    elif kind == "retry":
        simulation.retry(*([(action[1], action[2])] if len(action) > 1 else []))
    else:
        raise AssertionError(action)


def drive(
    graph: dict[str, Any],
    inputs: dict[str, Any],
    pick: Callable[[int], int],
    salt: int,
    weights: tuple[int, int, int],
    controls: bool,
) -> tuple[Simulation, list[Action]]:
    simulation = Simulation(graph, inputs=inputs).start()
    actions: list[Action] = []
    used: dict[str, int] = defaultdict(int)
    for _ in range(MAX_ACTIONS):
        action = choose_action(simulation, pick, salt, weights, controls, used)
        if action is None:
            return simulation, actions
        used[action[0]] += 1
        actions.append(action)
        apply(simulation, action)
    raise AssertionError(f"the run did not end within {MAX_ACTIONS} actions: {simulation.run_status}")


def replay(graph: dict[str, Any], inputs: dict[str, Any], actions: list[Action]) -> Simulation:
    simulation = Simulation(graph, inputs=inputs).start()
    for action in actions:
        apply(simulation, action)
    return simulation


# ====================================================================================================
# Invariants
# ====================================================================================================


def check_invariants(simulation: Simulation) -> None:
    events = simulation.events
    assert [event.seq for event in events] == list(range(1, len(events) + 1)), "seq is not gap-free"
    assert {event.type for event in events} <= EVENT_TYPES

    previous = RunStatus.PENDING
    for status_event in events:
        if status_event.type == "run.status":
            assert status_event.data["previous"] == previous
            target = RunStatus(status_event.data["status"])
            assert target in RUN_TRANSITIONS[previous], f"run {previous} → {target}"
            previous = target
    assert previous == simulation.run_status

    # Per node run, between resets: at most one success, one terminal event, nothing after it.
    segments: dict[tuple[str, str], list[str]] = defaultdict(list)
    attempts: dict[tuple[str, str], int] = defaultdict(int)
    for node_event in events:
        if node_event.node_id is None:
            continue
        key = (node_event.node_id, node_event.scope)
        if node_event.type == "node.reset":
            check_segment(key, segments.pop(key, []))
            continue
        segments[key].append(node_event.type)
        if node_event.type == "node.queued" and "reason" not in node_event.data:
            assert node_event.attempt is not None and node_event.attempt > attempts[key], (
                f"{key} attempt numbers"
            )
            attempts[key] = node_event.attempt
    for key, segment in segments.items():
        check_segment(key, segment)

    # A finished run leaves no node run behind, and its outputs come from the first end.
    if simulation.run_status in TERMINAL_RUN:
        for key, node_run in simulation.state.nodes.items():
            assert node_run.status in TERMINAL_NODE, f"{key} is {node_run.status} in a finished run"
    if simulation.run_status == RunStatus.SUCCEEDED:
        ends = [
            node_run
            for node_run in simulation.state.nodes.values()
            if node_run.scope == ""
            and node_run.status == NodeStatus.SUCCEEDED
            and simulation.plan.graph.nodes[node_run.node_id].type == "end"
        ]
        first = min(ends, key=lambda node_run: node_run.succeeded_seq or 0, default=None)
        assert simulation.state.end_node_id == (first.node_id if first else None)
        assert simulation.state.outputs == (first.output if first else None)
        check_final_state(simulation)


def check_final_state(simulation: Simulation) -> None:
    """An independent reading of DESIGN §3 over the final state of a succeeded run: skipped node
    runs had no taken edge and node runs that ran had one; an all-join lists exactly its taken
    edges; a loop's results hold pass i's sink output at index i."""
    graph = simulation.plan.graph
    nodes = simulation.state.nodes
    for (node_id, scope), node_run in nodes.items():
        edges = graph.level_incoming(node_id)
        if not edges or node_run.status == NodeStatus.CANCELLED:
            continue
        taken = []
        for edge_ in edges:
            source = nodes.get((edge_.source, scope))
            ran = source is not None and source.status in (NodeStatus.SUCCEEDED, NodeStatus.FAILED)
            if ran and source is not None and source.handle == edge_.source_handle:
                taken.append(edge_.source)
        if node_run.status == NodeStatus.SKIPPED:
            assert not taken, f"{node_id}@{scope} was skipped with taken edges from {taken}"
        else:
            assert taken, f"{node_id}@{scope} ran without a taken edge"
        node = graph.nodes[node_id]
        fired_all_join = node.type == "join" and node.config.get("mode") == "all" and not node.disabled
        if fired_all_join and node_run.status == NodeStatus.SUCCEEDED:
            assert sorted(node_run.output["branches"]) == sorted(taken)
    for (node_id, scope), node_run in nodes.items():
        node = graph.nodes[node_id]
        if node.type != "loop" or node.disabled or node_run.status != NodeStatus.SUCCEEDED:
            continue
        (sink,) = graph.sinks(node_id)
        results = node_run.output["results"]
        assert node_run.output["count"] == len(results)
        if node.config["mode"] == "for_each":
            assert len(results) == len(simulation.state.inputs["items"])
        for index, result in enumerate(results):
            inner_scope = f"{scope}/{node_id}[{index}]" if scope else f"{node_id}[{index}]"
            sink_run = nodes[(sink.id, inner_scope)]
            assert result == (sink_run.output if sink_run.handle is not None else None)


def check_segment(key: tuple[str, str], segment: list[str]) -> None:
    assert segment.count("node.succeeded") <= 1, f"{key} succeeded twice: {segment}"
    terminal = [index for index, kind in enumerate(segment) if kind in NODE_TERMINAL_EVENTS]
    assert len(terminal) <= 1, f"{key} reached a terminal status twice: {segment}"
    if terminal:
        assert terminal[0] == len(segment) - 1, f"{key} changed after its terminal status: {segment}"
    if "node.skipped" in segment:
        assert not RAN_EVENTS & set(segment), f"{key} was skipped but ran: {segment}"


def check_late_results_are_discarded(simulation: Simulation) -> None:
    """Once the run is over, no attempt it ever stopped or finished can change anything."""
    before = (len(simulation.events), simulation.statuses(), simulation.state.outputs)
    for stop in simulation.stopped:
        if stop.attempt:
            assert simulation.late_result(stop.key, stop.attempt, "late") is False
    assert (len(simulation.events), simulation.statuses(), simulation.state.outputs) == before


def snapshot(simulation: Simulation, with_run_outputs: bool = True) -> dict[str, Any]:
    """The run's outcome. With several ends the run's outputs come from whichever succeeded first
    (DESIGN §3 "Ends"), which depends on timing; each end's own output does not."""
    return {
        "status": simulation.run_status,
        "outputs": simulation.state.outputs if with_run_outputs else None,
        "end": simulation.state.end_node_id if with_run_outputs else None,
        "nodes": {
            key: (node_run.status, node_run.output, node_run.handle)
            for key, node_run in sorted(simulation.state.nodes.items())
        },
    }


def full_record(simulation: Simulation) -> tuple[Any, ...]:
    events = [(e.seq, e.type, e.node_id, e.scope, e.attempt, e.data) for e in simulation.events]
    attempts = {key: node_run.attempts for key, node_run in simulation.state.nodes.items()}
    return (events, snapshot(simulation), attempts, simulation.state.error)


def describe(graph: dict[str, Any], simulation: Simulation, actions: list[Action]) -> None:
    """Label the example for ``--hypothesis-show-statistics``, to see what the generator reaches."""
    event(f"run {simulation.run_status}")
    kinds = {event_.type for event_ in simulation.events}
    for node in graph["nodes"]:
        if node["type"] == "join":
            event(f"join {node['config']['mode']}")
        if node["type"] == "loop":
            event("nested loop" if node.get("parent") else "loop")
    for kind in ("node.retrying", "node.cancelled", "node.skipped", "node.reset", "node.waiting"):
        if kind in kinds:
            event(kind)
    for action_kind in {action[0] for action in actions}:
        event(f"action {action_kind}")
    event(f"{len(simulation.events) // 20 * 20}+ events")


# ====================================================================================================
# Properties
# ====================================================================================================

#: Relative odds of (success, retryable failure, final failure) for each attempt.
weights_strategy = st.tuples(st.integers(2, 8), st.integers(0, 3), st.integers(0, 1))


@SETTINGS
@given(
    graph=graphs(), inputs=run_inputs(), salt=st.integers(0, 2**16), weights=weights_strategy, data=st.data()
)
def test_every_run_ends_and_keeps_the_invariants(
    graph: dict[str, Any],
    inputs: dict[str, Any],
    salt: int,
    weights: tuple[int, int, int],
    data: st.DataObject,
) -> None:
    seed = data.draw(st.integers(0, 2**32))
    chooser = random.Random(seed)
    note(f"graph: {json.dumps(graph)}")
    note(f"inputs: {json.dumps(inputs)}")
    simulation, actions = drive(graph, inputs, lambda n: chooser.randrange(n), salt, weights, controls=True)
    note(f"actions: {actions}")
    assert simulation.run_status in TERMINAL_RUN
    describe(graph, simulation, actions)
    check_invariants(simulation)
    # Determinism: the same graph and the same actions in the same order give the same history.
    again = replay(graph, inputs, actions)
    assert full_record(again) == full_record(simulation)
    check_late_results_are_discarded(simulation)


@SETTINGS
@given(
    graph=graphs(partial_joins=False),
    inputs=run_inputs(),
    salt=st.integers(0, 2**16),
    weights=weights_strategy,
    seeds=st.tuples(st.integers(0, 2**32), st.integers(0, 2**32)),
)
def test_delivery_order_does_not_change_the_outcome(
    graph: dict[str, Any],
    inputs: dict[str, Any],
    salt: int,
    weights: tuple[int, int, int],
    seeds: tuple[int, int],
) -> None:
    """Without any/count joins, the same answers in another order give the same result (DESIGN §3:
    readiness depends only on resolved edges, results[i] belongs to pass i whatever the order)."""
    first_chooser, second_chooser = random.Random(seeds[0]), random.Random(seeds[1])
    note(f"graph: {json.dumps(graph)}")
    note(f"inputs: {json.dumps(inputs)}")
    first, _ = drive(graph, inputs, lambda n: first_chooser.randrange(n), salt, weights, controls=False)
    second, _ = drive(graph, inputs, lambda n: second_chooser.randrange(n), salt, weights, controls=False)
    check_invariants(first)
    check_invariants(second)
    assert first.run_status == second.run_status
    cancelled = any(event.type == "node.cancelled" for event in first.events + second.events)
    event(f"run {first.run_status}")
    if first.trace() != second.trace():
        event("orders differ")
    if not cancelled:
        event("outcomes compared")
        one_end = sum(node["type"] == "end" for node in graph["nodes"]) == 1
        note(f"first order: {first.trace()}")
        note(f"second order: {second.trace()}")
        assert snapshot(first, with_run_outputs=one_end) == snapshot(second, with_run_outputs=one_end)
