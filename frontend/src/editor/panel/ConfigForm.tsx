/**
 * A form generated from a node type's config JSON Schema. The `x-flowdeck` marks choose the
 * widget: templates and expressions get autocomplete, JSON Schemas a JSON editor, assignees a
 * pair of name lists. Per-type panels compose it (choosing fields) rather than re-implementing it.
 */
import { useEffect, useId, useMemo, useState, type ReactNode } from "react";

import type { ValidationIssue } from "../../api";
import type { JsonObject, JsonSchema, JsonValue } from "../../api/editor";
import type { PanelProps } from "../../nodes/types";
import { requiredFields } from "../checks";
import { suggestionsFor, type Suggestion } from "../references";
import { ANNOTATION } from "../schema";
import { useEditorStore } from "../store";
import { TemplateInput } from "./TemplateInput";

export function useNodeFieldIssues(nodeId: string): ValidationIssue[] {
  const issues = useEditorStore((state) => state.issues);
  return useMemo(() => issues.filter((issue) => issue.node_id === nodeId && !issue.edge_id), [issues, nodeId]);
}

export function issuesAt(issues: ValidationIssue[], path: string): ValidationIssue[] {
  return issues.filter((issue) => issue.path === path || issue.path?.startsWith(`${path}.`));
}

/** Suggestions for the templates of one node, read from the store when asked. */
export function useSuggestions(nodeId: string): () => Suggestion[] {
  return useMemo(
    () => () => {
      const state = useEditorStore.getState();
      return suggestionsFor({ nodeId, nodes: state.nodes, edges: state.edges, registry: state.registry, variables: state.meta.variables });
    },
    [nodeId],
  );
}

interface FieldProps {
  label: string;
  description?: string | undefined;
  required?: boolean;
  issues: ValidationIssue[];
  name: string;
  children: (ids: { inputId: string; describedBy: string | undefined; invalid: boolean }) => ReactNode;
}

