import { ConfigForm } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

/** The child workflow by id, which of its versions ("active" or a number), and its inputs. */
export function SubworkflowPanel(props: PanelProps) {
  const workflow = props.spec.config?.workflow;
  return (
    <>
      <ConfigForm {...props} />
      {typeof workflow === "number" && (
        <p className="fd-panel__hint">
          <a href={`/workflows/${workflow}`} target="_blank" rel="noreferrer">
            Open workflow #{workflow}
          </a>
        </p>
      )}
    </>
  );
}
