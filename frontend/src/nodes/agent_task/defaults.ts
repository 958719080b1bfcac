import type { NodeDefaults } from "../types";
import { text } from "../shared/summaries";

export const defaults: NodeDefaults = {
  initialConfig: (schemaDefaults) => ({ ...schemaDefaults, capability: "" }),
  summary: (spec) => `capability: ${text(spec.config?.capability) || "…"}`,
};
