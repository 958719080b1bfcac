/**
 * The trigger form's state and how it maps to and from the API's `config` (triggers/config.py).
 * Pure functions, so the mapping is tested without rendering anything.
 */
import type { CatchUp, EventStatus, JsonObject, JsonValue, Overlap, Trigger, TriggerKind } from "../../api";
import { ApiError } from "../../api";

export interface InputRow {
  name: string;
  template: string;
}

export interface TriggerFormState {
  kind: TriggerKind;
  name: string;
  enabled: boolean;
  cron: string;
  timezone: string;
  catchUp: CatchUp;
  overlap: Overlap;
  /** Schedules: the run's inputs as JSON text (constants). */
  scheduleInputs: string;
  /** Workflow events: the watched workflow's id, "" until one is chosen. */
  sourceWorkflow: string;
  on: EventStatus[];
  eventInputs: InputRow[];
}

export const KIND_LABELS: Record<TriggerKind, string> = {
  webhook: "Webhook",
  schedule: "Schedule",
  workflow_event: "Workflow event",
};

export const CATCH_UP_LABELS: Record<CatchUp, string> = {
  skip: "Skip every missed slot",
  once: "Run once for the latest missed slot",
  all: "Run every missed slot (at most 100)",
};

export const OVERLAP_LABELS: Record<Overlap, string> = {
  allow: "Start another run",
  skip: "Skip this slot",
  cancel_previous: "Cancel the previous run, then start",
};

export const EVENT_STATUSES: EventStatus[] = ["succeeded", "failed"];

/** The browser's own zone, so a new schedule reads in the designer's wall-clock time. */
export function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Every IANA zone the browser knows, UTC first. */
export function timeZones(): string[] {
  const supported = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return ["UTC", ...supported.filter((zone) => zone !== "UTC")];
}

export function emptyForm(kind: TriggerKind, zone: string = localZone()): TriggerFormState {
  return {
    kind,
    name: "",
    enabled: true,
    cron: "0 9 * * 1-5",
    timezone: zone,
    catchUp: "skip",
    overlap: "allow",
    scheduleInputs: "",
    sourceWorkflow: "",
    on: ["succeeded"],
    eventInputs: [],
  };
}

