import type { NodeProps } from "@xyflow/react";
import { memo } from "react";

import type { FlowNode } from "../../editor/mapping";
import { NodeCard } from "../shared/NodeCard";

export const SubworkflowNode = memo(function SubworkflowNode({ id, data, selected }: NodeProps<FlowNode>) {
  return <NodeCard id={id} spec={data.spec} selected={selected} />;
});
