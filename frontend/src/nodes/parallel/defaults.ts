import type { NodeDefaults } from "../types";

export const defaults: NodeDefaults = {
  summary: () => "every branch starts at once",
};
