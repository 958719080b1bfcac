import type { NodeDefaults } from "../types";
import { shorten, text } from "../shared/summaries";

export const defaults: NodeDefaults = {
  initialConfig: () => ({ seconds: 60 }),
  summary: (spec) => {
    const config = spec.config ?? {};
    if (typeof config.seconds === "number") return `wait ${config.seconds} s`;
    return text(config.until) ? `until ${shorten(text(config.until), 32)}` : "no duration";
  },
  check: (spec) => {
    const config = spec.config ?? {};
    const hasSeconds = config.seconds !== undefined && config.seconds !== null;
    const hasUntil = typeof config.until === "string" && config.until.trim() !== "";
    if (hasSeconds === hasUntil) {
      return [{ code: "delay_needs_duration", message: "Set either seconds or until, not both.", path: "config.seconds" }];
    }
    return [];
  },
};
