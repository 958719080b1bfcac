/**
 * The calls the graph editor makes: the node registry, the draft, validation, versions and runs
 * (DESIGN §3 and §7).
 */
import { api } from "./client";
import type { ValidationIssue } from "./errors";
import type { Page, WorkflowSummary } from "./types";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
/** A JSON Schema as the registry sends it; only the keywords the editor reads are typed. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  enum?: JsonValue[];
  const?: JsonValue;
  default?: JsonValue;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  if?: JsonSchema;
  then?: JsonSchema;
  else?: JsonSchema;
  "x-flowdeck"?: string;
  [key: string]: unknown;
}

export type HandleSpec =
  | { kind: "fixed"; values: string[] }
  | { kind: "derived"; source: string; extra: string[] };

/** One entry of `GET /api/node-types/` (workflows/node_types.py: NodeType.describe). */
export interface NodeTypeInfo {
  type: string;
  category: string;
  label: string;
  description: string;
  config_schema: JsonSchema;
  handles: HandleSpec;
  execution: "inline" | "dispatched";
  output_schema: JsonSchema;
  defaults: JsonObject;
  allows_retry: boolean;
  has_out_handle: boolean;
}

/** The graph document exactly as stored (DESIGN §3). */
export interface GraphDocument {
  schema_version: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  variables?: GraphVariable[];
  annotations?: JsonObject[];
}

export interface GraphNode {
  id: string;
  type: string;
  name?: string;
  position?: { x: number; y: number };
  size?: { width: number; height: number };
  config?: JsonObject;
  parent?: string;
  retry?: { max_attempts: number; backoff_s?: number; multiplier?: number; max_backoff_s?: number };
  timeout_s?: number;
  on_error?: "fail" | "continue" | "branch";
  disabled?: boolean;
  notes?: string;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  source_handle?: string;
}

export interface GraphVariable {
  name: string;
  type: string;
  default?: JsonValue;
  description?: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: ValidationIssue[];
}

export interface WorkflowDetail extends WorkflowSummary {
  graph: GraphDocument;
  grants: { group: string; role: string }[];
}

export interface WorkflowSaved extends WorkflowDetail {
  validation: ValidationResult;
}

export interface VersionSummary {
  number: number;
  note: string;
  author: string | null;
  checksum: string;
  created_at: string;
  is_active: boolean;
}

export interface VersionDetail extends VersionSummary {
  graph: GraphDocument;
}

export interface RunSummary {
  id: string;
  workflow: number;
  workflow_name: string;
  version: number | null;
  is_draft: boolean;
  status: string;
  inputs: JsonValue;
  outputs: JsonValue;
  error: JsonValue;
  created_at: string;
  finished_at: string | null;
}

export interface ExportDocument {
  format: string;
  version: number;
  name: string;
  description: string;
  tags: string[];
  graph: GraphDocument;
}

export function fetchNodeTypes(signal?: AbortSignal): Promise<NodeTypeInfo[]> {
  return api.get<NodeTypeInfo[]>("/api/node-types/", signal ? { signal } : {});
}

export function fetchWorkflow(id: number, signal?: AbortSignal): Promise<WorkflowDetail> {
  return api.get<WorkflowDetail>(`/api/workflows/${id}/`, signal ? { signal } : {});
}

/** Saves the draft graph; a stale `revision` is refused with 409 and nothing is saved. */
export function saveDraft(id: number, graph: GraphDocument, revision: number): Promise<WorkflowSaved> {
  return api.patch<WorkflowSaved>(`/api/workflows/${id}/`, { graph, revision });
}

export function validateGraph(id: number, graph?: GraphDocument): Promise<ValidationResult> {
  return api.post<ValidationResult>(`/api/workflows/${id}/validate/`, graph ? { graph } : {});
}

export function publishWorkflow(
  id: number,
  body: { note: string; activate: boolean; revision?: number },
): Promise<VersionDetail> {
  return api.post<VersionDetail>(`/api/workflows/${id}/publish/`, body);
}

export function listVersions(id: number): Promise<Page<VersionSummary>> {
  return api.get<Page<VersionSummary>>(`/api/workflows/${id}/versions/`, { query: { page_size: 100 } });
}

export function fetchVersion(id: number, number: number): Promise<VersionDetail> {
  return api.get<VersionDetail>(`/api/workflows/${id}/versions/${number}/`);
}

export function activateVersion(id: number, number: number): Promise<VersionSummary> {
  return api.post<VersionSummary>(`/api/workflows/${id}/versions/${number}/activate/`);
}

export function startRun(
  id: number,
  body: { inputs: JsonObject; variables?: JsonObject; draft?: boolean; version?: number },
): Promise<RunSummary> {
  return api.post<RunSummary>(`/api/workflows/${id}/runs/`, body);
}

export function fetchRun(runId: string): Promise<RunSummary> {
  return api.get<RunSummary>(`/api/runs/${encodeURIComponent(runId)}/`);
}

export function exportWorkflow(id: number): Promise<ExportDocument> {
  return api.get<ExportDocument>(`/api/workflows/${id}/export/`);
}

/**
 * Starts loading what the editor needs as soon as its route is known, in parallel with the
 * editor's own script; the page then takes the promise instead of asking again.
 */
const preloads = new Map<number, { at: number; loading: Promise<[NodeTypeInfo[], WorkflowDetail]> }>();
/** A preload older than this is not used: the draft may have changed since. */
const PRELOAD_FRESH_MS = 10_000;

export function preloadEditor(id: number): void {
  const known = preloads.get(id);
  if (known && Date.now() - known.at < PRELOAD_FRESH_MS) return;
  const loading = Promise.all([fetchNodeTypes(), fetchWorkflow(id)]);
  loading.catch(() => preloads.delete(id));
  preloads.set(id, { at: Date.now(), loading });
}

/** The fresh preloaded answer (used once), or a new load. */
export function loadEditor(id: number): Promise<[NodeTypeInfo[], WorkflowDetail]> {
  const preloaded = preloads.get(id);
  preloads.delete(id);
  if (preloaded && Date.now() - preloaded.at < PRELOAD_FRESH_MS) return preloaded.loading;
  return Promise.all([fetchNodeTypes(), fetchWorkflow(id)]);
}
