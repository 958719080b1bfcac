/**
 * Runs (DESIGN §7, §8): the list, one run with its node runs and attempts, its stored events, the
 * run controls, and the two sockets — `ws/runs/<id>/?after=<seq>` (one run's events) and
 * `ws/runs/` (summaries of every run the user can see).
 */
import { api } from "./client";
import type { GraphDocument, JsonObject, JsonValue } from "./editor";
import type { Page } from "./types";

export type RunStatus = "pending" | "running" | "waiting" | "paused" | "succeeded" | "failed" | "cancelled";
export type RunSource = "manual" | "api" | "webhook" | "schedule" | "workflow_event" | "retry";
export type NodeStatus =
  | "pending"
  | "queued"
  | "running"
  | "waiting"
  | "retrying"
  | "succeeded"
  | "failed"
  | "skipped"
  | "cancelled";

export const RUN_STATUSES: readonly RunStatus[] = ["pending", "running", "waiting", "paused", "succeeded", "failed", "cancelled"];
export const RUN_SOURCES: readonly RunSource[] = ["manual", "api", "webhook", "schedule", "workflow_event", "retry"];
export const TERMINAL_RUN_STATUSES: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

/** executions/api/serializers.py: RunSummarySerializer. */
export interface RunListItem {
  id: string;
  workflow: number;
  workflow_name: string;
  version: number | null;
  is_draft: boolean;
  status: RunStatus;
  inputs: JsonValue;
  outputs: JsonValue;
  error: JsonValue;
  source: RunSource;
  trigger: number | null;
  created_by: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  end_node_id: string | null;
  /** Set when a `subworkflow` node of another run started this one. */
  parent_run?: string | null;
  parent_node?: string | null;
}

export interface NodeError {
  code: string;
  message: string;
  retryable?: boolean;
  attempt?: number | null;
}

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
}

export interface AttemptSummary {
  number: number;
  status: string;
  error: NodeError | null;
  queued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  usage: Usage | null;
  cost_usd: number | string | null;
}

export interface Attempt extends AttemptSummary {
  input: JsonValue;
  rendered: JsonValue;
  output: JsonValue;
  lease_expires_at: string | null;
  claims: number;
  worker: string | null;
  provider_kind: string | null;
  model: string | null;
  latency_ms: number | null;
}

export interface LoopPasses {
  total: number;
  succeeded: number;
  failed: number;
  running: number;
  skipped: number;
}

export interface NodeRunRow {
  node_id: string;
  node_type: string;
  scope: string;
  status: NodeStatus;
  input: JsonValue;
  output: JsonValue;
  handle: string | null;
  error: NodeError | null;
  wait_reason: string | null;
  attempts_count: number;
  started_at: string | null;
  finished_at: string | null;
  current_attempt: AttemptSummary | null;
  passes: LoopPasses | null;
  /** A `subworkflow` node's latest child run. */
  child_run?: string | null;
}

export interface NodeRunDetail extends NodeRunRow {
  attempts: Attempt[];
}

export interface RunDetail extends RunListItem {
  /** The workflow variables the run started with (overrides merged over the defaults). */
  variables?: Record<string, unknown>;
  /** The graph the run executes: its version's, or the draft as it was when the run started. */
  graph: GraphDocument;
  node_runs: NodeRunRow[];
}

/** One stored event (DESIGN §8); `seq` is gap-free per run. */
export interface RunEvent {
  seq: number;
  type: string;
  node_id: string | null;
  scope: string;
  attempt: number | null;
  ts: string;
  data: JsonObject;
}

/** A streamed piece of LLM text: live only, never stored, no `seq`. */
export interface NodeDelta {
  node_id: string;
  scope: string;
  attempt: number;
  index: number;
  text: string;
}

export interface EventPage {
  events: RunEvent[];
  next_after: number;
}

export interface RunFilters {
  workflow?: number | undefined;
  status?: string | undefined;
  source?: string | undefined;
  /** ISO date-times; `created_after` is inclusive, `created_before` exclusive. */
  created_after?: string | undefined;
  created_before?: string | undefined;
}

const runPath = (runId: string) => `/api/runs/${encodeURIComponent(runId)}/`;
const withSignal = (signal?: AbortSignal) => (signal ? { signal } : {});

export function listRuns(filters: RunFilters = {}, signal?: AbortSignal): Promise<Page<RunListItem>> {
  return api.get<Page<RunListItem>>("/api/runs/", { query: { ...filters, page_size: 50 }, ...withSignal(signal) });
}

export function fetchRunPage(url: string, signal?: AbortSignal): Promise<Page<RunListItem>> {
  return api.get<Page<RunListItem>>(url, withSignal(signal));
}

export function fetchRunDetail(runId: string, signal?: AbortSignal): Promise<RunDetail> {
  return api.get<RunDetail>(runPath(runId), withSignal(signal));
}

export function fetchRunEvents(runId: string, after: number, signal?: AbortSignal): Promise<EventPage> {
  return api.get<EventPage>(`${runPath(runId)}events/`, { query: { after, limit: 5000 }, ...withSignal(signal) });
}

/** Node runs of one scope (a loop pass is `<loop id>[<i>]`), paged. */
export function listNodeRuns(
  runId: string,
  query: { scope?: string; node_id?: string; status?: string; page?: number; page_size?: number },
  signal?: AbortSignal,
): Promise<Page<NodeRunRow>> {
  return api.get<Page<NodeRunRow>>(`${runPath(runId)}node-runs/`, { query, ...withSignal(signal) });
}

