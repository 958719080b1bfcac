/**
 * LLM providers. The API key field is write-only: the page shows only whether a key is set, and
 * the field starts empty every time (leaving it empty keeps the stored key).
 */
import { useState } from "react";

import { ApiError } from "../../api";
import { createProvider, deleteProvider, PROVIDER_KINDS, testProvider, updateProvider, type Provider, type ProviderInput, type ProviderKind } from "../../api/agents";
import type { JsonObject } from "../../api/editor";
import { Dialog } from "../../components/Dialog";
import { useAppStore } from "../../store";
import { FormField } from "../../components/FormField";
import { asApiError, parseJsonField } from "./shared";

interface Draft {
  name: string;
  kind: ProviderKind;
  base_url: string;
  api_key: string;
  remove_key: boolean;
  config: string;
  max_concurrency: string;
  requests_per_minute: string;
  timeout_s: string;
}

function draftOf(provider: Provider | null): Draft {
  return {
    name: provider?.name ?? "",
    kind: provider?.kind ?? "openai",
    base_url: provider?.base_url ?? "",
    api_key: "",
    remove_key: false,
    config: JSON.stringify(provider?.config ?? {}, null, 2),
    max_concurrency: String(provider?.max_concurrency ?? 0),
    requests_per_minute: String(provider?.requests_per_minute ?? 0),
    timeout_s: String(provider?.timeout_s ?? 120),
  };
}

