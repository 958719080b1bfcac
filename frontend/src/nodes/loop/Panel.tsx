import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

const MODE_FIELDS: Record<string, string[]> = {
  for_each: ["mode", "items", "max_iterations", "concurrency", "result"],
  count: ["mode", "count", "max_iterations", "concurrency", "result"],
  while: ["mode", "condition", "max_iterations", "result"],
};

/** Shows only the settings the chosen mode uses (for_each: items, count: count, while: condition). */
export function LoopPanel(props: PanelProps) {
  const mode = typeof props.spec.config?.mode === "string" ? props.spec.config.mode : "for_each";
  return (
    <>
      <ConfigForm {...props} fields={MODE_FIELDS[mode] ?? MODE_FIELDS.for_each} />
      <p className="muted fd-panel__hint">Drop nodes inside the loop to build its body. Each pass reads loop.item and loop.index.</p>
    </>
  );
}
