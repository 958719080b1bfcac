import { describe, expect, it } from "vitest";

import { formData, initialValues } from "./SchemaForm";

const schema = {
  type: "object",
  required: ["severity"],
  properties: {
    severity: { type: "string", enum: ["sev1", "sev2"] },
    hours: { type: "integer" },
    page: { type: "boolean", default: true },
    tags: { type: "array" },
  },
};

describe("formData", () => {
  it("turns field values into the JSON the schema asks for", () => {
    expect(formData(schema, { ...initialValues(schema), severity: "sev1", hours: "4", tags: '["db"]' })).toEqual({
      data: { severity: "sev1", hours: 4, page: true, tags: ["db"] },
      problems: {},
    });
  });

  it("names the fields it cannot convert and the missing required ones", () => {
    expect(formData(schema, { hours: "4.5", tags: "[" }).problems).toEqual({ severity: "Required.", hours: "Enter a whole number.", tags: "Enter valid JSON." });
  });

  it("gives an empty object without a schema", () => {
    expect(formData(null, {})).toEqual({ data: {}, problems: {} });
  });
});
