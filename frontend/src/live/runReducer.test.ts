import { describe, expect, it } from "vitest";

import type { RunEvent } from "../api/runs";
import { applyDelta, applyEvents, initialRunState, nodeState } from "./runReducer";

function event(seq: number, type: string, nodeId: string | null = null, data: Record<string, unknown> = {}, extra: Partial<RunEvent> = {}): RunEvent {
  return {
    seq,
    type,
    node_id: nodeId,
    scope: "",
    attempt: null,
    ts: `2026-01-01T00:00:${String(seq).padStart(2, "0")}Z`,
    data: data as RunEvent["data"],
    ...extra,
  };
}

/** A small run: start and classify succeed, the run ends. */
const RUN: RunEvent[] = [
  event(1, "run.status", null, { status: "running", previous: "pending" }),
  event(2, "node.succeeded", "start", { handle: "out", duration_ms: 0, output_preview: { ticket: "x" }, output_truncated: false }),
  event(3, "node.queued", "classify", {}, { attempt: 1 }),
  event(4, "node.started", "classify", {}, { attempt: 1 }),
  event(5, "node.succeeded", "classify", { handle: "out", duration_ms: 12, output_preview: { text: "ok" }, output_truncated: false, usage: { input_tokens: 3, output_tokens: 5 }, cost_usd: 0.001 }, { attempt: 1 }),
  event(6, "run.status", null, { status: "succeeded", previous: "running" }),
  event(7, "run.succeeded", null, { outputs: { label: "ok" } }),
];

