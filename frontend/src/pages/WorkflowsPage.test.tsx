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

async function renderPage(path = "/workflows") {
  const router = createMemoryRouter([{ path: "/workflows", element: <WorkflowsPage /> }], { initialEntries: [path] });
  await act(async () => {
    root.render(<RouterProvider router={router} />);
  });
  // Let the stubbed fetch settle and React commit the result.
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
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
});
