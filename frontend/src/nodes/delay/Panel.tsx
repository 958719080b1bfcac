import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

export function DelayPanel(props: PanelProps) {
  return <ConfigForm {...props} />;
}
