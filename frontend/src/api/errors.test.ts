import { describe, expect, it } from "vitest";

import { apiErrorFromBody } from "./errors";

describe("API error bodies", () => {
  it("flattens DRF's nested field errors so each shows under its field", () => {
    const error = apiErrorFromBody(400, {
      tags: { "0": ["Ensure this field has no more than 50 characters."] },
      graph: { nodes: [{ id: ["This field is required."] }] },
      name: "This field may not be blank.",
    });

    expect(error.isValidation).toBe(true);
    expect(error.fieldErrors).toEqual({
      tags: ["Ensure this field has no more than 50 characters."],
      graph: ["This field is required."],
      name: ["This field may not be blank."],
    });
    expect(error.validationIssues).toBeUndefined();
  });

  it("keeps graph problems as issues with their node ids", () => {
    const error = apiErrorFromBody(400, {
      detail: "The graph is not valid.",
      errors: [{ code: "unknown_node_type", message: "Unknown node type “x”.", node_id: "a" }],
    });

    expect(error.detail).toBe("The graph is not valid.");
    expect(error.validationIssues).toEqual([{ code: "unknown_node_type", message: "Unknown node type “x”.", node_id: "a" }]);
    expect(error.fieldErrors).toBeUndefined();
  });

  it("names conflicts and missing things", () => {
    expect(apiErrorFromBody(409, { detail: "already decided" }).isConflict).toBe(true);
    expect(apiErrorFromBody(404, undefined).isNotFound).toBe(true);
    expect(apiErrorFromBody(404, undefined).detail).toBe("Not found.");
  });
});
