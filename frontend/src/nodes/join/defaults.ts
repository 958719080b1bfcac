import type { NodeDefaults } from "../types";

export const defaults: NodeDefaults = {
  summary: (spec) => {
    const config = spec.config ?? {};
    const mode = typeof config.mode === "string" ? config.mode : "all";
    return mode === "count" ? `waits for ${String(config.count ?? "?")} branches` : `waits for ${mode}`;
  },
  check: (spec, { incomingCount }) => {
    const issues = [];
    if (incomingCount < 2) {
      issues.push({ code: "join_too_few_inputs", message: "A join needs at least two incoming edges." });
    }
    const count = spec.config?.count;
    if (spec.config?.mode === "count" && typeof count === "number" && incomingCount >= 2 && (count < 1 || count > incomingCount)) {
      issues.push({ code: "join_count_out_of_range", message: `Count must be between 1 and ${incomingCount}.`, path: "config.count" });
    }
    return issues;
  },
};
