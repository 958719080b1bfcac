/**
 * The one map from node type to its components (DESIGN §9). A new type adds a folder
 * nodes/<type>/{Node.tsx, Panel.tsx, defaults.ts} and one line here and in defaults.ts.
 * `nodeTypes` is built once at module scope so React Flow never sees a new object.
 */
import type { NodeTypes } from "@xyflow/react";

import { AgentTaskNode } from "./agent_task/Node";
import { AgentTaskPanel } from "./agent_task/Panel";
import { ApprovalNode } from "./approval/Node";
import { ApprovalPanel } from "./approval/Panel";
import { ConditionNode } from "./condition/Node";
import { ConditionPanel } from "./condition/Panel";
import { DelayNode } from "./delay/Node";
import { DelayPanel } from "./delay/Panel";
import { EndNode } from "./end/Node";
import { EndPanel } from "./end/Panel";
import { JoinNode } from "./join/Node";
import { JoinPanel } from "./join/Panel";
import { LoopNode } from "./loop/Node";
import { LoopPanel } from "./loop/Panel";
import { ParallelNode } from "./parallel/Node";
import { ParallelPanel } from "./parallel/Panel";
import { PromptNode } from "./prompt/Node";
import { PromptPanel } from "./prompt/Panel";
import { StartNode } from "./start/Node";
import { StartPanel } from "./start/Panel";
import { SwitchNode } from "./switch/Node";
import { SwitchPanel } from "./switch/Panel";
import { TransformNode } from "./transform/Node";
import { TransformPanel } from "./transform/Panel";
import type { NodeProps } from "@xyflow/react";
import { memo } from "react";

import type { FlowNode } from "../editor/mapping";
import { ConfigForm } from "../editor/panel/ConfigForm";
import { HttpNode } from "./http/Node";
import { HttpPanel } from "./http/Panel";
import { NodeCard } from "./shared/NodeCard";
import { SubworkflowNode } from "./subworkflow/Node";
import { SubworkflowPanel } from "./subworkflow/Panel";
import type { NodeComponents } from "./types";

export const NODE_COMPONENTS: Record<string, NodeComponents> = {
  start: { Node: StartNode, Panel: StartPanel },
  end: { Node: EndNode, Panel: EndPanel },
  prompt: { Node: PromptNode, Panel: PromptPanel },
  condition: { Node: ConditionNode, Panel: ConditionPanel },
  switch: { Node: SwitchNode, Panel: SwitchPanel },
  loop: { Node: LoopNode, Panel: LoopPanel },
  parallel: { Node: ParallelNode, Panel: ParallelPanel },
  join: { Node: JoinNode, Panel: JoinPanel },
  approval: { Node: ApprovalNode, Panel: ApprovalPanel },
  delay: { Node: DelayNode, Panel: DelayPanel },
  transform: { Node: TransformNode, Panel: TransformPanel },
  agent_task: { Node: AgentTaskNode, Panel: AgentTaskPanel },
  http: { Node: HttpNode, Panel: HttpPanel },
  subworkflow: { Node: SubworkflowNode, Panel: SubworkflowPanel },
};

/** Types the server knows but this build does not yet: a plain card and the generated form. */
export const FallbackNode = memo(function FallbackNode({ id, data, selected }: NodeProps<FlowNode>) {
  return <NodeCard id={id} spec={data.spec} selected={selected} />;
});
export const FallbackPanel = ConfigForm;

export const nodeTypes: NodeTypes = {
  ...Object.fromEntries(Object.entries(NODE_COMPONENTS).map(([type, components]) => [type, components.Node])),
  // React Flow draws any type missing from this map with `default`.
  default: FallbackNode,
};

export function panelFor(type: string): NodeComponents["Panel"] {
  return NODE_COMPONENTS[type]?.Panel ?? FallbackPanel;
}
