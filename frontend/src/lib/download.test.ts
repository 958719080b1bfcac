import { describe, expect, it, onTestFinished, vi } from "vitest";

import { downloadJson, exportFileName } from "./download";
import { parseTags } from "./tags";

describe("export file names", () => {
  it("is the workflow's name with the Flowdeck suffix", () => {
    expect(exportFileName("Support triage")).toBe("Support triage.flowdeck.json");
  });

  it("replaces characters file systems refuse and never starts with a dot", () => {
    expect(exportFileName('a/b\\c:d*e?"f<g>h|i')).toBe("a-b-c-d-e-f-g-h-i.flowdeck.json");
    expect(exportFileName("..hidden")).toBe("hidden.flowdeck.json");
    expect(exportFileName(" / ")).toBe("-.flowdeck.json");
    expect(exportFileName("")).toBe("workflow.flowdeck.json");
  });
});

describe("downloadJson", () => {
  it("clicks a hidden link to a JSON blob with the file name", () => {
    // jsdom has no blob URLs; give URL the two static methods for this test only.
    const original = { createObjectURL: URL.createObjectURL, revokeObjectURL: URL.revokeObjectURL };
    onTestFinished(() => {
      Object.assign(URL, original);
    });
    Object.assign(URL, { createObjectURL: vi.fn(() => "blob:flowdeck/1"), revokeObjectURL: vi.fn() });
    const clicked: HTMLAnchorElement[] = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this);
    });

    downloadJson("x.flowdeck.json", { a: 1 });

    expect(click).toHaveBeenCalledOnce();
    expect(clicked[0]?.download).toBe("x.flowdeck.json");
    expect(clicked[0]?.href).toBe("blob:flowdeck/1");
    expect(document.querySelector("a[download]")).toBeNull();
  });
});

describe("parseTags", () => {
  it("splits on commas, trims, drops blanks and repeats (ignoring case)", () => {
    expect(parseTags(" support, Triage ,, support ,TRIAGE,  two  words ")).toEqual(["support", "Triage", "two words"]);
    expect(parseTags("")).toEqual([]);
  });
});
