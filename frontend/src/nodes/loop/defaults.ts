import type { NodeDefaults } from "../types";
import { shorten, text } from "../shared/summaries";

/** A fresh loop container's size on the canvas. */
export const LOOP_SIZE = { width: 420, height: 260 };

export const defaults: NodeDefaults = {
  initialConfig: (schemaDefaults) => ({ ...schemaDefaults, items: "" }),
  summary: (spec) => {
    const config = spec.config ?? {};
    const limit = typeof config.max_iterations === "number" ? ` (max ${config.max_iterations})` : "";
    switch (config.mode) {
      case "count":
        return `count ${typeof config.count === "number" ? config.count : shorten(text(config.count), 24)}${limit}`;
      case "while":
        return `while ${shorten(text(config.condition), 32)}${limit}`;
      default:
        return `for each in ${shorten(text(config.items), 28) || "…"}${limit}`;
    }
  },
};