export function fetchNodeRun(runId: string, nodeId: string, scope: string, signal?: AbortSignal): Promise<NodeRunDetail> {
  return api.get<NodeRunDetail>(`${runPath(runId)}node-runs/${encodeURIComponent(nodeId)}/`, {
    query: { scope: scope || undefined },
    ...withSignal(signal),
  });
}

export function cancelRun(runId: string): Promise<RunListItem> {
  return api.post<RunListItem>(`${runPath(runId)}cancel/`);
}

export function pauseRun(runId: string): Promise<RunListItem> {
  return api.post<RunListItem>(`${runPath(runId)}pause/`);
}

export function resumeRun(runId: string): Promise<RunListItem> {
  return api.post<RunListItem>(`${runPath(runId)}resume/`);
}

/** Re-executes a node and everything downstream of it; without a node, every failed node. */
export function retryRun(runId: string, target: { node_id?: string; scope?: string } = {}): Promise<RunListItem> {
  return api.post<RunListItem>(`${runPath(runId)}retry/`, target);
}

/** A new run of the same workflow with the same inputs and variables: same version, or the current draft. */
export function rerun(
  run: Pick<RunListItem, "workflow" | "version" | "is_draft" | "inputs"> & { variables?: Record<string, unknown> },
): Promise<RunListItem> {
  const inputs = run.inputs && typeof run.inputs === "object" && !Array.isArray(run.inputs) ? run.inputs : {};
  const target = run.is_draft || run.version === null ? { draft: true } : { version: run.version };
  const body = run.variables ? { inputs, variables: run.variables, ...target } : { inputs, ...target };
  return api.post<RunListItem>(`/api/workflows/${run.workflow}/runs/`, body);
}

// ---------------------------------------------------------------------------------------------
// Sockets
// ---------------------------------------------------------------------------------------------

const DEFAULT_RETRY_DELAYS_MS = [500, 1_000, 2_000, 5_000, 10_000] as const;

export interface SocketOptions {
  /** Waits before reconnect attempts 1, 2, …; the last one repeats. */
  retryDelaysMs?: readonly number[];
  createSocket?: (url: string) => WebSocket;
  location?: Pick<Location, "protocol" | "host">;
}

export interface SocketConnection {
  close: () => void;
}

function socketUrl(path: string, location: Pick<Location, "protocol" | "host">): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

/**
 * One socket kept open with reconnects after a growing delay (and at once when the browser comes
 * back online). `path()` is asked again before every connection, so a reconnect can resume from
 * where the last one stopped.
 */
function keepSocketOpen(
  path: () => string,
  handlers: { onMessage: (message: unknown) => void; onOpen?: (isReconnect: boolean) => void; onClose?: () => void },
  options: SocketOptions,
): SocketConnection {
  const retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const createSocket = options.createSocket ?? ((url: string) => new WebSocket(url));
  const location = options.location ?? window.location;
  let socket: WebSocket | null = null;
  let hasOpenedBefore = false;
  let failures = 0;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let isClosed = false;

  const scheduleReconnect = () => {
    if (isClosed || retryTimer !== null) return;
    const delay = retryDelays[Math.min(failures, retryDelays.length - 1)] ?? 10_000;
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
      current = createSocket(socketUrl(path(), location));
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
      if (socket !== current) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(String(event.data));
      } catch {
        return;
      }
      handlers.onMessage(parsed);
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isRunEvent(value: unknown): value is RunEvent {
  return isRecord(value) && typeof value.seq === "number" && typeof value.type === "string" && isRecord(value.data);
}

function isNodeDelta(value: unknown): value is NodeDelta {
  return isRecord(value) && typeof value.node_id === "string" && typeof value.index === "number" && typeof value.text === "string";
}

export interface RunEventHandlers {
  onEvent: (event: RunEvent) => void;
  onDelta?: (delta: NodeDelta) => void;
  onOpen?: (isReconnect: boolean) => void;
  onClose?: () => void;
}

/**
 * `ws/runs/<id>/?after=<seq>`: the stored events after `seq`, then live ones. `after()` is read at
 * every (re)connect, so the server resumes exactly after the last event the caller applied.
 */
export function connectRunEvents(runId: string, after: () => number, handlers: RunEventHandlers, options: SocketOptions = {}): SocketConnection {
  return keepSocketOpen(
    () => `/ws/runs/${encodeURIComponent(runId)}/?after=${Math.max(0, Math.floor(after()))}`,
    {
      onMessage: (message) => {
        if (!isRecord(message)) return;
        if (message.type === "node.delta") {
          if (isNodeDelta(message.data)) handlers.onDelta?.(message.data);
        } else if (isRunEvent(message)) {
          handlers.onEvent(message);
        }
      },
      ...(handlers.onOpen && { onOpen: handlers.onOpen }),
      ...(handlers.onClose && { onClose: handlers.onClose }),
    },
    options,
  );
}

export interface RunSummaryHandlers {
  onSummary: (run: RunListItem) => void;
  /** No sequence numbers here: after a reconnect the caller refetches the list. */
  onOpen?: (isReconnect: boolean) => void;
  onClose?: () => void;
}

/** `ws/runs/`: a summary each time a run of a workflow the user can see changes. */
export function connectRunSummaries(handlers: RunSummaryHandlers, options: SocketOptions = {}): SocketConnection {
  return keepSocketOpen(
    () => "/ws/runs/",
    {
      onMessage: (message) => {
        if (isRecord(message) && message.type === "run.summary" && isRecord(message.run)) {
          handlers.onSummary(message.run as unknown as RunListItem);
        }
      },
      ...(handlers.onOpen && { onOpen: handlers.onOpen }),
      ...(handlers.onClose && { onClose: handlers.onClose }),
    },
    options,
  );
}