export function Field({ label, description, required, issues, name, children }: FieldProps) {
  const inputId = useId();
  const helpId = useId();
  const errorId = useId();
  const describedBy = [description ? helpId : "", issues.length ? errorId : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`fd-field${issues.length ? " has-issues" : ""}`} data-testid={`field-wrap-${name}`}>
      <label className="fd-field__label" htmlFor={inputId}>
        {label}
        {required && (
          <span className="fd-field__required" aria-hidden="true">
            {" "}
            *
          </span>
        )}
      </label>
      {children({ inputId, describedBy, invalid: issues.length > 0 })}
      {description && (
        <p className="fd-field__help" id={helpId}>
          {description}
        </p>
      )}
      {issues.length > 0 && (
        <ul className="fd-field__issues" id={errorId} data-testid={`field-issue-${name}`}>
          {issues.map((issue) => (
            <li key={`${issue.code}:${issue.path}:${issue.message}`}>{issue.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A JSON text area that only commits parseable JSON and resyncs when the value changes elsewhere. */
export function JsonInput({ value, onChange, id, testId, invalid, rows = 6 }: { value: JsonValue | undefined; onChange: (value: JsonValue | undefined) => void; id?: string; testId?: string; invalid?: boolean; rows?: number }) {
  const serialised = value === undefined ? "" : JSON.stringify(value, null, 2);
  const [text, setText] = useState(serialised);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setText((current) => {
      try {
        if (current.trim() && JSON.stringify(JSON.parse(current)) === JSON.stringify(value)) return current;
      } catch {
        // fall through: replace unparseable text only when the value changed from outside
      }
      if (!current.trim() && value === undefined) return current;
      return serialised;
    });
  }, [serialised, value]);
  return (
    <>
      <textarea
        id={id}
        className={`fd-input fd-input--code${invalid || error ? " is-invalid" : ""}`}
        rows={rows}
        value={text}
        spellCheck={false}
        data-testid={testId}
        onChange={(event) => {
          const next = event.target.value;
          setText(next);
          if (!next.trim()) {
            setError(null);
            onChange(undefined);
            return;
          }
          try {
            const parsed = JSON.parse(next) as JsonValue;
            setError(null);
            onChange(parsed);
          } catch {
            setError("Not valid JSON yet; the last valid value is kept.");
          }
        }}
      />
      {error && <p className="fd-field__help fd-field__help--warn">{error}</p>}
    </>
  );
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function commaList(value: JsonValue | undefined): string {
  return Array.isArray(value) ? value.filter((item) => typeof item === "string").join(", ") : "";
}

function parseCommaList(text: string): string[] {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

/** Name → template rows (end outputs, transform mapping, approval payload, agent task input). */
function KeyValueInput({ value, onChange, kind, suggestions, name, issues }: { value: JsonValue | undefined; onChange: (value: JsonObject) => void; kind: "template" | "expression"; suggestions: () => Suggestion[]; name: string; issues: ValidationIssue[] }) {
  const entries = isObject(value) ? Object.entries(value) : [];
  const update = (index: number, key: string, text: string) => {
    const next: JsonObject = {};
    entries.forEach(([entryKey, entryValue], position) => {
      if (position === index) next[key] = text;
      else next[entryKey] = entryValue;
    });
    onChange(next);
  };
  const remove = (index: number) => onChange(Object.fromEntries(entries.filter((_, position) => position !== index)));
  const add = () => {
    const used = new Set(entries.map(([key]) => key));
    let candidate = "field";
    for (let suffix = 2; used.has(candidate); suffix += 1) candidate = `field_${suffix}`;
    onChange({ ...Object.fromEntries(entries), [candidate]: "" });
  };
  return (
    <div className="fd-kv">
      {entries.map(([key, entryValue], index) => (
        <div className={`fd-kv__row${issuesAt(issues, `config.${name}.${key}`).length ? " has-issues" : ""}`} key={index}>
          <input
            className="fd-input fd-kv__key"
            aria-label={`Name ${index + 1}`}
            value={key}
            data-testid={`field-${name}-key-${index}`}
            onChange={(event) => update(index, event.target.value, typeof entryValue === "string" ? entryValue : "")}
          />
          <TemplateInput
            value={typeof entryValue === "string" ? entryValue : JSON.stringify(entryValue)}
            onChange={(text) => update(index, key, text)}
            kind={kind}
            suggestions={suggestions}
            label={`Value of ${key}`}
            testId={`field-${name}-value-${index}`}
            invalid={issuesAt(issues, `config.${name}.${key}`).length > 0}
          />
          <button type="button" className="icon-button" aria-label={`Remove ${key}`} onClick={() => remove(index)}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="button button--quiet fd-small" onClick={add} data-testid={`field-${name}-add`}>
        Add field
      </button>
    </div>
  );
}

/** A list of objects, each with its own small form (a switch's cases). */
function ObjectListInput({ schema, value, onChange, name, suggestions, issues }: { schema: JsonSchema; value: JsonValue | undefined; onChange: (value: JsonValue[]) => void; name: string; suggestions: () => Suggestion[]; issues: ValidationIssue[] }) {
  const items = Array.isArray(value) ? value : [];
  const itemSchema = schema.items ?? {};
  const properties = Object.entries(itemSchema.properties ?? {});
  return (
    <div className="fd-list">
      {items.map((item, index) => {
        const record = isObject(item) ? item : {};
        return (
          <div className="fd-list__item" key={index}>
            {properties.map(([key, sub]) => {
              const path = `config.${name}.${index}.${key}`;
              const fieldIssues = issuesAt(issues, path);
              const setValue = (next: JsonValue) => onChange(items.map((entry, position) => (position === index ? { ...record, [key]: next } : entry)));
              return (
                <label className="fd-list__field" key={key}>
                  <span className="fd-field__label">{sub.title ?? key}</span>
                  {sub[ANNOTATION] === "expression" || sub[ANNOTATION] === "template" ? (
                    <TemplateInput value={typeof record[key] === "string" ? (record[key] as string) : ""} onChange={setValue} kind={sub[ANNOTATION] === "template" ? "template" : "expression"} suggestions={suggestions} testId={`field-${name}-${index}-${key}`} invalid={fieldIssues.length > 0} />
                  ) : (
                    <input className={`fd-input${fieldIssues.length ? " is-invalid" : ""}`} value={typeof record[key] === "string" ? (record[key] as string) : ""} onChange={(event) => setValue(event.target.value)} data-testid={`field-${name}-${index}-${key}`} />
                  )}
                  {fieldIssues.map((issue) => (
                    <span className="fd-field__issue-inline" key={issue.code + issue.message}>
                      {issue.message}
                    </span>
                  ))}
                </label>
              );
            })}
            <div className="fd-list__actions">
              <button type="button" className="button button--quiet fd-small" disabled={index === 0} onClick={() => onChange(items.map((entry, position) => (position === index - 1 ? (items[index] as JsonValue) : position === index ? (items[index - 1] as JsonValue) : entry)))}>
                Move up
              </button>
              <button type="button" className="button button--quiet fd-small" onClick={() => onChange(items.filter((_, position) => position !== index))}>
                Remove
              </button>
            </div>
          </div>
        );
      })}
      <button
        type="button"
        className="button button--quiet fd-small"
        data-testid={`field-${name}-add`}
        onClick={() => onChange([...items, { handle: `case_${items.length + 1}`, expression: "" }])}
      >
        Add case
      </button>
    </div>
  );
}

interface SchemaWidgetProps {
  name: string;
  schema: JsonSchema;
  value: JsonValue | undefined;
  onChange: (value: JsonValue | undefined) => void;
  suggestions: () => Suggestion[];
  issues: ValidationIssue[];
  inputId: string;
  describedBy: string | undefined;
  invalid: boolean;
}

/** The input for one config property, chosen from its schema. */
export function SchemaWidget({ name, schema, value, onChange, suggestions, issues, inputId, describedBy, invalid }: SchemaWidgetProps) {
  const mark = schema[ANNOTATION];
  const testId = `field-${name}`;
  if (mark === "template" || mark === "expression") {
    return (
      <TemplateInput
        id={inputId}
        value={typeof value === "string" ? value : ""}
        onChange={(text) => onChange(text)}
        kind={mark}
        multiline={mark === "template"}
        suggestions={suggestions}
        invalid={invalid}
        describedBy={describedBy}
        testId={testId}
        placeholder={mark === "expression" ? "e.g. inputs.amount > 100" : "e.g. Hello {{ inputs.name }}"}
      />
    );
  }
  if (mark === "json-schema") return <JsonInput id={inputId} value={value} onChange={onChange} testId={testId} invalid={invalid} />;
  if (mark === "assignees") {
    const record = isObject(value) ? value : {};
    return (
      <div className="fd-assignees" id={inputId}>
        {(["users", "groups"] as const).map((key) => (
          <label key={key} className="fd-list__field">
            <span className="fd-field__label">{key === "users" ? "Users (comma-separated)" : "Groups (comma-separated)"}</span>
            <input
              className="fd-input"
              defaultValue={commaList(record[key])}
              data-testid={`${testId}-${key}`}
              onBlur={(event) => onChange({ users: [], groups: [], ...record, [key]: parseCommaList(event.target.value) })}
            />
          </label>
        ))}
      </div>
    );
  }
  if (schema.type === "object" && isObject(schema.additionalProperties)) {
    const inner = schema.additionalProperties[ANNOTATION];
    return <KeyValueInput name={name} value={value} onChange={onChange} kind={inner === "expression" ? "expression" : "template"} suggestions={suggestions} issues={issues} />;
  }
  if (schema.type === "array" && schema.items?.type === "object") {
    return <ObjectListInput name={name} schema={schema} value={value} onChange={onChange} suggestions={suggestions} issues={issues} />;
  }
  if (schema.type === "array") {
    return <input id={inputId} className="fd-input" defaultValue={commaList(value)} data-testid={testId} onBlur={(event) => onChange(parseCommaList(event.target.value))} />;
  }
  if (schema.enum) {
    return (
      <select id={inputId} className="fd-input" value={value === undefined ? "" : String(value)} data-testid={testId} aria-describedby={describedBy} onChange={(event) => onChange(event.target.value === "" ? undefined : event.target.value)}>
        {value === undefined && <option value="">—</option>}
        {schema.enum.map((option) => (
          <option key={String(option)} value={String(option)}>
            {String(option)}
          </option>
        ))}
      </select>
    );
  }
  if (schema.type === "boolean") {
    return <input id={inputId} type="checkbox" checked={value === true} data-testid={testId} onChange={(event) => onChange(event.target.checked)} />;
  }
  if (schema.type === "integer" || schema.type === "number") {
    return (
      <input
        id={inputId}
        type="number"
        className={`fd-input${invalid ? " is-invalid" : ""}`}
        value={typeof value === "number" ? value : ""}
        min={schema.minimum}
        max={schema.maximum}
        step={schema.type === "integer" ? 1 : "any"}
        data-testid={testId}
        aria-describedby={describedBy}
        onChange={(event) => onChange(event.target.value === "" ? undefined : Number(event.target.value))}
      />
    );
  }
  if (schema.anyOf) {
    // One of several forms (a loop's count, an HTTP body, a credential id or name): a text box,
    // with autocomplete when one form is a template or expression; digits give a number when a
    // numeric form exists and the text is not a template.
    const sourceBranch = schema.anyOf.find((branch) => branch[ANNOTATION] === "template" || branch[ANNOTATION] === "expression");
    const numeric = schema.anyOf.some((branch) => branch.type === "integer" || branch.type === "number");
    const text = value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
    const convert = (next: string): JsonValue | undefined => {
      const trimmed = next.trim();
      if (trimmed === "") return undefined;
      if (numeric && sourceBranch?.[ANNOTATION] !== "template" && /^\d+$/.test(trimmed)) return Number(trimmed);
      return next;
    };
    if (sourceBranch) {
      const kind = sourceBranch[ANNOTATION] === "template" ? "template" : "expression";
      return <TemplateInput id={inputId} value={text} kind={kind} multiline={kind === "template"} suggestions={suggestions} invalid={invalid} testId={testId} describedBy={describedBy} onChange={(next) => onChange(convert(next))} />;
    }
    return <input id={inputId} className={`fd-input${invalid ? " is-invalid" : ""}`} value={text} data-testid={testId} aria-describedby={describedBy} onChange={(event) => onChange(convert(event.target.value))} />;
  }
  if (schema.type === "string") {
    return (
      <input
        id={inputId}
        className={`fd-input${invalid ? " is-invalid" : ""}`}
        value={typeof value === "string" ? value : ""}
        maxLength={schema.maxLength}
        data-testid={testId}
        aria-describedby={describedBy}
        onChange={(event) => onChange(event.target.value === "" ? undefined : event.target.value)}
      />
    );
  }
  return <JsonInput id={inputId} value={value} onChange={onChange} testId={testId} invalid={invalid} />;
}

interface ConfigFormProps extends PanelProps {
  /** Properties to show, in order; all of the schema's by default. */
  fields?: string[];
}

export function ConfigForm({ nodeId, spec, info, onConfigChange, fields }: ConfigFormProps) {
  const config = spec.config ?? {};
  const schema = info.config_schema;
  const properties = schema.properties ?? {};
  const names = fields ?? Object.keys(properties);
  const required = requiredFields(schema, config);
  const issues = useNodeFieldIssues(nodeId);
  const suggestions = useSuggestions(nodeId);
  if (names.length === 0) return <p className="muted fd-panel__empty">This node has no settings.</p>;
  return (
    <div className="fd-form">
      {names.map((name) => {
        const sub = properties[name];
        if (!sub) return null;
        const fieldIssues = issuesAt(issues, `config.${name}`);
        return (
          <Field key={name} name={name} label={sub.title ?? name} description={sub.description} required={required.includes(name)} issues={fieldIssues}>
            {({ inputId, describedBy, invalid }) => (
              <SchemaWidget
                name={name}
                schema={sub}
                value={config[name]}
                suggestions={suggestions}
                issues={issues}
                inputId={inputId}
                describedBy={describedBy}
                invalid={invalid}
                onChange={(next) => {
                  const updated: JsonObject = { ...config };
                  if (next === undefined) delete updated[name];
                  else updated[name] = next;
                  onConfigChange(updated, name);
                }}
              />
            )}
          </Field>
        );
      })}
    </div>
  );
}
