/**
 * Keeps one run's live state: the socket's events go through the reducer; a gap (an event ahead of
 * the next expected seq) is filled from `events/?after=`; a reconnect resumes after the last
 * applied seq. The server and the network are injected, so tests drive it without either.
 */
import type { EventPage, NodeDelta, RunEvent, RunEventHandlers, SocketConnection } from "../api/runs";
import { applyDelta, applyEvents, initialRunState, type LiveRunState } from "./runReducer";

export interface RunStreamDeps {
  fetchEvents: (runId: string, after: number) => Promise<EventPage>;
  connect: (runId: string, after: () => number, handlers: RunEventHandlers) => SocketConnection;
  /** Runs `flush` soon; socket messages that arrive meanwhile are applied in one batch. */
  schedule?: (flush: () => void) => void;
  /** Wait before trying a failed gap fetch again. */
  retryDelayMs?: number;
  /** While the socket is down, stored events are fetched this often (0: never). */
  pollWhileDisconnectedMs?: number;
}

export interface RunStreamStats {
  isConnected: boolean;
  connections: number;
  gapFetches: number;
}

export interface RunStream {
  getState: () => LiveRunState;
  getStats: () => RunStreamStats;
  subscribe: (listener: () => void) => () => void;
  close: () => void;
}

const defaultSchedule = (flush: () => void) => {
  setTimeout(flush, 30);
};

export function createRunStream(runId: string, deps: RunStreamDeps): RunStream {
  const schedule = deps.schedule ?? defaultSchedule;
  const retryDelayMs = deps.retryDelayMs ?? 1_000;
  const pollMs = deps.pollWhileDisconnectedMs ?? 3_000;
  let pollTimer: ReturnType<typeof setInterval> | null = null;
  let state = initialRunState(runId);
  let stats: RunStreamStats = { isConnected: false, connections: 0, gapFetches: 0 };
  const listeners = new Set<() => void>();
  let incoming: RunEvent[] = [];
  let deltas: NodeDelta[] = [];
  let isFlushScheduled = false;
  let isFetchingGap = false;
  let isClosed = false;

  const notify = () => {
    for (const listener of listeners) listener();
  };

  const setState = (next: LiveRunState) => {
    if (next === state) return;
    state = next;
    notify();
    if (state.gapAfter !== null) void fillGap();
  };

  /** Fetches stored events after the last applied one: to fill a gap, or to poll while offline. */
  async function fillGap(isPoll = false): Promise<void> {
    if (isFetchingGap || isClosed) return;
    isFetchingGap = true;
    if (!isPoll) stats = { ...stats, gapFetches: stats.gapFetches + 1 };
    let pages = 0;
    try {
      while (!isClosed && (state.gapAfter !== null || (isPoll && pages === 0))) {
        pages += 1;
        const page = await deps.fetchEvents(runId, state.lastSeq);
        if (isClosed) return;
        if (page.events.length === 0) break;
        const next = applyEvents(state, page.events);
        if (next !== state) {
          state = next;
          notify();
        }
      }
    } catch {
      // Unreachable for now: try again shortly; the socket's own reconnect also resumes from lastSeq.
      if (!isClosed && !isPoll) setTimeout(() => void fillGap(), retryDelayMs);
    } finally {
      isFetchingGap = false;
    }
  }

  const flush = () => {
    isFlushScheduled = false;
    let next = state;
    if (incoming.length > 0) {
      next = applyEvents(next, incoming);
      incoming = [];
    }
    for (const delta of deltas) next = applyDelta(next, delta);
    deltas = [];
    setState(next);
  };

  const queueFlush = () => {
    if (isFlushScheduled) return;
    isFlushScheduled = true;
    schedule(flush);
  };

  const connection = deps.connect(runId, () => state.lastSeq, {
    onEvent: (event) => {
      incoming.push(event);
      queueFlush();
    },
    onDelta: (delta) => {
      deltas.push(delta);
      queueFlush();
    },
    onOpen: () => {
      stopPolling();
      stats = { ...stats, isConnected: true, connections: stats.connections + 1 };
      notify();
    },
    onClose: () => {
      // Whatever is queued was received before the drop: apply it now, so the reconnect's
      // `after` is the last seq really applied.
      if (incoming.length > 0 || deltas.length > 0) flush();
      stats = { ...stats, isConnected: false };
      notify();
      startPolling();
    },
  });
  // Until the first connection opens (it may never: some proxies refuse sockets).
  startPolling();

  /** A proxy that refuses sockets, or a long outage: REST keeps the view moving meanwhile. */
  function startPolling() {
    if (pollMs > 0 && pollTimer === null && !isClosed) pollTimer = setInterval(() => void fillGap(true), pollMs);
  }

  function stopPolling() {
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
  }

  return {
    getState: () => state,
    getStats: () => stats,
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    close() {
      isClosed = true;
      stopPolling();
      listeners.clear();
      connection.close();
    },
  };
}
