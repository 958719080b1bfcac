/**
 * A small form renderer for an approval node's `form` JSON Schema: one field per top-level
 * property (text, number, whole number, yes/no, a choice from `enum`, JSON for objects and lists).
 * The server validates the data against the same schema; this only shapes and pre-checks it.
 */
import { useId } from "react";

import type { JsonObject, JsonSchema, JsonValue } from "../../api/editor";

export type FormValues = Record<string, string | boolean>;

function typeOf(field: JsonSchema): string | undefined {
  return Array.isArray(field.type) ? field.type.find((type) => type !== "null") : field.type;
}

export function initialValues(schema: JsonSchema | null): FormValues {
  const values: FormValues = {};
  for (const [name, field] of Object.entries(schema?.properties ?? {})) {
    if (field.default === undefined) continue;
    values[name] = typeof field.default === "boolean" ? field.default : typeof field.default === "string" ? field.default : JSON.stringify(field.default);
  }
  return values;
}

/** The JSON the values stand for, and a problem per field that cannot be turned into it. */
export function formData(schema: JsonSchema | null, values: FormValues): { data: JsonObject; problems: Record<string, string> } {
  const data: JsonObject = {};
  const problems: Record<string, string> = {};
  const required = new Set(schema?.required ?? []);
  for (const [name, field] of Object.entries(schema?.properties ?? {})) {
    const type = typeOf(field);
    const raw = values[name];
    if (type === "boolean") {
      data[name] = raw === true;
      continue;
    }
    const text = typeof raw === "string" ? raw : "";
    if (text.trim() === "") {
      if (required.has(name)) problems[name] = "Required.";
      continue;
    }
    if (type === "number" || type === "integer") {
      const number = Number(text);
      if (!Number.isFinite(number) || (type === "integer" && !Number.isInteger(number))) problems[name] = type === "integer" ? "Enter a whole number." : "Enter a number.";
      else data[name] = number;
    } else if (type === "object" || type === "array") {
      try {
        data[name] = JSON.parse(text) as JsonValue;
      } catch {
        problems[name] = "Enter valid JSON.";
      }
    } else {
      data[name] = field.enum ? ((field.enum.find((option) => String(option) === text) ?? text) as JsonValue) : text;
    }
  }
  return { data, problems };
}

export function SchemaForm({ schema, values, problems, onChange, disabled }: { schema: JsonSchema; values: FormValues; problems: Record<string, string>; onChange: (values: FormValues) => void; disabled?: boolean }) {
  const baseId = useId();
  const required = new Set(schema.required ?? []);
  return (
    <div className="schema-form" data-testid="approval-form">
      {Object.entries(schema.properties ?? {}).map(([name, field]) => {
        const id = `${baseId}-${name}`;
        const type = typeOf(field);
        const value = values[name];
        const set = (next: string | boolean) => onChange({ ...values, [name]: next });
        const label = `${field.title ?? name}${required.has(name) ? " *" : ""}`;
        return (
          <div className={problems[name] ? "form-field form-field--invalid" : "form-field"} key={name}>
            {type === "boolean" ? (
              <label>
                <input id={id} type="checkbox" checked={value === true} disabled={disabled} onChange={(event) => set(event.target.checked)} data-testid={`form-${name}`} /> {label}
              </label>
            ) : (
              <>
                <label htmlFor={id}>{label}</label>
                {field.enum ? (
                  <select id={id} className="select" value={typeof value === "string" ? value : ""} disabled={disabled} onChange={(event) => set(event.target.value)} data-testid={`form-${name}`}>
                    <option value="">—</option>
                    {field.enum.map((option) => (
                      <option key={String(option)} value={String(option)}>
                        {String(option)}
                      </option>
                    ))}
                  </select>
                ) : type === "object" || type === "array" ? (
                  <textarea id={id} className="input inbox-code" rows={3} value={typeof value === "string" ? value : ""} disabled={disabled} onChange={(event) => set(event.target.value)} data-testid={`form-${name}`} />
                ) : (
                  <input
                    id={id}
                    className="input"
                    type={type === "number" || type === "integer" ? "number" : field.format === "date" ? "date" : "text"}
                    value={typeof value === "string" ? value : ""}
                    disabled={disabled}
                    onChange={(event) => set(event.target.value)}
                    data-testid={`form-${name}`}
                  />
                )}
              </>
            )}
            {field.description && <p className="form-field__hint">{field.description}</p>}
            {problems[name] && (
              <p className="form-field__error" role="alert">
                {problems[name]}
              </p>
            )}
          </div>
        );
      })}
    </div>
  );
}
