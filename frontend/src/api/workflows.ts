/** The workflows list: filters, create, duplicate, archive/restore, import and export (DESIGN §7). */
import { api } from "./client";
import type { Page, WorkflowExport, WorkflowSummary } from "./types";

export interface WorkflowFilters {
  /** Text in the name or description. */
  search?: string;
  /** The owner's username. */
  owner?: string;
  tag?: string;
  /** true: only archived workflows; false or absent: only active ones. */
  archived?: boolean;
}

export interface WorkflowListQuery extends WorkflowFilters {
  signal?: AbortSignal;
}

export function listWorkflows({ search, owner, tag, archived, signal }: WorkflowListQuery = {}): Promise<Page<WorkflowSummary>> {
  return api.get<Page<WorkflowSummary>>("/api/workflows/", {
    query: { search: search?.trim(), owner, tag, is_archived: archived ? "true" : undefined },
    ...(signal && { signal }),
  });
}

/** Follows a `next` link from a previous page. */
export function fetchWorkflowPage(url: string, signal?: AbortSignal): Promise<Page<WorkflowSummary>> {
  return api.get<Page<WorkflowSummary>>(url, signal ? { signal } : {});
}

export interface NewWorkflow {
  name: string;
  description: string;
  tags: string[];
}

/**
 * What a new workflow starts as: a start node wired to an end node, so the editor opens on a
 * graph that already validates and runs.
 */
export function starterGraph() {
  return {
    schema_version: 1,
    nodes: [
      {
        id: "start",
        type: "start",
        name: "Start",
        position: { x: 0, y: 0 },
        config: { input_schema: { type: "object", properties: {} } },
      },
      { id: "end", type: "end", name: "End", position: { x: 320, y: 0 }, config: { outputs: {} } },
    ],
    edges: [{ id: "e_start_end", source: "start", target: "end" }],
  };
}

export function createWorkflow(workflow: NewWorkflow): Promise<WorkflowSummary> {
  return api.post<WorkflowSummary>("/api/workflows/", { ...workflow, graph: starterGraph() });
}

/** DELETE archives (204): versions and runs are kept, and the owner can restore it. */
export function archiveWorkflow(id: number): Promise<void> {
  return api.delete(`/api/workflows/${id}/`);
}

/**
 * Restores an archived workflow. Quoting the revision the list showed makes the server refuse
 * (409) when someone changed the workflow since, instead of acting on a stale row.
 */
export function restoreWorkflow(id: number, revision: number): Promise<WorkflowSummary> {
  return api.patch<WorkflowSummary>(`/api/workflows/${id}/`, { is_archived: false, revision });
}

export function fetchWorkflowExport(id: number, signal?: AbortSignal): Promise<WorkflowExport> {
  return api.get<WorkflowExport>(`/api/workflows/${id}/export/`, signal ? { signal } : {});
}

/** Import always creates a new workflow owned by the caller. */
export function importWorkflow(document: unknown): Promise<WorkflowSummary> {
  return api.post<WorkflowSummary>("/api/workflows/import/", document);
}

/** A copy is an export imported under a new name: the graph, description and tags come along. */
export async function duplicateWorkflow(workflow: Pick<WorkflowSummary, "id" | "name">): Promise<WorkflowSummary> {
  const exported = await fetchWorkflowExport(workflow.id);
  return importWorkflow({ ...exported, name: copyName(workflow.name) });
}

/** The names the API accepts are at most 200 characters. */
export const MAX_WORKFLOW_NAME_LENGTH = 200;

export function copyName(name: string): string {
  return `Copy of ${name}`.slice(0, MAX_WORKFLOW_NAME_LENGTH);
}
