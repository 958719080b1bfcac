"""Graphs the execution tests run, built as the API receives them."""

from __future__ import annotations

from typing import Any


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


def graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"schema_version": 1, "nodes": nodes, "edges": edges, **extra}


def showcase_graph(delay_s: float = 0.2) -> dict[str, Any]:
    """A condition, a 5-way parallel with a join, nested loops and a delay (the issue's acceptance graph)."""
    branches = [f"branch_{index}" for index in range(5)]
    return graph(
        [
            node(
                "start",
                "start",
                {"input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}}},
            ),
            node("check", "condition", {"expression": "inputs.n > 2"}),
            node("fan_out", "parallel"),
            *[
                node(branch, "transform", {"mapping": {"value": f"inputs.n * {index}"}})
                for index, branch in enumerate(branches)
            ],
            node("gather", "join", {"mode": "all"}),
            node("rows", "loop", {"mode": "count", "count": 2, "max_iterations": 5}),
            node(
                "cells",
                "loop",
                {"mode": "for_each", "items": "[1, 2, 3]", "max_iterations": 5, "concurrency": 2},
                parent="rows",
            ),
            node(
                "cell", "transform", {"mapping": {"v": "loops.rows.index * 10 + loop.item"}}, parent="cells"
            ),
            node("pause_briefly", "delay", {"seconds": delay_s}),
            node(
                "done",
                "end",
                {
                    "outputs": {
                        "sum": "{{ nodes.gather.output.branches.values() | map(attribute='value') | sum }}",
                        "grid": "{{ nodes.rows.output.results | map(attribute='results') | list }}",
                    }
                },
            ),
            node("too_small", "end", {"outputs": {"reason": "n too small"}}),
        ],
        [
            edge("start", "check"),
            edge("check", "fan_out", "true"),
            edge("check", "too_small", "false"),
            *[edge("fan_out", branch) for branch in branches],
            *[edge(branch, "gather") for branch in branches],
            edge("gather", "rows"),
            edge("rows", "pause_briefly"),
            edge("pause_briefly", "done"),
        ],
    )
