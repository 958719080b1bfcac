import type { NodeDefaults } from "../types";
import { mapKeys } from "../shared/summaries";

export const defaults: NodeDefaults = {
  summary: (spec) => {
    const keys = mapKeys(spec.config?.mapping);
    return keys.length ? `→ ${keys.join(", ")}` : "no fields";
  },
  check: (spec) => {
    const mapping = spec.config?.mapping;
    if (!mapping || typeof mapping !== "object" || Array.isArray(mapping)) return [];
    return Object.entries(mapping)
      .filter(([, value]) => typeof value !== "string" || value.trim() === "")
      .map(([key]) => ({ code: "missing_field", message: `Field '${key}' needs an expression.`, path: `config.mapping.${key}` }));
  },
};
