import { describe, expect, it } from "vitest";

import { paragraphs, pieces } from "./documentation";

describe("template documentation", () => {
  it("splits paragraphs on blank lines", () => {
    expect(paragraphs("One.\n\nTwo.\n  \nThree.").map((list) => list.map((piece) => piece.text).join(""))).toEqual([
      "One.",
      "Two.",
      "Three.",
    ]);
  });
  it("marks backtick spans as code", () => {
    expect(pieces("Run `classify` then `draft`.")).toEqual([
      { kind: "text", text: "Run " },
      { kind: "code", text: "classify" },
      { kind: "text", text: " then " },
      { kind: "code", text: "draft" },
      { kind: "text", text: "." },
    ]);
  });
  it("keeps an unmatched backtick as text", () => {
    expect(pieces("a `b` c `d")).toEqual([
      { kind: "text", text: "a " },
      { kind: "code", text: "b" },
      { kind: "text", text: " c `d" },
    ]);
  });
});
