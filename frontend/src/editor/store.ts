/**
 * The editor's state: the graph being edited (as React Flow nodes and edges), its undo history,
 * the save state of the draft and the validation issues. UI state stays out of `node.data`:
 * selection is React Flow's own flag, issues are kept here by node id, so a node card re-renders
 * only when its own spec, selection or issues change.
 *
 * Every change to the document goes through an action that first records an undo step; drags
 * and resizes record one step when they start. `changeCount` counts document changes, and the
 * autosave hook saves whenever it moves past what was last sent.
 */
import {
  applyEdgeChanges,
  applyNodeChanges,
  type Connection,
  type EdgeChange,
  type NodeChange,
  type XYPosition,
} from "@xyflow/react";
import { create } from "zustand";

import type { ValidationIssue } from "../api";
import type { GraphDocument, NodeTypeInfo, WorkflowDetail } from "../api/editor";
import { NODE_DEFAULTS } from "../nodes/defaults";
import { LOOP_SIZE } from "../nodes/loop/defaults";
import { checkGraph, issueKey } from "./checks";
import { type ClipboardContent, copySelection, freshEdgeId, freshId, pasteContent } from "./clipboard";
import { layoutGraph } from "./layout";
import { DEFAULT_HANDLE, type FlowEdge, type FlowNode, type GraphMeta, type NodeSpec, TARGET_HANDLE, toFlow, toGraph } from "./mapping";
import { rewriteReferences } from "./references";
import { acceptsInput, defaultConfig, handlesOf, mapSources, sourceFields } from "./schema";

export const HISTORY_LIMIT = 200;
/** Keystrokes in one field within this time form one undo step. */
export const COALESCE_MS = 1000;

export type SaveStatus = "saved" | "pending" | "saving" | "conflict" | "error";

export interface Snapshot {
  nodes: FlowNode[];
  edges: FlowEdge[];
  meta: GraphMeta;
}

export interface NodeIssues {
  count: number;
  messages: string[];
}

export interface WorkflowInfo {
  id: number;
  name: string;
  role: WorkflowDetail["role"];
  activeVersion: number | null;
}

export interface EditorState {
  workflow: WorkflowInfo | null;
  registry: Record<string, NodeTypeInfo>;
  nodes: FlowNode[];
  edges: FlowEdge[];
  meta: GraphMeta;
  past: Snapshot[];
  future: Snapshot[];
  coalesce: { key: string; at: number } | null;
  /** Document changes so far; autosave compares it with `savedChangeCount`. */
  changeCount: number;
  savedChangeCount: number;
  revision: number;
  saveStatus: SaveStatus;
  saveMessage: string | null;
  localIssues: ValidationIssue[];
  serverIssues: ValidationIssue[];
  /** Server issues are hidden for nodes edited since the server last looked, and all of them after a structural edit. */
  serverStaleNodes: ReadonlySet<string>;
  serverStale: boolean;
  issues: ValidationIssue[];
  issuesByNode: Record<string, NodeIssues>;
  issuesByEdge: Record<string, string>;
  clipboard: ClipboardContent | null;

  load: (workflow: WorkflowDetail, registry: NodeTypeInfo[]) => void;
  onNodesChange: (changes: NodeChange<FlowNode>[]) => void;
  onEdgesChange: (changes: EdgeChange<FlowEdge>[]) => void;
  /** Records an undo step before a drag or resize. */
  beginGesture: () => void;
  addNode: (type: string, position: XYPosition, parentId?: string) => string | null;
  connectionProblem: (connection: Connection | FlowEdge) => string | null;
  connect: (connection: Connection) => boolean;
  updateSpec: (nodeId: string, patch: Partial<NodeSpec>, coalesceKey?: string) => void;
  renameNode: (nodeId: string, nextId: string) => string | null;
  moveIntoParent: (nodeId: string, parentId: string | undefined, position: XYPosition) => void;
  deleteSelection: () => void;
  deleteElements: (nodeIds: string[], edgeIds: string[]) => void;
  selectAll: () => void;
  selectOnly: (nodeIds: string[]) => void;
  copy: () => boolean;
  /** Pastes `content` (from another tab) or the last copy; returns the new node ids. */
  paste: (content?: ClipboardContent) => string[];
  autoLayout: () => void;
  undo: () => void;
  redo: () => void;
  replaceGraph: (doc: GraphDocument) => void;
  /** Replaces the workflow's variables (an empty list removes the key). */
  setVariables: (variables: NonNullable<GraphMeta["variables"]>, coalesceKey: string) => void;
  markSaving: () => void;
  markSaved: (revision: number, sentChangeCount: number, issues: ValidationIssue[] | null) => void;
  markConflict: (message: string) => void;
  markSaveError: (message: string) => void;
  setServerIssues: (issues: ValidationIssue[]) => void;
}

