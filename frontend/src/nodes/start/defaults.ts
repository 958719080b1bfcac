import type { JsonObject } from "../../api/editor";
import type { NodeDefaults } from "../types";

function fieldNames(config: JsonObject | undefined): string[] {
  const schema = config?.input_schema;
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) return [];
  const properties = schema.properties;
  return properties && typeof properties === "object" && !Array.isArray(properties) ? Object.keys(properties) : [];
}

export const defaults: NodeDefaults = {
  summary: (spec) => {
    const names = fieldNames(spec.config);
    return names.length ? `inputs: ${names.join(", ")}` : "no inputs";
  },
  check: (spec) => {
    const schema = spec.config?.input_schema;
    if (schema !== undefined && (typeof schema !== "object" || schema === null || Array.isArray(schema))) {
      return [{ code: "invalid_json_schema", message: "The input schema must be a JSON object.", path: "config.input_schema" }];
    }
    return [];
  },
};
