/**
 * The approval inbox: what waits for the signed-in user, and the `ws/inbox/` socket that says
 * when it changes (DESIGN §8). The socket carries no sequence numbers, so after every reconnect the
 * caller refetches from REST instead of trusting that nothing was missed.
 */
import { api } from "./client";
import type { ApprovalSummary, Page } from "./types";

/** How many approvals I can decide now (pending, assigned to me or my groups, not mine to refuse). */
export async function fetchPendingApprovalCount(signal?: AbortSignal): Promise<number> {
  const page = await api.get<Page<ApprovalSummary>>("/api/approvals/", {
    query: { mine: "true", status: "pending", page_size: 1 },
    ...(signal && { signal }),
  });
  return page.count;
}

export type InboxMessage =
  | { type: "approval.upsert"; approval: ApprovalSummary }
  | { type: "approval.remove"; approval: ApprovalSummary };

function isInboxMessage(value: unknown): value is InboxMessage {
  if (typeof value !== "object" || value === null) return false;
  const message = value as { type?: unknown; approval?: unknown };
  return (
    (message.type === "approval.upsert" || message.type === "approval.remove") &&
    typeof message.approval === "object" &&
    message.approval !== null
  );
}

export interface InboxSocketHandlers {
  onMessage: (message: InboxMessage) => void;
  /** Called on every successful connection; `isReconnect` is false only for the first. */
  onOpen?: (isReconnect: boolean) => void;
  onClose?: () => void;
}

export interface InboxSocketOptions {
  /** Waits before reconnect attempts 1, 2, …; the last one repeats. */
  retryDelaysMs?: readonly number[];
  createSocket?: (url: string) => WebSocket;
}

export interface InboxConnection {
  close: () => void;
}

const DEFAULT_RETRY_DELAYS_MS = [1_000, 2_000, 5_000, 10_000, 30_000] as const;

export function inboxSocketUrl(location: Pick<Location, "protocol" | "host"> = window.location): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/inbox/`;
}

/**
 * Keeps one socket open to `ws/inbox/`, reconnecting with a growing delay after a drop and at once
 * when the browser comes back online. The session cookie authenticates it.
 */
export function connectInbox(handlers: InboxSocketHandlers, options: InboxSocketOptions = {}): InboxConnection {
  const retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const createSocket = options.createSocket ?? ((url: string) => new WebSocket(url));
  let socket: WebSocket | null = null;
  let hasOpenedBefore = false;
  let failures = 0;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let isClosed = false;

  const scheduleReconnect = () => {
    if (isClosed || retryTimer !== null) return;
    const delay = retryDelays[Math.min(failures, retryDelays.length - 1)] ?? 30_000;
    failures += 1;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      open();
    }, delay);
  };

  function open() {
    if (isClosed) return;
    let current: WebSocket;
    try {
      current = createSocket(inboxSocketUrl());
    } catch {
      scheduleReconnect();
      return;
    }
    socket = current;
    current.onopen = () => {
      failures = 0;
      handlers.onOpen?.(hasOpenedBefore);
      hasOpenedBefore = true;
    };
    current.onmessage = (event: MessageEvent) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (isInboxMessage(parsed)) handlers.onMessage(parsed);
    };
    current.onclose = () => {
      if (socket !== current) return;
      socket = null;
      handlers.onClose?.();
      scheduleReconnect();
    };
  }

  const reconnectNow = () => {
    if (isClosed || socket !== null) return;
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryTimer = null;
    open();
  };

  window.addEventListener("online", reconnectNow);
  open();

  return {
    close() {
      isClosed = true;
      window.removeEventListener("online", reconnectNow);
      if (retryTimer !== null) clearTimeout(retryTimer);
      const current = socket;
      socket = null;
      current?.close();
    },
  };
}
