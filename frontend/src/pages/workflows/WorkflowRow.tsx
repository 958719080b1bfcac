import { memo } from "react";
import { Link } from "react-router";

import type { WorkflowSummary } from "../../api";
import { formatDateTime, formatRelativeTime, versionLabel } from "../../lib/format";

export type WorkflowAction = "duplicate" | "export" | "archive" | "restore";

interface WorkflowRowProps {
  workflow: WorkflowSummary;
  /** The action running on this row, if any; the row's buttons wait for it. */
  busyAction: WorkflowAction | null;
  onAction: (action: WorkflowAction, workflow: WorkflowSummary) => void;
  onTagSelect: (tag: string) => void;
}

const BUSY_LABELS: Record<WorkflowAction, string> = {
  duplicate: "Duplicating…",
  export: "Exporting…",
  archive: "Archiving…",
  restore: "Restoring…",
};

export const WorkflowRow = memo(function WorkflowRow({ workflow, busyAction, onAction, onTagSelect }: WorkflowRowProps) {
  const version = versionLabel(workflow.active_version);
  const isOwner = workflow.role === "owner";
  const isBusy = busyAction !== null;
  const actionButton = (action: WorkflowAction, label: string) => (
    <button
      type="button"
      className="button button--small"
      onClick={() => onAction(action, workflow)}
      disabled={isBusy}
      aria-busy={busyAction === action}
      aria-label={`${label} ${workflow.name}`}
    >
      {busyAction === action ? BUSY_LABELS[action] : label}
    </button>
  );

  return (
    <li className="workflow-row" data-workflow-id={workflow.id}>
      <div className="workflow-row__main">
        <h2 className="workflow-row__name">
          <Link to={`/workflows/${workflow.id}`}>{workflow.name}</Link>
        </h2>
        {workflow.description && <p className="workflow-row__description">{workflow.description}</p>}
        {workflow.tags.length > 0 && (
          <ul className="tag-list" aria-label="Tags">
            {workflow.tags.map((tag) => (
              <li key={tag}>
                <button
                  type="button"
                  className="tag tag--button"
                  onClick={() => onTagSelect(tag)}
                  title={`Show workflows tagged “${tag}”`}
                >
                  {tag}
                </button>
              </li>
            ))}
          </ul>
        )}
        <div className="workflow-row__actions" role="group" aria-label={`Actions for ${workflow.name}`}>
          {actionButton("duplicate", "Duplicate")}
          {actionButton("export", "Export")}
          {isOwner && !workflow.is_archived && actionButton("archive", "Archive")}
          {isOwner && workflow.is_archived && actionButton("restore", "Restore")}
        </div>
      </div>
      <dl className="workflow-row__meta">
        <div>
          <dt>Status</dt>
          <dd>
            {workflow.is_archived ? (
              <span className="badge badge--muted">Archived</span>
            ) : version ? (
              <span className="badge badge--success">Published {version}</span>
            ) : (
              <span className="badge">Draft</span>
            )}
          </dd>
        </div>
        <div>
          <dt>Owner</dt>
          <dd>{workflow.owner}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>
            <time dateTime={workflow.updated_at} title={formatDateTime(workflow.updated_at)}>
              {formatRelativeTime(workflow.updated_at)}
            </time>
          </dd>
        </div>
      </dl>
    </li>
  );
});
