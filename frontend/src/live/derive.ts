/**
 * What the run view draws, computed from the live state and the graph: loop pass progress, edge
 * states, parallel branch progress and per-node counts across passes. Pure functions.
 */
import type { GraphDocument, GraphEdge } from "../api/editor";
import type { NodeStatus } from "../api/runs";
import { ACTIVE_NODE_STATUSES, nodeState, TERMINAL_NODE_STATUSES, type LiveRunState } from "./runReducer";

export type PassStatus = "pending" | "running" | "succeeded" | "failed";

export interface PassProgress {
  /** Passes the loop will make (known once it started; for `while`, the passes seen so far). */
  total: number;
  succeeded: number;
  failed: number;
  running: number;
  pending: number;
  /** Status of every pass seen so far, by index. */
  passes: Record<number, PassStatus>;
}

/** The scope of pass `index` of `loopId`, which itself runs in `scope`. */
export function passScope(scope: string, loopId: string, index: number): string {
  return scope ? `${scope}/${loopId}[${index}]` : `${loopId}[${index}]`;
}

/**
 * A pass has failed when one of its body nodes failed, succeeded when every body node reached a
 * terminal status, and runs while any of them is under way. Body nodes with no event yet count as
 * not finished (inline nodes emit only their terminal event).
 */
export function passProgress(state: LiveRunState, loopId: string, scope: string, bodyIds: readonly string[]): PassProgress {
  const prefix = scope ? `${scope}/${loopId}[` : `${loopId}[`;
  const byPass = new Map<number, { terminal: number; failed: boolean; active: boolean }>();
  for (const node of Object.values(state.nodes)) {
    if (!node.scope.startsWith(prefix)) continue;
    const rest = node.scope.slice(prefix.length);
    const close = rest.indexOf("]");
    // Only this loop's own body (not nodes of a loop nested in it).
    if (close < 0 || close !== rest.length - 1) continue;
    const index = Number(rest.slice(0, close));
    if (!Number.isInteger(index)) continue;
    const entry = byPass.get(index) ?? { terminal: 0, failed: false, active: false };
    if (TERMINAL_NODE_STATUSES.has(node.status)) entry.terminal += 1;
    if (node.status === "failed") entry.failed = true;
    if (ACTIVE_NODE_STATUSES.has(node.status)) entry.active = true;
    byPass.set(index, entry);
  }
  const loop = nodeState(state, loopId, scope);
  const passes: Record<number, PassStatus> = {};
  const progress: PassProgress = { total: 0, succeeded: 0, failed: 0, running: 0, pending: 0, passes };
  for (const [index, entry] of byPass) {
    let status: PassStatus;
    if (entry.failed) status = "failed";
    else if (entry.terminal >= bodyIds.length && !entry.active) status = "succeeded";
    else status = "running";
    passes[index] = status;
    progress[status] += 1;
  }
  const seen = byPass.size === 0 ? 0 : Math.max(...byPass.keys()) + 1;
  progress.total = Math.max(loop.passesTotal ?? 0, seen);
  progress.pending = Math.max(0, progress.total - progress.succeeded - progress.failed - progress.running);
  return progress;
}

export type EdgeState = "idle" | "taken" | "active" | "dead";

const DEAD_SOURCE: ReadonlySet<NodeStatus> = new Set(["skipped", "cancelled"]);

/** Taken when its source succeeded through its handle; active while the target then works on it. */
export function edgeState(state: LiveRunState, edge: GraphEdge, scope: string): EdgeState {
  const source = nodeState(state, edge.source, scope);
  const handle = edge.source_handle ?? "out";
  if (source.status === "succeeded") {
    if (source.handle !== handle) return "dead";
    const target = nodeState(state, edge.target, scope);
    return ACTIVE_NODE_STATUSES.has(target.status) ? "active" : "taken";
  }
  if (DEAD_SOURCE.has(source.status) || source.status === "failed") return "dead";
  return "idle";
}

export interface BranchProgress {
  total: number;
  done: number;
  running: number;
}

/**
 * A parallel node's branches: one per outgoing edge, each made of the nodes reachable from the
 * edge's target up to (not including) a join. A branch is done when all of them are terminal.
 */
export function branchProgress(graph: GraphDocument, state: LiveRunState, parallelId: string, scope: string): BranchProgress {
  const parentOf = new Map(graph.nodes.map((node) => [node.id, node.parent]));
  const typeOf = new Map(graph.nodes.map((node) => [node.id, node.type]));
  const level = parentOf.get(parallelId);
  const outgoing = new Map<string, string[]>();
  for (const edge of graph.edges) {
    if (parentOf.get(edge.source) !== level) continue;
    outgoing.set(edge.source, [...(outgoing.get(edge.source) ?? []), edge.target]);
  }
  const branches = (outgoing.get(parallelId) ?? []).map((head) => {
    const members = new Set<string>();
    const stack = [head];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (members.has(id) || typeOf.get(id) === "join") continue;
      members.add(id);
      stack.push(...(outgoing.get(id) ?? []));
    }
    return [...members];
  });
  let done = 0;
  let running = 0;
  for (const members of branches) {
    const statuses = members.map((id) => nodeState(state, id, scope).status);
    if (statuses.every((status) => TERMINAL_NODE_STATUSES.has(status))) done += 1;
    else if (statuses.some((status) => status !== "pending")) running += 1;
  }
  return { total: branches.length, done, running };
}

/** How many node runs of each node id are in each status, over every scope below the top. */
export function countsAcrossScopes(state: LiveRunState): Record<string, Partial<Record<NodeStatus, number>>> {
  const counts: Record<string, Partial<Record<NodeStatus, number>>> = {};
  for (const node of Object.values(state.nodes)) {
    if (node.scope === "") continue;
    const entry = (counts[node.nodeId] ??= {});
    entry[node.status] = (entry[node.status] ?? 0) + 1;
  }
  return counts;
}

/** The status a body node shows when no pass is picked: the most urgent across its passes. */
export function summaryStatus(counts: Partial<Record<NodeStatus, number>> | undefined): NodeStatus {
  if (!counts) return "pending";
  for (const status of ["failed", "running", "retrying", "waiting", "queued", "succeeded", "cancelled", "skipped"] as const) {
    if (counts[status]) return status;
  }
  return "pending";
}

/** A join's incoming edges: how many arrived (taken), are dead, or are still open. */
export function joinProgress(graph: GraphDocument, state: LiveRunState, joinId: string, scope: string): { arrived: number; dead: number; total: number } {
  let arrived = 0;
  let dead = 0;
  let total = 0;
  for (const edge of graph.edges) {
    if (edge.target !== joinId) continue;
    total += 1;
    const found = edgeState(state, edge, scope);
    if (found === "taken" || found === "active") arrived += 1;
    else if (found === "dead") dead += 1;
  }
  return { arrived, dead, total };
}
