import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { WorkflowSummary } from "../api";
import { pageNavigation } from "../lib/auth";
import { useAppStore } from "../store";
import { DEFAULT_URLS } from "../store/boot";
import WorkflowsPage from "./WorkflowsPage";

globalThis.IS_REACT_ACT_ENVIRONMENT = true;

const WORKFLOW = {
  id: 1,
  name: "Support triage",
  description: "Sort incoming tickets",
  tags: ["support"],
  owner: "ada",
  role: "owner",
  revision: 5,
  active_version: 3,
  is_archived: false,
  archived_at: null,
  max_concurrent_runs: null,
  timeout_s: null,
  created_at: "2025-01-01T09:00:00Z",
  updated_at: "2025-01-01T10:00:00Z",
} satisfies WorkflowSummary;

let container: HTMLDivElement;
let root: Root;

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

async function settle() {
  // Let the stubbed fetch settle and React commit the result.
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
}

async function renderPage(path = "/workflows") {
  const router = createMemoryRouter(
    [
      { path: "/workflows", element: <WorkflowsPage /> },
      { path: "/workflows/:id", element: <h1>Editor</h1> },
    ],
    { initialEntries: [path] },
  );
  await act(async () => {
    root.render(<RouterProvider router={router} />);
  });
  await settle();
  return router;
}

type Handler = (url: string, init: RequestInit) => Response;

