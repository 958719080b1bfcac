import { Handle, NodeResizer, Position, type NodeProps } from "@xyflow/react";
import { memo } from "react";

import type { FlowNode } from "../../editor/mapping";
import { TARGET_HANDLE } from "../../editor/mapping";
import { useEditorStore } from "../../editor/store";
import { NODE_DEFAULTS } from "../defaults";
import { categoryGlyph, useNodeIssues } from "../shared/NodeCard";

const MIN_SIZE = { width: 240, height: 140 };

/** A loop is a resizable container; its body nodes are its children on the canvas. */
export const LoopNode = memo(function LoopNode({ id, data, selected }: NodeProps<FlowNode>) {
  const { spec } = data;
  const info = useEditorStore((state) => state.registry[spec.type]);
  const beginGesture = useEditorStore((state) => state.beginGesture);
  const issues = useNodeIssues(id);
  const summary = NODE_DEFAULTS.loop?.summary(spec) ?? "";
  return (
    <div className={`fd-loop${selected ? " is-selected" : ""}${issues ? " has-issues" : ""}`} data-testid={`node-${id}`} data-node-type="loop">
      <NodeResizer isVisible={selected} minWidth={MIN_SIZE.width} minHeight={MIN_SIZE.height} onResizeStart={beginGesture} />
      <Handle type="target" id={TARGET_HANDLE} position={Position.Left} data-testid={`handle-${id}-${TARGET_HANDLE}`} />
      <div className="fd-loop__header">
        <span className="fd-node__glyph" aria-hidden="true">
          {categoryGlyph(info?.category)}
        </span>
        <span className="fd-node__type">{info?.label ?? "Loop"}</span>
        <span className="fd-loop__name">{spec.name || id}</span>
        <span className="fd-loop__summary">{summary}</span>
        {issues && (
          <span className="fd-node__issues" data-testid={`node-issues-${id}`} title={issues.messages.join("\n")}>
            {issues.count}
          </span>
        )}
      </div>
      {issues && <div className="fd-node__problem fd-loop__problem">{issues.messages[0]}</div>}
      <Handle type="source" id="out" position={Position.Right} className="fd-handle" data-testid={`handle-${id}-out`} />
      {spec.on_error === "branch" && (
        <Handle type="source" id="error" position={Position.Right} className="fd-handle fd-handle--error" style={{ top: "75%" }} data-testid={`handle-${id}-error`} />
      )}
    </div>
  );
});
