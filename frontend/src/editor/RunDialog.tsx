import { useEffect, useMemo, useState } from "react";
import { Link } from "react-router";

import { ApiError } from "../api";
import { fetchRun, startRun, type JsonObject, type JsonSchema, type JsonValue, type RunSummary } from "../api/editor";
import type { Autosaver } from "./autosave";
import { Dialog } from "./Dialog";
import { useEditorStore } from "./store";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const POLL_MS = 700;
const POLL_LIMIT = 60;

/** Form values (strings from inputs) turned into the JSON the start node's schema asks for. */
export function inputsFromForm(schema: JsonSchema, values: Record<string, string | boolean>): { inputs: JsonObject; problems: Record<string, string> } {
  const inputs: JsonObject = {};
  const problems: Record<string, string> = {};
  const required = new Set(schema.required ?? []);
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const raw = values[name];
    const type = Array.isArray(field.type) ? field.type[0] : field.type;
    if (type === "boolean") {
      inputs[name] = raw === true;
      continue;
    }
    const text = typeof raw === "string" ? raw : "";
    if (text.trim() === "") {
      if (required.has(name)) problems[name] = "Required.";
      continue;
    }
    if (type === "number" || type === "integer") {
      const number = Number(text);
      if (!Number.isFinite(number) || (type === "integer" && !Number.isInteger(number))) problems[name] = type === "integer" ? "A whole number." : "A number.";
      else inputs[name] = number;
    } else if (type === "object" || type === "array") {
      try {
        inputs[name] = JSON.parse(text) as JsonValue;
      } catch {
        problems[name] = "Valid JSON.";
      }
    } else {
      inputs[name] = text;
    }
  }
  return { inputs, problems };
}

