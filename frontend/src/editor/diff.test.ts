import { describe, expect, it } from "vitest";

import { diffGraphs, unionGraph } from "./diff";
import { chainGraph } from "./testing/fixtures";

describe("version diff", () => {
  it("marks added, removed and changed nodes and edges, and ignores moves", () => {
    const before = chainGraph();
    const after = chainGraph();
    after.nodes = after.nodes.filter((node) => node.id !== "done");
    after.nodes.push({ id: "later", type: "end", position: { x: 0, y: 0 } });
    after.nodes[0] = { ...after.nodes[0]!, position: { x: 999, y: 999 } };
    after.nodes[1] = { ...after.nodes[1]!, config: { mapping: { total: "inputs.amount * 3" } } };
    after.edges = [...after.edges.filter((edge) => edge.target !== "done"), { id: "other_id", source: "big", source_handle: "true", target: "later" }, { id: "again", source: "start", target: "double" }];
    const diff = diffGraphs(before, after);
    expect(Object.fromEntries(diff.nodes)).toEqual({ start: "unchanged", double: "changed", big: "unchanged", later: "added", done: "removed" });
    expect(diff.changedFields.get("double")).toEqual(["config"]);
    expect(Object.fromEntries(diff.edges)).toEqual({
      "start|out|double": "unchanged",
      "double|out|big": "unchanged",
      "big|true|later": "added",
      "big|true|done": "removed",
    });
    expect(unionGraph(before, after).nodes.map((node) => node.id)).toEqual(["start", "double", "big", "later", "done"]);
  });
});
