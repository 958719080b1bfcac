/**
 * A workflow's triggers (`/api/workflows/{id}/triggers/`, README "Triggers"): webhooks, cron
 * schedules and workflow events. A webhook's secret comes back only when it is created or rotated;
 * the calls that receive it hand it over separately so it is never kept with the listed trigger.
 */
import { api } from "./client";
import type { JsonObject } from "./editor";
import type { Page, WorkflowSummary } from "./types";

export type TriggerKind = "webhook" | "schedule" | "workflow_event";
export type CatchUp = "skip" | "once" | "all";
export type Overlap = "allow" | "skip" | "cancel_previous";
export type EventStatus = "succeeded" | "failed";

export interface WebhookConfig {
  [key: string]: never;
}

export interface ScheduleConfig {
  cron: string;
  timezone: string;
  catch_up: CatchUp;
  overlap: Overlap;
  inputs: JsonObject;
}

export interface WorkflowEventConfig {
  workflow: number;
  on: EventStatus[];
  /** Input name → template over `event.run`. */
  inputs: Record<string, string>;
}

export type TriggerConfig = WebhookConfig | ScheduleConfig | WorkflowEventConfig;

export interface TriggerFire {
  outcome: "started" | "skipped" | "refused";
  run: string | null;
  reason: string;
  slot: string | null;
  created_at: string;
}

/** triggers/api/serializers.py: TriggerSerializer (never a secret). */
export interface Trigger {
  id: number;
  workflow: number;
  kind: TriggerKind;
  name: string;
  config: JsonObject;
  enabled: boolean;
  /** The username the trigger's runs run as. */
  owner: string;
  /** Webhooks: where to POST. */
  url: string | null;
  has_previous_secret: boolean;
  previous_secret_expires_at: string | null;
  next_fire_at: string | null;
  last_fired_at: string | null;
  created_at: string;
  updated_at: string;
  recent_fires?: TriggerFire[];
}

/** What creating a trigger or rotating a webhook's secret gives back: the secret, only this once. */
export interface TriggerWithSecret {
  trigger: Trigger;
  secret: string | null;
}

export interface TriggerChanges {
  kind?: TriggerKind;
  name?: string;
  config?: JsonObject;
  enabled?: boolean;
}

/** The longest grace period the server accepts for an old secret (7 days). */
export const MAX_GRACE_S = 7 * 24 * 3600;
export const DEFAULT_GRACE_S = 3600;

const base = (workflowId: number) => `/api/workflows/${workflowId}/triggers/`;

/** Splits the one answer that carries a secret, so callers cannot store it with the trigger. */
export function separateSecret(body: Trigger & { secret?: string | null }): TriggerWithSecret {
  const { secret, ...trigger } = body;
  return { trigger, secret: secret ?? null };
}

export function listTriggers(workflowId: number, signal?: AbortSignal): Promise<Page<Trigger>> {
  return api.get<Page<Trigger>>(base(workflowId), { query: { page_size: 500 }, ...(signal && { signal }) });
}

export function fetchTrigger(workflowId: number, triggerId: number): Promise<Trigger> {
  return api.get<Trigger>(`${base(workflowId)}${triggerId}/`);
}

export async function createTrigger(
  workflowId: number,
  body: { kind: TriggerKind; name: string; config: JsonObject; enabled: boolean },
): Promise<TriggerWithSecret> {
  return separateSecret(await api.post<Trigger & { secret?: string | null }>(base(workflowId), body));
}

export function updateTrigger(workflowId: number, triggerId: number, changes: TriggerChanges): Promise<Trigger> {
  return api.patch<Trigger>(`${base(workflowId)}${triggerId}/`, changes);
}

export function deleteTrigger(workflowId: number, triggerId: number): Promise<void> {
  return api.delete(`${base(workflowId)}${triggerId}/`);
}

/** A new webhook secret; the old one stays valid for `graceS` seconds. */
export async function rotateTriggerSecret(workflowId: number, triggerId: number, graceS: number): Promise<TriggerWithSecret> {
  const body = await api.post<Trigger & { secret?: string | null }>(`${base(workflowId)}${triggerId}/rotate-secret/`, { grace_s: graceS });
  return separateSecret(body);
}

/** The workflows a workflow-event trigger can follow (the caller's, newest first, archived left out). */
export function listWorkflowChoices(signal?: AbortSignal): Promise<Page<WorkflowSummary>> {
  return api.get<Page<WorkflowSummary>>("/api/workflows/", { query: { page_size: 500 }, ...(signal && { signal }) });
}
