/**
 * Auto-layout with dagre, one level at a time: each loop body is laid out first (deepest loops
 * first) and its container sized to fit, then the level around it treats the loop as one box.
 * Edges never cross a loop boundary (DESIGN §3), so levels are independent graphs.
 */
import dagre from "@dagrejs/dagre";

import { CARD_SIZE, type FlowEdge, type FlowNode } from "./mapping";

export const LOOP_PADDING = { top: 56, side: 32, bottom: 32 };
const GAP = { rank: 80, node: 40 };

function sizeOf(node: FlowNode, sizes: Map<string, { width: number; height: number }>): { width: number; height: number } {
  const known = sizes.get(node.id);
  if (known) return known;
  return {
    width: node.width ?? node.measured?.width ?? CARD_SIZE.width,
    height: node.height ?? node.measured?.height ?? CARD_SIZE.height,
  };
}

function depthOf(node: FlowNode, parentOf: Map<string, string | undefined>): number {
  let depth = 0;
  let parent = node.parentId;
  const seen = new Set<string>();
  while (parent !== undefined && !seen.has(parent)) {
    seen.add(parent);
    depth += 1;
    parent = parentOf.get(parent);
  }
  return depth;
}

/** New positions (and loop sizes) for every node; nothing else about the nodes changes. */
export function layoutGraph(nodes: FlowNode[], edges: FlowEdge[]): FlowNode[] {
  const parentOf = new Map(nodes.map((node) => [node.id, node.parentId]));
  const levels = new Map<string | undefined, FlowNode[]>();
  for (const node of nodes) levels.set(node.parentId, [...(levels.get(node.parentId) ?? []), node]);
  const loopIds = [...levels.keys()].filter((key): key is string => key !== undefined && nodes.some((node) => node.id === key));
  const byId = new Map(nodes.map((node) => [node.id, node]));
  loopIds.sort((a, b) => depthOf(byId.get(b) as FlowNode, parentOf) - depthOf(byId.get(a) as FlowNode, parentOf));

  const positions = new Map<string, { x: number; y: number }>();
  const sizes = new Map<string, { width: number; height: number }>();

  const layoutLevel = (members: FlowNode[]): { width: number; height: number } => {
    const graph = new dagre.graphlib.Graph();
    graph.setGraph({ rankdir: "LR", ranksep: GAP.rank, nodesep: GAP.node, marginx: 0, marginy: 0 });
    graph.setDefaultEdgeLabel(() => ({}));
    const memberIds = new Set(members.map((node) => node.id));
    for (const node of members) graph.setNode(node.id, sizeOf(node, sizes));
    for (const edge of edges) {
      if (memberIds.has(edge.source) && memberIds.has(edge.target) && edge.source !== edge.target) graph.setEdge(edge.source, edge.target);
    }
    dagre.layout(graph);
    let width = 0;
    let height = 0;
    for (const node of members) {
      const placed = graph.node(node.id);
      const size = sizeOf(node, sizes);
      const x = Math.round(placed.x - size.width / 2);
      const y = Math.round(placed.y - size.height / 2);
      positions.set(node.id, { x, y });
      width = Math.max(width, x + size.width);
      height = Math.max(height, y + size.height);
    }
    return { width, height };
  };

  for (const loopId of [...loopIds, undefined]) {
    const members = levels.get(loopId) ?? [];
    if (members.length === 0) continue;
    const extent = layoutLevel(members);
    if (loopId !== undefined) {
      for (const node of members) {
        const position = positions.get(node.id) as { x: number; y: number };
        positions.set(node.id, { x: position.x + LOOP_PADDING.side, y: position.y + LOOP_PADDING.top });
      }
      sizes.set(loopId, {
        width: Math.max(extent.width + 2 * LOOP_PADDING.side, 320),
        height: Math.max(extent.height + LOOP_PADDING.top + LOOP_PADDING.bottom, 180),
      });
    }
  }
  // Orphans whose parent is missing were laid out as their own level; keep that.
  return nodes.map((node) => {
    const position = positions.get(node.id) ?? node.position;
    const size = sizes.get(node.id);
    const next: FlowNode = { ...node, position };
    if (size) {
      next.width = size.width;
      next.height = size.height;
    }
    return next;
  });
}

/** Absolute bounding boxes (parents' offsets added), for overlap checks. */
export function absoluteBoxes(nodes: FlowNode[]): Map<string, { x: number; y: number; width: number; height: number }> {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const boxes = new Map<string, { x: number; y: number; width: number; height: number }>();
  const absolute = (node: FlowNode, seen: Set<string>): { x: number; y: number } => {
    const parent = node.parentId !== undefined ? byId.get(node.parentId) : undefined;
    if (!parent || seen.has(parent.id)) return node.position;
    seen.add(parent.id);
    const origin = absolute(parent, seen);
    return { x: origin.x + node.position.x, y: origin.y + node.position.y };
  };
  for (const node of nodes) {
    const { x, y } = absolute(node, new Set([node.id]));
    boxes.set(node.id, { x, y, ...sizeOf(node, new Map()) });
  }
  return boxes;
}
