/**
 * Checks cheap enough to run on every edit, written to give the same codes as
 * workflows/validation.py so the two can be shown side by side. They are a preview: the server's
 * answer to validate (and to every autosave) is the authority and catches what these skip
 * (expression syntax, JSON Schema validity, unknown agents and users).
 */
import type { ValidationIssue } from "../api";
import type { JsonObject, JsonSchema, JsonValue, NodeTypeInfo } from "../api/editor";
import { NODE_DEFAULTS } from "../nodes/defaults";
import { DEFAULT_HANDLE, type FlowEdge, type FlowNode } from "./mapping";
import { referencedNodes } from "./references";
import { ERROR_HANDLE, handlesOf, sourceFields } from "./schema";

const NODE_ID = /^[a-z][a-z0-9_]{0,63}$/;
const NO_RETRY_TYPES = new Set(["start", "end", "parallel", "join", "condition", "switch", "transform", "loop"]);

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function matchesIf(condition: JsonSchema | undefined, config: JsonObject): boolean {
  if (!condition) return false;
  for (const name of condition.required ?? []) if (!(name in config)) return false;
  for (const [name, sub] of Object.entries(condition.properties ?? {})) {
    if (!(name in config)) continue;
    if (sub.const !== undefined && config[name] !== sub.const) return false;
  }
  return true;
}

/** `required` of a config schema, including the `allOf` if/then rules that apply to `config`. */
export function requiredFields(schema: JsonSchema, config: JsonObject): string[] {
  const required = [...(schema.required ?? [])];
  for (const rule of schema.allOf ?? []) {
    const branch = matchesIf(rule.if, config) ? rule.then : rule.else;
    for (const name of branch?.required ?? []) if (!required.includes(name)) required.push(name);
  }
  return required;
}

function isEmpty(value: JsonValue | undefined): boolean {
  return value === undefined || value === null || (typeof value === "string" && value.trim() === "") || (Array.isArray(value) && value.length === 0);
}

function typeMatches(schema: JsonSchema, value: JsonValue): boolean {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length === 0) {
    const branches = schema.anyOf ?? schema.oneOf;
    return branches ? branches.some((branch) => typeMatches(branch, value)) : true;
  }
  return types.some((type) => {
    switch (type) {
      case "string":
        return typeof value === "string";
      case "integer":
        return typeof value === "number" && Number.isInteger(value);
      case "number":
        return typeof value === "number";
      case "boolean":
        return typeof value === "boolean";
      case "object":
        return isObject(value);
      case "array":
        return Array.isArray(value);
      case "null":
        return value === null;
      default:
        return true;
    }
  });
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function label(node: FlowNode): string {
  return node.data.spec.name || node.id;
}

/** Checks one node's config against its schema's top-level properties. */
export function checkConfig(node: FlowNode, info: NodeTypeInfo): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const config = node.data.spec.config ?? {};
  const schema = info.config_schema;
  const properties = schema.properties ?? {};
  const name = label(node);
  for (const field of requiredFields(schema, config)) {
    if (isEmpty(config[field])) {
      const title = properties[field]?.title ?? field;
      issues.push({ code: "missing_field", message: `${name} needs a value for ${title}.`, node_id: node.id, path: `config.${field}` });
    }
  }
  for (const [field, value] of Object.entries(config)) {
    const sub = properties[field];
    if (!sub) {
      if (schema.additionalProperties === false) {
        issues.push({ code: "unknown_key", message: `${name} has no setting '${field}'.`, node_id: node.id, path: `config.${field}` });
      }
      continue;
    }
    if (value === undefined) continue;
    if (!typeMatches(sub, value)) {
      issues.push({ code: "invalid_type", message: `${name}: ${sub.title ?? field} has the wrong type.`, node_id: node.id, path: `config.${field}` });
      continue;
    }
    if (sub.enum && !sub.enum.includes(value)) {
      issues.push({ code: "invalid_value", message: `${name}: ${sub.title ?? field} must be one of: ${sub.enum.join(", ")}.`, node_id: node.id, path: `config.${field}` });
    }
    if (typeof value === "number") {
      if (sub.minimum !== undefined && value < sub.minimum) {
        issues.push({ code: "invalid_value", message: `${name}: ${sub.title ?? field} must be at least ${sub.minimum}.`, node_id: node.id, path: `config.${field}` });
      }
      if (sub.maximum !== undefined && value > sub.maximum) {
        issues.push({ code: "invalid_value", message: `${name}: ${sub.title ?? field} must be at most ${sub.maximum}.`, node_id: node.id, path: `config.${field}` });
      }
    }
    if (typeof value === "string" && sub.maxLength !== undefined && value.length > sub.maxLength) {
      issues.push({ code: "too_long", message: `${name}: ${sub.title ?? field} is longer than ${sub.maxLength} characters.`, node_id: node.id, path: `config.${field}` });
    }
  }
  return issues;
}

