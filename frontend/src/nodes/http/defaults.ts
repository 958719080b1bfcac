import type { NodeDefaults } from "../types";
import { shorten, text } from "../shared/summaries";

export const defaults: NodeDefaults = {
  initialConfig: (schemaDefaults) => ({ ...schemaDefaults, url: "" }),
  summary: (spec) => `${text(spec.config?.method) || "GET"} ${shorten(text(spec.config?.url), 36) || "no URL"}`,
  check: (spec) => {
    const url = text(spec.config?.url).trim();
    if (url && !url.startsWith("{{") && !/^https?:\/\//i.test(url)) {
      return [{ code: "invalid_value", message: "The URL must start with http:// or https://.", path: "config.url" }];
    }
    return [];
  },
};
