/**
 * Graph JSON (DESIGN §3) ↔ React Flow nodes and edges.
 *
 * The graph document is what is saved; React Flow's arrays are what the canvas edits. Everything a
 * node is in the document lives in `data.spec` except the four things React Flow itself owns:
 * `id`, `position`, `parent` (→ `parentId`) and `size` (→ `width`/`height`). UI state never enters
 * `data`: selection is React Flow's own `selected` flag and errors live in the editor store.
 *
 * The round trip `toGraph(toFlow(doc))` gives back `doc` exactly for every document whose nodes
 * have positions and whose loops precede their bodies — the form the editor always writes.
 */
import type { Edge, Node } from "@xyflow/react";

import type { GraphDocument, GraphEdge, GraphNode } from "../api/editor";

/** Everything a graph node holds except what React Flow owns. */
export type NodeSpec = Omit<GraphNode, "id" | "position" | "parent" | "size">;

export type FlowNodeData = { spec: NodeSpec };
export type FlowNode = Node<FlowNodeData>;
/** `implicitHandle`: the document left `source_handle` out (it defaults to "out"). */
export type FlowEdgeData = { implicitHandle?: boolean };
export type FlowEdge = Edge<FlowEdgeData>;

/** The document's top-level keys other than nodes and edges. */
export interface GraphMeta {
  schema_version: number;
  variables?: GraphDocument["variables"];
  annotations?: GraphDocument["annotations"];
}

export const DEFAULT_HANDLE = "out";
/** A card's size before it is measured (the minimap and culling need one for cards not yet drawn). */
export const CARD_SIZE = { width: 220, height: 76 };
export const CONTAINER_TYPE = "loop";
export const TARGET_HANDLE = "in";

export function specOf(node: GraphNode): NodeSpec {
  const { id: _id, position: _position, parent: _parent, size: _size, ...spec } = node;
  return spec;
}

export function nodeToFlow(node: GraphNode, fallbackPosition = { x: 0, y: 0 }): FlowNode {
  const flowNode: FlowNode = {
    id: node.id,
    type: node.type,
    position: node.position ? { x: node.position.x, y: node.position.y } : { ...fallbackPosition },
    data: { spec: specOf(node) },
  };
  if (node.parent !== undefined) flowNode.parentId = node.parent;
  // Containers sit under the cards around them; React Flow lifts their bodies above them.
  if (node.type === CONTAINER_TYPE) flowNode.zIndex = -1;
  if (node.size) {
    flowNode.width = node.size.width;
    flowNode.height = node.size.height;
  } else {
    flowNode.initialWidth = CARD_SIZE.width;
    flowNode.initialHeight = CARD_SIZE.height;
  }
  return flowNode;
}

export function edgeToFlow(edge: GraphEdge): FlowEdge {
  const flowEdge: FlowEdge = {
    id: edge.id,
    source: edge.source,
    target: edge.target,
    sourceHandle: edge.source_handle ?? DEFAULT_HANDLE,
    targetHandle: TARGET_HANDLE,
  };
  if (edge.source_handle === undefined) flowEdge.data = { implicitHandle: true };
  return flowEdge;
}

/**
 * Orders nodes so that every loop comes before its body, as React Flow requires of parents;
 * otherwise the document order is kept. Parent cycles (invalid documents) keep their order.
 */
export function parentsFirst<T extends { id: string; parent?: string | undefined }>(nodes: T[]): T[] {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const ordered: T[] = [];
  const place = (node: T) => {
    if (placed.has(node.id) || visiting.has(node.id)) return;
    visiting.add(node.id);
    const parent = node.parent !== undefined ? byId.get(node.parent) : undefined;
    if (parent) place(parent);
    visiting.delete(node.id);
    placed.add(node.id);
    ordered.push(node);
  };
  nodes.forEach(place);
  return ordered;
}

export function toFlow(doc: GraphDocument): { nodes: FlowNode[]; edges: FlowEdge[]; meta: GraphMeta } {
  const nodes = parentsFirst(doc.nodes).map((node, index) =>
    nodeToFlow(node, { x: (index % 10) * 260, y: Math.floor(index / 10) * 140 }),
  );
  const edges = doc.edges.map(edgeToFlow);
  const meta: GraphMeta = { schema_version: doc.schema_version };
  if (doc.variables !== undefined) meta.variables = doc.variables;
  if (doc.annotations !== undefined) meta.annotations = doc.annotations;
  return { nodes, edges, meta };
}

export function nodeFromFlow(node: FlowNode): GraphNode {
  const { spec } = node.data;
  const graphNode: GraphNode = { id: node.id, type: spec.type };
  if (spec.name !== undefined) graphNode.name = spec.name;
  graphNode.position = { x: node.position.x, y: node.position.y };
  if (typeof node.width === "number" && typeof node.height === "number") {
    graphNode.size = { width: node.width, height: node.height };
  }
  if (node.parentId !== undefined) graphNode.parent = node.parentId;
  return { ...graphNode, ...spec, type: spec.type };
}

export function edgeFromFlow(edge: FlowEdge): GraphEdge {
  const graphEdge: GraphEdge = { id: edge.id, source: edge.source, target: edge.target };
  const handle = edge.sourceHandle ?? DEFAULT_HANDLE;
  if (!(edge.data?.implicitHandle && handle === DEFAULT_HANDLE)) graphEdge.source_handle = handle;
  return graphEdge;
}

export function toGraph(nodes: FlowNode[], edges: FlowEdge[], meta: GraphMeta): GraphDocument {
  const doc: GraphDocument = {
    schema_version: meta.schema_version,
    nodes: nodes.map(nodeFromFlow),
    edges: edges.map(edgeFromFlow),
  };
  if (meta.variables !== undefined) doc.variables = meta.variables;
  if (meta.annotations !== undefined) doc.annotations = meta.annotations;
  return doc;
}
