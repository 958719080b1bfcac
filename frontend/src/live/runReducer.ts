/**
 * The one place a run's live state is computed: stored and live events (DESIGN §8) folded in
 * `seq` order. Pure functions over plain data, so the same events give the same state whether they
 * came from the socket, from `events/?after=` after a gap, or from both.
 *
 * Invariants: an event is applied at most once and only right after `seq - 1`; one that arrives
 * early waits in `buffered` and marks `gapAfter` (the caller fetches the missing ones); one at or
 * below `lastSeq` is a duplicate and is dropped.
 */
import type { NodeDelta, NodeError, NodeStatus, RunEvent, RunStatus, Usage } from "../api/runs";

export const ACTIVE_NODE_STATUSES: ReadonlySet<NodeStatus> = new Set(["queued", "running", "waiting", "retrying"]);
export const TERMINAL_NODE_STATUSES: ReadonlySet<NodeStatus> = new Set(["succeeded", "failed", "skipped", "cancelled"]);

/** Which node status each node event leaves behind. */
const STATUS_OF_EVENT: Record<string, NodeStatus> = {
  "node.queued": "queued",
  "node.started": "running",
  "node.waiting": "waiting",
  "node.retrying": "retrying",
  "node.succeeded": "succeeded",
  "node.failed": "failed",
  "node.skipped": "skipped",
  "node.cancelled": "cancelled",
  "node.reset": "pending",
};

export interface LiveNode {
  nodeId: string;
  scope: string;
  status: NodeStatus;
  attempt: number | null;
  /** The handle a succeeded node took (its edges from that handle are taken). */
  handle: string | null;
  error: NodeError | null;
  waitReason: string | null;
  approvalId: string | null;
  dueAt: string | null;
  retryAt: string | null;
  durationMs: number | null;
  usage: Usage | null;
  costUsd: number | null;
  outputPreview: unknown;
  outputTruncated: boolean;
  /** Loops: how many passes the loop will make (null while unknown, e.g. `while`). */
  passesTotal: number | null;
  /** seq of the last event about this node run. */
  seq: number;
}

