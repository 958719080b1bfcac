/// <reference types="node" />
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { describe, expect, it } from "vitest";

/** The server-rendered pages (sign-in, approval confirmations) keep their own copy of the tokens. */
// Vitest runs from frontend/ (jsdom gives import.meta.url an http: scheme, so no file URLs here).
const APP_TOKENS = resolve(process.cwd(), "src/styles/tokens.css");
const PAGE_TOKENS = resolve(process.cwd(), "../static/css/pages.css");

/** `--name: value;` declarations inside the first block that follows `selector {`. */
function declarations(css: string, selector: string): Map<string, string> {
  const start = css.indexOf(`${selector} {`);
  if (start === -1) throw new Error(`no ${selector} block`);
  const block = css.slice(start, css.indexOf("}", start));
  return new Map([...block.matchAll(/(--[\w-]+):\s*([^;]+);/g)].map((match) => [match[1] ?? "", (match[2] ?? "").trim()]));
}

describe("server page tokens", () => {
  it.each([":root", ':root[data-theme="dark"]'])("match the app's tokens in %s", (selector) => {
    const app = declarations(readFileSync(APP_TOKENS, "utf8"), selector);
    const pages = declarations(readFileSync(PAGE_TOKENS, "utf8"), selector);

    expect(pages.size).toBeGreaterThan(10);
    for (const [name, value] of pages) {
      expect({ name, value }).toEqual({ name, value: app.get(name) });
    }
  });
});
