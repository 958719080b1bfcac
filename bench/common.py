"""What the services-mode workloads share: their graphs, the benchmark user and its token, the
instantly answering LLM endpoint, and starting a run and waiting for it the way the product's own
`wait_s` does.

W1 and W4 use real `prompt` nodes: a saved agent on an `openai` provider whose `base_url` points at
a local OpenAI-compatible server (tests.support.fake_llm) in the benchmark process, answering at
once, streamed. So the figure covers the whole prompt path: rendering, the official SDK over a
socket, `node.delta` events, usage and cost on the attempt. Workloads about the engine's own
throughput use `noop`, a dispatched node calling nothing: the same dispatch path (attempt row,
Celery message on `flowdeck.nodes`, claim, execute, record) minus the provider call.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.stack import QUEUES, Stack, redis_client

NOOP_NOTE = "noop: a dispatched node calling nothing (prompt's dispatch path minus the provider call)"
PROMPT_NOTE = (
    "prompt nodes via a saved agent and the official openai SDK, streamed, against a local "
    "OpenAI-compatible server that answers at once"
)
BENCH_USERNAME = "bench"
BENCH_AGENT = "bench-instant"
BENCH_API_KEY = "sk-bench-0123456789abcdef"
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


# --------------------------------------------------------------------------------------------
# Graphs
# --------------------------------------------------------------------------------------------


def node(node_id: str, node_type: str, config: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "config": config or {}, **fields}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": f"{source}__{target}__{handle or 'out'}",
        "source": source,
        "target": target,
    }
    if handle:
        found["source_handle"] = handle
    return found


def graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema_version": 1, "nodes": nodes, "edges": edges}


def chain(ids: list[str]) -> list[dict[str, Any]]:
    """Edges joining `ids` in a row; the approval gate (id `gate`) leads on by its `approved` handle."""
    return [
        edge(source, target, "approved" if source == "gate" else None)
        for source, target in itertools.pairwise(ids)
    ]


def sequential_noops(count: int, gate: bool = False) -> dict[str, Any]:
    """start → [approval gate →] count noops in a row → end."""
    steps = [f"step_{index}" for index in range(1, count + 1)]
    nodes = [node("start", "start")]
    if gate:
        nodes.append(approval_node("gate"))
    nodes += [node(step, "noop", {"output": index}) for index, step in enumerate(steps, start=1)]
    nodes.append(node("end", "end", {"outputs": {"last": f"{{{{ nodes.{steps[-1]}.output }}}}"}}))
    return graph(nodes, chain([item["id"] for item in nodes]))


def prompt_node(node_id: str, index: int) -> dict[str, Any]:
    text = f"Step {index} of {{{{ inputs.topic }}}}"
    return node(node_id, "prompt", {"agent": BENCH_AGENT, "prompt": text})


def sequential_prompts(count: int) -> dict[str, Any]:
    """start → count prompt nodes in a row → end."""
    steps = [f"step_{index}" for index in range(1, count + 1)]
    nodes = [node("start", "start", TOPIC_INPUT)]
    nodes += [prompt_node(step, index) for index, step in enumerate(steps, start=1)]
    nodes.append(node("end", "end", {"outputs": {"last": f"{{{{ nodes.{steps[-1]}.output.text }}}}"}}))
    return graph(nodes, chain([item["id"] for item in nodes]))


def parallel_prompts(width: int) -> dict[str, Any]:
    """start → parallel → width prompt nodes → join (all) → end."""
    branches = [f"branch_{index}" for index in range(1, width + 1)]
    return graph(
        [
            node("start", "start", TOPIC_INPUT),
            node("fan_out", "parallel"),
            *[prompt_node(branch, index) for index, branch in enumerate(branches, start=1)],
            node("gather", "join", {"mode": "all"}),
            node("end", "end", {"outputs": {"count": "{{ nodes.gather.output.branches | length }}"}}),
        ],
        [
            edge("start", "fan_out"),
            *[edge("fan_out", branch) for branch in branches],
            *[edge(branch, "gather") for branch in branches],
            edge("gather", "end"),
        ],
    )


#: What the prompt workloads start with (create_run takes inputs as the API hands them on, after
#: the start node's schema has filled its defaults).
PROMPT_INPUTS = {"topic": "latency"}
TOPIC_INPUT = {
    "input_schema": {"type": "object", "properties": {"topic": {"type": "string", "default": "latency"}}}
}


def parallel_noops(width: int) -> dict[str, Any]:
    """start → parallel → width noops → join (all) → end."""
    branches = [f"branch_{index}" for index in range(1, width + 1)]
    return graph(
        [
            node("start", "start"),
            node("fan_out", "parallel"),
            *[node(branch, "noop", {"output": index}) for index, branch in enumerate(branches, start=1)],
            node("gather", "join", {"mode": "all"}),
            node("end", "end", {"outputs": {"count": "{{ nodes.gather.output.branches | length }}"}}),
        ],
        [
            edge("start", "fan_out"),
            *[edge("fan_out", branch) for branch in branches],
            *[edge(branch, "gather") for branch in branches],
            edge("gather", "end"),
        ],
    )


def control_flow_13() -> dict[str, Any]:
    """W3's 13 nodes, all inline: start → 2 transforms → condition → parallel → 5 transforms →
    join → transform → end (the condition's false handle leads nowhere: its edge goes dead)."""
    branches = [f"branch_{index}" for index in range(1, 6)]
    return graph(
        [
            node(
                "start",
                "start",
                {"input_schema": {"type": "object", "properties": {"n": {"type": "integer", "default": 3}}}},
            ),
            node("double", "transform", {"mapping": {"n": "inputs.n * 2"}}),
            node("shift", "transform", {"mapping": {"n": "nodes.double.output.n + 1"}}),
            node("check", "condition", {"expression": "nodes.shift.output.n > 2"}),
            node("fan_out", "parallel"),
            *[
                node(branch, "transform", {"mapping": {"value": f"nodes.shift.output.n * {index}"}})
                for index, branch in enumerate(branches, start=1)
            ],
            node("gather", "join", {"mode": "all"}),
            node(
                "total",
                "transform",
                {"mapping": {"sum": "nodes.gather.output.branches.values() | map(attribute='value') | sum"}},
            ),
            node("end", "end", {"outputs": {"sum": "{{ nodes.total.output.sum }}"}}),
        ],
        [
            edge("start", "double"),
            edge("double", "shift"),
            edge("shift", "check"),
            edge("check", "fan_out", "true"),
            *[edge("fan_out", branch) for branch in branches],
            *[edge(branch, "gather") for branch in branches],
            edge("gather", "total"),
            edge("total", "end"),
        ],
    )


#: control_flow_13 with its default input n=3: shift = 7, branches 7·1 … 7·5.
CONTROL_FLOW_SUM = 7 * (1 + 2 + 3 + 4 + 5)


def approval_node(node_id: str) -> dict[str, Any]:
    return node(
        node_id,
        "approval",
        {"title": "Bench gate", "assignees": {"users": [BENCH_USERNAME]}, "allow_self_approval": True},
    )


def approval_gate_then_end() -> dict[str, Any]:
    return graph(
        [node("start", "start"), approval_node("gate"), node("end", "end")], chain(["start", "gate", "end"])
    )


def counted_burst(passes: int) -> dict[str, Any]:
    """start → approval gate → a count loop of `passes` inline passes (one event each) → end."""
    return graph(
        [
            node("start", "start"),
            approval_node("gate"),
            node(
                "burst",
                "loop",
                {"mode": "count", "count": passes, "max_iterations": passes, "concurrency": 100},
            ),
            node("tick", "transform", {"mapping": {"i": "loop.index"}}, parent="burst"),
            node("end", "end", {"outputs": {"count": "{{ nodes.burst.output.count }}"}}),
        ],
        chain(["start", "gate", "burst", "end"]),
    )


# --------------------------------------------------------------------------------------------
# The benchmark's session with the stack
# --------------------------------------------------------------------------------------------


@dataclass
class Bench:
    stack: Stack
    quick: bool
    approvals_n: int
    user: Any = None
    token: str = ""
    llm: Any = None
    _workflows: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def prepare(cls, stack: Stack, quick: bool, approvals_n: int) -> Bench:
        from django.contrib.auth import get_user_model

        from accounts.models import ApiToken

        user, _ = get_user_model().objects.get_or_create(username=BENCH_USERNAME, defaults={"email": ""})
        user.set_unusable_password()
        user.save()
        _, raw = ApiToken.issue(user, name="bench")
        bench = cls(stack=stack, quick=quick, approvals_n=approvals_n, user=user, token=raw)
        bench.llm = start_instant_llm(user)
        return bench

    def close(self) -> None:
        if self.llm is not None:
            self.llm.stop()
            self.llm = None

    def repetitions(self, full: int, quick: int = 3) -> int:
        return quick if self.quick else full

    def workflow(self, name: str, graph_json: dict[str, Any]) -> Any:
        """Create and publish a workflow once per benchmark run (published graphs are validated)."""
        if name not in self._workflows:
            from workflows import services as workflow_services

            workflow = workflow_services.create_workflow(
                owner=self.user, name=f"bench {name}", graph=graph_json
            )
            try:
                workflow_services.publish_workflow(workflow, author=self.user)
            except workflow_services.InvalidGraph as error:
                raise AssertionError(f"the {name} graph is invalid: {error.errors}") from None
            workflow.refresh_from_db()
            self._workflows[name] = workflow
        return self._workflows[name]

    def start_run(self, workflow: Any, inputs: dict[str, Any] | None = None) -> Any:
        """The real start: a pending run, and `advance_run` sent after commit."""
        from executions import services

        return services.create_run(
            workflow=workflow,
            version=workflow.active_version,
            draft_graph=None,
            inputs=inputs or {},
            variables={},
            user=self.user,
        )

    def wait_settled(self, run_id: Any, timeout_s: float = 60) -> str:
        """Wait as `POST …/runs/` with `wait_s` does (a Redis PUBLISH wakes it), return the status."""
        from executions import notify
        from executions.models import NodeRun, Run

        def settled_now() -> bool:
            status = Run.objects.filter(pk=run_id).values_list("status", flat=True).first()
            if status in TERMINAL or status == "paused":
                return True
            return (
                status == "waiting"
                and NodeRun.objects.filter(
                    run_id=run_id, status="waiting", wait_reason__in=notify.SOMEONE_REASONS
                ).exists()
            )

        if not notify.wait_until_settled(run_id, timeout_s, settled_now):
            raise TimeoutError(f"run {run_id} did not settle in {timeout_s} s")
        return str(Run.objects.values_list("status", flat=True).get(pk=run_id))

    def run_to_end(self, workflow: Any, inputs: dict[str, Any] | None = None) -> float:
        """Start a run, wait until it settles; the wall time in seconds. The run must succeed."""
        started = time.perf_counter()
        run = self.start_run(workflow, inputs)
        status = self.wait_settled(run.pk)
        elapsed = time.perf_counter() - started
        if status != "succeeded":
            from executions.models import Run

            error = Run.objects.values_list("error", flat=True).get(pk=run.pk)
            raise AssertionError(f"run {run.pk} ended {status}: {error}")
        return elapsed

    def quiesce(self, timeout_s: float = 120) -> int:
        """Wait until the previous workload's work is done (broker queues empty, no run pending or
        running), so it cannot slow the next one down. What is still left after `timeout_s` (a
        failed workload's runs) is cancelled and its messages dropped: every one of them names a
        cancelled run. Returns how many runs were cancelled."""
        from executions import services
        from executions.models import Run

        busy = ("pending", "running")
        client = redis_client(self.stack)
        try:
            deadline = time.monotonic() + timeout_s
            while Run.objects.filter(status__in=busy).exists() or any(
                client.llen(queue) for queue in QUEUES[:2]
            ):
                if time.monotonic() > deadline:
                    leftovers = list(Run.objects.filter(status__in=busy).values_list("pk", flat=True))
                    for run_id in leftovers:
                        services.cancel_run(run_id, by=BENCH_USERNAME)
                    client.delete(*QUEUES[:2])
                    return len(leftovers)
                time.sleep(0.2)
            return 0
        finally:
            client.close()

    def blpop(self, client: Any, key: str, timeout_s: float = 60) -> None:
        if client.blpop([key], timeout=timeout_s) is None:
            raise TimeoutError(f"no signal on {key} within {timeout_s} s")


class CpuAccount:
    """CPU time the stack's processes spent during the wrapped samples. Wall times on a shared
    machine include waiting for a core; CPU per unit of work does not, so it shows the cost itself.
    (Work a sample leaves behind, such as after-commit publishing, may land in the next sample.)"""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.web = 0.0
        self.workers = 0.0
        self.samples = 0

    def wrap(self, sample: Callable[[], float]) -> Callable[[], float]:
        def metered() -> float:
            before = self.stack.cpu_seconds()
            value = sample()
            after = self.stack.cpu_seconds()
            self.web += after["web"] - before["web"]
            self.workers += after["workers"] - before["workers"]
            self.samples += 1
            return value

        return metered

    def per_sample_ms(self, units: int = 1) -> str:
        samples = max(1, self.samples) * units
        return f"web {self.web / samples * 1000:.1f} ms + workers {self.workers / samples * 1000:.1f} ms"


def start_instant_llm(owner: Any) -> Any:
    """The local OpenAI-compatible server, and the provider and agent that point at it. No
    concurrency or rate limit on the provider: the figure is the product's path, not a throttle."""
    from agents.models import Agent, Provider
    from tests.support.fake_llm import Behaviour, FakeOpenAI

    answer = Behaviour(text="Done: all clear.")
    server = FakeOpenAI(api_key=BENCH_API_KEY, default=answer, record=False).start()
    provider, _ = Provider.objects.update_or_create(
        name="bench instant",
        defaults={
            "kind": "openai",
            "base_url": server.base_url,
            "owner": owner,
            "max_concurrency": 0,
            "requests_per_minute": 0,
            "timeout_s": 30,
        },
    )
    provider.set_api_key(BENCH_API_KEY)
    provider.save()
    Agent.objects.update_or_create(
        slug=BENCH_AGENT,
        defaults={"name": "Bench instant", "provider": provider, "model": "gpt-bench", "owner": owner},
    )
    return server


def unique_key(prefix: str) -> str:
    return f"bench:{prefix}:{uuid.uuid4().hex}"
