import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { connectRunEvents, connectRunSummaries, rerun } from "./runs";

/** Just enough of a WebSocket for the connection code: the test opens, feeds and drops it. */
class FakeSocket {
  static opened: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  isClosed = false;
  constructor(readonly url: string) {
    FakeSocket.opened.push(this);
  }
  open() {
    this.onopen?.();
  }
  receive(message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop() {
    this.onclose?.();
  }
  close() {
    this.isClosed = true;
    this.onclose?.();
  }
}

const location = { protocol: "http:", host: "example.test" };
const createSocket = (url: string) => new FakeSocket(url) as unknown as WebSocket;
const latest = () => FakeSocket.opened[FakeSocket.opened.length - 1] as FakeSocket;

beforeEach(() => {
  FakeSocket.opened = [];
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("connectRunEvents", () => {
  it("resumes after the last applied seq on every reconnect, waiting longer after each failure", () => {
    let lastSeq = 0;
    const onEvent = vi.fn((event: { seq: number }) => {
      lastSeq = event.seq;
    });
    const connection = connectRunEvents("r-1", () => lastSeq, { onEvent }, { createSocket, location, retryDelaysMs: [100, 1_000] });

    expect(latest().url).toBe("ws://example.test/ws/runs/r-1/?after=0");
    latest().open();
    latest().receive({ seq: 1, type: "run.status", node_id: null, scope: "", attempt: null, ts: "", data: {} });
    latest().receive({ seq: 2, type: "node.started", node_id: "a", scope: "", attempt: 1, ts: "", data: {} });
    latest().drop();

    vi.advanceTimersByTime(99);
    expect(FakeSocket.opened).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(latest().url).toBe("ws://example.test/ws/runs/r-1/?after=2");

    latest().drop(); // failed again before opening: the next wait is longer
    vi.advanceTimersByTime(999);
    expect(FakeSocket.opened).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.opened).toHaveLength(3);

    connection.close();
    expect(latest().isClosed).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(FakeSocket.opened).toHaveLength(3);
    expect(onEvent).toHaveBeenCalledTimes(2);
  });

  it("passes streamed text apart from stored events and ignores what it cannot read", () => {
    const onEvent = vi.fn();
    const onDelta = vi.fn();
    connectRunEvents("r-1", () => 0, { onEvent, onDelta }, { createSocket, location });
    latest().receive({ type: "node.delta", data: { node_id: "a", scope: "", attempt: 1, index: 0, text: "Hi" } });
    latest().onmessage?.({ data: "not json" });
    latest().receive({ type: "node.started" });

    expect(onDelta).toHaveBeenCalledWith({ node_id: "a", scope: "", attempt: 1, index: 0, text: "Hi" });
    expect(onEvent).not.toHaveBeenCalled();
  });
});

describe("connectRunSummaries", () => {
  it("reports run summaries and says when a reconnect needs a refetch", () => {
    const onSummary = vi.fn();
    const onOpen = vi.fn();
    connectRunSummaries({ onSummary, onOpen }, { createSocket, location, retryDelaysMs: [10] });
    latest().open();
    latest().receive({ type: "run.summary", run: { id: "r-1", status: "running" } });
    latest().drop();
    vi.advanceTimersByTime(10);
    latest().open();

    expect(onSummary).toHaveBeenCalledWith({ id: "r-1", status: "running" });
    expect(onOpen.mock.calls).toEqual([[false], [true]]);
  });
});

describe("rerun", () => {
  it("runs the same version with the same inputs, or the draft for a draft run", async () => {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ id: "new" }), { status: 201, headers: { "Content-Type": "application/json" } }));
    vi.stubGlobal("fetch", fetchMock);

    await rerun({ workflow: 7, version: 3, is_draft: false, inputs: { ticket: "x" } });
    await rerun({ workflow: 7, version: null, is_draft: true, inputs: { ticket: "y" } });
    await rerun({ workflow: 7, version: 3, is_draft: false, inputs: { ticket: "z" }, variables: { tone: "dry" } });

    const bodies = fetchMock.mock.calls.map((call) => JSON.parse(String((call as unknown as [string, RequestInit])[1].body)));
    expect(bodies).toEqual([
      { inputs: { ticket: "x" }, version: 3 },
      { inputs: { ticket: "y" }, draft: true },
      { inputs: { ticket: "z" }, variables: { tone: "dry" }, version: 3 },
    ]);
    expect((fetchMock.mock.calls[0] as unknown as [string])[0]).toBe("/api/workflows/7/runs/");
  });
});
