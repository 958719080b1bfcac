/**
 * What changed between two graph documents. Nodes are matched by id; a node is "changed" when
 * anything but its place on the canvas (position, size) differs. Edges are matched by what they
 * connect (source, handle, target), so re-drawing an edge is not a change.
 */
import type { GraphDocument, GraphEdge, GraphNode } from "../api/editor";

export type DiffStatus = "added" | "removed" | "changed" | "unchanged";

export interface GraphDiff {
  nodes: Map<string, DiffStatus>;
  edges: Map<string, DiffStatus>;
  /** Top-level keys of each changed node that differ. */
  changedFields: Map<string, string[]>;
  variablesChanged: boolean;
}

const LAYOUT_KEYS = new Set(["position", "size"]);

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

export function edgeKey(edge: GraphEdge): string {
  return `${edge.source}|${edge.source_handle ?? "out"}|${edge.target}`;
}

function changedKeys(before: GraphNode, after: GraphNode): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed: string[] = [];
  for (const key of keys) {
    if (LAYOUT_KEYS.has(key)) continue;
    const a = (before as unknown as Record<string, unknown>)[key];
    const b = (after as unknown as Record<string, unknown>)[key];
    if (canonical(a) !== canonical(b)) changed.push(key);
  }
  return changed.sort();
}

export function diffGraphs(before: GraphDocument, after: GraphDocument): GraphDiff {
  const nodes = new Map<string, DiffStatus>();
  const changedFields = new Map<string, string[]>();
  const beforeNodes = new Map(before.nodes.map((node) => [node.id, node]));
  const afterNodes = new Map(after.nodes.map((node) => [node.id, node]));
  for (const node of after.nodes) {
    const old = beforeNodes.get(node.id);
    if (!old) {
      nodes.set(node.id, "added");
      continue;
    }
    const keys = changedKeys(old, node);
    nodes.set(node.id, keys.length ? "changed" : "unchanged");
    if (keys.length) changedFields.set(node.id, keys);
  }
  for (const node of before.nodes) if (!afterNodes.has(node.id)) nodes.set(node.id, "removed");
  const edges = new Map<string, DiffStatus>();
  const beforeEdges = new Set(before.edges.map(edgeKey));
  const afterEdges = new Set(after.edges.map(edgeKey));
  for (const key of afterEdges) edges.set(key, beforeEdges.has(key) ? "unchanged" : "added");
  for (const key of beforeEdges) if (!afterEdges.has(key)) edges.set(key, "removed");
  return { nodes, edges, changedFields, variablesChanged: canonical(before.variables ?? []) !== canonical(after.variables ?? []) };
}

/** One document holding both sides: `after`, plus what `before` had and `after` lost. */
export function unionGraph(before: GraphDocument, after: GraphDocument): GraphDocument {
  const ids = new Set(after.nodes.map((node) => node.id));
  const keys = new Set(after.edges.map(edgeKey));
  return {
    schema_version: after.schema_version,
    nodes: [...after.nodes, ...before.nodes.filter((node) => !ids.has(node.id))],
    edges: [...after.edges, ...before.edges.filter((edge) => !keys.has(edgeKey(edge))).map((edge) => ({ ...edge, id: `removed:${edge.id}` }))],
  };
}
