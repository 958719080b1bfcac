import { useReactFlow } from "@xyflow/react";

import { useEditorStore } from "../store";

/** Every issue of the graph; choosing one selects and shows its node. */
export function IssuesPanel() {
  const issues = useEditorStore((state) => state.issues);
  const flow = useReactFlow();
  if (issues.length === 0) {
    return (
      <p className="fd-panel__ok" data-testid="issues-none">
        No problems found.
      </p>
    );
  }
  return (
    <ul className="fd-issues" data-testid="issues-list">
      {issues.map((issue, index) => (
        <li key={`${issue.code}:${issue.node_id}:${issue.edge_id}:${issue.path}:${index}`}>
          <button
            type="button"
            className="fd-issues__item"
            data-testid="issue-item"
            data-code={issue.code}
            onClick={() => {
              if (!issue.node_id) return;
              useEditorStore.getState().selectOnly([issue.node_id]);
              void flow.fitView({ nodes: [{ id: issue.node_id }], duration: 200, maxZoom: 1.2 });
            }}
          >
            <span className="fd-issues__code">{issue.code}</span>
            <span>{issue.message}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}
