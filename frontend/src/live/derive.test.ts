import { describe, expect, it } from "vitest";

import type { GraphDocument } from "../api/editor";
import type { RunEvent } from "../api/runs";
import { branchProgress, countsAcrossScopes, edgeState, joinProgress, passProgress, passScope, summaryStatus } from "./derive";
import { applyEvents, initialRunState } from "./runReducer";

let seq = 0;
function event(type: string, nodeId: string, scope = "", data: Record<string, unknown> = {}): RunEvent {
  seq += 1;
  return { seq, type, node_id: nodeId, scope, attempt: null, ts: "2026-01-01T00:00:00Z", data: data as RunEvent["data"] };
}
function run(events: RunEvent[]) {
  const state = applyEvents(initialRunState("r"), events);
  seq = 0;
  return state;
}

describe("passProgress", () => {
  it("counts passes by their body nodes and keeps unseen ones pending", () => {
    const state = run([
      event("node.started", "each", "", { passes: 4 }),
      event("node.succeeded", "a", "each[0]", { handle: "out" }),
      event("node.succeeded", "b", "each[0]", { handle: "out" }),
      event("node.succeeded", "a", "each[1]", { handle: "out" }),
      event("node.failed", "a", "each[2]"),
      event("node.succeeded", "x", "each[0]/inner[0]", { handle: "out" }),
    ]);

    const progress = passProgress(state, "each", "", ["a", "b"]);

    expect(progress).toEqual({ total: 4, succeeded: 1, failed: 1, running: 1, pending: 1, passes: { 0: "succeeded", 1: "running", 2: "failed" } });
    expect(passScope("", "each", 2)).toBe("each[2]");
    expect(passScope("outer[1]", "each", 0)).toBe("outer[1]/each[0]");
  });
});

describe("edgeState", () => {
  it("is taken through the handle the source took, dead through the others, active while the target works", () => {
    const state = run([
      event("node.succeeded", "check", "", { handle: "true" }),
      event("node.started", "yes", ""),
      event("node.skipped", "no", ""),
    ]);

    expect(edgeState(state, { id: "e1", source: "check", target: "yes", source_handle: "true" }, "")).toBe("active");
    expect(edgeState(state, { id: "e2", source: "check", target: "no", source_handle: "false" }, "")).toBe("dead");
    expect(edgeState(state, { id: "e3", source: "no", target: "end" }, "")).toBe("dead");
    expect(edgeState(state, { id: "e4", source: "yes", target: "end" }, "")).toBe("idle");
  });
});

describe("branchProgress", () => {
  const graph: GraphDocument = {
    schema_version: 1,
    nodes: ["fan", "a1", "a2", "b", "c", "join", "end"].map((id) => ({ id, type: id === "join" ? "join" : id === "fan" ? "parallel" : "transform" })),
    edges: [
      { id: "1", source: "fan", target: "a1" },
      { id: "2", source: "a1", target: "a2" },
      { id: "3", source: "a2", target: "join" },
      { id: "4", source: "fan", target: "b" },
      { id: "5", source: "b", target: "join" },
      { id: "6", source: "fan", target: "c" },
      { id: "7", source: "c", target: "join" },
      { id: "8", source: "join", target: "end" },
    ],
  };

  it("counts a branch done when every node up to the join is terminal", () => {
    const state = run([event("node.succeeded", "fan", "", { handle: "out" }), event("node.succeeded", "a1", "", { handle: "out" }), event("node.succeeded", "b", "", { handle: "out" })]);

    expect(branchProgress(graph, state, "fan", "")).toEqual({ total: 3, done: 1, running: 1 });
  });

  it("counts the edges that reached the join", () => {
    const state = run([event("node.succeeded", "a2", "", { handle: "out" }), event("node.skipped", "b", ""), event("node.started", "c", "")]);

    expect(joinProgress(graph, state, "join", "")).toEqual({ arrived: 1, dead: 1, total: 3 });
  });
});

describe("summaryStatus", () => {
  it("shows the most urgent status across passes", () => {
    const state = run([event("node.succeeded", "a", "each[0]"), event("node.started", "a", "each[1]"), event("node.succeeded", "a", "")]);
    const counts = countsAcrossScopes(state);

    expect(counts).toEqual({ a: { succeeded: 1, running: 1 } });
    expect(summaryStatus(counts.a)).toBe("running");
    expect(summaryStatus(undefined)).toBe("pending");
  });
});
