/** The operations figures for staff (`GET /api/ops/`, see ops/figures.py). */
import { api } from "./client";

export interface QueueDepth {
  name: string;
  /** null when the broker cannot be read from the answering process. */
  depth: number | null;
  error?: string;
}

export interface WorkerInfo {
  name: string;
  alive: boolean;
  concurrency?: number;
  detail?: string;
}

export interface NodeFigure {
  workflow_id: number;
  workflow: string;
  node_id: string;
  node_type: string;
  attempts: number;
  failed: number;
  p50_ms: number | null;
  p95_ms: number | null;
  max_ms: number | null;
  mean_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  tokens: number;
  cost_usd: string;
}

export interface SeriesPoint {
  start: string;
  runs_finished: number;
  runs_failed: number;
  failure_rate: number | null;
  attempts: number;
  failed_attempts: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
}

export interface OpsFigures {
  generated_at: string;
  mode: "embedded" | "services";
  window: { start: string; end: string; hours: number; bucket_minutes: number };
  queues: QueueDepth[];
  workers: WorkerInfo[];
  worker_activity: { worker: string; attempts: number; last_claim_at: string | null }[];
  external_agents: {
    counts: { alive: number; silent: number; revoked: number };
    agents: { id: string; name: string; capabilities: string[]; state: "alive" | "silent" | "revoked"; last_heartbeat_at: string | null }[];
  };
  runs: {
    active: number;
    pending: number;
    running: number;
    waiting: number;
    paused: number;
    finished_in_window: { succeeded: number; failed: number; cancelled: number };
    failure_rate: number | null;
  };
  stuck_runs: {
    after_s: number;
    count: number;
    runs: { id: string; workflow: string; workflow_id: number; status: string; idle_since: string | null }[];
  };
  nodes: {
    attempts: number;
    /** The window held more attempts than one request reads; the newest were used. */
    truncated: boolean;
    latency: { p50_ms: number | null; p95_ms: number | null };
    tokens: number;
    cost_usd: string;
    slowest: NodeFigure[];
    costliest: NodeFigure[];
  };
  series: SeriesPoint[];
  sweep: {
    last_sweep_at: string | null;
    interval_s: number;
    sweeps_that_found_work: number;
    found: Record<string, number>;
    recent: { at: string; found: Record<string, number>; duration_ms: number }[];
  };
}

export function fetchOpsFigures(hours: number, bucketMinutes: number, signal?: AbortSignal): Promise<OpsFigures> {
  return api.get<OpsFigures>("/api/ops/", { query: { hours, bucket_minutes: bucketMinutes }, ...(signal && { signal }) });
}
