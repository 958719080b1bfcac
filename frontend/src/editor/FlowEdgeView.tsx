import { BaseEdge, getBezierPath, type EdgeProps, type EdgeTypes } from "@xyflow/react";
import { memo } from "react";

import type { FlowEdge } from "./mapping";
import { useEditorStore } from "./store";

/** An edge that turns red, with its problem as a tooltip, when validation names it. */
export const FlowEdgeView = memo(function FlowEdgeView({ id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, markerEnd, selected }: EdgeProps<FlowEdge>) {
  const issue = useEditorStore((state) => state.issuesByEdge[id]);
  const [path] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  return (
    <g data-testid={`edge-${id}`} className={issue ? "fd-edge has-issues" : "fd-edge"}>
      {issue && <title>{issue}</title>}
      <BaseEdge id={id} path={path} markerEnd={markerEnd} className={selected ? "fd-edge__path is-selected" : "fd-edge__path"} />
    </g>
  );
});

export const edgeTypes: EdgeTypes = { flow: FlowEdgeView };
