export { api, buildUrl, isAbortError } from "./client";
export { ApiError } from "./errors";
export type { FieldErrors, ValidationIssue } from "./errors";
export type { Page, WorkflowRole, WorkflowSummary } from "./types";
export { fetchWorkflowPage, listWorkflows } from "./workflows";
export type {
  ExportDocument,
  GraphDocument,
  GraphEdge,
  GraphNode,
  GraphVariable,
  HandleSpec,
  JsonObject,
  JsonSchema,
  JsonValue,
  NodeTypeInfo,
  RunSummary,
  ValidationResult,
  VersionDetail,
  VersionSummary,
  WorkflowDetail,
  WorkflowSaved,
} from "./editor";
export {
  activateVersion,
  exportWorkflow,
  fetchNodeTypes,
  fetchRun,
  fetchVersion,
  fetchWorkflow,
  listVersions,
  publishWorkflow,
  saveDraft,
  startRun,
  validateGraph,
} from "./editor";
export { onReachabilityChange, pingServer } from "./client";
export { connectInbox, fetchPendingApprovalCount, inboxSocketUrl } from "./inbox";
export type { InboxConnection, InboxMessage, InboxSocketHandlers, InboxSocketOptions } from "./inbox";
export type { ApprovalStatus, ApprovalSummary, WorkflowExport } from "./types";
export {
  archiveWorkflow,
  copyName,
  createWorkflow,
  duplicateWorkflow,
  fetchWorkflowExport,
  importWorkflow,
  restoreWorkflow,
  starterGraph,
} from "./workflows";
export type { NewWorkflow, WorkflowFilters } from "./workflows";
export type { CatchUp, EventStatus, Overlap, ScheduleConfig, Trigger, TriggerChanges, TriggerFire, TriggerKind, TriggerWithSecret, WorkflowEventConfig } from "./triggers";
export { createTrigger, DEFAULT_GRACE_S, deleteTrigger, fetchTrigger, listTriggers, listWorkflowChoices, MAX_GRACE_S, rotateTriggerSecret, separateSecret, updateTrigger } from "./triggers";
