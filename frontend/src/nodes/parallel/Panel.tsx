import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

export function ParallelPanel(props: PanelProps) {
  return <ConfigForm {...props} />;
}
