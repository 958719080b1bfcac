import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { routes } from "../routes";
import { DEFAULT_URLS } from "../store/boot";
import { useAppStore } from "../store";

globalThis.IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLDivElement;
let root: Root;

async function renderAt(path: string) {
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  await act(async () => {
    root.render(<RouterProvider router={router} />);
  });
  return router;
}

function navLink(name: string): HTMLAnchorElement | undefined {
  return [...container.querySelectorAll<HTMLAnchorElement>("nav a")].find((link) => link.textContent === name);
}

beforeEach(() => {
  // The shell's pages load data; an empty list keeps these tests about the shell itself.
  vi.stubGlobal(
    "fetch",
    vi.fn(() =>
      Promise.resolve(
        new Response(JSON.stringify({ count: 0, next: null, previous: null, results: [] }), {
          headers: { "Content-Type": "application/json" },
        }),
      ),
    ),
  );
  document.cookie = "csrftoken=shell-token";
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  document.cookie = "csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT";
  useAppStore.setState({ user: null, urls: { ...DEFAULT_URLS } });
});

describe("AppShell", () => {
  it("marks the current section with aria-current and hides Admin from non-staff", async () => {
    useAppStore.setState({ user: { username: "ada", is_staff: false } });

    await renderAt("/runs");

    expect(navLink("Runs")?.getAttribute("aria-current")).toBe("page");
    expect(navLink("Workflows")?.hasAttribute("aria-current")).toBe(false);
    expect(navLink("Admin")).toBeUndefined();
    expect(container.querySelector("h1")?.textContent).toBe("Runs");
  });

  it("shows Admin to staff and a logout form that posts the CSRF token", async () => {
    useAppStore.setState({
      user: { username: "root", is_staff: true },
      urls: { ...DEFAULT_URLS, admin: "/admin/", logout: "/accounts/logout/" },
    });

    await renderAt("/agents");

    expect(navLink("Admin")?.getAttribute("href")).toBe("/admin/");
    const form = container.querySelector<HTMLFormElement>("form.logout-form");
    expect(form?.getAttribute("method")).toBe("post");
    expect(form?.getAttribute("action")).toBe("/accounts/logout/");
    expect(form?.querySelector<HTMLInputElement>("input[name=csrfmiddlewaretoken]")?.value).toBe("shell-token");
    expect(container.textContent).toContain("root");
  });

  it("redirects / to /workflows and shows Not found for unknown paths", async () => {
    const router = await renderAt("/");
    expect(router.state.location.pathname).toBe("/workflows");

    await act(async () => {
      await router.navigate("/no/such/page");
    });
    expect(container.querySelector("h1")?.textContent).toBe("Page not found");
  });
});
