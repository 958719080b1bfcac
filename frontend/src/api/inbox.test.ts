import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { connectInbox, fetchPendingApprovalCount, inboxSocketUrl, type InboxMessage } from "./inbox";

/** Stands in for the browser's WebSocket: the test opens, closes and feeds it by hand. */
class FakeSocket {
  onopen: (() => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: (() => void) | null = null;
  isClosed = false;
  constructor(readonly url: string) {}
  open() {
    this.onopen?.();
  }
  receive(data: unknown) {
    this.onmessage?.(new MessageEvent("message", { data: typeof data === "string" ? data : JSON.stringify(data) }));
  }
  drop() {
    this.onclose?.();
  }
  close() {
    this.isClosed = true;
    this.onclose?.();
  }
}

let sockets: FakeSocket[];
const createSocket = (url: string) => {
  const socket = new FakeSocket(url);
  sockets.push(socket);
  return socket as unknown as WebSocket;
};

const APPROVAL = { id: "a1", status: "pending", title: "Ship it?" };

beforeEach(() => {
  sockets = [];
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("inbox socket", () => {
  it("builds ws:// or wss:// from the page's own origin", () => {
    expect(inboxSocketUrl({ protocol: "http:", host: "localhost:8000" })).toBe("ws://localhost:8000/ws/inbox/");
    expect(inboxSocketUrl({ protocol: "https:", host: "flow.example" })).toBe("wss://flow.example/ws/inbox/");
  });

  it("passes on approval messages and ignores anything else", () => {
    const received: InboxMessage[] = [];
    const connection = connectInbox({ onMessage: (message) => received.push(message) }, { createSocket });
    sockets[0]?.open();

    sockets[0]?.receive({ type: "approval.upsert", approval: APPROVAL });
    sockets[0]?.receive({ type: "run.status", approval: APPROVAL });
    sockets[0]?.receive({ type: "approval.remove" });
    sockets[0]?.receive("{not json");
    sockets[0]?.receive({ type: "approval.remove", approval: APPROVAL });

    expect(received.map((message) => message.type)).toEqual(["approval.upsert", "approval.remove"]);
    connection.close();
  });

  it("reconnects after a drop with growing delays and says which opens are reconnects", () => {
    const opens: boolean[] = [];
    const connection = connectInbox(
      { onMessage: () => {}, onOpen: (isReconnect) => opens.push(isReconnect) },
      { createSocket, retryDelaysMs: [100, 1_000] },
    );
    sockets[0]?.open();

    sockets[0]?.drop();
    vi.advanceTimersByTime(99);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);

    sockets[1]?.drop(); // failed before opening: the next wait is longer
    vi.advanceTimersByTime(999);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    sockets[2]?.open();

    expect(opens).toEqual([false, true]);
    connection.close();
  });

  it("reconnects at once when the browser comes back online", () => {
    const connection = connectInbox({ onMessage: () => {} }, { createSocket, retryDelaysMs: [60_000] });
    sockets[0]?.drop();

    window.dispatchEvent(new Event("online"));

    expect(sockets).toHaveLength(2);
    connection.close();
  });

  it("stops for good when closed: no reconnect after the close", () => {
    const connection = connectInbox({ onMessage: () => {} }, { createSocket, retryDelaysMs: [10] });
    sockets[0]?.open();

    connection.close();
    vi.advanceTimersByTime(1_000);
    window.dispatchEvent(new Event("online"));

    expect(sockets).toHaveLength(1);
    expect(sockets[0]?.isClosed).toBe(true);
  });
});

describe("pending approval count", () => {
  it("asks for my pending approvals, one row per page, and returns the count", async () => {
    const fetchMock = vi.fn((_url: string, _init?: RequestInit) =>
      Promise.resolve(
        new Response(JSON.stringify({ count: 4, next: "x", previous: null, results: [APPROVAL] }), {
          headers: { "Content-Type": "application/json" },
        }),
      ),
    );
    vi.stubGlobal("fetch", fetchMock);

    await expect(fetchPendingApprovalCount()).resolves.toBe(4);
    expect(fetchMock.mock.calls[0]?.[0]).toBe("/api/approvals/?mine=true&status=pending&page_size=1");
  });
});