function snapshotOf(state: Pick<EditorState, "nodes" | "edges" | "meta">): Snapshot {
  return { nodes: state.nodes, edges: state.edges, meta: state.meta };
}

/** The graph document of the current state. */
export function currentGraph(state: Pick<EditorState, "nodes" | "edges" | "meta">): GraphDocument {
  return toGraph(state.nodes, state.edges, state.meta);
}

function mergeIssues(
  local: ValidationIssue[],
  server: ValidationIssue[],
  staleNodes: ReadonlySet<string>,
  stale: boolean,
  previous: Pick<EditorState, "issuesByNode" | "issuesByEdge">,
): Pick<EditorState, "issues" | "issuesByNode" | "issuesByEdge"> {
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  const add = (issue: ValidationIssue) => {
    const key = issueKey(issue);
    if (seen.has(key)) return;
    seen.add(key);
    issues.push(issue);
  };
  if (!stale) for (const issue of server) if (!(issue.node_id && staleNodes.has(issue.node_id))) add(issue);
  local.forEach(add);
  const byNode: Record<string, NodeIssues> = {};
  const byEdge: Record<string, string> = {};
  for (const issue of issues) {
    if (issue.edge_id) {
      byEdge[issue.edge_id] ??= issue.message;
      continue;
    }
    if (issue.node_id) {
      const entry = (byNode[issue.node_id] ??= { count: 0, messages: [] });
      entry.count += 1;
      entry.messages.push(issue.message);
    }
  }
  // Keep the identity of unchanged entries so only the affected node cards re-render.
  for (const [id, entry] of Object.entries(byNode)) {
    const before = previous.issuesByNode[id];
    if (before && before.count === entry.count && before.messages.join("\n") === entry.messages.join("\n")) byNode[id] = before;
  }
  return { issues, issuesByNode: byNode, issuesByEdge: byEdge };
}

function nodeLabel(node: FlowNode | undefined): string {
  return node ? node.data.spec.name || node.id : "?";
}

/** Whether adding source → target at their level would close a cycle. */
function reaches(fromId: string, toId: string, edges: FlowEdge[]): boolean {
  const outgoing = new Map<string, string[]>();
  for (const edge of edges) outgoing.set(edge.source, [...(outgoing.get(edge.source) ?? []), edge.target]);
  const stack = [fromId];
  const seen = new Set<string>([fromId]);
  while (stack.length > 0) {
    const current = stack.pop() as string;
    if (current === toId) return true;
    for (const next of outgoing.get(current) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
    }
  }
  return false;
}

const EMPTY_META: GraphMeta = { schema_version: 1 };

