import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

export function ConditionPanel(props: PanelProps) {
  return <ConfigForm {...props} />;
}
