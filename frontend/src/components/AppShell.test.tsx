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

/** The shell opens ws/inbox/; this stands in for it so tests can push messages. */
class FakeSocket {
  static instances: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }
  close() {
    this.onclose?.();
  }
}

let pendingCount = 0;

async function settle(ms = 0) {
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, ms));
  });
}

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
  pendingCount = 0;
  FakeSocket.instances = [];
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal(
    "fetch",
    vi.fn((url: string) =>
      Promise.resolve(
        new Response(
          JSON.stringify({ count: url.startsWith("/api/approvals/") ? pendingCount : 0, next: null, previous: null, results: [] }),
          { headers: { "Content-Type": "application/json" } },
        ),
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
  useAppStore.setState({
    user: null,
    urls: { ...DEFAULT_URLS },
    pendingApprovalCount: null,
    isBrowserOnline: true,
    isServerReachable: true,
  });
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

  it("shows the pending approval count and follows the inbox socket live", async () => {
    useAppStore.setState({ user: { username: "ada", is_staff: false } });
    pendingCount = 2;

    await renderAt("/workflows");
    await settle();
    const badge = () => container.querySelector("[data-testid=inbox-count]");
    expect(badge()?.textContent).toBe("2 approvals waiting");
    const socket = FakeSocket.instances[0];
    expect(socket?.url).toBe(`ws://${window.location.host}/ws/inbox/`);

    pendingCount = 3;
    await act(async () => {
      socket?.onopen?.();
      socket?.onmessage?.(new MessageEvent("message", { data: JSON.stringify({ type: "approval.upsert", approval: { id: "a" } }) }));
    });
    await settle(200);
    expect(badge()?.textContent).toBe("3 approvals waiting");

    pendingCount = 0;
    await act(async () => {
      socket?.onmessage?.(new MessageEvent("message", { data: JSON.stringify({ type: "approval.remove", approval: { id: "a" } }) }));
    });
    await settle(200);
    expect(badge()).toBeNull();
  });

  it("shows an offline banner while the browser is offline", async () => {
    useAppStore.setState({ user: { username: "ada", is_staff: false } });
    await renderAt("/runs");
    const online = vi.spyOn(navigator, "onLine", "get");

    online.mockReturnValue(false);
    await act(async () => {
      window.dispatchEvent(new Event("offline"));
    });
    expect(container.querySelector(".connection-banner")?.textContent).toContain("You are offline.");

    online.mockReturnValue(true);
    await act(async () => {
      window.dispatchEvent(new Event("online"));
    });
    expect(container.querySelector(".connection-banner")).toBeNull();
  });

  it("says the server is unreachable after a request gets no answer, until one gets through", async () => {
    useAppStore.setState({ user: { username: "ada", is_staff: false } });
    vi.stubGlobal("fetch", vi.fn(() => Promise.reject(new TypeError("Failed to fetch"))));

    await renderAt("/workflows");
    await settle();
    expect(container.querySelector(".connection-banner")?.textContent).toContain("Cannot reach the Flowdeck server.");

    vi.stubGlobal("fetch", vi.fn(() => Promise.resolve(new Response('{"status": "ok"}', { headers: { "Content-Type": "application/json" } }))));
    const tryNow = [...container.querySelectorAll("button")].find((button) => button.textContent === "Try now");
    await act(async () => {
      tryNow?.click();
    });
    await settle();
    expect(container.querySelector(".connection-banner")).toBeNull();
  });
});
