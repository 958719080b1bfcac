import { useState } from "react";

import type { JsonObject, JsonValue } from "../../api/editor";
import { Field, JsonInput, issuesAt, useNodeFieldIssues } from "../../editor/panel/ConfigForm";
import type { PanelProps } from "../types";

const FIELD_TYPES = ["string", "number", "integer", "boolean", "object", "array"] as const;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The run's inputs as a list of fields (name, type, required), which is what most workflows
 * need; "Edit as JSON" exposes the whole JSON Schema for anything richer.
 */
export function StartPanel({ nodeId, spec, onConfigChange }: PanelProps) {
  const config = spec.config ?? {};
  const schema: JsonObject = isObject(config.input_schema) ? config.input_schema : { type: "object", properties: {} };
  const properties: JsonObject = isObject(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required.filter((item): item is string => typeof item === "string") : [];
  const [asJson, setAsJson] = useState(false);
  const issues = issuesAt(useNodeFieldIssues(nodeId), "config.input_schema");

  const write = (nextProperties: JsonObject, nextRequired: string[]) => {
    const next: JsonObject = { ...schema, type: "object", properties: nextProperties };
    if (nextRequired.length) next.required = nextRequired;
    else delete next.required;
    onConfigChange({ ...config, input_schema: next }, "input_schema");
  };
  const entries = Object.entries(properties);
  const rename = (index: number, name: string) => {
    const oldName = entries[index]?.[0];
    const nextProperties: JsonObject = {};
    entries.forEach(([key, value], position) => {
      nextProperties[position === index ? name : key] = value;
    });
    write(nextProperties, required.map((item) => (item === oldName ? name : item)));
  };

  return (
    <div className="fd-form">
      <Field name="input_schema" label="Run inputs" description="The fields of the run form; runs are checked against them." issues={issues}>
        {({ inputId }) =>
          asJson ? (
            <JsonInput id={inputId} value={config.input_schema} onChange={(value: JsonValue | undefined) => onConfigChange(value === undefined ? Object.fromEntries(Object.entries(config).filter(([key]) => key !== "input_schema")) : { ...config, input_schema: value }, "input_schema")} testId="field-input_schema" rows={10} />
          ) : (
            <div className="fd-inputs" id={inputId}>
              {entries.map(([name, value], index) => {
                const fieldSchema = isObject(value) ? value : {};
                const type = typeof fieldSchema.type === "string" ? fieldSchema.type : "string";
                return (
                  <div className="fd-inputs__row" key={index}>
                    <input className="fd-input" aria-label={`Input ${index + 1} name`} value={name} data-testid={`start-field-name-${index}`} onChange={(event) => rename(index, event.target.value)} />
                    <select
                      className="fd-input"
                      aria-label={`Input ${index + 1} type`}
                      value={type}
                      data-testid={`start-field-type-${index}`}
                      onChange={(event) => write({ ...properties, [name]: { ...fieldSchema, type: event.target.value } }, required)}
                    >
                      {FIELD_TYPES.map((option) => (
                        <option key={option}>{option}</option>
                      ))}
                    </select>
                    <label className="fd-inputs__required">
                      <input
                        type="checkbox"
                        checked={required.includes(name)}
                        data-testid={`start-field-required-${index}`}
                        onChange={(event) => write(properties, event.target.checked ? [...required, name] : required.filter((item) => item !== name))}
                      />
                      required
                    </label>
                    <button type="button" className="icon-button" aria-label={`Remove input ${name}`} onClick={() => write(Object.fromEntries(entries.filter((_, position) => position !== index)), required.filter((item) => item !== name))}>
                      ×
                    </button>
                  </div>
                );
              })}
              <button
                type="button"
                className="button button--quiet fd-small"
                data-testid="start-field-add"
                onClick={() => {
                  let candidate = "input";
                  for (let suffix = 2; candidate in properties; suffix += 1) candidate = `input_${suffix}`;
                  write({ ...properties, [candidate]: { type: "string" } }, required);
                }}
              >
                Add input
              </button>
            </div>
          )
        }
      </Field>
      <button type="button" className="button button--quiet fd-small" onClick={() => setAsJson((value) => !value)}>
        {asJson ? "Edit as fields" : "Edit as JSON"}
      </button>
    </div>
  );
}
