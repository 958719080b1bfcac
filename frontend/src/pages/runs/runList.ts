/** The runs list's live updates: which summaries belong under the current filters, and where. */
import type { RunFilters, RunListItem } from "../../api/runs";

export function matchesFilters(run: RunListItem, filters: RunFilters): boolean {
  if (filters.workflow !== undefined && run.workflow !== filters.workflow) return false;
  if (filters.status && run.status !== filters.status) return false;
  if (filters.source && run.source !== filters.source) return false;
  const created = Date.parse(run.created_at);
  if (filters.created_after && created < Date.parse(filters.created_after)) return false;
  if (filters.created_before && created >= Date.parse(filters.created_before)) return false;
  return true;
}

/**
 * Applies a live summary: a known run is updated in place (or leaves when it no longer matches),
 * a new matching one goes where its creation time puts it (newest first).
 */
export function applyRunSummary(runs: readonly RunListItem[], run: RunListItem, filters: RunFilters): RunListItem[] {
  const index = runs.findIndex((item) => item.id === run.id);
  const matches = matchesFilters(run, filters);
  if (index >= 0) {
    if (!matches) return runs.filter((item) => item.id !== run.id);
    const next = [...runs];
    next[index] = run;
    return next;
  }
  if (!matches) return [...runs];
  const created = Date.parse(run.created_at);
  const position = runs.findIndex((item) => Date.parse(item.created_at) < created);
  const next = [...runs];
  next.splice(position < 0 ? next.length : position, 0, run);
  return next;
}
