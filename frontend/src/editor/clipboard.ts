/**
 * Copy and paste of a selection. Pasted nodes get fresh ids, and every template or expression of
 * the pasted nodes that referred to a copied node is rewritten to the copy's new id, so a pasted
 * chain keeps pointing at itself rather than at the originals.
 */
import type { GraphEdge, GraphNode, NodeTypeInfo } from "../api/editor";
import { edgeFromFlow, edgeToFlow, type FlowEdge, type FlowNode, nodeFromFlow, nodeToFlow, parentsFirst } from "./mapping";
import { rewriteReferences } from "./references";
import { mapSources } from "./schema";

export interface ClipboardContent {
  nodes: FlowNode[];
  edges: FlowEdge[];
}

export const PASTE_OFFSET = 40;

/** The selected nodes plus the bodies of selected loops, and the edges among them. */
export function copySelection(nodes: FlowNode[], edges: FlowEdge[]): ClipboardContent | null {
  const chosen = new Set(nodes.filter((node) => node.selected).map((node) => node.id));
  if (chosen.size === 0) return null;
  let grew = true;
  while (grew) {
    grew = false;
    for (const node of nodes) {
      if (node.parentId !== undefined && chosen.has(node.parentId) && !chosen.has(node.id)) {
        chosen.add(node.id);
        grew = true;
      }
    }
  }
  const copiedNodes = nodes.filter((node) => chosen.has(node.id)).map((node) => structuredClone(stripUi(node)));
  const copiedEdges = edges
    .filter((edge) => chosen.has(edge.source) && chosen.has(edge.target))
    .map((edge) => structuredClone({ ...edge, selected: false }));
  return { nodes: copiedNodes, edges: copiedEdges };
}

function stripUi(node: FlowNode): FlowNode {
  const { selected: _selected, dragging: _dragging, measured: _measured, resizing: _resizing, ...rest } = node;
  return rest as FlowNode;
}

/** `base`, or `base_2`, `base_3`, … — the first one not in `taken`, always a valid node id. */
export function freshId(base: string, taken: Set<string>): string {
  const stem = (base.replace(/_\d+$/, "") || "node").slice(0, 56);
  if (!taken.has(stem)) return stem;
  for (let suffix = 2; ; suffix += 1) {
    const candidate = `${stem}_${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export function freshEdgeId(taken: Set<string>): string {
  for (let index = taken.size + 1; ; index += 1) {
    const candidate = `e${index}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/**
 * The clipboard's nodes and edges with new ids, ready to append. Copies keep a parent that was
 * copied with them, or the original parent if it still exists; top-level copies are offset.
 */
export function pasteContent(
  content: ClipboardContent,
  existingNodes: FlowNode[],
  existingEdges: FlowEdge[],
  registry: Record<string, NodeTypeInfo>,
  offset = PASTE_OFFSET,
): { nodes: FlowNode[]; edges: FlowEdge[]; renamed: Map<string, string> } {
  const takenNodes = new Set(existingNodes.map((node) => node.id));
  const existingIds = new Set(takenNodes);
  const renamed = new Map<string, string>();
  for (const node of content.nodes) {
    const id = freshId(node.id, takenNodes);
    takenNodes.add(id);
    renamed.set(node.id, id);
  }
  const nodes = content.nodes.map((node): FlowNode => {
    const copy: FlowNode = structuredClone(node);
    copy.id = renamed.get(node.id) as string;
    copy.selected = true;
    const parentCopied = node.parentId !== undefined && renamed.has(node.parentId);
    if (parentCopied) {
      copy.parentId = renamed.get(node.parentId as string) as string;
    } else {
      if (node.parentId !== undefined && !existingIds.has(node.parentId)) delete copy.parentId;
      copy.position = { x: node.position.x + offset, y: node.position.y + offset };
    }
    const config = copy.data.spec.config;
    if (config) {
      const info = registry[copy.data.spec.type];
      copy.data = { spec: { ...copy.data.spec, config: mapSources(info, config, (source) => rewriteReferences(source, renamed)) } };
    }
    if (copy.data.spec.name !== undefined && copy.data.spec.name === node.id) copy.data = { spec: { ...copy.data.spec, name: copy.id } };
    return copy;
  });
  const takenEdges = new Set(existingEdges.map((edge) => edge.id));
  const edges = content.edges.map((edge): FlowEdge => {
    const id = freshEdgeId(takenEdges);
    takenEdges.add(id);
    return { ...structuredClone(edge), id, source: renamed.get(edge.source) as string, target: renamed.get(edge.target) as string, selected: false };
  });
  return { nodes, edges, renamed };
}

/** What the system clipboard carries: graph JSON (DESIGN §3) of the copied nodes and edges. */
export const CLIPBOARD_FORMAT = "flowdeck.nodes";

export function clipboardText(content: ClipboardContent): string {
  return JSON.stringify({ format: CLIPBOARD_FORMAT, nodes: content.nodes.map(nodeFromFlow), edges: content.edges.map(edgeFromFlow) });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Nodes and edges from clipboard text another editor tab wrote, or null for anything else. */
export function parseClipboardText(text: string): ClipboardContent | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(parsed) || parsed.format !== CLIPBOARD_FORMAT || !Array.isArray(parsed.nodes) || !Array.isArray(parsed.edges)) return null;
  const nodes = parsed.nodes.filter((node): node is GraphNode => isRecord(node) && typeof node.id === "string" && typeof node.type === "string");
  const ids = new Set(nodes.map((node) => node.id));
  const edges = parsed.edges.filter(
    (edge): edge is GraphEdge => isRecord(edge) && typeof edge.id === "string" && typeof edge.source === "string" && typeof edge.target === "string" && ids.has(edge.source) && ids.has(edge.target),
  );
  if (nodes.length === 0) return null;
  return { nodes: parentsFirst(nodes).map((node) => nodeToFlow(node)), edges: edges.map(edgeToFlow) };
}