/** Every cheap check over the whole graph, in a stable order. */
export function checkGraph(nodes: FlowNode[], edges: FlowEdge[], registry: Record<string, NodeTypeInfo>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const byId = new Map<string, FlowNode>();
  for (const node of nodes) {
    if (byId.has(node.id)) issues.push({ code: "duplicate_node_id", message: `The id '${node.id}' is used twice.`, node_id: node.id });
    byId.set(node.id, node);
  }
  const levelIncoming = new Map<string, FlowEdge[]>();
  const outgoing = new Map<string, FlowEdge[]>();
  const seenEdges = new Set<string>();
  const joinSources = new Set<string>();
  for (const edge of edges) {
    const source = byId.get(edge.source);
    const target = byId.get(edge.target);
    const handle = edge.sourceHandle ?? DEFAULT_HANDLE;
    if (!source || !target) {
      issues.push({ code: "dangling_edge", message: "This edge connects a node that does not exist.", edge_id: edge.id });
      continue;
    }
    if (edge.source === edge.target) {
      issues.push({ code: "self_edge", message: `${label(source)} is connected to itself.`, edge_id: edge.id, node_id: source.id });
      continue;
    }
    const key = `${edge.source}\u0000${handle}\u0000${edge.target}`;
    if (seenEdges.has(key)) issues.push({ code: "duplicate_edge", message: `Two edges join ${label(source)} and ${label(target)} from the same handle.`, edge_id: edge.id });
    seenEdges.add(key);
    if (!handlesOf(registry[source.data.spec.type], source.data.spec).includes(handle)) {
      issues.push({ code: "unknown_handle", message: `${label(source)} has no handle '${handle}'.`, edge_id: edge.id, node_id: source.id });
    }
    if (target.data.spec.type === "start") {
      issues.push({ code: "edge_into_start", message: "Nothing may lead into the start node.", edge_id: edge.id, node_id: target.id });
    }
    if (source.parentId !== target.parentId) {
      issues.push({ code: "edge_crosses_loop", message: `The edge from ${label(source)} to ${label(target)} crosses a loop boundary.`, edge_id: edge.id });
      continue;
    }
    if (target.data.spec.type === "join") {
      const joinKey = `${edge.source}\u0000${edge.target}`;
      if (joinSources.has(joinKey)) issues.push({ code: "duplicate_join_edge", message: `${label(target)} has two edges from ${label(source)}.`, edge_id: edge.id, node_id: target.id });
      joinSources.add(joinKey);
    }
    pushTo(levelIncoming, edge.target, edge);
    pushTo(outgoing, edge.source, edge);
  }

  const starts = nodes.filter((node) => node.data.spec.type === "start");
  if (starts.length === 0) issues.push({ code: "missing_start", message: "The workflow needs a start node." });
  for (const extra of starts.slice(1)) issues.push({ code: "multiple_starts", message: "A workflow has exactly one start node.", node_id: extra.id });
  if (!nodes.some((node) => node.data.spec.type === "end")) issues.push({ code: "missing_end", message: "The workflow needs an end node." });

  // Cycles, per level.
  const inCycle = new Set<string>();
  const waiting = new Map(nodes.map((node) => [node.id, (levelIncoming.get(node.id) ?? []).length]));
  const ready = nodes.filter((node) => waiting.get(node.id) === 0).map((node) => node.id);
  const order: string[] = [];
  while (ready.length > 0) {
    const current = ready.pop() as string;
    order.push(current);
    for (const edge of outgoing.get(current) ?? []) {
      if (byId.get(edge.source)?.parentId !== byId.get(edge.target)?.parentId) continue;
      const left = (waiting.get(edge.target) ?? 0) - 1;
      waiting.set(edge.target, left);
      if (left === 0) ready.push(edge.target);
    }
  }
  for (const [id, left] of waiting) {
    if (left > 0) {
      inCycle.add(id);
      issues.push({ code: "cycle", message: `${label(byId.get(id) as FlowNode)} is part of a cycle; only loops repeat steps.`, node_id: id });
    }
  }

  // Reachability from the start: top level through edges, bodies through their loop.
  const reachable = new Set<string>();
  const start = starts[0];
  if (start) {
    const stack = [start.id];
    reachable.add(start.id);
    while (stack.length > 0) {
      const current = stack.pop() as string;
      for (const edge of outgoing.get(current) ?? []) {
        if (!reachable.has(edge.target)) {
          reachable.add(edge.target);
          stack.push(edge.target);
        }
      }
    }
  }
  const ancestors = new AncestorIndex(nodes, order, levelIncoming, new Map(nodes.map((node) => [node.id, node.parentId])));
  const children = new Map<string, FlowNode[]>();
  for (const node of nodes) if (node.parentId !== undefined) pushTo(children, node.parentId, node);

  for (const node of nodes) {
    const { spec } = node.data;
    const info = registry[spec.type];
    const name = label(node);
    if (!NODE_ID.test(node.id)) issues.push({ code: "invalid_node_id", message: `'${node.id}' is not a valid node id.`, node_id: node.id, path: "id" });
    if (!info) {
      issues.push({ code: "unknown_node_type", message: `There is no node type '${spec.type}'.`, node_id: node.id, path: "type" });
      continue;
    }
    if (node.parentId !== undefined) {
      const parent = byId.get(node.parentId);
      if (!parent) issues.push({ code: "unknown_parent", message: `${name} is inside a node that does not exist.`, node_id: node.id, path: "parent" });
      else if (parent.data.spec.type !== "loop") issues.push({ code: "parent_not_loop", message: `${name} can only be inside a loop.`, node_id: node.id, path: "parent" });
      if (spec.type === "start") issues.push({ code: "start_in_loop", message: "The start node cannot be inside a loop.", node_id: node.id, path: "parent" });
      if (spec.type === "end") issues.push({ code: "end_in_loop", message: "An end node cannot be inside a loop.", node_id: node.id, path: "parent" });
    }
    if (start && !reachable.has(node.id) && node.parentId === undefined && !inCycle.has(node.id)) {
      issues.push({ code: "unreachable_node", message: `${name} is not reachable from the start.`, node_id: node.id });
    }
    if (spec.type === "loop" && !(children.get(node.id)?.length)) {
      issues.push({ code: "empty_loop_body", message: `${name} has no nodes in its body.`, node_id: node.id });
    }
    if (spec.on_error === "continue" && !info.has_out_handle) {
      issues.push({ code: "continue_without_out", message: `${name} has no 'out' handle to continue on.`, node_id: node.id, path: "on_error" });
    }
    if (spec.on_error === "branch" && !(outgoing.get(node.id) ?? []).some((edge) => (edge.sourceHandle ?? DEFAULT_HANDLE) === ERROR_HANDLE)) {
      issues.push({ code: "missing_error_edge", message: `${name} branches on errors but its error handle has no edge.`, node_id: node.id, path: "on_error" });
    }
    if (NO_RETRY_TYPES.has(spec.type)) {
      if (spec.retry !== undefined) issues.push({ code: "retry_not_allowed", message: `${name} cannot be retried.`, node_id: node.id, path: "retry" });
      if (spec.timeout_s !== undefined) issues.push({ code: "timeout_not_allowed", message: `${name} cannot have a timeout.`, node_id: node.id, path: "timeout_s" });
    }
    issues.push(...checkConfig(node, info));
    const defaults = NODE_DEFAULTS[spec.type];
    const incomingCount = (levelIncoming.get(node.id) ?? []).length;
    for (const issue of defaults?.check?.(spec, { nodeId: node.id, info, incomingCount }) ?? []) {
      issues.push({ ...issue, node_id: node.id });
    }
    issues.push(...checkReferences(node, info, byId, ancestors));
  }
  return issues;
}

