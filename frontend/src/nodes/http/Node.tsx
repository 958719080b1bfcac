import type { NodeProps } from "@xyflow/react";
import { memo } from "react";

import type { FlowNode } from "../../editor/mapping";
import { NodeCard } from "../shared/NodeCard";

export const HttpNode = memo(function HttpNode({ id, data, selected }: NodeProps<FlowNode>) {
  return <NodeCard id={id} spec={data.spec} selected={selected} />;
});
