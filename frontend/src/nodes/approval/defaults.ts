import type { NodeDefaults } from "../types";
import { shorten, text } from "../shared/summaries";

export const defaults: NodeDefaults = {
  initialConfig: (schemaDefaults) => ({ ...schemaDefaults, title: "" }),
  summary: (spec) => {
    const config = spec.config ?? {};
    const assignees = config.assignees;
    let who = 0;
    if (assignees && typeof assignees === "object" && !Array.isArray(assignees)) {
      for (const key of ["users", "groups"]) {
        const list = assignees[key];
        if (Array.isArray(list)) who += list.length;
      }
    }
    return `${shorten(text(config.title), 28) || "untitled"} · ${who} assignee${who === 1 ? "" : "s"}`;
  },
};
