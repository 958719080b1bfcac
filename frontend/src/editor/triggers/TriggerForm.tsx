import { useEffect, useMemo, useState, type FormEvent } from "react";

import type { CatchUp, Overlap, ValidationIssue, WorkflowSummary } from "../../api";
import { listWorkflowChoices } from "../../api";
import { Field } from "../panel/ConfigForm";
import { TemplateInput } from "../panel/TemplateInput";
import type { Suggestion } from "../references";
import { describeCron } from "./cron";
import { CATCH_UP_LABELS, EVENT_STATUSES, generalErrors, KIND_LABELS, OVERLAP_LABELS, timeZones, type FormErrors, type TriggerFormState } from "./form";

/** What templates of a workflow-event trigger can read (README "Triggers"). */
const EVENT_SUGGESTIONS: Suggestion[] = [
  { value: "event.type", detail: "" },
  ...["id", "workflow", "workflow_name", "status", "source", "inputs", "outputs", "error", "created_at", "finished_at"].map((name) => ({ value: `event.run.${name}`, detail: "" })),
];
const eventSuggestions = () => EVENT_SUGGESTIONS;

function issues(errors: FormErrors, key: string): ValidationIssue[] {
  return (errors[key] ?? []).map((message) => ({ code: "invalid", message, path: key }));
}

interface TriggerFormProps {
  initial: TriggerFormState;
  isNew: boolean;
  /** Saves the form; answers the errors to show, or null when it was saved. */
  onSubmit: (form: TriggerFormState) => Promise<FormErrors | null>;
  onCancel: () => void;
}

