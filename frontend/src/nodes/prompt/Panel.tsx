import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

export function PromptPanel(props: PanelProps) {
  return <ConfigForm {...props} />;
}
