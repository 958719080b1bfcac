/** Shapes of the JSON the API answers with (DESIGN §7). Extend as endpoints are used. */

/** Every list endpoint is paginated this way (PageNumberPagination, `?page=` / `?page_size=`). */
export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export type WorkflowRole = "owner" | "editor" | "runner" | "viewer";

/** workflows/api/serializers.py: WorkflowSummarySerializer. */
export interface WorkflowSummary {
  id: number;
  name: string;
  description: string;
  tags: string[];
  /** The owner's username. */
  owner: string;
  /** The caller's role on this workflow. */
  role: WorkflowRole | null;
  /** Draft revision; a PATCH must send the current one (stale → 409). */
  revision: number;
  /** Number of the active published version, or null before the first publish. */
  active_version: number | null;
  is_archived: boolean;
  archived_at: string | null;
  max_concurrent_runs: number | null;
  timeout_s: number | null;
  created_at: string;
  updated_at: string;
}

/** `GET /api/workflows/{id}/export/`; `POST /api/workflows/import/` takes the same document. */
export interface WorkflowExport {
  format: "flowdeck.workflow";
  version: number;
  name: string;
  description: string;
  tags: string[];
  /** The graph document (DESIGN §3); the list page passes it through untouched. */
  graph: unknown;
}

export type ApprovalStatus = "pending" | "approved" | "rejected" | "expired" | "cancelled";

/** executions/api/approvals.py: ApprovalSerializer — the fields the shell reads. */
export interface ApprovalSummary {
  id: string;
  run: string;
  workflow: number;
  workflow_name: string;
  node_id: string;
  status: ApprovalStatus;
  title: string;
  assignees: { users: string[]; groups: string[] };
  claimed_by: string | null;
  due_at: string | null;
  created_at: string;
}
