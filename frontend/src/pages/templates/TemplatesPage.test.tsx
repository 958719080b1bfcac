import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { TemplateSummary } from "../../api/templates";
import TemplatesPage from "./TemplatesPage";

globalThis.IS_REACT_ACT_ENVIRONMENT = true;

const TEMPLATE = {
  slug: "content-pipeline",
  title: "Content pipeline",
  category: "content",
  summary: "Parallel reviewers and a join.",
  documentation: "What it does: `write` drafts.\n\nTry it: run it.",
  name: "Content pipeline",
  tags: ["template"],
  node_types: ["end", "join", "parallel", "prompt", "start"],
  node_count: 9,
  agents: ["tpl-writer"],
  trigger: null,
  sample_inputs: { topic: "x" },
} satisfies TemplateSummary;
const WEBHOOK = { ...TEMPLATE, slug: "webhook-enrichment", title: "Webhook", trigger: { kind: "webhook", name: "New lead" } } satisfies TemplateSummary;

let container: HTMLDivElement;
let root: Root;

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

async function settle() {
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
}

async function renderPage() {
  const router = createMemoryRouter(
    [
      { path: "/templates", element: <TemplatesPage /> },
      { path: "/workflows/:id", element: <h1>Editor</h1> },
    ],
    { initialEntries: ["/templates"] },
  );
  await act(async () => {
    root.render(<RouterProvider router={router} />);
  });
  await settle();
  return router;
}

function stubApi(use: (url: string) => Response) {
  const fetchMock = vi.fn((url: string, init: RequestInit = {}) => {
    if ((init.method ?? "GET") === "GET") return Promise.resolve(answer(200, { count: 2, next: null, previous: null, results: [TEMPLATE, WEBHOOK] }));
    return Promise.resolve(use(url));
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}

async function clickUse(slug: string) {
  const card = container.querySelector(`[data-testid="template-${slug}"]`);
  const button = [...(card?.querySelectorAll("button") ?? [])].find((candidate) => candidate.textContent === "Use template");
  if (!button) throw new Error(`no Use template button on ${slug}`);
  await act(async () => {
    button.click();
  });
  await settle();
}

beforeEach(() => {
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.unstubAllGlobals();
});

describe("TemplatesPage", () => {
  it("lists the templates with their documentation on demand", async () => {
    stubApi(() => answer(500, {}));
    await renderPage();
    expect(container.querySelectorAll("article")).toHaveLength(2);
    expect(container.textContent).toContain("webhook trigger (created disabled)");
    expect(container.querySelector("code")).toBeNull();
    const details = [...container.querySelectorAll("button")].find((candidate) => candidate.textContent === "How it works");
    await act(async () => details?.click());
    expect([...container.querySelectorAll("code")].map((code) => code.textContent)).toEqual(["write"]);
  });

  it("creates the workflow and opens it in the editor", async () => {
    const fetchMock = stubApi(() => answer(201, { workflow: { id: 42, name: "Content pipeline", active_version: 1 }, published: true, trigger: null }));
    const router = await renderPage();
    await clickUse("content-pipeline");
    expect(fetchMock).toHaveBeenCalledWith("/api/templates/content-pipeline/use/", expect.objectContaining({ method: "POST" }));
    expect(router.state.location.pathname).toBe("/workflows/42");
  });

  it("shows a webhook's secret once before opening the workflow", async () => {
    stubApi(() =>
      answer(201, {
        workflow: { id: 7, name: "Webhook", active_version: 1 },
        published: true,
        trigger: { id: 3, kind: "webhook", name: "New lead", enabled: false, url: "http://x/hooks/abc/", secret: "whsec_123" },
      }),
    );
    const router = await renderPage();
    await clickUse("webhook-enrichment");
    const notice = container.querySelector('[data-testid="template-created"]');
    expect(notice?.textContent).toContain("whsec_123");
    expect(notice?.textContent).toContain("http://x/hooks/abc/");
    expect(router.state.location.pathname).toBe("/templates");
    const open = [...(notice?.querySelectorAll("button") ?? [])].find((candidate) => candidate.textContent === "Open the workflow");
    await act(async () => open?.click());
    expect(router.state.location.pathname).toBe("/workflows/7");
  });

  it("says so when a template cannot be used", async () => {
    stubApi(() => answer(404, { detail: "No such template." }));
    const router = await renderPage();
    await clickUse("content-pipeline");
    expect(container.textContent).toContain("No such template.");
    expect(router.state.location.pathname).toBe("/templates");
  });
});