/**
 * Level ancestors of every node as bit sets over node positions, built once per check in
 * topological order (one OR per edge), so checking references stays fast on 2 000-node graphs.
 * Nodes caught in a cycle (already an error) are answered by a search instead.
 */
class AncestorIndex {
  private readonly index = new Map<string, number>();
  private readonly words: number;
  private readonly bits = new Map<string, Uint32Array>();

  constructor(
    nodes: FlowNode[],
    order: string[],
    private readonly levelIncoming: Map<string, FlowEdge[]>,
    private readonly parentOf: Map<string, string | undefined>,
  ) {
    nodes.forEach((node, position) => this.index.set(node.id, position));
    this.words = Math.ceil(nodes.length / 32) || 1;
    for (const nodeId of order) {
      const value = new Uint32Array(this.words);
      for (const edge of levelIncoming.get(nodeId) ?? []) {
        const source = this.bits.get(edge.source);
        if (source) for (let word = 0; word < this.words; word += 1) value[word]! |= source[word]!;
        const position = this.index.get(edge.source) as number;
        value[position >>> 5]! |= 1 << (position & 31);
      }
      this.bits.set(nodeId, value);
    }
  }

  private isLevelAncestor(ancestorId: string, nodeId: string): boolean {
    const position = this.index.get(ancestorId);
    if (position === undefined) return false;
    const value = this.bits.get(nodeId);
    if (value) return ((value[position >>> 5]! >>> (position & 31)) & 1) === 1;
    return this.search(nodeId).has(ancestorId);
  }

