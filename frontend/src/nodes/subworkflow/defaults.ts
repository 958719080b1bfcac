import type { NodeDefaults } from "../types";

export const defaults: NodeDefaults = {
  summary: (spec) => {
    const config = spec.config ?? {};
    const workflow = typeof config.workflow === "number" ? `workflow #${config.workflow}` : "no workflow";
    const version = config.version === undefined || config.version === "active" ? "active version" : `version ${String(config.version)}`;
    return `${workflow} · ${version}`;
  },
};
