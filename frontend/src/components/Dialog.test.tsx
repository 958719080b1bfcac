import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { Dialog } from "./Dialog";

globalThis.IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLDivElement;
let root: Root;

beforeEach(() => {
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

function press(key: string, shiftKey = false) {
  act(() => {
    document.dispatchEvent(new KeyboardEvent("keydown", { key, shiftKey, bubbles: true, cancelable: true }));
  });
}

describe("Dialog", () => {
  it("focuses its first field, keeps Tab inside, closes on Escape and gives focus back", () => {
    const opener = document.createElement("button");
    document.body.append(opener);
    opener.focus();
    const onClose = vi.fn();

    act(() =>
      root.render(
        <Dialog title="New workflow" onClose={onClose}>
          <input aria-label="Name" />
          <button type="button">Create</button>
        </Dialog>,
      ),
    );
    const [input, button] = [container.querySelector("input"), container.querySelector("button")];
    expect(container.querySelector("[role=dialog]")?.getAttribute("aria-modal")).toBe("true");
    expect(document.activeElement).toBe(input);

    button?.focus();
    press("Tab");
    expect(document.activeElement).toBe(input);
    press("Tab", true);
    expect(document.activeElement).toBe(button);

    press("Escape");
    expect(onClose).toHaveBeenCalledOnce();
    act(() => root.render(<></>));
    expect(document.activeElement).toBe(opener);
    opener.remove();
  });
});
