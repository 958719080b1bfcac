/**
 * Reading the registry's config schemas: where the templates and expressions of a config are
 * (the `x-flowdeck` marks, as workflows/node_types.py walks them), and which handles a node has.
 */
import type { JsonObject, JsonSchema, JsonValue, NodeTypeInfo } from "../api/editor";
import type { NodeSpec } from "./mapping";

export const ANNOTATION = "x-flowdeck";
export const ERROR_HANDLE = "error";

export type PathPart = string | number;
export type SourceKind = "template" | "expression";

export interface SourceField {
  path: PathPart[];
  source: string;
  kind: SourceKind;
}

type Step = { kind: "key"; name: string } | { kind: "other_keys"; known: Set<string> } | { kind: "index" };

interface Mark {
  steps: Step[];
  annotation: string;
}

const VALUE_MARKS = new Set(["json-schema", "agent", "assignees", "template", "expression"]);
const markCache = new WeakMap<JsonSchema, Mark[]>();

function collectMarks(schema: JsonSchema | undefined, steps: Step[], out: Mark[]): void {
  if (!schema || typeof schema !== "object") return;
  const annotation = schema[ANNOTATION];
  if (typeof annotation === "string" && VALUE_MARKS.has(annotation)) {
    out.push({ steps, annotation });
    return;
  }
  const properties = schema.properties ?? {};
  for (const [name, sub] of Object.entries(properties)) collectMarks(sub, [...steps, { kind: "key", name }], out);
  if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
    collectMarks(schema.additionalProperties, [...steps, { kind: "other_keys", known: new Set(Object.keys(properties)) }], out);
  }
  if (schema.items && typeof schema.items === "object") collectMarks(schema.items, [...steps, { kind: "index" }], out);
  for (const keyword of ["allOf", "anyOf", "oneOf"] as const) {
    for (const branch of schema[keyword] ?? []) collectMarks(branch, steps, out);
  }
  collectMarks(schema.then, steps, out);
  collectMarks(schema.else, steps, out);
}

function marksOf(schema: JsonSchema): Mark[] {
  let marks = markCache.get(schema);
  if (!marks) {
    marks = [];
    collectMarks(schema, [], marks);
    markCache.set(schema, marks);
  }
  return marks;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function resolve(steps: Step[], config: JsonValue): { path: PathPart[]; value: JsonValue }[] {
  let current: { path: PathPart[]; value: JsonValue }[] = [{ path: [], value: config }];
  for (const step of steps) {
    const next: { path: PathPart[]; value: JsonValue }[] = [];
    for (const { path, value } of current) {
      if (step.kind === "key" && isObject(value) && step.name in value) {
        next.push({ path: [...path, step.name], value: value[step.name] as JsonValue });
      } else if (step.kind === "other_keys" && isObject(value)) {
        for (const [key, item] of Object.entries(value)) if (!step.known.has(key)) next.push({ path: [...path, key], value: item });
      } else if (step.kind === "index" && Array.isArray(value)) {
        value.forEach((item, index) => next.push({ path: [...path, index], value: item }));
      }
    }
    current = next;
  }
  return current;
}

/** Every template and bare expression in a config, in schema order (paths relative to config). */
export function sourceFields(info: NodeTypeInfo | undefined, config: JsonObject | undefined): SourceField[] {
  if (!info || !config) return [];
  const seen = new Set<string>();
  const fields: SourceField[] = [];
  for (const mark of marksOf(info.config_schema)) {
    if (mark.annotation !== "template" && mark.annotation !== "expression") continue;
    for (const { path, value } of resolve(mark.steps, config)) {
      const key = path.join("\u0000");
      if (typeof value !== "string" || seen.has(key)) continue;
      seen.add(key);
      fields.push({ path, source: value, kind: mark.annotation });
    }
  }
  return fields;
}

/** Returns a copy of `config` with every template and expression passed through `rewrite`. */
export function mapSources(info: NodeTypeInfo | undefined, config: JsonObject, rewrite: (source: string) => string): JsonObject {
  const copy = structuredClone(config);
  for (const field of sourceFields(info, config)) {
    let holder: JsonValue = copy;
    for (const part of field.path.slice(0, -1)) holder = (holder as Record<string | number, JsonValue>)[part] as JsonValue;
    const last = field.path[field.path.length - 1] as PathPart;
    (holder as Record<string | number, JsonValue>)[last] = rewrite(field.source);
  }
  return copy;
}

/** The handles a node may have edges from, `error` included when `on_error` is `branch`. */
export function handlesOf(info: NodeTypeInfo | undefined, spec: Pick<NodeSpec, "config" | "on_error">): string[] {
  if (!info) return [];
  let handles: string[];
  if (info.handles.kind === "fixed") {
    handles = [...info.handles.values];
  } else {
    const { source, extra } = info.handles;
    handles = [];
    const entries = spec.config?.[source];
    if (Array.isArray(entries)) {
      for (const entry of entries) {
        const handle = isObject(entry) ? entry.handle : undefined;
        if (typeof handle === "string" && handle && !handles.includes(handle)) handles.push(handle);
      }
    }
    for (const handle of extra) if (!handles.includes(handle)) handles.push(handle);
  }
  if (spec.on_error === "branch") handles.push(ERROR_HANDLE);
  return handles;
}

/** Whether the type takes incoming edges (only `start` does not). */
export function acceptsInput(type: string): boolean {
  return type !== "start";
}

/** The config a freshly dropped node starts with: the schema defaults, deep-copied. */
export function defaultConfig(info: NodeTypeInfo | undefined): JsonObject {
  return info ? structuredClone(info.defaults) : {};
}
