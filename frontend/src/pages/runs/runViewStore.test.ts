import { beforeEach, describe, expect, it } from "vitest";

import type { RunEvent } from "../../api/runs";
import { applyEvents, initialRunState } from "../../live/runReducer";
import { scopeOf, useRunView } from "./runViewStore";

const parentOf = { outer: undefined, inner: "outer", leaf: "inner", top: undefined };

describe("scopeOf", () => {
  it("is the top level for top-level nodes and the picked passes inside loops", () => {
    expect(scopeOf("top", parentOf, {})).toBe("");
    expect(scopeOf("outer", parentOf, {})).toBe("");
    expect(scopeOf("inner", parentOf, { outer: 1 })).toBe("outer[1]");
    expect(scopeOf("leaf", parentOf, { outer: 1, inner: 0 })).toBe("outer[1]/inner[0]");
  });

  it("is null while an enclosing loop has no pass picked", () => {
    expect(scopeOf("leaf", parentOf, { outer: 1 })).toBeNull();
    expect(scopeOf("leaf", parentOf, { outer: null, inner: 0 })).toBeNull();
  });
});

describe("useRunView", () => {
  beforeEach(() => useRunView.getState().reset("r"));

  it("indexes the graph's loops and counts node runs across passes", () => {
    useRunView.getState().setGraph(
      {
        schema_version: 1,
        nodes: [
          { id: "each", type: "loop" },
          { id: "a", type: "transform", parent: "each" },
          { id: "b", type: "transform", parent: "each" },
        ],
        edges: [],
      },
      [],
    );
    const event = (seq: number, scope: string): RunEvent => ({ seq, type: "node.succeeded", node_id: "a", scope, attempt: null, ts: "", data: { handle: "out" } });
    useRunView.getState().setLive(applyEvents(initialRunState("r"), [event(1, "each[0]"), event(2, "each[1]")]), { isConnected: true, connections: 1, gapFetches: 0 });

    expect(useRunView.getState().bodyOf).toEqual({ each: ["a", "b"] });
    expect(useRunView.getState().parentOf.a).toBe("each");
    expect(useRunView.getState().counts).toEqual({ a: { succeeded: 2 } });
  });
});
