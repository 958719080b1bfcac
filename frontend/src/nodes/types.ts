import type { ComponentType } from "react";
import type { NodeProps } from "@xyflow/react";

import type { ValidationIssue } from "../api";
import type { JsonObject, NodeTypeInfo } from "../api/editor";
import type { FlowNode, NodeSpec } from "../editor/mapping";

/** What a per-type check may look at besides the node itself. */
export interface CheckContext {
  nodeId: string;
  info: NodeTypeInfo | undefined;
  /** Number of incoming edges at the node's level. */
  incomingCount: number;
}

/**
 * The data half of a node type (nodes/<type>/defaults.ts): its starting config beyond the
 * registry's schema defaults, a one-line summary for the card, and the checks cheap enough to run
 * on every keystroke. The server's validation stays the authority.
 */
export interface NodeDefaults {
  /** Config for a freshly dropped node; receives the registry's schema defaults. */
  initialConfig?: (schemaDefaults: JsonObject) => JsonObject;
  /** One line shown on the card under the name. */
  summary: (spec: NodeSpec) => string;
  /** Issues with this node's config, paths like `config.expression`. */
  check?: (spec: NodeSpec, context: CheckContext) => Omit<ValidationIssue, "node_id">[];
}

export interface PanelProps {
  nodeId: string;
  spec: NodeSpec;
  info: NodeTypeInfo;
  /** Replaces the node's config; `field` groups keystrokes in one field into one undo step. */
  onConfigChange: (config: JsonObject, field: string) => void;
}

/** The view half of a node type: its card on the canvas and its side panel. */
export interface NodeComponents {
  Node: ComponentType<NodeProps<FlowNode>>;
  Panel: ComponentType<PanelProps>;
}