  /** Whether `nodeId` may refer to `ancestorId`: an ancestor of it or of an enclosing loop. */
  mayRefer(nodeId: string, ancestorId: string): boolean {
    if (this.isLevelAncestor(ancestorId, nodeId)) return true;
    const seen = new Set<string>();
    for (let loop = this.parentOf.get(nodeId); loop !== undefined && !seen.has(loop); loop = this.parentOf.get(loop)) {
      seen.add(loop);
      if (this.isLevelAncestor(ancestorId, loop)) return true;
    }
    return false;
  }

  private search(nodeId: string): Set<string> {
    const seen = new Set<string>();
    const stack = [nodeId];
    while (stack.length > 0) {
      for (const edge of this.levelIncoming.get(stack.pop() as string) ?? []) {
        if (!seen.has(edge.source) && edge.source !== nodeId) {
          seen.add(edge.source);
          stack.push(edge.source);
        }
      }
    }
    return seen;
  }
}

function checkReferences(node: FlowNode, info: NodeTypeInfo, byId: Map<string, FlowNode>, ancestors: AncestorIndex): ValidationIssue[] {
  const fields = sourceFields(info, node.data.spec.config);
  if (fields.length === 0) return [];
  const issues: ValidationIssue[] = [];
  for (const field of fields) {
    for (const id of referencedNodes(field.source)) {
      const path = `config.${field.path.join(".")}`;
      if (!byId.has(id)) {
        issues.push({ code: "unknown_node_ref", message: `There is no node '${id}'.`, node_id: node.id, path });
        continue;
      }
      if (!ancestors.mayRefer(node.id, id)) {
        issues.push({ code: "ref_not_upstream", message: `'${id}' does not always run before ${label(node)}.`, node_id: node.id, path });
      }
    }
  }
  return issues;
}

export function issueKey(issue: ValidationIssue): string {
  return `${issue.code}\u0000${issue.node_id ?? ""}\u0000${issue.edge_id ?? ""}\u0000${issue.path ?? ""}`;
}
