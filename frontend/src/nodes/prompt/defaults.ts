import type { NodeDefaults } from "../types";
import { shorten, text } from "../shared/summaries";

export const defaults: NodeDefaults = {
  initialConfig: (schemaDefaults) => ({ ...schemaDefaults, prompt: "" }),
  summary: (spec) => {
    const config = spec.config ?? {};
    const who = text(config.agent) || [text(config.provider), text(config.model)].filter(Boolean).join(" / ") || "no model";
    return `${who} · ${shorten(text(config.prompt), 32) || "empty prompt"}`;
  },
  check: (spec) => {
    const config = spec.config ?? {};
    const hasAgent = text(config.agent).trim() !== "";
    const hasModel = text(config.provider).trim() !== "" && text(config.model).trim() !== "";
    if (!hasAgent && !hasModel) {
      return [{ code: "prompt_needs_model", message: "Choose an agent, or a provider and a model.", path: "config.agent" }];
    }
    return [];
  },
};
