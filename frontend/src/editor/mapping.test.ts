import { describe, expect, it } from "vitest";

import { chainGraph, loopGraph } from "./testing/fixtures";
import { edgeFromFlow, nodeToFlow, parentsFirst, toFlow, toGraph } from "./mapping";

describe("graph JSON ↔ React Flow", () => {
  it.each([
    ["a chain with variables and annotations", chainGraph()],
    ["a loop with a body, sizes, retries and notes", loopGraph()],
  ])("round-trips %s exactly", (_label, graph) => {
    const { nodes, edges, meta } = toFlow(graph);
    const back = toGraph(nodes, edges, meta);
    expect(back).toStrictEqual(graph);
    expect(JSON.stringify(back)).toBe(JSON.stringify(toGraph(...Object.values(toFlow(back)) as Parameters<typeof toGraph>)));
  });

  it("keeps React Flow's parts out of node data and puts body nodes under their loop", () => {
    const { nodes } = toFlow(loopGraph());
    const shape = nodes.find((node) => node.id === "shape");
    expect(shape?.parentId).toBe("each");
    expect(shape?.data.spec).not.toHaveProperty("position");
    expect(shape?.data.spec).not.toHaveProperty("parent");
    const loop = nodes.find((node) => node.id === "each");
    expect([loop?.width, loop?.height]).toEqual([600, 260]);
  });

  it("lists loops before their bodies, whatever the document order", () => {
    const ordered = parentsFirst([
      { id: "inner_child", parent: "inner" },
      { id: "inner", parent: "outer" },
      { id: "outer" },
      { id: "free" },
    ]);
    expect(ordered.map((node) => node.id)).toEqual(["outer", "inner", "inner_child", "free"]);
  });

  it("writes source_handle only when the document had it or the edge left another handle", () => {
    const implicit = toFlow(chainGraph()).edges[0];
    expect(implicit?.sourceHandle).toBe("out");
    expect(edgeFromFlow(implicit!)).toEqual({ id: "e1", source: "start", target: "double" });
    expect(edgeFromFlow({ id: "x", source: "a", target: "b", sourceHandle: "out" })).toEqual({ id: "x", source: "a", target: "b", source_handle: "out" });
  });

  it("gives nodes without a position one, so the canvas can show them", () => {
    const flowNode = nodeToFlow({ id: "a", type: "end" }, { x: 5, y: 6 });
    expect(flowNode.position).toEqual({ x: 5, y: 6 });
  });
});
