import { memo } from "react";

import type { WorkflowSummary } from "../../api";
import { formatDateTime, formatRelativeTime, versionLabel } from "../../lib/format";

export const WorkflowRow = memo(function WorkflowRow({ workflow }: { workflow: WorkflowSummary }) {
  const version = versionLabel(workflow.active_version);
  return (
    <li className="workflow-row">
      <div className="workflow-row__main">
        <h2 className="workflow-row__name">{workflow.name}</h2>
        {workflow.description && <p className="workflow-row__description">{workflow.description}</p>}
        {workflow.tags.length > 0 && (
          <ul className="tag-list" aria-label="Tags">
            {workflow.tags.map((tag) => (
              <li key={tag} className="tag">
                {tag}
              </li>
            ))}
          </ul>
        )}
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
