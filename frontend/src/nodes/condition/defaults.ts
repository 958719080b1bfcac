import type { NodeDefaults } from "../types";
import { shorten, text } from "../shared/summaries";

export const defaults: NodeDefaults = {
  initialConfig: (schemaDefaults) => ({ ...schemaDefaults, expression: "" }),
  summary: (spec) => shorten(text(spec.config?.expression)) || "no expression",
};