/** Answers each request with the first handler whose "METHOD /path" prefix matches it. */
function stubApi(routes: Record<string, Handler>) {
  const fetchMock = vi.fn((url: string, init: RequestInit = {}) => {
    const key = `${init.method ?? "GET"} ${url}`;
    const match = Object.entries(routes).find(([prefix]) => key.startsWith(prefix));
    return match ? Promise.resolve(match[1](url, init)) : Promise.reject(new TypeError(`unexpected ${key}`));
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}

const pageOf = (...results: WorkflowSummary[]) => answer(200, { count: results.length, next: null, previous: null, results });

function button(name: string): HTMLButtonElement {
  const found = [...container.querySelectorAll("button")].find(
    (candidate) => candidate.textContent === name || candidate.getAttribute("aria-label") === name,
  );
  if (!found) throw new Error(`no button ${name}`);
  return found;
}

async function click(element: HTMLElement) {
  await act(async () => {
    element.click();
  });
  await settle();
}

async function type(element: HTMLInputElement | HTMLTextAreaElement, value: string) {
  const prototype = element instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  await act(async () => {
    Object.getOwnPropertyDescriptor(prototype, "value")?.set?.call(element, value);
    element.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

function field(label: string): HTMLInputElement {
  const labelElement = [...container.querySelectorAll("label")].find((candidate) => candidate.textContent === label);
  const control = labelElement && document.getElementById(labelElement.htmlFor);
  if (!control) throw new Error(`no field ${label}`);
  return control as HTMLInputElement;
}

beforeEach(() => {
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
  useAppStore.setState({ user: { username: "ada", is_staff: false }, urls: { ...DEFAULT_URLS } });
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

describe("WorkflowsPage", () => {
  it("lists workflows, passing the search from the address to the API", async () => {
    const fetchMock = vi.fn((_url: string, _init?: RequestInit) =>
      Promise.resolve(answer(200, { count: 1, next: null, previous: null, results: [WORKFLOW] })),
    );
    vi.stubGlobal("fetch", fetchMock);

    await renderPage("/workflows?search=triage");

    expect(fetchMock.mock.calls[0]?.[0]).toBe("/api/workflows/?search=triage");
    expect(container.querySelector(".workflow-row__name")?.textContent).toBe("Support triage");
    expect(container.textContent).toContain("Published v3");
    expect(container.textContent).toContain("1 workflow matching “triage”");
  });

  it("sends a signed-out user to the login page with the current path as next", async () => {
    vi.stubGlobal("fetch", vi.fn(() => Promise.resolve(answer(401, { detail: "Authentication credentials were not provided." }))));
    const assign = vi.spyOn(pageNavigation, "assign").mockImplementation(() => {});
    window.history.replaceState(null, "", "/workflows?search=x");

    await renderPage();

    expect(assign).toHaveBeenCalledWith("/accounts/login/?next=%2Fworkflows%3Fsearch%3Dx");
    expect(container.textContent).toContain("Your session has ended.");
  });

  it("shows a 403 in place instead of redirecting", async () => {
    vi.stubGlobal("fetch", vi.fn(() => Promise.resolve(answer(403, { detail: "CSRF Failed: token missing." }))));
    const assign = vi.spyOn(pageNavigation, "assign").mockImplementation(() => {});

    await renderPage();

    expect(assign).not.toHaveBeenCalled();
    expect(container.querySelector("[role=alert]")?.textContent).toContain("You do not have access");
  });

  it("explains a network failure and retries on request", async () => {
    const fetchMock = vi
      .fn<() => Promise<Response>>()
      .mockRejectedValueOnce(new TypeError("Failed to fetch"))
      .mockResolvedValueOnce(answer(200, { count: 0, next: null, previous: null, results: [] }));
    vi.stubGlobal("fetch", fetchMock);

    await renderPage();
    expect(container.querySelector("[role=alert]")?.textContent).toContain("You appear to be offline");

    const retry = [...container.querySelectorAll("button")].find((button) => button.textContent === "Try again");
    await act(async () => {
      retry?.click();
      await new Promise((resolve) => setTimeout(resolve, 0));
    });

    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(container.textContent).toContain("No workflows yet.");
  });

  it("passes the owner, tag and archived filters from the address to the API", async () => {
    const fetchMock = stubApi({ "GET /api/workflows/": () => pageOf({ ...WORKFLOW, is_archived: true }) });

    await renderPage("/workflows?owner=ada&tag=support&archived=true");

    expect(fetchMock.mock.calls[0]?.[0]).toBe("/api/workflows/?owner=ada&tag=support&is_archived=true");
    expect(container.textContent).toContain("1 archived workflow owned by you, tagged “support”");
    expect(field("Owner").value).toBe("ada");
    expect(button("Restore Support triage")).toBeDefined();
  });

  it("creates a workflow and opens it in the editor", async () => {
    const fetchMock = stubApi({
      "GET /api/workflows/": () => pageOf(),
      "POST /api/workflows/": () => answer(201, { ...WORKFLOW, id: 42 }),
    });
    const router = await renderPage();

    await click(button("New workflow"));
    await type(field("Name"), "Refunds");
    await type(field("Tags"), "money, support");
    await click(button("Create and open"));

    const [, init] = fetchMock.mock.calls[1] ?? [];
    expect(JSON.parse(String(init?.body))).toMatchObject({ name: "Refunds", description: "", tags: ["money", "support"] });
    expect(router.state.location.pathname).toBe("/workflows/42");
  });

  it("shows the server's field errors under the fields and stays on the form", async () => {
    stubApi({
      "GET /api/workflows/": () => pageOf(),
      "POST /api/workflows/": () => answer(400, { name: ["Ensure this field has no more than 200 characters."], tags: { "0": ["Too long."] } }),
    });
    await renderPage();
    await click(button("New workflow"));

    await click(button("Create and open"));
    expect(container.querySelector("[role=dialog]")?.textContent).toContain("Give the workflow a name.");

    await type(field("Name"), "Refunds");
    await click(button("Create and open"));

    expect(field("Name").getAttribute("aria-invalid")).toBe("true");
    expect(container.querySelector("[role=dialog]")?.textContent).toContain("Ensure this field has no more than 200 characters.");
    expect(field("Tags").getAttribute("aria-invalid")).toBe("true");
    expect(container.textContent).toContain("Please correct the fields marked above.");
  });

  it("archives with an undo, and reloads the list after each change", async () => {
    let archived = false;
    const fetchMock = stubApi({
      "GET /api/workflows/": () => (archived ? pageOf() : pageOf(WORKFLOW)),
      "DELETE /api/workflows/1/": () => {
        archived = true;
        return new Response(null, { status: 204 });
      },
      "PATCH /api/workflows/1/": () => {
        archived = false;
        return answer(200, WORKFLOW);
      },
    });
    await renderPage();

    await click(button("Archive Support triage"));
    expect(container.textContent).toContain("Archived “Support triage”.");
    expect(container.querySelector(".workflow-row")).toBeNull();

    await click(button("Undo"));
    expect(JSON.parse(String(fetchMock.mock.calls.at(-2)?.[1]?.body))).toEqual({ is_archived: false, revision: 5 });
    expect(container.textContent).toContain("Restored “Support triage”.");
    expect(container.querySelector(".workflow-row__name")?.textContent).toBe("Support triage");
  });

  it("explains a conflict on restore and offers to reload the list", async () => {
    const listed = { ...WORKFLOW, is_archived: true };
    const fetchMock = stubApi({
      "GET /api/workflows/": () => pageOf(listed),
      "PATCH /api/workflows/1/": () => answer(409, { detail: "The draft was saved by someone else since you loaded it.", revision: 6 }),
    });
    await renderPage("/workflows?archived=true");

    await click(button("Restore Support triage"));

    const alert = container.querySelector("[role=alert]");
    expect(alert?.textContent).toContain("Could not restore “Support triage”: changed by someone else");
    expect(alert?.textContent).toContain("The draft was saved by someone else since you loaded it.");
    const listCalls = () => fetchMock.mock.calls.filter((call) => (call[1]?.method ?? "GET") === "GET").length;
    const before = listCalls();
    await click(button("Reload the list"));
    expect(listCalls()).toBe(before + 1);
    expect(container.querySelector("[role=alert]")).toBeNull();
  });

  it("refuses a file that is not JSON before calling the server, and lists the server's objections", async () => {
    const fetchMock = stubApi({
      "GET /api/workflows/": () => pageOf(),
      "POST /api/workflows/import/": () => answer(400, { format: ['"other" is not a valid choice.'] }),
    });
    await renderPage();
    const input = container.querySelector<HTMLInputElement>("input[type=file]");
    const choose = async (file: File) => {
      await act(async () => {
        Object.defineProperty(input, "files", { value: [file], configurable: true });
        input?.dispatchEvent(new Event("change", { bubbles: true }));
      });
      await settle();
      await settle();
    };

    await choose(new File(["not json"], "notes.json"));
    expect(container.querySelector("[role=alert]")?.textContent).toContain("“notes.json” is not a JSON file");
    expect(fetchMock).toHaveBeenCalledTimes(1);

    await choose(new File([JSON.stringify({ format: "other" })], "other.json"));
    const alert = container.querySelector("[role=alert]");
    expect(alert?.textContent).toContain("Could not import “other.json”: please check what you entered");
    expect(alert?.querySelector(".error-list")?.textContent).toBe('format: "other" is not a valid choice.');
  });
});