describe("applyEvents", () => {
  it("applies events in seq order and records node states, attempts and the run's status", () => {
    const state = applyEvents(initialRunState("r"), RUN);

    expect(state.lastSeq).toBe(7);
    expect(state.runStatus).toBe("succeeded");
    expect(state.outputs).toEqual({ label: "ok" });
    expect(nodeState(state, "start").status).toBe("succeeded");
    const classify = nodeState(state, "classify");
    expect(classify).toMatchObject({ status: "succeeded", attempt: 1, handle: "out", durationMs: 12, costUsd: 0.001, usage: { input_tokens: 3, output_tokens: 5 } });
    expect(state.spans["classify@"]).toEqual([
      { nodeId: "classify", scope: "", attempt: 1, status: "succeeded", queuedAt: RUN[2]?.ts, startedAt: RUN[3]?.ts, finishedAt: RUN[4]?.ts },
    ]);
    expect(state.log.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(state.gapAfter).toBeNull();
  });

  it("gives the same state one event at a time as in one batch, even if the batch is shuffled", () => {
    let oneByOne = initialRunState("r");
    for (const item of RUN) oneByOne = applyEvents(oneByOne, [item]);
    const shuffled = applyEvents(initialRunState("r"), [...RUN].reverse());

    expect(shuffled).toEqual(oneByOne);
  });

  it("drops an event it has already applied, and counts it", () => {
    const once = applyEvents(initialRunState("r"), RUN.slice(0, 5));
    const again = applyEvents(once, RUN.slice(2, 7));

    expect(again.lastSeq).toBe(7);
    expect(again.log.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(again.duplicatesDropped).toBe(3);
    expect(nodeState(again, "classify").status).toBe("succeeded");
  });

  it("returns the same state for nothing new", () => {
    const state = applyEvents(initialRunState("r"), RUN);
    expect(applyEvents(state, [])).toBe(state);
  });

  it("holds back an event that arrives ahead of a missing one and asks for the gap", () => {
    const state = applyEvents(initialRunState("r"), [RUN[0] as RunEvent, RUN[1] as RunEvent, RUN[4] as RunEvent, RUN[5] as RunEvent]);

    expect(state.lastSeq).toBe(2);
    expect(state.gapAfter).toBe(2);
    expect(Object.keys(state.buffered).map(Number)).toEqual([5, 6]);
    expect(nodeState(state, "classify").status).toBe("pending");
  });

  it("fills the gap: buffered events follow the fetched ones, each exactly once", () => {
    const withGap = applyEvents(initialRunState("r"), [RUN[0] as RunEvent, RUN[1] as RunEvent, RUN[4] as RunEvent, RUN[5] as RunEvent]);
    // The refetch answers everything after 2, including what is already buffered.
    const filled = applyEvents(withGap, RUN.slice(2));

    expect(filled.gapAfter).toBeNull();
    expect(filled.buffered).toEqual({});
    expect(filled.lastSeq).toBe(7);
    expect(filled.log.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(filled).toEqual({ ...applyEvents(initialRunState("r"), RUN), duplicatesDropped: filled.duplicatesDropped });
  });

  it("counts a repeat of a buffered event as a duplicate", () => {
    const withGap = applyEvents(initialRunState("r"), [RUN[0] as RunEvent, RUN[3] as RunEvent]);
    const repeated = applyEvents(withGap, [RUN[3] as RunEvent]);

    expect(Object.keys(repeated.buffered)).toEqual(["4"]);
    expect(repeated.duplicatesDropped).toBe(1);
  });

  it("follows retries: retrying keeps the error and the next attempt gets its own span", () => {
    const error = { code: "rate_limited", message: "429", retryable: true, attempt: 1 };
    const state = applyEvents(initialRunState("r"), [
      event(1, "node.queued", "classify", {}, { attempt: 1 }),
      event(2, "node.started", "classify", {}, { attempt: 1 }),
      event(3, "node.retrying", "classify", { error, retry_at: "2026-01-01T00:01:00Z" }, { attempt: 1 }),
      event(4, "node.queued", "classify", {}, { attempt: 2 }),
      event(5, "node.started", "classify", {}, { attempt: 2 }),
    ]);

    expect(nodeState(state, "classify")).toMatchObject({ status: "running", attempt: 2, error: null, retryAt: null });
    expect(state.spans["classify@"]?.map((span) => [span.attempt, span.status])).toEqual([
      [1, "retrying"],
      [2, "running"],
    ]);
  });

  it("keeps loop passes apart by scope and reads the number of passes", () => {
    const state = applyEvents(initialRunState("r"), [
      event(1, "node.started", "each", { passes: 2 }),
      event(2, "node.succeeded", "measure", { handle: "out" }, { scope: "each[0]" }),
      event(3, "node.failed", "measure", { error: { code: "x", message: "y" } }, { scope: "each[1]" }),
    ]);

    expect(nodeState(state, "each")).toMatchObject({ status: "running", passesTotal: 2 });
    expect(nodeState(state, "measure", "each[0]").status).toBe("succeeded");
    expect(nodeState(state, "measure", "each[1]").status).toBe("failed");
    expect(nodeState(state, "measure").status).toBe("pending");
  });

  it("a reset (retry from a node) puts the node back to pending and clears its result", () => {
    const state = applyEvents(initialRunState("r"), [
      event(1, "node.failed", "classify", { error: { code: "bad", message: "no" } }, { attempt: 1 }),
      event(2, "node.reset", "classify", { reason: "retry" }),
    ]);

    expect(nodeState(state, "classify")).toMatchObject({ status: "pending", error: null, handle: null });
  });

  it("records what a waiting node waits for", () => {
    const state = applyEvents(initialRunState("r"), [
      event(1, "node.waiting", "escalate", { reason: "approval", approval_id: "a1", due_at: "2026-01-02T00:00:00Z" }, { attempt: 1 }),
    ]);

    expect(nodeState(state, "escalate")).toMatchObject({ status: "waiting", waitReason: "approval", approvalId: "a1", dueAt: "2026-01-02T00:00:00Z" });
  });
});

describe("applyDelta", () => {
  const delta = (index: number, text: string, attempt = 1) => ({ node_id: "draft", scope: "", attempt, index, text });

  it("joins streamed pieces in index order and ignores repeats", () => {
    let state = initialRunState("r");
    for (const piece of [delta(1, "lo "), delta(0, "Hel"), delta(2, "world"), delta(1, "lo ")]) state = applyDelta(state, piece);

    expect(state.streams["draft@"]?.text).toBe("Hello world");
  });

  it("starts over for a new attempt and ignores pieces of an older one", () => {
    let state = applyDelta(initialRunState("r"), delta(0, "first"));
    state = applyDelta(state, delta(0, "second", 2));
    const unchanged = applyDelta(state, delta(1, " late", 1));

    expect(unchanged).toBe(state);
    expect(state.streams["draft@"]).toMatchObject({ attempt: 2, text: "second" });
  });
});
