import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

export function JoinPanel(props: PanelProps) {
  return <ConfigForm {...props} />;
}
