import { describe, expect, it } from "vitest";

import { toFlow } from "./mapping";
import { referencedNodes, rewriteReferences, suggestionsFor } from "./references";
import { chainGraph, loopGraph, REGISTRY } from "./testing/fixtures";

const registry = Object.fromEntries(REGISTRY.map((info) => [info.type, info]));

describe("references", () => {
  it("rewrites every form of a node reference and nothing else", () => {
    const renamed = new Map([
      ["double", "double_2"],
      ["each", "each_2"],
    ]);
    expect(rewriteReferences("{{ nodes.double.output.total }} and nodes['double'].status and nodes[\"double\"]", renamed)).toBe(
      "{{ nodes.double_2.output.total }} and nodes['double_2'].status and nodes[\"double_2\"]",
    );
    expect(rewriteReferences("loops.each.item + nodes.doubled.x + mynodes.double + x.nodes.double", renamed)).toBe(
      "loops.each_2.item + nodes.doubled.x + mynodes.double + x.nodes.double",
    );
    expect(referencedNodes("nodes.a.output + nodes['b'] + nodes.a.status + loops.c.item")).toEqual(["a", "b"]);
  });

  it("suggest inputs, variables and only the node's ancestors", () => {
    const { nodes, edges, meta } = toFlow(chainGraph());
    const values = suggestionsFor({ nodeId: "big", nodes, edges, registry, variables: meta.variables }).map((item) => item.value);
    expect(values).toContain("inputs.amount");
    expect(values).toContain("vars.limit");
    expect(values).toContain("nodes.double.output.total");
    expect(values).toContain("nodes.start.output.amount");
    expect(values.some((value) => value.startsWith("nodes.big") || value.startsWith("nodes.done"))).toBe(false);
    expect(values.some((value) => value.startsWith("loop"))).toBe(false);
  });

  it("suggest loop names inside a loop body, and the loop's own ancestors", () => {
    const { nodes, edges } = toFlow(loopGraph());
    const values = suggestionsFor({ nodeId: "wait", nodes, edges, registry, variables: undefined }).map((item) => item.value);
    expect(values).toEqual(expect.arrayContaining(["loop.item", "loop.index", "loop.previous", "loops.each.item", "nodes.shape.output.item", "nodes.start.output"]));
    expect(values.some((value) => value.startsWith("nodes.each") || value.startsWith("nodes.finish"))).toBe(false);
  });
});
