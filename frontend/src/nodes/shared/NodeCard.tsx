import { Handle, Position } from "@xyflow/react";
import { Fragment, memo, type ReactNode } from "react";

import { TARGET_HANDLE, type NodeSpec } from "../../editor/mapping";
import { acceptsInput, handlesOf } from "../../editor/schema";
import { useEditorStore } from "../../editor/store";
import { NODE_DEFAULTS } from "../defaults";

const CATEGORY_GLYPHS: Record<string, string> = {
  flow: "▶",
  ai: "✦",
  logic: "◇",
  human: "◉",
  timing: "◔",
  data: "⇄",
  agents: "⚙",
  integrations: "↗",
};

export function categoryGlyph(category: string | undefined): string {
  return (category && CATEGORY_GLYPHS[category]) || "●";
}

interface NodeCardProps {
  id: string;
  spec: NodeSpec;
  selected: boolean;
  /** Extra content under the summary line. */
  children?: ReactNode;
}

/** Issues of one node, as a primitive-friendly selection so the card re-renders only for its own. */
export function useNodeIssues(id: string) {
  return useEditorStore((state) => state.issuesByNode[id]);
}

/**
 * The card every node type draws on the canvas: the type, the name, a summary line, the issue
 * badge, an input handle on the left and one output handle per registry handle on the right.
 */
export const NodeCard = memo(function NodeCard({ id, spec, selected, children }: NodeCardProps) {
  const info = useEditorStore((state) => state.registry[spec.type]);
  const issues = useNodeIssues(id);
  const handles = handlesOf(info, spec);
  const summary = NODE_DEFAULTS[spec.type]?.summary(spec) ?? "";
  const labelled = handles.length > 1 || (handles.length === 1 && handles[0] !== "out");
  const className = [
    "fd-node",
    `fd-node--${info?.category ?? "unknown"}`,
    selected ? "is-selected" : "",
    issues ? "has-issues" : "",
    spec.disabled ? "is-disabled" : "",
  ]
    .filter(Boolean)
    .join(" ");
  return (
    <div className={className} data-testid={`node-${id}`} data-node-type={spec.type}>
      {acceptsInput(spec.type) && (
        <Handle type="target" id={TARGET_HANDLE} position={Position.Left} data-testid={`handle-${id}-${TARGET_HANDLE}`} />
      )}
      <div className="fd-node__header">
        <span className="fd-node__glyph" aria-hidden="true">
          {categoryGlyph(info?.category)}
        </span>
        <span className="fd-node__type">{info?.label ?? spec.type}</span>
        {issues && (
          <span className="fd-node__issues" data-testid={`node-issues-${id}`} title={issues.messages.join("\n")}>
            {issues.count}
            <span className="visually-hidden"> problem{issues.count === 1 ? "" : "s"}</span>
          </span>
        )}
      </div>
      <div className="fd-node__name">{spec.name || id}</div>
      {summary && <div className="fd-node__summary">{summary}</div>}
      {issues && <div className="fd-node__problem">{issues.messages[0]}</div>}
      {children}
      {labelled && <div className="fd-node__handle-space" style={{ height: Math.max(0, handles.length - 1) * 16 }} />}
      {handles.map((handle, index) => {
        const top = labelled ? `${((index + 1) / (handles.length + 1)) * 100}%` : undefined;
        return (
          <Fragment key={handle}>
            {labelled && (
              <span className={`fd-node__handle-label fd-handle--${handle}`} style={{ top }}>
                {handle}
              </span>
            )}
            <Handle
              type="source"
              id={handle}
              position={Position.Right}
              className={`fd-handle fd-handle--${handle}`}
              style={top ? { top } : undefined}
              data-testid={`handle-${id}-${handle}`}
            />
          </Fragment>
        );
      })}
    </div>
  );
});
