/** Agent definitions: provider, model, system prompt, parameters and output format. */
import { useState } from "react";

import { createAgent, deleteAgent, updateAgent, type Agent, type AgentInput, type Provider } from "../../api/agents";
import type { JsonSchema } from "../../api/editor";
import { Dialog } from "../../components/Dialog";
import { FormField } from "../../components/FormField";
import { asApiError, parseJsonField } from "./shared";

interface Draft {
  slug: string;
  name: string;
  description: string;
  provider: string;
  model: string;
  system_prompt: string;
  temperature: string;
  max_tokens: string;
  output_format: "text" | "json";
  json_schema: string;
  price_input_per_mtok: string;
  price_output_per_mtok: string;
}

function draftOf(agent: Agent | null): Draft {
  return {
    slug: agent?.slug ?? "",
    name: agent?.name ?? "",
    description: agent?.description ?? "",
    provider: agent?.provider !== null && agent?.provider !== undefined ? String(agent.provider) : "",
    model: agent?.model ?? "",
    system_prompt: agent?.system_prompt ?? "",
    temperature: agent?.temperature !== null && agent?.temperature !== undefined ? String(agent.temperature) : "",
    max_tokens: agent?.max_tokens !== null && agent?.max_tokens !== undefined ? String(agent.max_tokens) : "",
    output_format: agent?.output_format ?? "text",
    json_schema: agent?.json_schema ? JSON.stringify(agent.json_schema, null, 2) : "",
    price_input_per_mtok: agent?.price_input_per_mtok ?? "0",
    price_output_per_mtok: agent?.price_output_per_mtok ?? "0",
  };
}

