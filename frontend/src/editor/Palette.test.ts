import { describe, expect, it } from "vitest";

import { openingView, LARGE_GRAPH } from "./Canvas";
import { toFlow } from "./mapping";
import { groupByCategory } from "./Palette";
import { REGISTRY } from "./testing/fixtures";

describe("node library", () => {
  it("groups the registry by category, flow first, and searches labels and descriptions", () => {
    const groups = groupByCategory(REGISTRY, "");
    expect(groups[0]?.[0]).toBe("flow");
    expect(groups.flatMap(([, types]) => types).length).toBe(REGISTRY.length);
    const found = groupByCategory(REGISTRY, "Cond").flatMap(([, types]) => types);
    expect(found.map((info) => info.type)).toContain("condition");
    for (const info of found) expect(`${info.label} ${info.type} ${info.description}`.toLowerCase()).toContain("cond");
    expect(groupByCategory(REGISTRY, "approve").flatMap(([, types]) => types.map((info) => info.type))).toEqual(["approval"]);
    expect(groupByCategory(REGISTRY, "no such thing")).toEqual([]);
  });
});

describe("opening view", () => {
  const graph = (count: number) =>
    toFlow({
      schema_version: 1,
      nodes: Array.from({ length: count }, (_, index) => ({ id: index === 3 ? "start" : `n${index}`, type: index === 3 ? "start" : "transform", position: { x: index * 10, y: 50 } })),
      edges: [],
    }).nodes;

  it("fits small graphs, keeps an empty canvas at zoom 1, opens large ones on the start", () => {
    expect(openingView([])).toEqual({ fit: false, large: false });
    expect(openingView(graph(LARGE_GRAPH))).toEqual({ fit: true, large: false });
    const large = openingView(graph(LARGE_GRAPH + 1));
    expect(large).toMatchObject({ fit: false, large: true });
    expect(large.viewport).toEqual({ x: 48 - 30 * 0.75, y: 240 - 50 * 0.75, zoom: 0.75 });
  });
});
