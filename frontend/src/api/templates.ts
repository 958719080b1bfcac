/** The templates gallery (`GET /api/templates/`, `POST /api/templates/{slug}/use/`). */
import { api } from "./client";
import type { Page } from "./types";

export interface TemplateSummary {
  slug: string;
  title: string;
  category: string;
  summary: string;
  documentation: string;
  name: string;
  tags: string[];
  node_types: string[];
  node_count: number;
  agents: string[];
  trigger: { kind: "webhook" | "schedule" | "workflow_event"; name: string } | null;
  sample_inputs: Record<string, unknown>;
}

export interface UsedTemplate {
  workflow: { id: number; name: string; active_version: number | null };
  published: boolean;
  trigger: { id: number; kind: string; name: string; enabled: boolean; url: string | null; secret?: string } | null;
}

export function listTemplates(signal?: AbortSignal): Promise<Page<TemplateSummary>> {
  return api.get<Page<TemplateSummary>>("/api/templates/", signal ? { signal } : {});
}

export function useTemplate(slug: string, name?: string): Promise<UsedTemplate> {
  return api.post<UsedTemplate>(`/api/templates/${encodeURIComponent(slug)}/use/`, name ? { name } : {});
}
