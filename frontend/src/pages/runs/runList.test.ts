import { describe, expect, it } from "vitest";

import type { RunListItem } from "../../api/runs";
import { applyRunSummary, matchesFilters } from "./runList";

function run(id: string, overrides: Partial<RunListItem> = {}): RunListItem {
  return {
    id,
    workflow: 1,
    workflow_name: "Triage",
    version: 1,
    is_draft: false,
    status: "running",
    inputs: {},
    outputs: null,
    error: null,
    source: "manual",
    trigger: null,
    created_by: "admin",
    created_at: "2026-01-02T00:00:00Z",
    started_at: null,
    finished_at: null,
    end_node_id: null,
    ...overrides,
  };
}

describe("matchesFilters", () => {
  it("checks workflow, status, source and the creation window", () => {
    const item = run("a");
    expect(matchesFilters(item, {})).toBe(true);
    expect(matchesFilters(item, { workflow: 2 })).toBe(false);
    expect(matchesFilters(item, { status: "running", source: "manual" })).toBe(true);
    expect(matchesFilters(item, { source: "webhook" })).toBe(false);
    expect(matchesFilters(item, { created_after: "2026-01-02T00:00:00Z", created_before: "2026-01-03T00:00:00Z" })).toBe(true);
    expect(matchesFilters(item, { created_before: "2026-01-02T00:00:00Z" })).toBe(false);
  });
});

describe("applyRunSummary", () => {
  const list = [run("new", { created_at: "2026-01-03T00:00:00Z" }), run("old", { created_at: "2026-01-01T00:00:00Z" })];

  it("updates a known run in place", () => {
    expect(applyRunSummary(list, run("old", { created_at: "2026-01-01T00:00:00Z", status: "succeeded" }), {}).map((item) => [item.id, item.status])).toEqual([
      ["new", "running"],
      ["old", "succeeded"],
    ]);
  });

  it("inserts a new run by creation time, newest first", () => {
    expect(applyRunSummary(list, run("mid"), {}).map((item) => item.id)).toEqual(["new", "mid", "old"]);
    expect(applyRunSummary(list, run("newest", { created_at: "2026-01-04T00:00:00Z" }), {})[0]?.id).toBe("newest");
  });

  it("drops a run that no longer matches and ignores a new one that does not", () => {
    expect(applyRunSummary(list, run("new", { status: "succeeded" }), { status: "running" }).map((item) => item.id)).toEqual(["old"]);
    expect(applyRunSummary(list, run("other", { workflow: 9 }), { workflow: 1 })).toEqual(list);
  });
});
