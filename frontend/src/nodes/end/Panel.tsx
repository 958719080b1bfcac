import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

export function EndPanel(props: PanelProps) {
  return <ConfigForm {...props} />;
}
