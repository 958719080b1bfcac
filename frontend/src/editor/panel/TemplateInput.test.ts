import { describe, expect, it } from "vitest";

import { matchingSuggestions, tokenBeforeCaret } from "./TemplateInput";

describe("template autocomplete", () => {
  it("completes names inside {{ }} of a template, anywhere in an expression", () => {
    const text = "Hello {{ inputs.na";
    expect(tokenBeforeCaret(text, text.length, "template")).toEqual({ start: 9, token: "inputs.na" });
    expect(tokenBeforeCaret("Hello inputs.na", 15, "template")).toBeNull();
    expect(tokenBeforeCaret("{{ a }} inputs", 14, "template")).toBeNull();
    expect(tokenBeforeCaret("x > 3 and nodes.", 16, "expression")).toEqual({ start: 10, token: "nodes." });
  });

  it("offers the suggestions that extend what was typed", () => {
    const all = [
      { value: "inputs.name", detail: "" },
      { value: "inputs.amount", detail: "" },
      { value: "nodes.a.output", detail: "" },
    ];
    expect(matchingSuggestions(all, "inputs.").map((item) => item.value)).toEqual(["inputs.name", "inputs.amount"]);
    expect(matchingSuggestions(all, "inputs.name")).toEqual([]);
  });
});
