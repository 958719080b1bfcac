import { api } from "./client";
import type { Page, WorkflowSummary } from "./types";

export interface WorkflowListQuery {
  search?: string;
  signal?: AbortSignal;
}

export function listWorkflows({ search, signal }: WorkflowListQuery = {}): Promise<Page<WorkflowSummary>> {
  return api.get<Page<WorkflowSummary>>("/api/workflows/", { query: { search: search?.trim() }, ...(signal && { signal }) });
}

/** Follows a `next` link from a previous page. */
export function fetchWorkflowPage(url: string, signal?: AbortSignal): Promise<Page<WorkflowSummary>> {
  return api.get<Page<WorkflowSummary>>(url, signal ? { signal } : {});
}