export function RunDialog({ autosaver, onClose }: { autosaver: Autosaver | null; onClose: () => void }) {
  const workflow = useEditorStore((state) => state.workflow);
  const startSchema = useEditorStore((state) => state.nodes.find((node) => node.data.spec.type === "start")?.data.spec.config?.input_schema) as JsonSchema | undefined;
  const schema = useMemo<JsonSchema>(() => (startSchema && typeof startSchema === "object" ? startSchema : { type: "object", properties: {} }), [startSchema]);
  const [target, setTarget] = useState<"draft" | "active">(workflow?.activeVersion ? "active" : "draft");
  const [values, setValues] = useState<Record<string, string | boolean>>(() => {
    const initial: Record<string, string | boolean> = {};
    for (const [name, field] of Object.entries(schema.properties ?? {})) {
      if (field.default !== undefined) initial[name] = typeof field.default === "boolean" ? field.default : typeof field.default === "string" ? field.default : JSON.stringify(field.default);
    }
    return initial;
  });
  const variables = useEditorStore((state) => state.meta.variables);
  const [overrides, setOverrides] = useState<Record<string, string>>({});
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [run, setRun] = useState<RunSummary | null>(null);

  useEffect(() => {
    if (!run || TERMINAL.has(run.status)) return;
    let polls = 0;
    let stopped = false;
    const timer = setInterval(async () => {
      polls += 1;
      if (polls > POLL_LIMIT) return clearInterval(timer);
      try {
        const next = await fetchRun(run.id);
        if (!stopped) setRun(next);
        if (TERMINAL.has(next.status) || next.status === "waiting") clearInterval(timer);
      } catch {
        clearInterval(timer);
      }
    }, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [run?.id, run?.status, run]);

  const submit = async () => {
    if (!workflow) return;
    const parsed = inputsFromForm(schema, values);
    // Variables left at their default are not sent; the run uses the workflow's own.
    const variableSchema: JsonSchema = { type: "object", properties: Object.fromEntries((variables ?? []).map((variable) => [variable.name, { type: variable.type }])) };
    const changed = Object.fromEntries(Object.entries(overrides).filter(([, text]) => text.trim() !== ""));
    const parsedVariables = inputsFromForm(variableSchema, changed);
    const variableProblems = Object.fromEntries(Object.entries(parsedVariables.problems).map(([name, problem]) => [`vars.${name}`, problem]));
    setProblems({ ...parsed.problems, ...variableProblems });
    if (Object.keys(parsed.problems).length || Object.keys(variableProblems).length) return;
    const overridden = Object.keys(parsedVariables.inputs).length ? { variables: parsedVariables.inputs } : {};
    setBusy(true);
    setError(null);
    try {
      if (target === "draft" && !(await autosaver?.flush())) {
        setError("The draft could not be saved; a draft run needs the saved draft.");
        return;
      }
      setRun(await startRun(workflow.id, target === "draft" ? { inputs: parsed.inputs, draft: true, ...overridden } : { inputs: parsed.inputs, ...overridden }));
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : "The run could not be started.");
    } finally {
      setBusy(false);
    }
  };

  const properties = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  return (
    <Dialog title="Run workflow" onClose={onClose} testId="run-dialog">
      {run ? (
        <div data-testid="run-result" data-run-id={run.id} data-status={run.status}>
          <p>
            Run{" "}
            <Link to={`/runs/${run.id}`} data-testid="run-link">
              {run.id.slice(0, 8)}
            </Link>{" "}
            is <strong data-testid="run-status">{run.status}</strong>
            {run.is_draft ? " (draft)" : run.version ? ` (version ${run.version})` : ""}.
          </p>
          {run.status === "succeeded" && run.outputs !== null && <pre className="fd-code" data-testid="run-outputs">{JSON.stringify(run.outputs, null, 2)}</pre>}
          {run.status === "failed" && run.error !== null && <pre className="fd-code">{JSON.stringify(run.error, null, 2)}</pre>}
          <div className="fd-dialog__actions">
            <button type="button" className="button button--quiet" onClick={() => setRun(null)}>
              Run again
            </button>
            <Link className="button" to={`/runs/${run.id}`} data-testid="run-open">
              Open the run
            </Link>
          </div>
        </div>
      ) : (
        <form
          className="fd-form"
          onSubmit={(event) => {
            event.preventDefault();
            void submit();
          }}
        >
          <fieldset className="fd-radio">
            <legend className="fd-field__label">What to run</legend>
            <label>
              <input type="radio" name="target" checked={target === "draft"} onChange={() => setTarget("draft")} data-testid="run-target-draft" /> The draft
            </label>
            <label>
              <input type="radio" name="target" checked={target === "active"} disabled={!workflow?.activeVersion} onChange={() => setTarget("active")} data-testid="run-target-active" /> The active version
              {workflow?.activeVersion ? ` (v${workflow.activeVersion})` : " (none yet)"}
            </label>
          </fieldset>
          {properties.length === 0 && <p className="muted">This workflow takes no inputs.</p>}
          {properties.map(([name, field]) => {
            const type = Array.isArray(field.type) ? field.type[0] : field.type;
            const value = values[name];
            const set = (next: string | boolean) => setValues((current) => ({ ...current, [name]: next }));
            return (
              <label className="fd-field" key={name}>
                <span className="fd-field__label">
                  {field.title ?? name}
                  {required.has(name) && " *"}
                </span>
                {type === "boolean" ? (
                  <input type="checkbox" checked={value === true} onChange={(event) => set(event.target.checked)} data-testid={`run-input-${name}`} />
                ) : field.enum ? (
                  <select className="fd-input" value={typeof value === "string" ? value : ""} onChange={(event) => set(event.target.value)} data-testid={`run-input-${name}`}>
                    <option value="">—</option>
                    {field.enum.map((option) => (
                      <option key={String(option)}>{String(option)}</option>
                    ))}
                  </select>
                ) : type === "object" || type === "array" ? (
                  <textarea className="fd-input fd-input--code" rows={3} value={typeof value === "string" ? value : ""} onChange={(event) => set(event.target.value)} data-testid={`run-input-${name}`} />
                ) : (
                  <input
                    className="fd-input"
                    type={type === "number" || type === "integer" ? "number" : "text"}
                    value={typeof value === "string" ? value : ""}
                    onChange={(event) => set(event.target.value)}
                    data-testid={`run-input-${name}`}
                  />
                )}
                {field.description && <span className="fd-field__help">{field.description}</span>}
                {problems[name] && <span className="fd-field__issue-inline">{problems[name]}</span>}
              </label>
            );
          })}
          {(variables ?? []).length > 0 && (
            <details className="fd-run-variables">
              <summary>Variables for this run</summary>
              {(variables ?? []).map((variable) => (
                <label className="fd-field" key={variable.name}>
                  <span className="fd-field__label">
                    vars.{variable.name} <span className="muted">({variable.type})</span>
                  </span>
                  <input
                    className="fd-input"
                    placeholder={variable.default === undefined ? "no default" : `default: ${typeof variable.default === "string" ? variable.default : JSON.stringify(variable.default)}`}
                    value={overrides[variable.name] ?? ""}
                    onChange={(event) => setOverrides((current) => ({ ...current, [variable.name]: event.target.value }))}
                    data-testid={`run-variable-${variable.name}`}
                  />
                  {problems[`vars.${variable.name}`] && <span className="fd-field__issue-inline">{problems[`vars.${variable.name}`]}</span>}
                </label>
              ))}
            </details>
          )}
          {error && (
            <p className="notice notice--error" role="alert" data-testid="run-error">
              {error}
            </p>
          )}
          <div className="fd-dialog__actions">
            <button type="button" className="button button--quiet" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="button" disabled={busy} data-testid="run-submit">
              {busy ? "Starting…" : "Start run"}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
