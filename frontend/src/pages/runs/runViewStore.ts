/**
 * The run view's state: the live run (from the stream), the graph's shape, and what the operator
 * picked (a node, a loop pass). Node cards select the little they draw from here, so an event
 * re-renders only the cards it changed; nothing of this goes into React Flow's `node.data`.
 */
import { create } from "zustand";

import type { GraphDocument, NodeTypeInfo } from "../../api/editor";
import type { NodeStatus } from "../../api/runs";
import { countsAcrossScopes, passScope } from "../../live/derive";
import { initialRunState, type LiveRunState } from "../../live/runReducer";
import type { RunStreamStats } from "../../live/runStream";

export interface Selection {
  nodeId: string;
  scope: string;
}

export interface RunViewState {
  runId: string | null;
  live: LiveRunState;
  stats: RunStreamStats;
  counts: Record<string, Partial<Record<NodeStatus, number>>>;
  graph: GraphDocument | null;
  registry: Record<string, NodeTypeInfo>;
  /** Each node's loop, if it is a loop body node. */
  parentOf: Record<string, string | undefined>;
  /** Body nodes of each loop. */
  bodyOf: Record<string, string[]>;
  selection: Selection | null;
  /** The pass picked in each loop (null: show every pass at once). */
  selectedPass: Record<string, number | null>;
  reset: (runId: string) => void;
  setGraph: (graph: GraphDocument, registry: NodeTypeInfo[]) => void;
  setLive: (live: LiveRunState, stats: RunStreamStats) => void;
  select: (selection: Selection | null) => void;
  selectPass: (loopId: string, index: number | null) => void;
}

const NO_STATS: RunStreamStats = { isConnected: false, connections: 0, gapFetches: 0 };

export const useRunView = create<RunViewState>()((set, get) => ({
  runId: null,
  live: initialRunState(""),
  stats: NO_STATS,
  counts: {},
  graph: null,
  registry: {},
  parentOf: {},
  bodyOf: {},
  selection: null,
  selectedPass: {},
  reset: (runId) =>
    set({ runId, live: initialRunState(runId), stats: NO_STATS, counts: {}, graph: null, parentOf: {}, bodyOf: {}, selection: null, selectedPass: {} }),
  setGraph: (graph, registry) => {
    const parentOf: Record<string, string | undefined> = {};
    const bodyOf: Record<string, string[]> = {};
    for (const node of graph.nodes) {
      parentOf[node.id] = node.parent;
      if (node.parent !== undefined) (bodyOf[node.parent] ??= []).push(node.id);
    }
    set({ graph, registry: Object.fromEntries(registry.map((info) => [info.type, info])), parentOf, bodyOf });
  },
  setLive: (live, stats) => {
    const previous = get().live;
    // Counts over loop passes only change when node runs below the top level change.
    const counts = previous.nodes === live.nodes ? get().counts : countsAcrossScopes(live);
    set({ live, stats, counts });
  },
  select: (selection) => set({ selection }),
  selectPass: (loopId, index) => set((state) => ({ selectedPass: { ...state.selectedPass, [loopId]: index } })),
}));

/**
 * The scope a node is shown in: "" at the top level, the picked pass inside loops, or null when
 * an enclosing loop has no pass picked (the card then sums up every pass).
 */
export function scopeOf(nodeId: string, parentOf: Record<string, string | undefined>, selectedPass: Record<string, number | null>): string | null {
  const chain: string[] = [];
  let current = parentOf[nodeId];
  const seen = new Set<string>();
  while (current !== undefined && !seen.has(current)) {
    seen.add(current);
    chain.unshift(current);
    current = parentOf[current];
  }
  let scope = "";
  for (const loopId of chain) {
    const index = selectedPass[loopId];
    if (index === null || index === undefined) return null;
    scope = passScope(scope, loopId, index);
  }
  return scope;
}