/** One attempt on the timeline, from the events' timestamps. */
export interface AttemptSpan {
  nodeId: string;
  scope: string;
  attempt: number;
  status: NodeStatus;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface StreamedText {
  attempt: number;
  /** Pieces by their index; a repeated index is ignored. */
  pieces: Record<number, string>;
  text: string;
}

export interface EventLogEntry {
  seq: number;
  type: string;
  nodeId: string | null;
  scope: string;
  ts: string;
}

export interface LiveRunState {
  runId: string;
  /** The last event applied; every event up to it has been applied exactly once. */
  lastSeq: number;
  runStatus: RunStatus | null;
  outputs: unknown;
  runError: unknown;
  nodes: Readonly<Record<string, LiveNode>>;
  spans: Readonly<Record<string, readonly AttemptSpan[]>>;
  streams: Readonly<Record<string, StreamedText>>;
  /** Events that arrived ahead of a missing one, by seq, applied once the gap is filled. */
  buffered: Readonly<Record<number, RunEvent>>;
  /** When set, the events after this seq must be fetched (`events/?after=`). */
  gapAfter: number | null;
  log: readonly EventLogEntry[];
  duplicatesDropped: number;
}

export function nodeKey(nodeId: string, scope: string): string {
  return `${nodeId}@${scope}`;
}

export function initialRunState(runId: string): LiveRunState {
  return {
    runId,
    lastSeq: 0,
    runStatus: null,
    outputs: null,
    runError: null,
    nodes: {},
    spans: {},
    streams: {},
    buffered: {},
    gapAfter: null,
    log: [],
    duplicatesDropped: 0,
  };
}

function emptyNode(nodeId: string, scope: string): LiveNode {
  return {
    nodeId,
    scope,
    status: "pending",
    attempt: null,
    handle: null,
    error: null,
    waitReason: null,
    approvalId: null,
    dueAt: null,
    retryAt: null,
    durationMs: null,
    usage: null,
    costUsd: null,
    outputPreview: undefined,
    outputTruncated: false,
    passesTotal: null,
    seq: 0,
  };
}

const asString = (value: unknown): string | null => (typeof value === "string" ? value : null);
const asNumber = (value: unknown): number | null => {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return null;
};

/** A mutable working copy for one batch: the maps are copied once, not once per event. */
interface Draft {
  state: LiveRunState;
  nodes: Record<string, LiveNode>;
  spans: Record<string, AttemptSpan[]>;
  streams: Record<string, StreamedText>;
  log: EventLogEntry[];
}

function updateSpan(draft: Draft, event: RunEvent, key: string, status: NodeStatus): void {
  const attempt = event.attempt ?? 0;
  const list = draft.spans[key] ? [...draft.spans[key]] : [];
  let index = list.findIndex((span) => span.attempt === attempt);
  if (index < 0 || (status === "queued" && list[index]?.finishedAt)) {
    // A reset node runs its attempt numbers again: a fresh span, the old one stays on the timeline.
    list.push({ nodeId: event.node_id ?? "", scope: event.scope, attempt, status, queuedAt: null, startedAt: null, finishedAt: null });
    index = list.length - 1;
  }
  const span = { ...(list[index] as AttemptSpan), status };
  if (status === "queued") span.queuedAt = span.queuedAt ?? event.ts;
  else if (status === "running" || status === "waiting") span.startedAt = span.startedAt ?? event.ts;
  else if (status === "retrying" || TERMINAL_NODE_STATUSES.has(status)) {
    span.startedAt = span.startedAt ?? event.ts;
    span.finishedAt = event.ts;
  }
  list[index] = span;
  draft.spans[key] = list;
}

function applyNodeEvent(draft: Draft, event: RunEvent): void {
  const nodeId = event.node_id;
  const status = STATUS_OF_EVENT[event.type];
  if (!nodeId || !status) return;
  const key = nodeKey(nodeId, event.scope);
  const previous = draft.nodes[key] ?? emptyNode(nodeId, event.scope);
  const data = event.data;
  const node: LiveNode = { ...previous, status, seq: event.seq };
  if (event.attempt !== null) node.attempt = event.attempt;
  if (status !== "waiting") {
    node.waitReason = null;
    node.dueAt = null;
  }
  if (status !== "retrying") node.retryAt = null;
  switch (status) {
    case "pending":
      Object.assign(node, { handle: null, error: null, approvalId: null, durationMs: null, usage: null, costUsd: null, outputPreview: undefined, outputTruncated: false });
      break;
    case "queued":
    case "running":
      node.error = null;
      if (event.type === "node.started" && "passes" in data) node.passesTotal = asNumber(data.passes);
      break;
    case "waiting":
      node.waitReason = asString(data.reason);
      node.approvalId = asString(data.approval_id) ?? node.approvalId;
      node.dueAt = asString(data.due_at);
      break;
    case "retrying":
      node.error = (data.error as NodeError | undefined) ?? null;
      node.retryAt = asString(data.retry_at);
      break;
    case "succeeded":
      node.handle = asString(data.handle) ?? "out";
      node.error = null;
      node.durationMs = asNumber(data.duration_ms);
      node.usage = (data.usage as Usage | undefined) ?? null;
      node.costUsd = asNumber(data.cost_usd);
      node.outputPreview = data.output_preview;
      node.outputTruncated = data.output_truncated === true;
      break;
    case "failed":
      node.error = (data.error as NodeError | undefined) ?? null;
      break;
    default:
      break;
  }
  draft.nodes[key] = node;
  if (event.type !== "node.reset") updateSpan(draft, event, key, status);
}

function applyOne(draft: Draft, event: RunEvent): void {
  const data = event.data;
  switch (event.type) {
    case "run.status":
      draft.state = { ...draft.state, runStatus: (asString(data.status) as RunStatus | null) ?? draft.state.runStatus };
      break;
    case "run.succeeded":
      draft.state = { ...draft.state, outputs: data.outputs ?? null, runError: null };
      break;
    case "run.failed":
      draft.state = { ...draft.state, runError: data.error ?? null };
      break;
    default:
      if (event.type.startsWith("node.")) applyNodeEvent(draft, event);
      break;
  }
  draft.log.push({ seq: event.seq, type: event.type, nodeId: event.node_id, scope: event.scope, ts: event.ts });
  draft.state = { ...draft.state, lastSeq: event.seq };
}

/**
 * Applies a batch of events: in-order ones at once, early ones buffered (with `gapAfter` set),
 * repeated ones dropped. Returns the same object when nothing changed.
 */
export function applyEvents(state: LiveRunState, events: readonly RunEvent[]): LiveRunState {
  if (events.length === 0) return state;
  const draft: Draft = {
    state,
    nodes: { ...state.nodes },
    spans: { ...state.spans } as Record<string, AttemptSpan[]>,
    streams: state.streams as Record<string, StreamedText>,
    log: [...state.log],
  };
  let buffered: Record<number, RunEvent> | null = null;
  let duplicates = 0;
  let changed = false;
  const pending = [...events].sort((a, b) => a.seq - b.seq);
  for (const event of pending) {
    const lastSeq = draft.state.lastSeq;
    if (event.seq <= lastSeq || (buffered ?? state.buffered)[event.seq]) {
      duplicates += 1;
      continue;
    }
    if (event.seq === lastSeq + 1) {
      applyOne(draft, event);
      changed = true;
    } else {
      buffered = buffered ?? { ...state.buffered };
      buffered[event.seq] = event;
      changed = true;
    }
  }
  // Drain whatever the batch made contiguous.
  let queue = buffered ?? state.buffered;
  let next = queue[draft.state.lastSeq + 1];
  while (next) {
    if (queue === state.buffered) queue = { ...state.buffered };
    delete queue[next.seq];
    applyOne(draft, next);
    changed = true;
    next = queue[draft.state.lastSeq + 1];
  }
  for (const seq of Object.keys(queue).map(Number)) {
    if (seq <= draft.state.lastSeq) {
      if (queue === state.buffered) queue = { ...state.buffered };
      delete queue[seq];
    }
  }
  if (!changed && duplicates === 0) return state;
  const hasBuffered = Object.keys(queue).length > 0;
  return {
    ...draft.state,
    nodes: draft.nodes,
    spans: draft.spans,
    streams: draft.streams,
    log: draft.log,
    buffered: queue,
    gapAfter: hasBuffered ? draft.state.lastSeq : null,
    duplicatesDropped: state.duplicatesDropped + duplicates,
  };
}

/** Adds a piece of streamed LLM text; pieces of an older attempt or already seen are ignored. */
export function applyDelta(state: LiveRunState, delta: NodeDelta): LiveRunState {
  const key = nodeKey(delta.node_id, delta.scope);
  const current = state.streams[key];
  if (current && current.attempt > delta.attempt) return state;
  const base = current && current.attempt === delta.attempt ? current : { attempt: delta.attempt, pieces: {}, text: "" };
  if (base.pieces[delta.index] !== undefined) return state;
  const pieces = { ...base.pieces, [delta.index]: delta.text };
  const text = Object.keys(pieces)
    .map(Number)
    .sort((a, b) => a - b)
    .map((index) => pieces[index])
    .join("");
  return { ...state, streams: { ...state.streams, [key]: { attempt: delta.attempt, pieces, text } } };
}

/** The live state of one node run; a node with no event yet is pending. */
export function nodeState(state: LiveRunState, nodeId: string, scope = ""): LiveNode {
  return state.nodes[nodeKey(nodeId, scope)] ?? emptyNode(nodeId, scope);
}
