import { describe, expect, it, vi } from "vitest";

import { ApiError } from "./errors";
import {
  archiveWorkflow,
  copyName,
  createWorkflow,
  duplicateWorkflow,
  listWorkflows,
  MAX_WORKFLOW_NAME_LENGTH,
  restoreWorkflow,
} from "./workflows";

function json(status: number, body?: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

function stubFetch(...answers: Response[]) {
  const fetchMock = vi.fn((_url: string, _init?: RequestInit) => {
    const next = answers.shift();
    return next ? Promise.resolve(next) : Promise.reject(new TypeError("no more answers"));
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}

const EMPTY_PAGE = { count: 0, next: null, previous: null, results: [] };
const EXPORTED = {
  format: "flowdeck.workflow",
  version: 1,
  name: "Triage",
  description: "Sort tickets",
  tags: ["support"],
  graph: { schema_version: 1, nodes: [{ id: "start", type: "start" }], edges: [] },
};

describe("workflow list calls", () => {
  it("sends the filters the API knows, and only those that are set", async () => {
    const fetchMock = stubFetch(json(200, EMPTY_PAGE), json(200, EMPTY_PAGE));

    await listWorkflows({ search: "  triage ", owner: "ada", tag: "support", archived: true });
    await listWorkflows({ search: "", owner: "", archived: false });

    expect(fetchMock.mock.calls[0]?.[0]).toBe("/api/workflows/?search=triage&owner=ada&tag=support&is_archived=true");
    expect(fetchMock.mock.calls[1]?.[0]).toBe("/api/workflows/");
  });

  it("creates a workflow with a start node wired to an end node", async () => {
    const fetchMock = stubFetch(json(201, { id: 9 }));

    await createWorkflow({ name: "Triage", description: "", tags: ["support"] });

    const body = JSON.parse(String(fetchMock.mock.calls[0]?.[1]?.body)) as {
      name: string;
      tags: string[];
      graph: { nodes: { id: string; type: string }[]; edges: { source: string; target: string }[] };
    };
    expect(body.name).toBe("Triage");
    expect(body.tags).toEqual(["support"]);
    expect(body.graph.nodes.map((node) => node.type)).toEqual(["start", "end"]);
    expect(body.graph.edges).toEqual([{ id: "e_start_end", source: "start", target: "end" }]);
  });

  it("duplicates by importing the export under the name “Copy of …”", async () => {
    const fetchMock = stubFetch(json(200, EXPORTED), json(201, { id: 10, name: "Copy of Triage" }));

    const copy = await duplicateWorkflow({ id: 3, name: "Triage" });

    expect(copy.id).toBe(10);
    expect(fetchMock.mock.calls.map((call) => [call[0], call[1]?.method])).toEqual([
      ["/api/workflows/3/export/", "GET"],
      ["/api/workflows/import/", "POST"],
    ]);
    expect(JSON.parse(String(fetchMock.mock.calls[1]?.[1]?.body))).toEqual({ ...EXPORTED, name: "Copy of Triage" });
  });

  it("keeps a copy's name within the API's limit", () => {
    expect(copyName("x".repeat(MAX_WORKFLOW_NAME_LENGTH))).toHaveLength(MAX_WORKFLOW_NAME_LENGTH);
  });

  it("archives with DELETE and restores with a PATCH quoting the listed revision", async () => {
    const fetchMock = stubFetch(json(204), json(409, { detail: "The draft was saved by someone else since you loaded it.", revision: 8 }));

    await archiveWorkflow(3);
    const refused = await restoreWorkflow(3, 7).catch((error: unknown) => error);

    expect(fetchMock.mock.calls[0]?.[1]?.method).toBe("DELETE");
    expect(fetchMock.mock.calls[1]?.[1]?.method).toBe("PATCH");
    expect(JSON.parse(String(fetchMock.mock.calls[1]?.[1]?.body))).toEqual({ is_archived: false, revision: 7 });
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).isConflict).toBe(true);
  });
});
