import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { api, buildUrl } from "./client";
import { ApiError } from "./errors";

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** Stubs the browser's fetch: a Response is answered, anything else is thrown as fetch would. */
function stubFetch(outcome: Response | Error | DOMException) {
  const fetchMock = vi.fn(() => (outcome instanceof Response ? Promise.resolve(outcome) : Promise.reject(outcome)));
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}

function lastCall(fetchMock: ReturnType<typeof stubFetch>): [string, RequestInit] {
  const call = fetchMock.mock.lastCall as unknown as [string, RequestInit] | undefined;
  if (!call) throw new Error("fetch was not called");
  return call;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

describe("api client requests", () => {
  beforeEach(() => {
    document.cookie = "csrftoken=token%2Fvalue-123";
  });

  afterEach(() => {
    document.cookie = "csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT";
  });

  it("sends a POST as JSON with the CSRF token from the cookie and same-origin credentials", async () => {
    const fetchMock = stubFetch(jsonResponse(201, { id: 7 }));

    const created = await api.post<{ id: number }>("/api/workflows/", { name: "Triage" });

    expect(created).toEqual({ id: 7 });
    const [url, init] = lastCall(fetchMock);
    expect(url).toBe("/api/workflows/");
    expect(init.method).toBe("POST");
    expect(init.credentials).toBe("same-origin");
    expect(init.body).toBe('{"name":"Triage"}');
    expect(init.headers).toEqual({
      Accept: "application/json",
      "Content-Type": "application/json",
      "X-CSRFToken": "token/value-123",
    });
  });

  it("sends no CSRF token and no body on GET, and drops empty query values", async () => {
    const fetchMock = stubFetch(jsonResponse(200, { count: 0, next: null, previous: null, results: [] }));

    await api.get("/api/workflows/", { query: { search: "daily report", tag: "", owner: undefined } });

    const [url, init] = lastCall(fetchMock);
    expect(url).toBe("/api/workflows/?search=daily+report");
    expect(init.method).toBe("GET");
    expect(init.body).toBeUndefined();
    expect(init.headers).toEqual({ Accept: "application/json" });
  });

  it("omits the CSRF header when the cookie is absent rather than sending an empty one", async () => {
    document.cookie = "csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT";
    const fetchMock = stubFetch(new Response(null, { status: 204 }));

    const result = await api.delete("/api/workflows/3/");

    expect(result).toBeUndefined();
    expect(lastCall(fetchMock)[1].headers).toEqual({ Accept: "application/json" });
  });
});

describe("api client error mapping", () => {
  it("maps a DRF detail answer onto ApiError and flags 401 as signed out", async () => {
    stubFetch(jsonResponse(401, { detail: "Authentication credentials were not provided." }));

    const error = await caught(api.get("/api/workflows/"));

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, detail: "Authentication credentials were not provided." });
    expect((error as ApiError).errors).toBeUndefined();
    expect((error as ApiError).isUnauthenticated).toBe(true);
    expect((error as ApiError).isForbidden).toBe(false);
    expect((error as ApiError).isNetworkError).toBe(false);
  });

  it("flags 403 as forbidden, not signed out, and falls back to a generic detail", async () => {
    stubFetch(jsonResponse(403, {}));

    const error = (await caught(api.post("/api/workflows/1/publish/", {}))) as ApiError;

    expect(error).toMatchObject({ status: 403, detail: "You do not have permission to do this." });
    expect(error.isForbidden).toBe(true);
    expect(error.isUnauthenticated).toBe(false);
  });

  it("keeps DRF field errors and picks a readable detail", async () => {
    stubFetch(jsonResponse(400, { name: ["This field is required."], tags: "Not a list." }));

    const error = (await caught(api.post("/api/workflows/", {}))) as ApiError;

    expect(error.status).toBe(400);
    expect(error.detail).toBe("The request was not accepted.");
    expect(error.errors).toEqual({ name: ["This field is required."], tags: ["Not a list."] });
  });

  it("keeps graph validation issues from a publish refusal", async () => {
    const issues = [{ code: "unreachable_node", message: "Node n3 cannot be reached.", node_id: "n3" }];
    stubFetch(jsonResponse(400, { detail: "The graph is not valid.", errors: issues }));

    const error = (await caught(api.post("/api/workflows/1/publish/", { note: "" }))) as ApiError;

    expect(error).toMatchObject({ status: 400, detail: "The graph is not valid.", errors: issues });
  });

  it("gives a generic detail when a 5xx answer is not JSON", async () => {
    stubFetch(new Response("<h1>Bad Gateway</h1>", { status: 502, headers: { "Content-Type": "text/html" } }));

    const error = (await caught(api.get("/api/workflows/"))) as ApiError;

    expect(error).toMatchObject({ status: 502, detail: "The server had a problem answering." });
  });

  it("turns a failed connection into a network ApiError with status 0", async () => {
    stubFetch(new TypeError("Failed to fetch"));

    const error = (await caught(api.get("/api/workflows/"))) as ApiError;

    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(0);
    expect(error.isNetworkError).toBe(true);
    expect(error.isUnauthenticated).toBe(false);
  });

  it("lets an abort through untouched so callers can ignore it", async () => {
    const controller = new AbortController();
    controller.abort();
    const abort = new DOMException("The operation was aborted.", "AbortError");
    stubFetch(abort);

    const error = await caught(api.get("/api/workflows/", { signal: controller.signal }));

    expect(error).toBe(abort);
  });
});

describe("buildUrl", () => {
  it("accepts a same-origin pagination link and keeps its query", () => {
    expect(buildUrl(`${window.location.origin}/api/workflows/?page=2&search=x`)).toBe("/api/workflows/?page=2&search=x");
  });

  it("refuses another origin so the CSRF token never leaves the site", () => {
    expect(() => buildUrl("https://attacker.example/api/")).toThrow(ApiError);
  });
});
