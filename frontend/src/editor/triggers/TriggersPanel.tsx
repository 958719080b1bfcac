import { useCallback, useEffect, useState } from "react";

import { ApiError, createTrigger, DEFAULT_GRACE_S, deleteTrigger, fetchTrigger, listTriggers, listWorkflowChoices, rotateTriggerSecret, updateTrigger, type Trigger, type TriggerFire, type TriggerKind } from "../../api";
import { describeCron } from "./cron";
import { createBody, emptyForm, formFromTrigger, KIND_LABELS, serverFieldErrors, configFromForm, updateBody, type FormErrors, type TriggerFormState } from "./form";
import { SecretBox, type RevealedSecret } from "./SecretBox";
import { TriggerForm } from "./TriggerForm";

type Mode = { type: "list" } | { type: "create"; kind: TriggerKind } | { type: "edit"; trigger: Trigger };

/** Choices for how long an old webhook secret keeps working after a rotation. */
export const GRACE_CHOICES: { seconds: number; label: string }[] = [
  { seconds: 0, label: "Stop at once" },
  { seconds: 15 * 60, label: "15 minutes" },
  { seconds: DEFAULT_GRACE_S, label: "1 hour" },
  { seconds: 24 * 3600, label: "1 day" },
  { seconds: 7 * 24 * 3600, label: "7 days" },
];

