export { api, buildUrl, isAbortError } from "./client";
export { ApiError } from "./errors";
export type { FieldErrors, ValidationIssue } from "./errors";
export type { Page, WorkflowRole, WorkflowSummary } from "./types";
export { fetchWorkflowPage, listWorkflows } from "./workflows";