export const useEditorStore = create<EditorState>()((set, get) => {
  /** Applies a document change: one undo step (unless coalesced), checks, and a save. */
  const change = (
    next: Partial<Pick<EditorState, "nodes" | "edges" | "meta">>,
    options: { coalesceKey?: string; structural?: boolean; touched?: string[]; record?: boolean } = {},
  ) => {
    const state = get();
    const now = Date.now();
    let past = state.past;
    let coalesce = state.coalesce;
    const record = options.record ?? true;
    if (record) {
      const sameField = options.coalesceKey !== undefined && coalesce?.key === options.coalesceKey && now - coalesce.at < COALESCE_MS;
      if (!sameField) past = [...state.past, snapshotOf(state)].slice(-HISTORY_LIMIT);
      coalesce = options.coalesceKey !== undefined ? { key: options.coalesceKey, at: now } : null;
    }
    const nodes = next.nodes ?? state.nodes;
    const edges = next.edges ?? state.edges;
    const meta = next.meta ?? state.meta;
    const localIssues = checkGraph(nodes, edges, state.registry);
    let staleNodes = state.serverStaleNodes;
    if (options.touched?.length) {
      staleNodes = new Set(staleNodes);
      for (const id of options.touched) (staleNodes as Set<string>).add(id);
    }
    const serverStale = state.serverStale || (options.structural ?? true);
    set({
      nodes,
      edges,
      meta,
      past,
      future: record ? [] : state.future,
      coalesce,
      changeCount: state.changeCount + 1,
      saveStatus: state.saveStatus === "conflict" ? "conflict" : "pending",
      localIssues,
      serverStaleNodes: staleNodes,
      serverStale,
      ...mergeIssues(localIssues, state.serverIssues, staleNodes, serverStale, state),
    });
  };

  const restore = (snapshot: Snapshot, past: Snapshot[], future: Snapshot[]) => {
    const state = get();
    const localIssues = checkGraph(snapshot.nodes, snapshot.edges, state.registry);
    set({
      ...snapshot,
      past,
      future,
      coalesce: null,
      changeCount: state.changeCount + 1,
      saveStatus: state.saveStatus === "conflict" ? "conflict" : "pending",
      localIssues,
      serverStale: true,
      ...mergeIssues(localIssues, state.serverIssues, state.serverStaleNodes, true, state),
    });
  };

  return {
    workflow: null,
    registry: {},
    nodes: [],
    edges: [],
    meta: EMPTY_META,
    past: [],
    future: [],
    coalesce: null,
    changeCount: 0,
    savedChangeCount: 0,
    revision: 0,
    saveStatus: "saved",
    saveMessage: null,
    localIssues: [],
    serverIssues: [],
    serverStaleNodes: new Set(),
    serverStale: false,
    issues: [],
    issuesByNode: {},
    issuesByEdge: {},
    clipboard: null,

    load: (workflow, registryList) => {
      const registry = Object.fromEntries(registryList.map((info) => [info.type, info]));
      const { nodes, edges, meta } = toFlow(workflow.graph);
      const localIssues = checkGraph(nodes, edges, registry);
      set({
        workflow: { id: workflow.id, name: workflow.name, role: workflow.role, activeVersion: workflow.active_version },
        registry,
        nodes,
        edges,
        meta,
        past: [],
        future: [],
        coalesce: null,
        changeCount: 0,
        savedChangeCount: 0,
        revision: workflow.revision,
        saveStatus: "saved",
        saveMessage: null,
        localIssues,
        serverIssues: [],
        serverStaleNodes: new Set(),
        serverStale: false,
        ...mergeIssues(localIssues, [], new Set(), false, { issuesByNode: {}, issuesByEdge: {} }),
      });
    },

    onNodesChange: (changes) => {
      const state = get();
      let moved = false;
      const kept: NodeChange<FlowNode>[] = [];
      for (const item of changes) {
        if (item.type === "remove" || item.type === "add" || item.type === "replace") continue;
        if (item.type === "position" && item.position) {
          moved = true;
          kept.push({ ...item, position: { x: Math.round(item.position.x), y: Math.round(item.position.y) } });
          continue;
        }
        if (item.type === "dimensions" && item.setAttributes && item.dimensions) {
          moved = true;
          kept.push({ ...item, dimensions: { width: Math.round(item.dimensions.width), height: Math.round(item.dimensions.height) } });
          continue;
        }
        kept.push(item);
      }
      if (kept.length === 0) return;
      const nodes = applyNodeChanges(kept, state.nodes);
      if (moved) {
        set({ nodes, changeCount: state.changeCount + 1, saveStatus: state.saveStatus === "conflict" ? "conflict" : "pending" });
      } else {
        set({ nodes });
      }
    },

    onEdgesChange: (changes) => {
      const kept = changes.filter((item) => item.type === "select");
      if (kept.length === 0) return;
      set({ edges: applyEdgeChanges(kept, get().edges) });
    },

    beginGesture: () => {
      const state = get();
      set({ past: [...state.past, snapshotOf(state)].slice(-HISTORY_LIMIT), future: [], coalesce: null });
    },

    addNode: (type, position, parentId) => {
      const state = get();
      const info = state.registry[type];
      if (!info) return null;
      const id = freshId(type, new Set(state.nodes.map((node) => node.id)));
      const defaults = NODE_DEFAULTS[type];
      const schemaDefaults = defaultConfig(info);
      const config = defaults?.initialConfig ? defaults.initialConfig(schemaDefaults) : schemaDefaults;
      const node: FlowNode = {
        id,
        type,
        position: { x: Math.round(position.x), y: Math.round(position.y) },
        data: { spec: { type, name: id === type ? info.label : `${info.label} ${id.slice(type.length + 1)}`, config } },
        selected: true,
      };
      const parent = parentId !== undefined ? state.nodes.find((item) => item.id === parentId) : undefined;
      if (parent && parent.data.spec.type === "loop" && type !== "start" && type !== "end") node.parentId = parent.id;
      if (type === "loop") {
        node.width = LOOP_SIZE.width;
        node.height = LOOP_SIZE.height;
        node.zIndex = -1;
      }
      const nodes = [...state.nodes.map((item) => (item.selected ? { ...item, selected: false } : item)), node];
      const edges = state.edges.map((edge) => (edge.selected ? { ...edge, selected: false } : edge));
      change({ nodes, edges });
      return id;
    },

    connectionProblem: (connection) => {
      const state = get();
      const { source, target } = connection;
      if (!source || !target) return "Both ends are needed.";
      if (source === target) return "A node cannot connect to itself.";
      const sourceNode = state.nodes.find((node) => node.id === source);
      const targetNode = state.nodes.find((node) => node.id === target);
      if (!sourceNode || !targetNode) return "That node no longer exists.";
      const handle = connection.sourceHandle ?? DEFAULT_HANDLE;
      if (!handlesOf(state.registry[sourceNode.data.spec.type], sourceNode.data.spec).includes(handle)) {
        return `${nodeLabel(sourceNode)} has no handle '${handle}'.`;
      }
      if (!acceptsInput(targetNode.data.spec.type)) return "Nothing may lead into the start node.";
      if (sourceNode.parentId !== targetNode.parentId) return "Edges cannot cross a loop boundary.";
      const existing = state.edges.filter((edge) => edge.source === source && edge.target === target);
      if (existing.some((edge) => (edge.sourceHandle ?? DEFAULT_HANDLE) === handle)) return "These handles are already connected.";
      if (targetNode.data.spec.type === "join" && existing.length > 0) return "A join takes one edge from each source.";
      if (reaches(target, source, state.edges)) return "That edge would make a cycle; use a loop to repeat steps.";
      return null;
    },

    connect: (connection) => {
      const state = get();
      if (state.connectionProblem(connection) !== null) return false;
      const edge: FlowEdge = {
        id: freshEdgeId(new Set(state.edges.map((item) => item.id))),
        source: connection.source,
        target: connection.target,
        sourceHandle: connection.sourceHandle ?? DEFAULT_HANDLE,
        targetHandle: TARGET_HANDLE,
      };
      change({ edges: [...state.edges, edge] });
      return true;
    },

    updateSpec: (nodeId, patch, coalesceKey) => {
      const state = get();
      const nodes = state.nodes.map((node) => {
        if (node.id !== nodeId) return node;
        const spec: NodeSpec = { ...node.data.spec, ...patch };
        for (const key of Object.keys(patch) as (keyof NodeSpec)[]) if (patch[key] === undefined) delete spec[key];
        return { ...node, data: { spec } };
      });
      change({ nodes }, { ...(coalesceKey !== undefined && { coalesceKey: `${nodeId}:${coalesceKey}` }), structural: "on_error" in patch || ("config" in patch && state.nodes.find((node) => node.id === nodeId)?.data.spec.type === "switch"), touched: [nodeId] });
    },

    renameNode: (nodeId, nextId) => {
      const state = get();
      if (!/^[a-z][a-z0-9_]{0,63}$/.test(nextId)) return "Ids start with a lowercase letter, then lowercase letters, digits or _ (64 at most).";
      if (nextId === nodeId) return null;
      if (state.nodes.some((node) => node.id === nextId)) return `'${nextId}' is taken.`;
      const renamed = new Map([[nodeId, nextId]]);
      // Every template of every node may refer to the old id.
      const nodes = state.nodes.map((node) => {
        let next = node;
        if (node.id === nodeId) next = { ...next, id: nextId };
        if (node.parentId === nodeId) next = { ...next, parentId: nextId };
        const config = node.data.spec.config;
        if (config) {
          const rewritten = rewriteSources(state.registry[node.data.spec.type], config, renamed);
          if (rewritten !== config) next = { ...next, data: { spec: { ...next.data.spec, config: rewritten } } };
        }
        return next;
      });
      const edges = state.edges.map((edge) =>
        edge.source === nodeId || edge.target === nodeId
          ? { ...edge, source: edge.source === nodeId ? nextId : edge.source, target: edge.target === nodeId ? nextId : edge.target }
          : edge,
      );
      change({ nodes, edges });
      return null;
    },

    moveIntoParent: (nodeId, parentId, position) => {
      const state = get();
      const node = state.nodes.find((item) => item.id === nodeId);
      if (!node || node.parentId === parentId) return;
      const moved: FlowNode = { ...node, position: { x: Math.round(position.x), y: Math.round(position.y) } };
      if (parentId === undefined) delete moved.parentId;
      else moved.parentId = parentId;
      // The edges of a node that changes level would cross the loop boundary.
      const edges = state.edges.filter((edge) => edge.source !== nodeId && edge.target !== nodeId);
      const others = state.nodes.filter((item) => item.id !== nodeId);
      // Keep parents before children: put the node right after its new parent (or at the end).
      const parentIndex = parentId === undefined ? -1 : others.findIndex((item) => item.id === parentId);
      const nodes = parentIndex < 0 ? [...others, moved] : [...others.slice(0, parentIndex + 1), moved, ...others.slice(parentIndex + 1)];
      change({ nodes: reorderParentsFirst(nodes), edges }, { record: false });
    },

    deleteSelection: () => {
      const state = get();
      const nodeIds = state.nodes.filter((node) => node.selected).map((node) => node.id);
      const edgeIds = state.edges.filter((edge) => edge.selected).map((edge) => edge.id);
      if (nodeIds.length || edgeIds.length) state.deleteElements(nodeIds, edgeIds);
    },

    deleteElements: (nodeIds, edgeIds) => {
      const state = get();
      const removed = new Set(nodeIds);
      let grew = true;
      while (grew) {
        grew = false;
        for (const node of state.nodes) {
          if (node.parentId !== undefined && removed.has(node.parentId) && !removed.has(node.id)) {
            removed.add(node.id);
            grew = true;
          }
        }
      }
      const removedEdges = new Set(edgeIds);
      const nodes = state.nodes.filter((node) => !removed.has(node.id));
      const edges = state.edges.filter((edge) => !removedEdges.has(edge.id) && !removed.has(edge.source) && !removed.has(edge.target));
      if (nodes.length === state.nodes.length && edges.length === state.edges.length) return;
      change({ nodes, edges });
    },

    selectAll: () => {
      const state = get();
      set({ nodes: state.nodes.map((node) => (node.selected ? node : { ...node, selected: true })) });
    },

    selectOnly: (nodeIds) => {
      const wanted = new Set(nodeIds);
      const state = get();
      set({
        nodes: state.nodes.map((node) => (Boolean(node.selected) === wanted.has(node.id) ? node : { ...node, selected: wanted.has(node.id) })),
        edges: state.edges.map((edge) => (edge.selected ? { ...edge, selected: false } : edge)),
      });
    },

    copy: () => {
      const state = get();
      const content = copySelection(state.nodes, state.edges);
      if (!content) return false;
      set({ clipboard: content });
      return true;
    },

    paste: (content) => {
      const state = get();
      const source = content ?? state.clipboard;
      if (!source) return [];
      const pasted = pasteContent(source, state.nodes, state.edges, state.registry);
      const nodes = reorderParentsFirst([...state.nodes.map((node) => (node.selected ? { ...node, selected: false } : node)), ...pasted.nodes]);
      change({ nodes, edges: [...state.edges.map((edge) => (edge.selected ? { ...edge, selected: false } : edge)), ...pasted.edges] });
      // The next paste lands one step further, like repeated pastes in drawing tools.
      set({ clipboard: { nodes: pasted.nodes.map((node) => ({ ...node, selected: false })), edges: pasted.edges } });
      return pasted.nodes.map((node) => node.id);
    },

    autoLayout: () => {
      const state = get();
      if (state.nodes.length === 0) return;
      change({ nodes: layoutGraph(state.nodes, state.edges) }, { structural: false });
    },

    undo: () => {
      const state = get();
      const previous = state.past[state.past.length - 1];
      if (!previous) return;
      restore(previous, state.past.slice(0, -1), [snapshotOf(state), ...state.future].slice(0, HISTORY_LIMIT));
    },

    redo: () => {
      const state = get();
      const next = state.future[0];
      if (!next) return;
      restore(next, [...state.past, snapshotOf(state)].slice(-HISTORY_LIMIT), state.future.slice(1));
    },

    replaceGraph: (doc) => {
      const { nodes, edges, meta } = toFlow(doc);
      change({ nodes, edges, meta });
    },

    setVariables: (variables, coalesceKey) => {
      const { variables: _old, ...rest } = get().meta;
      change({ meta: variables.length ? { ...rest, variables } : rest }, { coalesceKey, structural: true });
    },

    markSaving: () => set({ saveStatus: "saving", saveMessage: null }),

    markSaved: (revision, sentChangeCount, issues) => {
      const state = get();
      const upToDate = state.changeCount === sentChangeCount;
      const patch: Partial<EditorState> = {
        revision,
        savedChangeCount: sentChangeCount,
        saveStatus: upToDate ? "saved" : "pending",
        saveMessage: null,
      };
      if (issues && upToDate) {
        const staleNodes = new Set<string>();
        Object.assign(patch, {
          serverIssues: issues,
          serverStaleNodes: staleNodes,
          serverStale: false,
          ...mergeIssues(state.localIssues, issues, staleNodes, false, state),
        });
      }
      set(patch);
    },

    markConflict: (message) => set({ saveStatus: "conflict", saveMessage: message }),
    markSaveError: (message) => set({ saveStatus: "error", saveMessage: message }),

    setServerIssues: (issues) => {
      const state = get();
      const staleNodes = new Set<string>();
      set({ serverIssues: issues, serverStaleNodes: staleNodes, serverStale: false, ...mergeIssues(state.localIssues, issues, staleNodes, false, state) });
    },
  };
});

function rewriteSources(info: NodeTypeInfo | undefined, config: NonNullable<NodeSpec["config"]>, renamed: Map<string, string>) {
  const fields = sourceFields(info, config);
  if (!fields.some((field) => rewriteReferences(field.source, renamed) !== field.source)) return config;
  return mapSources(info, config, (source) => rewriteReferences(source, renamed));
}

function reorderParentsFirst(nodes: FlowNode[]): FlowNode[] {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const placed = new Set<string>();
  const ordered: FlowNode[] = [];
  const place = (node: FlowNode, guard: Set<string>) => {
    if (placed.has(node.id) || guard.has(node.id)) return;
    guard.add(node.id);
    const parent = node.parentId !== undefined ? byId.get(node.parentId) : undefined;
    if (parent) place(parent, guard);
    placed.add(node.id);
    ordered.push(node);
  };
  for (const node of nodes) place(node, new Set());
  return ordered;
}
