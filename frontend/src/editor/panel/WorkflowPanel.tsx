import type { GraphVariable, JsonValue } from "../../api/editor";
import { useEditorStore } from "../store";

const VARIABLE_TYPES = ["string", "number", "integer", "boolean", "object", "array"] as const;

function parseDefault(type: string, text: string): JsonValue | undefined {
  if (text.trim() === "") return undefined;
  if (type === "string") return text;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

function showDefault(value: JsonValue | undefined): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * Shown when no single node is selected: the workflow's variables (read in templates as
 * `vars.<name>`, overridable per run) and how to get going.
 */
export function WorkflowPanel({ canEdit }: { canEdit: boolean }) {
  const variables = useEditorStore((state) => state.meta.variables);
  const setVariables = useEditorStore((state) => state.setVariables);
  const list = variables ?? [];
  const update = (index: number, patch: Partial<GraphVariable>) =>
    setVariables(
      list.map((variable, position) => {
        if (position !== index) return variable;
        const next: GraphVariable = { ...variable, ...patch };
        for (const key of Object.keys(patch) as (keyof GraphVariable)[]) if (patch[key] === undefined) delete next[key];
        return next;
      }),
      `variables.${index}`,
    );
  return (
    <fieldset className="fd-workflow-panel" disabled={!canEdit} data-testid="workflow-panel">
      <p className="muted fd-panel__empty" data-testid="inspector-empty">
        Select one node to edit its settings. Drag nodes from the library, connect their handles, and press Delete to remove a selection.
      </p>
      <details className="fd-shortcuts">
        <summary>Keyboard shortcuts</summary>
        <dl>
          <dt>Ctrl/⌘ Z, Shift Ctrl/⌘ Z or Ctrl Y</dt>
          <dd>Undo, redo</dd>
          <dt>Ctrl/⌘ C, V, D</dt>
          <dd>Copy, paste, duplicate the selection</dd>
          <dt>Ctrl/⌘ A</dt>
          <dd>Select every node</dd>
          <dt>Delete or Backspace</dt>
          <dd>Delete the selection (a loop with its body)</dd>
          <dt>Shift + drag, Shift/Ctrl/⌘ + click</dt>
          <dd>Select several</dd>
          <dt>Ctrl + Space in a template field</dt>
          <dd>List every name it can use</dd>
        </dl>
      </details>
      <h2 className="fd-panel__title">Variables</h2>
      <p className="fd-field__help">Constants read as vars.&lt;name&gt;; a run may override them.</p>
      {list.map((variable, index) => (
        <div className="fd-variable" key={index} data-testid={`variable-${index}`}>
          <input className="fd-input fd-input--code" aria-label={`Variable ${index + 1} name`} value={variable.name} data-testid={`variable-name-${index}`} onChange={(event) => update(index, { name: event.target.value })} />
          <select className="fd-input" aria-label={`Variable ${index + 1} type`} value={variable.type} onChange={(event) => update(index, { type: event.target.value, default: parseDefault(event.target.value, showDefault(variable.default)) })}>
            {VARIABLE_TYPES.map((type) => (
              <option key={type}>{type}</option>
            ))}
          </select>
          <input
            className="fd-input"
            aria-label={`Variable ${index + 1} default`}
            placeholder="default"
            value={showDefault(variable.default)}
            data-testid={`variable-default-${index}`}
            onChange={(event) => update(index, { default: parseDefault(variable.type, event.target.value) })}
          />
          <button type="button" className="icon-button" aria-label={`Remove variable ${variable.name}`} onClick={() => setVariables(list.filter((_, position) => position !== index), "variables")}>
            ×
          </button>
        </div>
      ))}
      <button
        type="button"
        className="button button--quiet fd-small"
        data-testid="variable-add"
        onClick={() => {
          const names = new Set(list.map((variable) => variable.name));
          let name = "variable";
          for (let suffix = 2; names.has(name); suffix += 1) name = `variable_${suffix}`;
          setVariables([...list, { name, type: "string", default: "" }], "variables");
        }}
      >
        Add variable
      </button>
    </fieldset>
  );
}
