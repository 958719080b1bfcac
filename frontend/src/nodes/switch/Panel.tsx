import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

/** Cases are checked in order; each case's handle becomes an output handle on the card. */
export function SwitchPanel(props: PanelProps) {
  return (
    <>
      <ConfigForm {...props} />
      <p className="muted fd-panel__hint">When no case is true the node takes its default handle.</p>
    </>
  );
}
