/**
 * What a node's templates may refer to (DESIGN §3 "Expressions and templates") and rewriting
 * node references when nodes get new ids.
 */
import type { GraphVariable, JsonSchema, NodeTypeInfo } from "../api/editor";
import type { FlowEdge, FlowNode } from "./mapping";

export interface Suggestion {
  /** The text inserted, e.g. `nodes.classify.output.text`. */
  value: string;
  /** Short explanation shown beside it. */
  detail: string;
}

/** Nodes reachable backwards through edges whose ends share a parent (the node's level). */
export function levelAncestors(nodeId: string, nodes: FlowNode[], edges: FlowEdge[]): Set<string> {
  const parentOf = new Map(nodes.map((node) => [node.id, node.parentId]));
  const incoming = new Map<string, string[]>();
  for (const edge of edges) {
    if (!parentOf.has(edge.source) || !parentOf.has(edge.target)) continue;
    if (parentOf.get(edge.source) !== parentOf.get(edge.target)) continue;
    const list = incoming.get(edge.target);
    if (list) list.push(edge.source);
    else incoming.set(edge.target, [edge.source]);
  }
  const seen = new Set<string>();
  const stack = [nodeId];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    for (const source of incoming.get(current) ?? []) {
      if (!seen.has(source) && source !== nodeId) {
        seen.add(source);
        stack.push(source);
      }
    }
  }
  return seen;
}

/** The loops containing a node, innermost first. */
export function enclosingLoops(nodeId: string, nodes: FlowNode[]): string[] {
  const parentOf = new Map(nodes.map((node) => [node.id, node.parentId]));
  const chain: string[] = [];
  let parent = parentOf.get(nodeId);
  while (parent !== undefined && !chain.includes(parent)) {
    chain.push(parent);
    parent = parentOf.get(parent);
  }
  return chain;
}

/** Nodes whose output a node may read: its ancestors and those of every enclosing loop. */
export function referenceableNodes(nodeId: string, nodes: FlowNode[], edges: FlowEdge[]): string[] {
  const result = new Set(levelAncestors(nodeId, nodes, edges));
  for (const loopId of enclosingLoops(nodeId, nodes)) {
    for (const ancestor of levelAncestors(loopId, nodes, edges)) result.add(ancestor);
  }
  // Document order reads better than discovery order.
  return nodes.filter((node) => result.has(node.id)).map((node) => node.id);
}

function propertyNames(schema: JsonSchema | undefined): string[] {
  const properties = schema?.properties;
  return properties && typeof properties === "object" ? Object.keys(properties) : [];
}

function outputFields(node: FlowNode, info: NodeTypeInfo | undefined, startSchema: JsonSchema | undefined): string[] {
  const config = node.data.spec.config ?? {};
  switch (node.data.spec.type) {
    case "start":
      return propertyNames(startSchema);
    case "transform": {
      const mapping = config.mapping;
      return mapping && typeof mapping === "object" && !Array.isArray(mapping) ? Object.keys(mapping) : [];
    }
    case "end": {
      const outputs = config.outputs;
      return outputs && typeof outputs === "object" && !Array.isArray(outputs) ? Object.keys(outputs) : [];
    }
    default:
      return propertyNames(info?.output_schema);
  }
}

export interface SuggestionContext {
  nodeId: string;
  nodes: FlowNode[];
  edges: FlowEdge[];
  registry: Record<string, NodeTypeInfo>;
  variables: GraphVariable[] | undefined;
}

/** Every name a template of `nodeId` may use, for autocomplete. */
export function suggestionsFor({ nodeId, nodes, edges, registry, variables }: SuggestionContext): Suggestion[] {
  const start = nodes.find((node) => node.data.spec.type === "start");
  const startSchema = start?.data.spec.config?.input_schema as JsonSchema | undefined;
  const suggestions: Suggestion[] = [];
  suggestions.push({ value: "inputs", detail: "the run's inputs" });
  for (const name of propertyNames(startSchema)) suggestions.push({ value: `inputs.${name}`, detail: "run input" });
  for (const variable of variables ?? []) suggestions.push({ value: `vars.${variable.name}`, detail: `variable (${variable.type})` });
  const byId = new Map(nodes.map((node) => [node.id, node]));
  for (const ancestorId of referenceableNodes(nodeId, nodes, edges)) {
    const ancestor = byId.get(ancestorId);
    if (!ancestor) continue;
    const info = registry[ancestor.data.spec.type];
    const label = ancestor.data.spec.name ?? ancestorId;
    suggestions.push({ value: `nodes.${ancestorId}.output`, detail: `output of ${label}` });
    for (const field of outputFields(ancestor, info, startSchema)) {
      suggestions.push({ value: `nodes.${ancestorId}.output.${field}`, detail: `${label}` });
    }
    suggestions.push({ value: `nodes.${ancestorId}.status`, detail: `status of ${label}` });
  }
  const loops = enclosingLoops(nodeId, nodes);
  if (loops.length > 0) {
    suggestions.push({ value: "loop.item", detail: "current item" });
    suggestions.push({ value: "loop.index", detail: "pass number, from 0" });
    suggestions.push({ value: "loop.previous", detail: "previous pass's result" });
    for (const loopId of loops) {
      suggestions.push({ value: `loops.${loopId}.item`, detail: `item of loop ${loopId}` });
      suggestions.push({ value: `loops.${loopId}.index`, detail: `pass of loop ${loopId}` });
    }
  }
  suggestions.push({ value: "run.id", detail: "this run's id" });
  suggestions.push({ value: "run.started_at", detail: "when the run started" });
  return suggestions;
}

const REFERENCE = /(?<![\w.])(nodes|loops)(\s*\.\s*)([a-z][a-z0-9_]*)|(?<![\w.])(nodes|loops)(\s*\[\s*)(['"])([a-z][a-z0-9_]*)\6/g;

/** Rewrites `nodes.<id>`, `nodes['<id>']` and `loops.<id>` for every id in `renamed`. */
export function rewriteReferences(source: string, renamed: ReadonlyMap<string, string>): string {
  if (renamed.size === 0) return source;
  return source.replace(REFERENCE, (match, root1, dot, id1, root2, bracket, quote, id2) => {
    if (root1 !== undefined) {
      const next = renamed.get(id1 as string);
      return next ? `${root1}${dot}${next}` : match;
    }
    const next = renamed.get(id2 as string);
    return next ? `${root2}${bracket}${quote}${next}${quote}` : match;
  });
}

/** The node ids a template or expression refers to through `nodes.<id>`. */
export function referencedNodes(source: string): string[] {
  const ids: string[] = [];
  for (const match of source.matchAll(REFERENCE)) {
    const root = match[1] ?? match[4];
    const id = match[3] ?? match[7];
    if (root === "nodes" && id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}