function when(iso: string | null): string {
  if (!iso) return "never";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A schedule's next slot on its own zone's wall clock, the clock its cron is read on. */
function inZone(iso: string | null, zone: string): string {
  if (!iso) return "none";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  try {
    return `${date.toLocaleString(undefined, { timeZone: zone, weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })} (${zone})`;
  } catch {
    return date.toLocaleString();
  }
}

function message(error: unknown, fallback: string): string {
  return error instanceof ApiError ? error.detail : fallback;
}

function Summary({ trigger, workflowNames }: { trigger: Trigger; workflowNames: ReadonlyMap<number, string> }) {
  const config = trigger.config;
  if (trigger.kind === "webhook") {
    return (
      <>
        <code className="fd-trigger__url" data-testid="trigger-url">
          {trigger.url}
        </code>
        {trigger.has_previous_secret && <p className="muted">Previous secret valid until {when(trigger.previous_secret_expires_at)}</p>}
      </>
    );
  }
  if (trigger.kind === "schedule") {
    const cron = typeof config.cron === "string" ? config.cron : "";
    const zone = typeof config.timezone === "string" ? config.timezone : "UTC";
    return (
      <>
        <p>
          <code>{cron}</code> · {describeCron(cron, zone)}
        </p>
        <p className="muted" data-testid="trigger-next-fire">
          Next: {trigger.enabled ? inZone(trigger.next_fire_at, zone) : "none while disabled"}
        </p>
      </>
    );
  }
  const on = Array.isArray(config.on) ? config.on.join(" or ") : "";
  const source = typeof config.workflow === "number" ? (workflowNames.get(config.workflow) ?? `workflow #${config.workflow}`) : "?";
  const inputs = config.inputs && typeof config.inputs === "object" && !Array.isArray(config.inputs) ? Object.keys(config.inputs) : [];
  return (
    <>
      <p data-testid="trigger-event-summary">
        When a run of “{source}” {on}
      </p>
      {inputs.length > 0 && <p className="muted">Inputs: {inputs.join(", ")}</p>}
    </>
  );
}

const OUTCOME_BADGES: Record<TriggerFire["outcome"], string> = { started: "badge--success", skipped: "badge--muted", refused: "badge--muted" };

/** The trigger's last firings, asked for when opened: what started, and why a slot was skipped or refused. */
function RecentFires({ trigger }: { trigger: Trigger }) {
  const [fires, setFires] = useState<TriggerFire[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => {
    setError(null);
    fetchTrigger(trigger.workflow, trigger.id)
      .then((detail) => setFires(detail.recent_fires ?? []))
      .catch((caught: unknown) => setError(message(caught, "Could not load the firings.")));
  };
  return (
    <details
      className="fd-trigger__fires"
      data-testid="trigger-fires"
      onToggle={(event) => {
        if (event.currentTarget.open) load();
      }}
    >
      <summary>Recent firings</summary>
      {error && <p className="fd-field__issue-inline">{error}</p>}
      {!error && fires === null && <p className="muted">Loading…</p>}
      {fires?.length === 0 && <p className="muted">None yet.</p>}
      {fires && fires.length > 0 && (
        <ul data-testid="trigger-fires-list">
          {fires.map((fire, index) => (
            <li key={`${fire.created_at}:${index}`}>
              <span className={`badge ${OUTCOME_BADGES[fire.outcome]}`}>{fire.outcome}</span> {when(fire.created_at)}
              {fire.run && (
                <>
                  {" · "}
                  <a href={`/runs/${encodeURIComponent(fire.run)}`}>run</a>
                </>
              )}
              {fire.reason && <span className="muted"> · {fire.reason}</span>}
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}

function RotateForm({ onRotate, onCancel }: { onRotate: (graceS: number) => Promise<void>; onCancel: () => void }) {
  const [grace, setGrace] = useState(DEFAULT_GRACE_S);
  const [busy, setBusy] = useState(false);
  return (
    <div className="fd-trigger__rotate" data-testid="trigger-rotate-form">
      <label className="fd-field">
        <span className="fd-field__label">Old secret keeps working for</span>
        <select className="fd-input" value={grace} onChange={(event) => setGrace(Number(event.target.value))} data-testid="trigger-rotate-grace">
          {GRACE_CHOICES.map((choice) => (
            <option key={choice.seconds} value={choice.seconds}>
              {choice.label}
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        className="button fd-small"
        disabled={busy}
        data-testid="trigger-rotate-confirm"
        onClick={() => {
          setBusy(true);
          void onRotate(grace).finally(() => setBusy(false));
        }}
      >
        Rotate secret
      </button>
      <button type="button" className="button button--quiet fd-small" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

function TriggerRow({ trigger, canEdit, workflowNames, onEdit, onChanged, onDeleted, onRotated }: { trigger: Trigger; canEdit: boolean; workflowNames: ReadonlyMap<number, string>; onEdit: () => void; onChanged: (trigger: Trigger) => void; onDeleted: () => void; onRotated: (revealed: RevealedSecret) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [rotating, setRotating] = useState(false);
  const [confirmingDelete, setConfirmingDelete] = useState(false);
  const [busy, setBusy] = useState(false);

  const setEnabled = async (enabled: boolean) => {
    setBusy(true);
    setError(null);
    try {
      onChanged(await updateTrigger(trigger.workflow, trigger.id, { enabled }));
    } catch (caught) {
      setError(message(caught, "Could not change the trigger."));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setError(null);
    try {
      await deleteTrigger(trigger.workflow, trigger.id);
      onDeleted();
    } catch (caught) {
      setError(message(caught, "Could not delete the trigger."));
    }
  };

  const rotate = async (graceS: number) => {
    setError(null);
    try {
      const { trigger: saved, secret } = await rotateTriggerSecret(trigger.workflow, trigger.id, graceS);
      onChanged(saved);
      setRotating(false);
      if (secret) onRotated({ triggerId: saved.id, secret, url: saved.url, reason: "rotated" });
    } catch (caught) {
      setError(message(caught, "Could not rotate the secret."));
    }
  };

  return (
    <li className="fd-trigger" data-testid={`trigger-${trigger.id}`} data-kind={trigger.kind} data-enabled={trigger.enabled}>
      <div className="fd-trigger__head">
        <strong>{trigger.name || KIND_LABELS[trigger.kind]}</strong>
        {trigger.name && <span className="badge badge--muted">{KIND_LABELS[trigger.kind]}</span>}
        <span className={`badge fd-trigger__enabled ${trigger.enabled ? "badge--success" : "badge--muted"}`} data-testid="trigger-state">
          {trigger.enabled ? "On" : "Off"}
        </span>
      </div>
      <Summary trigger={trigger} workflowNames={workflowNames} />
      <p className="muted">
        Runs as {trigger.owner} · last fired {when(trigger.last_fired_at)}
      </p>
      <RecentFires key={trigger.last_fired_at ?? ""} trigger={trigger} />
      {error && (
        <p className="fd-field__issue-inline" role="alert" data-testid="trigger-row-error">
          {error}
        </p>
      )}
      {canEdit && (
        <div className="fd-versions__actions">
          <button
            type="button"
            className="button button--quiet fd-small"
            disabled={busy}
            title={trigger.enabled ? "Stop this trigger from starting runs" : "Enabling makes you the trigger’s owner: its runs will run as you"}
            onClick={() => void setEnabled(!trigger.enabled)}
            data-testid="trigger-toggle"
          >
            {trigger.enabled ? "Disable" : "Enable"}
          </button>
          <button type="button" className="button button--quiet fd-small" onClick={onEdit} data-testid="trigger-edit">
            Edit
          </button>
          {trigger.kind === "webhook" && !rotating && (
            <button type="button" className="button button--quiet fd-small" onClick={() => setRotating(true)} data-testid="trigger-rotate">
              Rotate secret
            </button>
          )}
          {confirmingDelete ? (
            <>
              <button type="button" className="button fd-small" onClick={() => void remove()} data-testid="trigger-delete-confirm">
                Delete for good
              </button>
              <button type="button" className="button button--quiet fd-small" onClick={() => setConfirmingDelete(false)}>
                Keep
              </button>
            </>
          ) : (
            <button type="button" className="button button--quiet fd-small" onClick={() => setConfirmingDelete(true)} data-testid="trigger-delete">
              Delete
            </button>
          )}
        </div>
      )}
      {rotating && <RotateForm onRotate={rotate} onCancel={() => setRotating(false)} />}
    </li>
  );
}

/**
 * The workflow's triggers: editors create, change, switch off, delete them and rotate webhook
 * secrets; everyone else sees the list read-only.
 */
export function TriggersPanel({ workflowId, canEdit }: { workflowId: number; canEdit: boolean }) {
  const [triggers, setTriggers] = useState<Trigger[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [mode, setMode] = useState<Mode>({ type: "list" });
  const [revealed, setRevealed] = useState<RevealedSecret | null>(null);

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const page = await listTriggers(workflowId, signal);
        setTriggers(page.results);
        setLoadError(null);
      } catch (caught) {
        if (signal?.aborted) return;
        setLoadError(message(caught, "Could not load the triggers."));
      }
    },
    [workflowId],
  );

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  const [workflowNames, setWorkflowNames] = useState<ReadonlyMap<number, string>>(new Map());
  const followsWorkflows = triggers?.some((trigger) => trigger.kind === "workflow_event") ?? false;
  useEffect(() => {
    if (!followsWorkflows) return;
    const controller = new AbortController();
    listWorkflowChoices(controller.signal)
      .then((page) => setWorkflowNames(new Map(page.results.map((workflow) => [workflow.id, workflow.name]))))
      .catch(() => undefined);
    return () => controller.abort();
  }, [followsWorkflows]);

  const replace = (saved: Trigger) => setTriggers((list) => (list ?? []).map((item) => (item.id === saved.id ? saved : item)));

  const create = async (form: TriggerFormState): Promise<FormErrors | null> => {
    const { body, errors } = createBody(form);
    if (!body) return errors;
    try {
      const { trigger, secret } = await createTrigger(workflowId, body);
      setTriggers((list) => [...(list ?? []), trigger]);
      setMode({ type: "list" });
      setRevealed(secret ? { triggerId: trigger.id, secret, url: trigger.url, reason: "created" } : null);
      return null;
    } catch (caught) {
      if (caught instanceof ApiError && caught.isValidation) return serverFieldErrors(caught);
      return { non_field_errors: [message(caught, "Could not create the trigger.")] };
    }
  };

  const save = (trigger: Trigger) => async (form: TriggerFormState): Promise<FormErrors | null> => {
    const { config, errors } = configFromForm(form);
    if (Object.keys(errors).length > 0) return errors;
    try {
      replace(await updateTrigger(workflowId, trigger.id, updateBody(trigger, form, config)));
      setMode({ type: "list" });
      return null;
    } catch (caught) {
      if (caught instanceof ApiError && caught.isValidation) return serverFieldErrors(caught);
      return { non_field_errors: [message(caught, "Could not save the trigger.")] };
    }
  };

  if (loadError)
    return (
      <p className="notice notice--error" data-testid="triggers-error">
        {loadError}
      </p>
    );
  if (!triggers) return <p className="loading">Loading triggers…</p>;

  if (mode.type === "create") return <TriggerForm key={`new-${mode.kind}`} initial={emptyForm(mode.kind)} isNew onSubmit={create} onCancel={() => setMode({ type: "list" })} />;
  if (mode.type === "edit")
    return <TriggerForm key={`edit-${mode.trigger.id}`} initial={formFromTrigger(mode.trigger)} isNew={false} onSubmit={save(mode.trigger)} onCancel={() => setMode({ type: "list" })} />;

  return (
    <div className="fd-triggers" data-testid="triggers-panel">
      <p className="fd-field__help">Triggers start runs of the active version on their own, as the trigger’s owner.</p>
      {revealed && <SecretBox revealed={revealed} onDismiss={() => setRevealed(null)} />}
      {canEdit ? (
        <div className="fd-triggers__add">
          {(Object.keys(KIND_LABELS) as TriggerKind[]).map((kind) => (
            <button
              key={kind}
              type="button"
              className="button button--quiet fd-small"
              data-testid={`trigger-add-${kind}`}
              onClick={() => {
                setRevealed(null);
                setMode({ type: "create", kind });
              }}
            >
              + {KIND_LABELS[kind]}
            </button>
          ))}
        </div>
      ) : (
        <p className="muted" data-testid="triggers-read-only">
          You can see this workflow’s triggers; changing them needs the editor role.
        </p>
      )}
      {triggers.length === 0 ? (
        <p className="muted" data-testid="triggers-empty">
          No triggers yet: runs start only by hand or through the API.
        </p>
      ) : (
        <ul className="fd-triggers__list">
          {triggers.map((trigger) => (
            <TriggerRow
              key={trigger.id}
              trigger={trigger}
              canEdit={canEdit}
              workflowNames={workflowNames}
              onEdit={() => {
                setRevealed(null);
                setMode({ type: "edit", trigger });
              }}
              onChanged={replace}
              onDeleted={() => setTriggers((list) => (list ?? []).filter((item) => item.id !== trigger.id))}
              onRotated={setRevealed}
            />
          ))}
        </ul>
      )}
    </div>
  );
}
