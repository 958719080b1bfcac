import { useCallback, useEffect, useState } from "react";

import type { JsonObject } from "../../api/editor";
import { panelFor } from "../../nodes";
import type { NodeSpec } from "../mapping";
import { useEditorStore } from "../store";
import { Field, issuesAt, useNodeFieldIssues } from "./ConfigForm";

/** The id of the only selected node, or null when none or several are selected. */
export function useSingleSelection(): string | null {
  return useEditorStore((state) => {
    let found: string | null = null;
    for (const node of state.nodes) {
      if (!node.selected) continue;
      if (found !== null) return null;
      found = node.id;
    }
    return found;
  });
}

function IdField({ nodeId }: { nodeId: string }) {
  const [text, setText] = useState(nodeId);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    setText(nodeId);
    setProblem(null);
  }, [nodeId]);
  const commit = () => {
    if (text === nodeId) return;
    const result = useEditorStore.getState().renameNode(nodeId, text);
    setProblem(result);
    if (result === null) useEditorStore.getState().selectOnly([text]);
  };
  return (
    <Field name="id" label="Id" description="Used in expressions as nodes.<id>; renaming updates every reference." issues={problem ? [{ code: "invalid_node_id", message: problem }] : []}>
      {({ inputId, describedBy }) => (
        <input
          id={inputId}
          className="fd-input fd-input--code"
          value={text}
          aria-describedby={describedBy}
          data-testid="node-id-input"
          onChange={(event) => setText(event.target.value)}
          onBlur={commit}
          onKeyDown={(event) => {
            if (event.key === "Enter") commit();
          }}
        />
      )}
    </Field>
  );
}

export function NodePanel({ nodeId }: { nodeId: string }) {
  const node = useEditorStore((state) => state.nodes.find((item) => item.id === nodeId));
  const info = useEditorStore((state) => (node ? state.registry[node.data.spec.type] : undefined));
  const updateSpec = useEditorStore((state) => state.updateSpec);
  const issues = useNodeFieldIssues(nodeId);
  const onConfigChange = useCallback((config: JsonObject, field: string) => updateSpec(nodeId, { config }, `config.${field}`), [nodeId, updateSpec]);
  if (!node) return null;
  const { spec } = node.data;
  if (!info) return <p className="muted">Unknown node type “{spec.type}”.</p>;
  const Panel = panelFor(spec.type);
  const setSpec = (patch: Partial<NodeSpec>, field: string) => updateSpec(nodeId, patch, field);
  const general = issues.filter((issue) => !issue.path?.startsWith("config."));
  return (
    <div className="fd-node-panel" data-testid="node-panel" data-node-id={nodeId}>
      <header className="fd-panel__header">
        <h2 className="fd-panel__title">{info.label}</h2>
        <p className="muted">{info.description}</p>
      </header>
      {general.length > 0 && (
        <ul className="fd-panel__issues" data-testid="node-panel-issues">
          {general.map((issue) => (
            <li key={`${issue.code}:${issue.path}:${issue.message}`}>{issue.message}</li>
          ))}
        </ul>
      )}
      <Field name="name" label="Name" issues={issuesAt(issues, "name")}>
        {({ inputId }) => (
          <input
            id={inputId}
            className="fd-input"
            value={spec.name ?? ""}
            data-testid="node-name-input"
            onChange={(event) => setSpec({ name: event.target.value === "" ? undefined : event.target.value }, "name")}
          />
        )}
      </Field>
      <IdField nodeId={nodeId} />
      <Panel nodeId={nodeId} spec={spec} info={info} onConfigChange={onConfigChange} />
      <details className="fd-advanced">
        <summary>Errors, retries and notes</summary>
        {spec.type !== "start" && spec.type !== "end" && (
          <Field name="on_error" label="On error" description="fail stops the scope; continue takes out with the error; branch adds an error handle." issues={issuesAt(issues, "on_error")}>
            {({ inputId }) => (
              <select
                id={inputId}
                className="fd-input"
                value={spec.on_error ?? "fail"}
                data-testid="node-on-error"
                onChange={(event) => setSpec({ on_error: event.target.value === "fail" ? undefined : (event.target.value as NodeSpec["on_error"]) }, "on_error")}
              >
                <option value="fail">fail</option>
                {info.has_out_handle && <option value="continue">continue</option>}
                <option value="branch">branch</option>
              </select>
            )}
          </Field>
        )}
        {info.allows_retry && (
          <>
            <Field name="retry" label="Attempts" description="Total tries for retryable failures (1 = no retry)." issues={issuesAt(issues, "retry")}>
              {({ inputId }) => (
                <input
                  id={inputId}
                  type="number"
                  min={1}
                  max={100}
                  className="fd-input"
                  value={spec.retry?.max_attempts ?? 1}
                  onChange={(event) => {
                    const attempts = Number(event.target.value);
                    setSpec({ retry: attempts > 1 ? { ...(spec.retry ?? {}), max_attempts: attempts } : undefined }, "retry");
                  }}
                />
              )}
            </Field>
            <Field name="timeout_s" label="Timeout (seconds)" issues={issuesAt(issues, "timeout_s")}>
              {({ inputId }) => (
                <input
                  id={inputId}
                  type="number"
                  min={0}
                  className="fd-input"
                  value={spec.timeout_s ?? ""}
                  onChange={(event) => setSpec({ timeout_s: event.target.value === "" ? undefined : Number(event.target.value) }, "timeout_s")}
                />
              )}
            </Field>
          </>
        )}
        {spec.type !== "start" && spec.type !== "end" && (
          <label className="fd-check">
            <input type="checkbox" checked={spec.disabled === true} onChange={(event) => setSpec({ disabled: event.target.checked ? true : undefined }, "disabled")} />
            Disabled (passes its input through)
          </label>
        )}
        <Field name="notes" label="Notes" issues={[]}>
          {({ inputId }) => (
            <textarea id={inputId} className="fd-input" rows={3} value={spec.notes ?? ""} onChange={(event) => setSpec({ notes: event.target.value === "" ? undefined : event.target.value }, "notes")} />
          )}
        </Field>
      </details>
    </div>
  );
}
