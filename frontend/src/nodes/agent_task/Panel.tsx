import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

export function AgentTaskPanel(props: PanelProps) {
  return <ConfigForm {...props} />;
}
