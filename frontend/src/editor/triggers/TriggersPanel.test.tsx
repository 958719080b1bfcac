import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { api } from "../../api/client";
import { apiErrorFromBody } from "../../api/errors";
import type { Trigger } from "../../api/triggers";
import { TriggersPanel } from "./TriggersPanel";

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

function webhook(id: number, extra: Partial<Trigger> = {}): Trigger {
  return {
    id,
    workflow: 5,
    kind: "webhook",
    name: "",
    config: {},
    enabled: true,
    owner: "admin",
    url: `http://flowdeck.test/hooks/token-${id}/`,
    has_previous_secret: false,
    previous_secret_expires_at: null,
    next_fire_at: null,
    last_fired_at: null,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    ...extra,
  };
}

function page(results: Trigger[]) {
  return { count: results.length, next: null, previous: null, results };
}

function byTestId(id: string): HTMLElement | null {
  return container.querySelector(`[data-testid="${id}"]`);
}

async function click(id: string) {
  const element = byTestId(id);
  if (!element) throw new Error(`no element ${id}`);
  await act(async () => element.click());
}

async function render(canEdit: boolean) {
  await act(async () => root.render(<TriggersPanel workflowId={5} canEdit={canEdit} />));
}

function stubList(results: Trigger[]) {
  return vi.spyOn(api, "get").mockImplementation((() => Promise.resolve(page(results))) as typeof api.get);
}

function setValue(element: HTMLInputElement, value: string) {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")?.set;
  setter?.call(element, value);
  element.dispatchEvent(new Event("input", { bubbles: true }));
}

describe("TriggersPanel", () => {
  it("shows a new webhook's secret once, and never again after it is dismissed", async () => {
    stubList([]);
    const post = vi.spyOn(api, "post").mockImplementation((() => Promise.resolve({ ...webhook(9), secret: "whsec_created" })) as typeof api.post);
    await render(true);
    expect(byTestId("triggers-empty")).not.toBeNull();

    await click("trigger-add-webhook");
    await click("trigger-save");

    expect(post).toHaveBeenCalledWith("/api/workflows/5/triggers/", { kind: "webhook", name: "", config: {}, enabled: true });
    expect(byTestId("trigger-secret")?.textContent).toBe("whsec_created");
    expect(byTestId("trigger-secret-warning")?.textContent).toContain("you won’t see this secret again");
    expect(byTestId("trigger-signing-example")?.textContent).toContain("url='http://flowdeck.test/hooks/token-9/'");
    expect(byTestId("trigger-9")).not.toBeNull();

    await click("trigger-secret-dismiss");
    expect(byTestId("trigger-secret-box")).toBeNull();
    expect(container.textContent).not.toContain("whsec_created");

    // Opening another form and coming back does not bring it back either.
    await click("trigger-add-schedule");
    await click("trigger-cancel");
    expect(container.textContent).not.toContain("whsec_created");
  });

  it("shows a rotated secret once; the list loaded again never carries it", async () => {
    stubList([webhook(1)]);
    const post = vi.spyOn(api, "post").mockImplementation((() => Promise.resolve({ ...webhook(1, { has_previous_secret: true, previous_secret_expires_at: "2026-01-01T01:00:00Z" }), secret: "whsec_rotated" })) as typeof api.post);
    await render(true);

    await click("trigger-rotate");
    await click("trigger-rotate-confirm");

    expect(post).toHaveBeenCalledWith("/api/workflows/5/triggers/1/rotate-secret/", { grace_s: 3600 });
    expect(byTestId("trigger-secret")?.textContent).toBe("whsec_rotated");
    expect(byTestId("trigger-1")?.textContent).toContain("Previous secret valid until");

    // Leaving the tab unmounts the panel; coming back lists the triggers without any secret.
    act(() => root.render(<></>));
    await render(true);
    expect(byTestId("trigger-secret-box")).toBeNull();
    expect(container.textContent).not.toContain("whsec_rotated");
  });

  it("shows the server's cron error under the cron field", async () => {
    stubList([]);
    vi.spyOn(api, "post").mockImplementation((() => Promise.reject(apiErrorFromBody(400, { config: { cron: ["Not a cron expression: five fields."] } }))) as typeof api.post);
    await render(true);
    await click("trigger-add-schedule");
    await act(async () => setValue(byTestId("trigger-cron") as HTMLInputElement, "every day"));
    await click("trigger-save");
    expect(byTestId("field-issue-cron")?.textContent).toBe("Not a cron expression: five fields.");
    expect(byTestId("trigger-form")).not.toBeNull();
  });

  it("edits a schedule with a PATCH of its name, config and state, and deletes after a confirmation", async () => {
    const schedule = { ...webhook(4), kind: "schedule" as const, url: null, config: { cron: "0 9 * * *", timezone: "Asia/Tokyo", catch_up: "skip", overlap: "allow", inputs: {} } };
    stubList([schedule]);
    const patch = vi.spyOn(api, "patch").mockImplementation(((_path: string, body: { config: Trigger["config"] }) => Promise.resolve({ ...schedule, config: body.config })) as typeof api.patch);
    const remove = vi.spyOn(api, "delete").mockImplementation((() => Promise.resolve(undefined)) as typeof api.delete);
    await render(true);

    await click("trigger-edit");
    expect((byTestId("trigger-cron") as HTMLInputElement).value).toBe("0 9 * * *");
    await act(async () => setValue(byTestId("trigger-cron") as HTMLInputElement, "0 10 * * *"));
    await click("trigger-save");
    expect(patch).toHaveBeenCalledWith("/api/workflows/5/triggers/4/", {
      name: "",
      config: { cron: "0 10 * * *", timezone: "Asia/Tokyo", catch_up: "skip", overlap: "allow", inputs: {} },
      enabled: true,
    });
    expect(byTestId("trigger-4")?.textContent).toContain("At 10:00, every day (Asia/Tokyo time)");

    await click("trigger-delete");
    expect(remove).not.toHaveBeenCalled();
    await click("trigger-delete-confirm");
    expect(remove).toHaveBeenCalledWith("/api/workflows/5/triggers/4/");
    expect(byTestId("trigger-4")).toBeNull();
  });

  it("lists triggers read-only for viewers", async () => {
    stubList([webhook(1)]);
    await render(false);
    expect(byTestId("triggers-read-only")).not.toBeNull();
    expect(byTestId("trigger-add-webhook")).toBeNull();
    expect(byTestId("trigger-edit")).toBeNull();
    expect(byTestId("trigger-toggle")).toBeNull();
    expect(byTestId("trigger-state")?.textContent).toBe("On");
    expect(byTestId("trigger-url")?.textContent).toBe("http://flowdeck.test/hooks/token-1/");
  });
});
