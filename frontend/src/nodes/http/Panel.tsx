import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

const FIELDS = ["method", "url", "query", "headers", "body", "credential", "response", "max_response_bytes", "max_redirects"];

/** Request first (method, URL, query, headers, body), then how the answer is read. */
export function HttpPanel(props: PanelProps) {
  return (
    <>
      <ConfigForm {...props} fields={FIELDS} />
      <p className="muted fd-panel__hint">A credential is a saved credential's id or name; its secret never appears in the workflow.</p>
    </>
  );
}
