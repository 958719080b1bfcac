/**
 * Approvals in full (DESIGN §5, §7): list, read, claim, release, decide. The inbox count and the
 * `ws/inbox/` socket live in ./inbox.
 */
import { api } from "./client";
import type { JsonSchema, JsonValue } from "./editor";
import type { ApprovalStatus, Page } from "./types";

export interface ApprovalDecision {
  user: string;
  decision: string;
  comment: string;
  data: JsonValue;
  at: string;
}

/** executions/api/approvals.py: ApprovalSerializer. */
export interface Approval {
  id: string;
  run: string;
  workflow: number;
  workflow_name: string;
  node_id: string;
  scope: string;
  status: ApprovalStatus;
  title: string;
  instructions: string;
  /** Exactly what flows on to the next node when the approval resolves. */
  payload: JsonValue;
  payload_hash: string;
  /** JSON Schema of the fields the approver fills in (null: none). */
  form: JsonSchema | null;
  assignees: { users: string[]; groups: string[] };
  required_approvals: number;
  allow_self_approval: boolean;
  due_at: string | null;
  on_timeout: string;
  escalated: boolean;
  claimed_by: string | null;
  claim_expires_at: string | null;
  decision: string | null;
  decided_by: string | null;
  decided_at: string | null;
  comment: string;
  data: JsonValue;
  timed_out: boolean;
  decisions: ApprovalDecision[];
  created_at: string;
}

export interface ApprovalQuery {
  status?: ApprovalStatus;
  mine?: boolean;
  workflow?: number;
  run?: string;
  page_size?: number;
}

const approvalPath = (id: string) => `/api/approvals/${encodeURIComponent(id)}/`;

export function listApprovals(query: ApprovalQuery = {}, signal?: AbortSignal): Promise<Page<Approval>> {
  const { mine, ...rest } = query;
  return api.get<Page<Approval>>("/api/approvals/", {
    query: { ...rest, mine: mine ? "true" : undefined, page_size: query.page_size ?? 100 },
    ...(signal && { signal }),
  });
}

export function fetchApprovalPage(url: string, signal?: AbortSignal): Promise<Page<Approval>> {
  return api.get<Page<Approval>>(url, signal ? { signal } : {});
}

export function fetchApproval(id: string, signal?: AbortSignal): Promise<Approval> {
  return api.get<Approval>(approvalPath(id), signal ? { signal } : {});
}

/** Exclusive for `claim_ttl_s`; only when one approval resolves it. */
export function claimApproval(id: string): Promise<Approval> {
  return api.post<Approval>(`${approvalPath(id)}claim/`);
}

export function releaseApproval(id: string): Promise<Approval> {
  return api.post<Approval>(`${approvalPath(id)}release/`);
}

export function decideApproval(id: string, body: { decision: "approve" | "reject"; comment: string; data: JsonValue }): Promise<Approval> {
  return api.post<Approval>(`${approvalPath(id)}decide/`, body);
}