function text(value: JsonValue | undefined, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The form for editing a saved trigger. */
export function formFromTrigger(trigger: Trigger): TriggerFormState {
  const form = emptyForm(trigger.kind, "UTC");
  const config = trigger.config;
  form.name = trigger.name;
  form.enabled = trigger.enabled;
  if (trigger.kind === "schedule") {
    form.cron = text(config.cron, "");
    form.timezone = text(config.timezone, "UTC");
    form.catchUp = text(config.catch_up, "skip") as CatchUp;
    form.overlap = text(config.overlap, "allow") as Overlap;
    form.scheduleInputs = isObject(config.inputs) && Object.keys(config.inputs).length > 0 ? JSON.stringify(config.inputs, null, 2) : "";
  } else if (trigger.kind === "workflow_event") {
    form.sourceWorkflow = typeof config.workflow === "number" ? String(config.workflow) : "";
    form.on = Array.isArray(config.on) ? EVENT_STATUSES.filter((status) => (config.on as JsonValue[]).includes(status)) : ["succeeded"];
    form.eventInputs = isObject(config.inputs)
      ? Object.entries(config.inputs).map(([name, template]) => ({ name, template: typeof template === "string" ? template : JSON.stringify(template) }))
      : [];
  }
  return form;
}

/** Problems found before asking the server, keyed like the server's field errors. */
export type FormErrors = Record<string, string[]>;

export type MappedConfig = { config: JsonObject; errors: FormErrors };

/** The `config` the API takes for this form, or the fields the form cannot turn into one. */
export function configFromForm(form: TriggerFormState): MappedConfig {
  const errors: FormErrors = {};
  if (form.kind === "webhook") return { config: {}, errors };
  if (form.kind === "schedule") {
    let inputs: JsonObject = {};
    if (form.scheduleInputs.trim()) {
      try {
        const parsed = JSON.parse(form.scheduleInputs) as JsonValue;
        if (isObject(parsed)) inputs = parsed;
        else errors.inputs = ["Must be a JSON object: the run's inputs."];
      } catch {
        errors.inputs = ["Not valid JSON."];
      }
    }
    return {
      config: { cron: form.cron.trim(), timezone: form.timezone, catch_up: form.catchUp, overlap: form.overlap, inputs },
      errors,
    };
  }
  const inputs: Record<string, string> = {};
  const seen = new Set<string>();
  for (const row of form.eventInputs) {
    const name = row.name.trim();
    if (!name && !row.template.trim()) continue;
    if (!name) {
      errors.inputs = [...(errors.inputs ?? []), "Every input needs a name."];
      continue;
    }
    if (seen.has(name)) errors.inputs = [...(errors.inputs ?? []), `“${name}” is listed twice.`];
    seen.add(name);
    inputs[name] = row.template;
  }
  const workflow = Number(form.sourceWorkflow);
  if (!form.sourceWorkflow || !Number.isInteger(workflow)) errors.workflow = ["Choose the workflow whose runs start this one."];
  if (form.on.length === 0) errors.on = ["Choose at least one outcome."];
  return { config: { workflow, on: EVENT_STATUSES.filter((status) => form.on.includes(status)), inputs }, errors };
}

/** The body of a create request, or the form's own errors. */
export function createBody(form: TriggerFormState): { body: { kind: TriggerKind; name: string; config: JsonObject; enabled: boolean } | null; errors: FormErrors } {
  const { config, errors } = configFromForm(form);
  if (Object.keys(errors).length > 0) return { body: null, errors };
  return { body: { kind: form.kind, name: form.name.trim(), config, enabled: form.enabled }, errors };
}

function messages(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(messages);
  if (typeof value === "object" && value !== null) return Object.values(value).flatMap(messages);
  return [];
}

/**
 * The server's 400 answer as errors per form field: `config`'s keys (`cron`, `workflow`, …) are
 * lifted to the top so each shows under its own field; anything else stays under its name, and
 * `detail` or a bare `config` message goes to `non_field_errors`.
 */
export function serverFieldErrors(error: ApiError): FormErrors {
  const found: FormErrors = {};
  const add = (key: string, list: string[]) => {
    if (list.length) found[key] = [...(found[key] ?? []), ...list];
  };
  const body = error.body;
  if (typeof body === "object" && body !== null && !Array.isArray(body)) {
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      if (key === "config" && typeof value === "object" && value !== null && !Array.isArray(value)) {
        for (const [field, nested] of Object.entries(value as Record<string, unknown>)) add(field, messages(nested));
      } else if (key === "config" || key === "detail") {
        add("non_field_errors", messages(value));
      } else {
        add(key, messages(value));
      }
    }
  }
  if (Object.keys(found).length === 0) add("non_field_errors", [error.detail]);
  return found;
}

/** The form's fields; an error under any other key is shown at the top of the form. */
export const FORM_FIELDS = ["name", "enabled", "cron", "timezone", "catch_up", "overlap", "inputs", "workflow", "on"] as const;

export function generalErrors(errors: FormErrors): string[] {
  return Object.entries(errors)
    .filter(([key]) => !(FORM_FIELDS as readonly string[]).includes(key))
    .flatMap(([, list]) => list);
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]));
  }
  return value;
}

/**
 * What an edit sends: `config` only when it changed, since a changed config (or switching the
 * trigger on) makes the editor its owner, the user its runs run as.
 */
export function updateBody(trigger: Trigger, form: TriggerFormState, config: JsonObject): { name: string; enabled: boolean; config?: JsonObject } {
  const body: { name: string; enabled: boolean; config?: JsonObject } = { name: form.name.trim(), enabled: form.enabled };
  if (JSON.stringify(canonical(config)) !== JSON.stringify(canonical(trigger.config))) body.config = config;
  return body;
}
