import type { ValidationIssue } from "../../api";
import type { NodeDefaults } from "../types";

const RESERVED = new Set(["default", "error"]);

export const defaults: NodeDefaults = {
  summary: (spec) => {
    const cases = spec.config?.cases;
    const count = Array.isArray(cases) ? cases.length : 0;
    return count === 1 ? "1 case + default" : `${count} cases + default`;
  },
  check: (spec) => {
    const cases = spec.config?.cases;
    if (!Array.isArray(cases)) return [];
    const issues: Omit<ValidationIssue, "node_id">[] = [];
    const seen = new Set<string>();
    cases.forEach((entry, index) => {
      if (!entry || typeof entry !== "object" || Array.isArray(entry)) return;
      const handle = entry.handle;
      if (typeof handle !== "string" || handle.trim() === "") {
        issues.push({ code: "missing_field", message: `Case ${index + 1} needs a handle name.`, path: `config.cases.${index}.handle` });
      } else if (RESERVED.has(handle)) {
        issues.push({ code: "reserved_handle", message: `'${handle}' is reserved; name the case differently.`, path: `config.cases.${index}.handle` });
      } else if (seen.has(handle)) {
        issues.push({ code: "duplicate_handle", message: `Two cases are named '${handle}'.`, path: `config.cases.${index}.handle` });
      }
      if (typeof handle === "string") seen.add(handle);
      if (typeof entry.expression !== "string" || entry.expression.trim() === "") {
        issues.push({ code: "missing_field", message: `Case ${index + 1} needs an expression.`, path: `config.cases.${index}.expression` });
      }
    });
    return issues;
  },
};
