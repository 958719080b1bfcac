import type { NodeDefaults } from "../types";
import { mapKeys } from "../shared/summaries";

export const defaults: NodeDefaults = {
  summary: (spec) => {
    const keys = mapKeys(spec.config?.outputs);
    return keys.length ? `outputs: ${keys.join(", ")}` : "no outputs";
  },
};
