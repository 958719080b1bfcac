"""Graph validation on large drafts: every editor save runs the shape tier, every save and publish
the full tier. Baseline: a JSON round trip of the same document, the least any save must do."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from bench.harness import Figure, median_seconds
from workflows.validation import check_shape, validate_graph

#: The editor saves on every change; a save of the largest draft must stay interactive.
FULL_TIER_BUDGET_S = 0.25


def chain_graph(size: int) -> dict[str, Any]:
    """start → (size - 2) transforms, each reading its predecessor → end."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "config": {}}]
    for index in range(1, size - 1):
        previous = nodes[-1]["id"]
        reference = "inputs" if previous == "start" else f"nodes.{previous}.output"
        nodes.append(
            {
                "id": f"step_{index}",
                "type": "transform",
                "position": {"x": index * 200, "y": 0},
                "config": {"mapping": {"value": f"{reference} | length + {index}"}},
            }
        )
    nodes.append({"id": "end", "type": "end", "config": {"outputs": {"done": "{{ true }}"}}})
    edges = [
        {"id": f"e{index}", "source": nodes[index]["id"], "target": nodes[index + 1]["id"]}
        for index in range(len(nodes) - 1)
    ]
    return {"schema_version": 1, "nodes": nodes, "edges": edges}


def figures() -> list[Figure]:
    results = []
    for size in (500, 2000):
        graph = chain_graph(size)
        assert validate_graph(graph) == [], "the benchmark graph must be valid"
        encoded = json.dumps(graph)
        baseline = median_seconds(partial(json.loads, encoded))
        shape = median_seconds(partial(check_shape, graph))
        full = median_seconds(partial(validate_graph, graph))
        results.append(
            Figure(
                f"validation: shape tier, {size}-node draft",
                shape * 1000,
                "ms",
                "JSON parse",
                baseline * 1000,
                f"<= {FULL_TIER_BUDGET_S * 1000:.0f} ms",
                shape <= FULL_TIER_BUDGET_S,
            )
        )
        results.append(
            Figure(
                f"validation: full tier, {size}-node draft",
                full * 1000,
                "ms",
                "JSON parse",
                baseline * 1000,
                f"<= {FULL_TIER_BUDGET_S * 1000:.0f} ms",
                full <= FULL_TIER_BUDGET_S,
            )
        )
    return results