function AgentDialog({ agent, providers, onClose, onSaved }: { agent: Agent | null; providers: Provider[]; onClose: () => void; onSaved: () => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(agent));
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [isSaving, setSaving] = useState(false);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((current) => ({ ...current, [key]: value }));

  const save = async () => {
    const schema = parseJsonField(draft.json_schema);
    if (schema === undefined || (schema !== null && (typeof schema !== "object" || Array.isArray(schema)))) {
      setErrors({ json_schema: ["Enter a JSON Schema object, or leave it empty."] });
      return;
    }
    const input: AgentInput = {
      slug: draft.slug.trim(),
      name: draft.name.trim(),
      description: draft.description,
      provider: draft.provider ? Number(draft.provider) : null,
      model: draft.model.trim(),
      system_prompt: draft.system_prompt,
      temperature: draft.temperature === "" ? null : Number(draft.temperature),
      max_tokens: draft.max_tokens === "" ? null : Number(draft.max_tokens),
      output_format: draft.output_format,
      json_schema: schema as JsonSchema | null,
      price_input_per_mtok: draft.price_input_per_mtok || "0",
      price_output_per_mtok: draft.price_output_per_mtok || "0",
    };
    setSaving(true);
    setMessage(null);
    try {
      if (agent) await updateAgent(agent.id, input);
      else await createAgent(input);
      onSaved();
    } catch (caught) {
      const error = asApiError(caught);
      setErrors(error.fieldErrors ?? {});
      setMessage(error.detail);
    } finally {
      setSaving(false);
    }
  };

  return (
    <Dialog title={agent ? `Edit ${agent.name}` : "New agent"} onClose={onClose}>
      <form
        className="form"
        data-testid="agent-form"
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <div className="agents-form-row">
          <FormField label="Slug" errors={errors.slug} hint="How prompt nodes name this agent; unique.">
            {(props) => <input {...props} className="input" value={draft.slug} onChange={(event) => set("slug", event.target.value)} required pattern="[-a-zA-Z0-9_]+" data-testid="agent-slug" />}
          </FormField>
          <FormField label="Name" errors={errors.name}>
            {(props) => <input {...props} className="input" value={draft.name} onChange={(event) => set("name", event.target.value)} required data-testid="agent-name" />}
          </FormField>
        </div>
        <FormField label="Description" errors={errors.description}>
          {(props) => <input {...props} className="input" value={draft.description} onChange={(event) => set("description", event.target.value)} />}
        </FormField>
        <div className="agents-form-row">
          <FormField label="Provider" errors={errors.provider}>
            {(props) => (
              <select {...props} className="select" value={draft.provider} onChange={(event) => set("provider", event.target.value)} data-testid="agent-provider">
                <option value="">— none —</option>
                {providers.map((provider) => (
                  <option key={provider.id} value={provider.id}>
                    {provider.name}
                  </option>
                ))}
              </select>
            )}
          </FormField>
          <FormField label="Model" errors={errors.model}>
            {(props) => <input {...props} className="input" value={draft.model} onChange={(event) => set("model", event.target.value)} placeholder="gpt-4o-mini, claude-…, llama3…" data-testid="agent-model" />}
          </FormField>
        </div>
        <FormField label="System prompt" errors={errors.system_prompt}>
          {(props) => <textarea {...props} className="input" rows={4} value={draft.system_prompt} onChange={(event) => set("system_prompt", event.target.value)} data-testid="agent-system-prompt" />}
        </FormField>
        <div className="agents-form-row">
          <FormField label="Temperature" errors={errors.temperature} hint="0–2; empty: the provider's default">
            {(props) => <input {...props} className="input" type="number" step="0.1" min={0} max={2} value={draft.temperature} onChange={(event) => set("temperature", event.target.value)} />}
          </FormField>
          <FormField label="Max tokens" errors={errors.max_tokens}>
            {(props) => <input {...props} className="input" type="number" min={1} value={draft.max_tokens} onChange={(event) => set("max_tokens", event.target.value)} />}
          </FormField>
          <FormField label="Output" errors={errors.output_format}>
            {(props) => (
              <select {...props} className="select" value={draft.output_format} onChange={(event) => set("output_format", event.target.value as "text" | "json")} data-testid="agent-output-format">
                <option value="text">Text</option>
                <option value="json">JSON</option>
              </select>
            )}
          </FormField>
        </div>
        {draft.output_format === "json" && (
          <FormField label="Output schema (JSON Schema)" errors={errors.json_schema} hint="Replies that do not match are retried as a schema failure.">
            {(props) => <textarea {...props} className="input agents-code" rows={5} value={draft.json_schema} onChange={(event) => set("json_schema", event.target.value)} data-testid="agent-json-schema" />}
          </FormField>
        )}
        <div className="agents-form-row">
          <FormField label="Input price (USD per million tokens)" errors={errors.price_input_per_mtok}>
            {(props) => <input {...props} className="input" type="number" step="any" min={0} value={draft.price_input_per_mtok} onChange={(event) => set("price_input_per_mtok", event.target.value)} />}
          </FormField>
          <FormField label="Output price (USD per million tokens)" errors={errors.price_output_per_mtok}>
            {(props) => <input {...props} className="input" type="number" step="any" min={0} value={draft.price_output_per_mtok} onChange={(event) => set("price_output_per_mtok", event.target.value)} />}
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
          <button type="submit" className="button button--primary" disabled={isSaving} data-testid="agent-save">
            {isSaving ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function AgentsSection({ agents, providers, onChanged }: { agents: Agent[]; providers: Provider[]; onChanged: () => void }) {
  const [editing, setEditing] = useState<Agent | "new" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const providerName = (id: number | null) => providers.find((provider) => provider.id === id)?.name ?? (id === null ? "—" : `#${id}`);

  const remove = async (agent: Agent) => {
    if (!window.confirm(`Delete the agent “${agent.name}”? Workflows that name “${agent.slug}” stop validating.`)) return;
    try {
      await deleteAgent(agent.id);
      setError(null);
      onChanged();
    } catch (caught) {
      setError(asApiError(caught).detail);
    }
  };

  return (
    <section aria-labelledby="agents-title" className="agents-section" data-testid="agents-section">
      <div className="agents-section__header">
        <h2 id="agents-title">Agents</h2>
        <button type="button" className="button button--primary" onClick={() => setEditing("new")} data-testid="agent-new">
          New agent
        </button>
      </div>
      {error && <p className="notice notice--error">{error}</p>}
      {agents.length === 0 ? (
        <p className="empty-state">No agents yet. An agent is a provider, a model and a system prompt that prompt nodes use by slug.</p>
      ) : (
        <table className="run-table" data-testid="agents-table">
          <thead>
            <tr>
              <th>Agent</th>
              <th>Provider</th>
              <th>Model</th>
              <th>Parameters</th>
              <th>Output</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {agents.map((agent) => (
              <tr key={agent.id} data-testid={`agent-row-${agent.slug}`}>
                <td>
                  <strong>{agent.name}</strong> <code className="muted">{agent.slug}</code>
                  {agent.system_prompt && <p className="muted agents-prompt">{agent.system_prompt}</p>}
                </td>
                <td>{providerName(agent.provider)}</td>
                <td>{agent.model || <span className="muted">—</span>}</td>
                <td className="muted">
                  {[agent.temperature !== null ? `temperature ${agent.temperature}` : null, agent.max_tokens !== null ? `max ${agent.max_tokens} tokens` : null].filter(Boolean).join(", ") || "defaults"}
                </td>
                <td>{agent.output_format === "json" ? (agent.json_schema ? "JSON (schema)" : "JSON") : "Text"}</td>
                <td className="agents-actions">
                  {(agent.role === "owner" || agent.role === "editor") && (
                    <button type="button" className="button button--small button--quiet" onClick={() => setEditing(agent)} data-testid={`agent-edit-${agent.slug}`}>
                      Edit
                    </button>
                  )}
                  {agent.role === "owner" && (
                    <button type="button" className="button button--small button--quiet" onClick={() => void remove(agent)}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <AgentDialog
          agent={editing === "new" ? null : editing}
          providers={providers}
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