function ProviderDialog({ provider, onClose, onSaved }: { provider: Provider | null; onClose: () => void; onSaved: (provider: Provider) => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(provider));
  // The endpoint is trusted (it bypasses the egress guard), so only staff may set it.
  const maySetEndpoint = useAppStore((state) => state.user?.is_staff ?? false);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [isSaving, setSaving] = useState(false);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((current) => ({ ...current, [key]: value }));

  const save = async () => {
    const config = parseJsonField(draft.config);
    if (config === undefined || typeof config !== "object" || config === null || Array.isArray(config)) {
      setErrors({ config: ["Enter a JSON object."] });
      return;
    }
    const input: ProviderInput = {
      name: draft.name.trim(),
      kind: draft.kind,
      ...(maySetEndpoint && { base_url: draft.base_url.trim() }),
      config: config as JsonObject,
      max_concurrency: Number(draft.max_concurrency) || 0,
      requests_per_minute: Number(draft.requests_per_minute) || 0,
      timeout_s: Number(draft.timeout_s) || 120,
    };
    if (draft.api_key) input.api_key = draft.api_key;
    else if (draft.remove_key) input.api_key = "";
    setSaving(true);
    setMessage(null);
    try {
      const saved = provider ? await updateProvider(provider.id, input) : await createProvider(input);
      // The key leaves the page with the request: nothing keeps it afterwards.
      setDraft((current) => ({ ...current, api_key: "" }));
      onSaved(saved);
    } catch (caught) {
      const error = asApiError(caught);
      setErrors(error.fieldErrors ?? {});
      setMessage(error.detail);
    } finally {
      setSaving(false);
    }
  };

  return (
    <Dialog title={provider ? `Edit ${provider.name}` : "New provider"} onClose={onClose}>
      <form
        className="form"
        data-testid="provider-form"
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <FormField label="Name" errors={errors.name}>
          {(props) => <input {...props} className="input" value={draft.name} onChange={(event) => set("name", event.target.value)} required data-testid="provider-name" />}
        </FormField>
        <FormField label="Kind" errors={errors.kind}>
          {(props) => (
            <select {...props} className="select" value={draft.kind} onChange={(event) => set("kind", event.target.value as ProviderKind)} data-testid="provider-kind">
              {PROVIDER_KINDS.map((kind) => (
                <option key={kind.value} value={kind.value}>
                  {kind.label}
                </option>
              ))}
            </select>
          )}
        </FormField>
        {draft.kind !== "scripted" && (
          <FormField
            label="Base URL"
            errors={errors.base_url}
            hint={
              !maySetEndpoint
                ? "Only staff can point a provider at another endpoint."
                : draft.kind === "openai"
                  ? "Any OpenAI-compatible endpoint (Ollama, vLLM, Azure, OpenRouter…); empty for OpenAI itself."
                  : "Empty for Anthropic's own API."
            }
          >
            {(props) => (
              <input {...props} className="input" value={draft.base_url} disabled={!maySetEndpoint} onChange={(event) => set("base_url", event.target.value)} placeholder="https://…" data-testid="provider-base-url" />
            )}
          </FormField>
        )}
        <FormField
          label="API key"
          errors={errors.api_key}
          hint={provider?.has_api_key ? "A key is set. Leave this empty to keep it; it is never shown again." : "Stored encrypted and never shown again."}
        >
          {(props) => (
            <input
              {...props}
              className="input"
              type="password"
              autoComplete="new-password"
              value={draft.api_key}
              onChange={(event) => set("api_key", event.target.value)}
              placeholder={provider?.has_api_key ? "•••••• (set)" : "Not set"}
              data-testid="provider-api-key"
            />
          )}
        </FormField>
        {provider?.has_api_key && (
          <label className="filter-bar__toggle">
            <input type="checkbox" checked={draft.remove_key} disabled={draft.api_key !== ""} onChange={(event) => set("remove_key", event.target.checked)} data-testid="provider-remove-key" /> Remove the stored key
          </label>
        )}
        <FormField label="Settings (JSON)" errors={errors.config} hint={draft.kind === "scripted" ? "Replies, rules, failures and streaming speed of the scripted provider." : "Extra settings for this kind of provider."}>
          {(props) => <textarea {...props} className="input agents-code" rows={5} value={draft.config} onChange={(event) => set("config", event.target.value)} data-testid="provider-config" />}
        </FormField>
        <div className="agents-form-row">
          <FormField label="Max concurrent calls" errors={errors.max_concurrency} hint="0: no limit">
            {(props) => <input {...props} className="input" type="number" min={0} value={draft.max_concurrency} onChange={(event) => set("max_concurrency", event.target.value)} />}
          </FormField>
          <FormField label="Requests per minute" errors={errors.requests_per_minute} hint="0: no limit">
            {(props) => <input {...props} className="input" type="number" min={0} value={draft.requests_per_minute} onChange={(event) => set("requests_per_minute", event.target.value)} />}
          </FormField>
          <FormField label="Timeout (s)" errors={errors.timeout_s}>
            {(props) => <input {...props} className="input" type="number" min={1} value={draft.timeout_s} onChange={(event) => set("timeout_s", event.target.value)} />}
          </FormField>
        </div>
        {message && (
          <p className="notice notice--error" role="alert">
            {message}
          </p>
        )}
        <div className="form__actions">
          <button type="button" className="button button--quiet" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button--primary" disabled={isSaving} data-testid="provider-save">
            {isSaving ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function ProvidersSection({ providers, onChanged }: { providers: Provider[]; onChanged: () => void }) {
  const [editing, setEditing] = useState<Provider | "new" | null>(null);
  const [results, setResults] = useState<Record<number, { ok: boolean; detail: string } | "testing">>({});
  const [error, setError] = useState<string | null>(null);

  const test = async (provider: Provider) => {
    setResults((current) => ({ ...current, [provider.id]: "testing" }));
    try {
      const result = await testProvider(provider.id);
      setResults((current) => ({ ...current, [provider.id]: result }));
    } catch (caught) {
      setResults((current) => ({ ...current, [provider.id]: { ok: false, detail: asApiError(caught).detail } }));
    }
  };

  const remove = async (provider: Provider) => {
    if (!window.confirm(`Delete the provider “${provider.name}”?`)) return;
    try {
      await deleteProvider(provider.id);
      setError(null);
      onChanged();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : "The provider could not be deleted.");
    }
  };

  return (
    <section aria-labelledby="providers-title" className="agents-section" data-testid="providers-section">
      <div className="agents-section__header">
        <h2 id="providers-title">Providers</h2>
        <button type="button" className="button button--primary" onClick={() => setEditing("new")} data-testid="provider-new">
          New provider
        </button>
      </div>
      {error && <p className="notice notice--error">{error}</p>}
      {providers.length === 0 ? (
        <p className="empty-state">No providers yet. Add an OpenAI-compatible endpoint, Anthropic, or a scripted one for offline testing.</p>
      ) : (
        <table className="run-table" data-testid="providers-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Kind</th>
              <th>Endpoint</th>
              <th>API key</th>
              <th>Owner</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {providers.map((provider) => {
              const result = results[provider.id];
              const mayEdit = provider.role === "owner" || provider.role === "editor";
              return (
                <tr key={provider.id} data-testid={`provider-row-${provider.id}`}>
                  <td>{provider.name}</td>
                  <td>{PROVIDER_KINDS.find((kind) => kind.value === provider.kind)?.label ?? provider.kind}</td>
                  <td>{provider.base_url || <span className="muted">default</span>}</td>
                  <td>
                    <span className={provider.has_api_key ? "badge badge--success" : "badge badge--muted"} data-testid={`provider-key-${provider.id}`}>
                      {provider.has_api_key ? "set" : "not set"}
                    </span>
                  </td>
                  <td>{provider.owner}</td>
                  <td className="agents-actions">
                    <button type="button" className="button button--small" disabled={result === "testing"} onClick={() => void test(provider)} data-testid={`provider-test-${provider.id}`}>
                      {result === "testing" ? "Testing…" : "Test connection"}
                    </button>
                    {mayEdit && (
                      <button type="button" className="button button--small button--quiet" onClick={() => setEditing(provider)} data-testid={`provider-edit-${provider.id}`}>
                        Edit
                      </button>
                    )}
                    {provider.role === "owner" && (
                      <button type="button" className="button button--small button--quiet" onClick={() => void remove(provider)}>
                        Delete
                      </button>
                    )}
                    {result && result !== "testing" && (
                      <p className={result.ok ? "agents-test agents-test--ok" : "agents-test agents-test--failed"} role="status" data-testid={`provider-test-result-${provider.id}`}>
                        {result.ok ? "Connected: " : "Failed: "}
                        {result.detail}
                      </p>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {editing && (
        <ProviderDialog
          provider={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            onChanged();
          }}
        />
      )}
    </section>
  );
}
