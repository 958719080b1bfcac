/**
 * LLM providers, agents and external agents (DESIGN §6, §7). A provider's API key is write-only:
 * it is sent on create/update and never comes back; the API only says whether one is set.
 */
import { api } from "./client";
import type { JsonObject, JsonSchema } from "./editor";
import type { Page } from "./types";

export type ProviderKind = "openai" | "anthropic" | "scripted";
export const PROVIDER_KINDS: { value: ProviderKind; label: string }[] = [
  { value: "openai", label: "OpenAI-compatible" },
  { value: "anthropic", label: "Anthropic" },
  { value: "scripted", label: "Scripted (no network)" },
];

export interface Grant {
  group: string;
  role: string;
}

/** agents/api/catalog.py: ProviderSerializer (never an `api_key`). */
export interface Provider {
  id: number;
  name: string;
  kind: ProviderKind;
  base_url: string;
  has_api_key: boolean;
  config: JsonObject;
  max_concurrency: number;
  requests_per_minute: number;
  timeout_s: number;
  owner: string;
  role: string | null;
  grants: Grant[];
  created_at: string;
  updated_at: string;
}

export interface ProviderInput {
  name?: string;
  kind?: ProviderKind;
  base_url?: string;
  /** Write-only. Omit to keep the stored key; an empty string removes it. */
  api_key?: string;
  config?: JsonObject;
  max_concurrency?: number;
  requests_per_minute?: number;
  timeout_s?: number;
}

export interface Agent {
  id: number;
  slug: string;
  name: string;
  description: string;
  provider: number | null;
  model: string;
  system_prompt: string;
  temperature: number | null;
  max_tokens: number | null;
  output_format: "text" | "json";
  json_schema: JsonSchema | null;
  price_input_per_mtok: string;
  price_output_per_mtok: string;
  owner: string;
  role: string | null;
  grants: Grant[];
  created_at: string;
  updated_at: string;
}

export type AgentInput = Partial<Omit<Agent, "id" | "owner" | "role" | "grants" | "created_at" | "updated_at">>;

export interface ExternalAgent {
  id: string;
  name: string;
  capabilities: string[];
  version: string;
  registered_by: string;
  created_at: string;
  last_heartbeat_at: string | null;
  is_alive: boolean;
  revoked_at: string | null;
}

const page = { query: { page_size: 200 } };

export function listProviders(): Promise<Page<Provider>> {
  return api.get<Page<Provider>>("/api/providers/", page);
}

export function createProvider(input: ProviderInput): Promise<Provider> {
  return api.post<Provider>("/api/providers/", input);
}

export function updateProvider(id: number, input: ProviderInput): Promise<Provider> {
  return api.patch<Provider>(`/api/providers/${id}/`, input);
}

export function deleteProvider(id: number): Promise<void> {
  return api.delete(`/api/providers/${id}/`);
}

/** One small real call with the stored settings. */
export function testProvider(id: number): Promise<{ ok: boolean; detail: string }> {
  return api.post<{ ok: boolean; detail: string }>(`/api/providers/${id}/test/`);
}

export function listAgents(): Promise<Page<Agent>> {
  return api.get<Page<Agent>>("/api/agents/", page);
}

export function createAgent(input: AgentInput): Promise<Agent> {
  return api.post<Agent>("/api/agents/", input);
}

export function updateAgent(id: number, input: AgentInput): Promise<Agent> {
  return api.patch<Agent>(`/api/agents/${id}/`, input);
}

export function deleteAgent(id: number): Promise<void> {
  return api.delete(`/api/agents/${id}/`);
}

export function listExternalAgents(): Promise<Page<ExternalAgent>> {
  return api.get<Page<ExternalAgent>>("/api/external-agents/", page);
}

export function revokeExternalAgent(id: string): Promise<ExternalAgent> {
  return api.post<ExternalAgent>(`/api/external-agents/${encodeURIComponent(id)}/revoke/`);
}
