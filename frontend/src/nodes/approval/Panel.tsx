import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

export function ApprovalPanel(props: PanelProps) {
  return <ConfigForm {...props} />;
}
