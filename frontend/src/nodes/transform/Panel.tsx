import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

export function TransformPanel(props: PanelProps) {
  return <ConfigForm {...props} />;
}