/** Creates or edits one trigger; every server field error shows under its field. */
export function TriggerForm({ initial, isNew, onSubmit, onCancel }: TriggerFormProps) {
  const [form, setForm] = useState(initial);
  const [errors, setErrors] = useState<FormErrors>({});
  const [saving, setSaving] = useState(false);
  const [workflows, setWorkflows] = useState<WorkflowSummary[] | null>(null);
  const zones = useMemo(() => {
    const known = timeZones();
    return known.includes(form.timezone) ? known : [form.timezone, ...known];
  }, [form.timezone]);
  const set = (patch: Partial<TriggerFormState>) => setForm((current) => ({ ...current, ...patch }));

  useEffect(() => {
    if (form.kind !== "workflow_event") return;
    const controller = new AbortController();
    listWorkflowChoices(controller.signal)
      .then((page) => setWorkflows(page.results))
      .catch(() => setWorkflows([]));
    return () => controller.abort();
  }, [form.kind]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaving(true);
    try {
      setErrors((await onSubmit(form)) ?? {});
    } finally {
      setSaving(false);
    }
  };

  const general = generalErrors(errors);
  const chosen = form.sourceWorkflow;
  const workflowOptions = workflows ?? [];
  return (
    <form className="fd-trigger-form" onSubmit={(event) => void submit(event)} data-testid="trigger-form" data-kind={form.kind} noValidate>
      <h3 className="fd-panel__title">
        {isNew ? "New" : "Edit"} {KIND_LABELS[form.kind].toLowerCase()} trigger
      </h3>
      {general.length > 0 && (
        <ul className="fd-panel__issues" data-testid="trigger-form-errors">
          {general.map((message) => (
            <li key={message}>{message}</li>
          ))}
        </ul>
      )}
      <Field name="trigger-name" label="Name" description="Optional; shown in the list and the admin." issues={issues(errors, "name")}>
        {({ inputId, describedBy }) => <input id={inputId} className="fd-input" value={form.name} maxLength={200} aria-describedby={describedBy} data-testid="trigger-name" onChange={(event) => set({ name: event.target.value })} />}
      </Field>

      {form.kind === "webhook" && <p className="fd-field__help">A webhook has no settings: the request body becomes the run’s inputs. Its URL and signing secret appear once it is created.</p>}

      {form.kind === "schedule" && (
        <>
          <Field name="cron" label="Cron expression" required description={describeCron(form.cron, form.timezone)} issues={issues(errors, "cron")}>
            {({ inputId, describedBy, invalid }) => (
              <input
                id={inputId}
                className={`fd-input fd-input--code${invalid ? " is-invalid" : ""}`}
                value={form.cron}
                placeholder="30 2 * * 1-5"
                spellCheck={false}
                aria-invalid={invalid || undefined}
                aria-describedby={describedBy}
                data-testid="trigger-cron"
                onChange={(event) => set({ cron: event.target.value })}
              />
            )}
          </Field>
          <Field name="timezone" label="Time zone" description="The cron fields are read on this zone’s wall clock." issues={issues(errors, "timezone")}>
            {({ inputId, describedBy }) => (
              <select id={inputId} className="fd-input" value={form.timezone} aria-describedby={describedBy} data-testid="trigger-timezone" onChange={(event) => set({ timezone: event.target.value })}>
                {zones.map((zone) => (
                  <option key={zone} value={zone}>
                    {zone}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field name="catch_up" label="Missed slots" description="What happens to slots missed while nothing was ticking." issues={issues(errors, "catch_up")}>
            {({ inputId, describedBy }) => (
              <select id={inputId} className="fd-input" value={form.catchUp} aria-describedby={describedBy} data-testid="trigger-catch-up" onChange={(event) => set({ catchUp: event.target.value as CatchUp })}>
                {(Object.keys(CATCH_UP_LABELS) as CatchUp[]).map((value) => (
                  <option key={value} value={value}>
                    {CATCH_UP_LABELS[value]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field name="overlap" label="When the previous run is still going" issues={issues(errors, "overlap")}>
            {({ inputId, describedBy }) => (
              <select id={inputId} className="fd-input" value={form.overlap} aria-describedby={describedBy} data-testid="trigger-overlap" onChange={(event) => set({ overlap: event.target.value as Overlap })}>
                {(Object.keys(OVERLAP_LABELS) as Overlap[]).map((value) => (
                  <option key={value} value={value}>
                    {OVERLAP_LABELS[value]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field name="schedule-inputs" label="Inputs (JSON)" description="The same inputs for every run, e.g. {&quot;report&quot;: &quot;daily&quot;}. Leave empty for none." issues={issues(errors, "inputs")}>
            {({ inputId, describedBy, invalid }) => (
              <textarea
                id={inputId}
                rows={3}
                className={`fd-input fd-input--code${invalid ? " is-invalid" : ""}`}
                value={form.scheduleInputs}
                spellCheck={false}
                aria-describedby={describedBy}
                data-testid="trigger-schedule-inputs"
                onChange={(event) => set({ scheduleInputs: event.target.value })}
              />
            )}
          </Field>
        </>
      )}

      {form.kind === "workflow_event" && (
        <>
          <Field name="workflow" label="When a run of" required issues={issues(errors, "workflow")}>
            {({ inputId, describedBy, invalid }) => (
              <select
                id={inputId}
                className={`fd-input${invalid ? " is-invalid" : ""}`}
                value={chosen}
                aria-describedby={describedBy}
                data-testid="trigger-source-workflow"
                disabled={workflows === null}
                onChange={(event) => set({ sourceWorkflow: event.target.value })}
              >
                <option value="">{workflows === null ? "Loading workflows…" : "Choose a workflow"}</option>
                {chosen && !workflowOptions.some((workflow) => String(workflow.id) === chosen) && <option value={chosen}>Workflow #{chosen}</option>}
                {workflowOptions.map((workflow) => (
                  <option key={workflow.id} value={workflow.id}>
                    {workflow.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <fieldset className="fd-radio" data-testid="field-wrap-on">
            <legend className="fd-field__label">ends as</legend>
            {EVENT_STATUSES.map((status) => (
              <label key={status} className="fd-check">
                <input
                  type="checkbox"
                  checked={form.on.includes(status)}
                  data-testid={`trigger-on-${status}`}
                  onChange={(event) => set({ on: event.target.checked ? [...form.on, status] : form.on.filter((item) => item !== status) })}
                />
                {status}
              </label>
            ))}
            {(errors.on ?? []).length > 0 && (
              <ul className="fd-field__issues" data-testid="field-issue-on">
                {(errors.on ?? []).map((message) => (
                  <li key={message}>{message}</li>
                ))}
              </ul>
            )}
          </fieldset>
          <div className="fd-field" data-testid="field-wrap-event-inputs">
            <span className="fd-field__label">Inputs</span>
            <p className="fd-field__help">
              Each input of the new run is a template over the finished run, e.g. <code>{"{{ event.run.outputs.ticket }}"}</code>.
            </p>
            {form.eventInputs.map((row, index) => (
              <div className="fd-trigger-input" key={index}>
                <input
                  className="fd-input fd-input--code"
                  aria-label={`Input ${index + 1} name`}
                  value={row.name}
                  placeholder="name"
                  data-testid={`trigger-input-name-${index}`}
                  onChange={(event) => set({ eventInputs: form.eventInputs.map((item, position) => (position === index ? { ...item, name: event.target.value } : item)) })}
                />
                <TemplateInput
                  kind="template"
                  label={`Input ${index + 1} template`}
                  value={row.template}
                  suggestions={eventSuggestions}
                  testId={`trigger-input-template-${index}`}
                  onChange={(template) => set({ eventInputs: form.eventInputs.map((item, position) => (position === index ? { ...item, template } : item)) })}
                />
                <button type="button" className="icon-button" aria-label={`Remove input ${row.name || index + 1}`} onClick={() => set({ eventInputs: form.eventInputs.filter((_, position) => position !== index) })}>
                  ×
                </button>
              </div>
            ))}
            <button type="button" className="button button--quiet fd-small" data-testid="trigger-input-add" onClick={() => set({ eventInputs: [...form.eventInputs, { name: "", template: "" }] })}>
              Add input
            </button>
            {(errors.inputs ?? []).length > 0 && (
              <ul className="fd-field__issues" data-testid="field-issue-inputs">
                {(errors.inputs ?? []).map((message) => (
                  <li key={message}>{message}</li>
                ))}
              </ul>
            )}
          </div>
        </>
      )}

      <label className="fd-check">
        <input type="checkbox" checked={form.enabled} data-testid="trigger-enabled" onChange={(event) => set({ enabled: event.target.checked })} />
        Enabled
      </label>
      {!isNew && <p className="fd-field__help">Changing the settings or switching the trigger on makes you its owner: its runs will run as you.</p>}
      <div className="fd-trigger-form__actions">
        <button type="submit" className="button fd-small" disabled={saving} data-testid="trigger-save">
          {saving ? "Saving…" : isNew ? "Create trigger" : "Save"}
        </button>
        <button type="button" className="button button--quiet fd-small" onClick={onCancel} data-testid="trigger-cancel">
          Cancel
        </button>
      </div>
    </form>
  );
}
