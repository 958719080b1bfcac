import { describe, expect, it, vi } from "vitest";

import type { EventPage, RunEvent, RunEventHandlers } from "../api/runs";
import { createRunStream, type RunStreamDeps } from "./runStream";

function event(seq: number): RunEvent {
  return { seq, type: "node.succeeded", node_id: `n${seq}`, scope: "", attempt: null, ts: "2026-01-01T00:00:00Z", data: { handle: "out" } };
}

/** A fake server: the stored events, a socket whose handlers the test calls, and a log of calls. */
function fakeServer(stored: RunEvent[]) {
  const fetches: number[] = [];
  const connects: number[] = [];
  let handlers: RunEventHandlers | null = null;
  let after: () => number = () => 0;
  const deps: RunStreamDeps = {
    schedule: (flush) => flush(),
    retryDelayMs: 1,
    pollWhileDisconnectedMs: 0,
    fetchEvents: async (_runId, afterSeq): Promise<EventPage> => {
      fetches.push(afterSeq);
      const events = stored.filter((item) => item.seq > afterSeq);
      return { events, next_after: events.at(-1)?.seq ?? afterSeq };
    },
    connect: (_runId, readAfter, given) => {
      after = readAfter;
      handlers = given;
      connects.push(readAfter());
      return { close: vi.fn() };
    },
  };
  return {
    deps,
    fetches,
    connects,
    socket: () => handlers as RunEventHandlers,
    reconnect: () => {
      handlers?.onClose?.();
      connects.push(after());
      handlers?.onOpen?.(true);
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("createRunStream", () => {
  it("applies socket events in order without fetching anything", () => {
    const server = fakeServer([]);
    const stream = createRunStream("r", server.deps);
    server.socket().onOpen?.(false);
    for (const seq of [1, 2, 3]) server.socket().onEvent(event(seq));

    expect(stream.getState().lastSeq).toBe(3);
    expect(server.fetches).toEqual([]);
    expect(server.connects).toEqual([0]);
  });

  it("fetches the missing events after a gap and applies each event once", async () => {
    const stored = [1, 2, 3, 4, 5].map(event);
    const server = fakeServer(stored);
    const stream = createRunStream("r", server.deps);
    server.socket().onEvent(event(1));
    server.socket().onEvent(event(4)); // 2 and 3 went missing

    await settle();

    expect(server.fetches).toEqual([1]);
    expect(stream.getState().lastSeq).toBe(5);
    expect(stream.getState().log.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(stream.getState().gapAfter).toBeNull();
    expect(stream.getStats().gapFetches).toBe(1);

    // The socket then delivers 5 as well: a duplicate, dropped.
    server.socket().onEvent(event(5));
    expect(stream.getState().log).toHaveLength(5);
    expect(stream.getState().duplicatesDropped).toBeGreaterThanOrEqual(1);
  });

  it("retries a gap fetch that failed", async () => {
    const server = fakeServer([1, 2, 3].map(event));
    const fetchEvents = server.deps.fetchEvents;
    let calls = 0;
    server.deps.fetchEvents = (runId, after) => {
      calls += 1;
      return calls === 1 ? Promise.reject(new Error("offline")) : fetchEvents(runId, after);
    };
    const stream = createRunStream("r", server.deps);
    server.socket().onEvent(event(3));

    await vi.waitFor(() => expect(stream.getState().lastSeq).toBe(3));
    expect(calls).toBe(2);
  });

  it("reconnects after the last applied seq, so nothing is sent twice", () => {
    const server = fakeServer([]);
    const stream = createRunStream("r", server.deps);
    for (const seq of [1, 2]) server.socket().onEvent(event(seq));
    server.reconnect();
    server.socket().onEvent(event(3));

    expect(server.connects).toEqual([0, 2]);
    expect(stream.getState().log.map((entry) => entry.seq)).toEqual([1, 2, 3]);
    expect(stream.getStats().connections).toBe(1);
  });

  it("batches events that arrive before the scheduled flush", () => {
    const flushes: (() => void)[] = [];
    const server = fakeServer([]);
    const stream = createRunStream("r", { ...server.deps, schedule: (flush) => flushes.push(flush) });
    const listener = vi.fn();
    stream.subscribe(listener);
    for (const seq of [1, 2, 3]) server.socket().onEvent(event(seq));

    expect(stream.getState().lastSeq).toBe(0);
    expect(flushes).toHaveLength(1);
    flushes[0]?.();
    expect(stream.getState().lastSeq).toBe(3);
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("polls the stored events until the socket opens", async () => {
    const server = fakeServer([1, 2].map(event));
    vi.useFakeTimers();
    try {
      const stream = createRunStream("r", { ...server.deps, pollWhileDisconnectedMs: 500 });
      await vi.advanceTimersByTimeAsync(500);
      expect(stream.getState().lastSeq).toBe(2);
      server.socket().onOpen?.(false);
      await vi.advanceTimersByTimeAsync(2_000);
      expect(server.fetches).toEqual([0]);
      stream.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it("polls the stored events while the socket is down and stops once it is back", async () => {
    const stored = [1, 2, 3].map(event);
    const server = fakeServer(stored);
    vi.useFakeTimers();
    try {
      const stream = createRunStream("r", { ...server.deps, pollWhileDisconnectedMs: 1_000 });
      server.socket().onOpen?.(false);
      server.socket().onEvent(event(1));
      server.socket().onClose?.();

      await vi.advanceTimersByTimeAsync(1_000);
      expect(server.fetches).toEqual([1]);
      expect(stream.getState().lastSeq).toBe(3);
      expect(stream.getStats().gapFetches).toBe(0);

      server.socket().onOpen?.(true);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(server.fetches).toEqual([1]);
      stream.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it("streams LLM text from deltas", () => {
    const server = fakeServer([]);
    const stream = createRunStream("r", server.deps);
    server.socket().onDelta?.({ node_id: "draft", scope: "", attempt: 1, index: 0, text: "Hi" });
    server.socket().onDelta?.({ node_id: "draft", scope: "", attempt: 1, index: 1, text: " there" });

    expect(stream.getState().streams["draft@"]?.text).toBe("Hi there");
  });
});
