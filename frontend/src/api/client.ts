/**
 * The only place in the front end that calls fetch. Everything the server answers with a non-2xx
 * status, and every failure to reach it, leaves here as an ApiError.
 */
import { readCsrfToken } from "../lib/cookies";
import { ApiError, apiErrorFromBody, networkError } from "./errors";

export type QueryValue = string | number | boolean | null | undefined;
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  signal?: AbortSignal;
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Methods Django's CSRF middleware checks; GET and HEAD must stay side-effect free. */
const UNSAFE_METHODS: ReadonlySet<Method> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Builds a same-origin path from an API path or from a pagination link (DRF's `next` and
 * `previous` are absolute URLs). A foreign origin is refused so a crafted link cannot make the
 * client send the session cookie's CSRF token elsewhere.
 */
export function buildUrl(pathOrUrl: string, query?: Query): string {
  const url = new URL(pathOrUrl, window.location.origin);
  if (url.origin !== window.location.origin) {
    throw new ApiError(0, `Refusing to call a different origin: ${url.origin}`);
  }
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    url.searchParams.set(key, String(value));
  }
  return `${url.pathname}${url.search}`;
}

type ReachabilityListener = (isReachable: boolean) => void;
const reachabilityListeners = new Set<ReachabilityListener>();

/**
 * Tells the shell whether the last request reached the server at all (any HTTP answer counts,
 * even an error status), so it can show an offline banner and clear it on the next success.
 */
export function onReachabilityChange(listener: ReachabilityListener): () => void {
  reachabilityListeners.add(listener);
  return () => {
    reachabilityListeners.delete(listener);
  };
}

function reportReachability(isReachable: boolean): void {
  for (const listener of reachabilityListeners) listener(isReachable);
}

async function readBody(response: Response): Promise<unknown> {
  if (response.status === 204 || response.status === 205) return undefined;
  const text = await response.text();
  if (!text) return undefined;
  const contentType = response.headers.get("Content-Type") ?? "";
  if (!contentType.includes("json")) return text;
  return JSON.parse(text) as unknown;
}

async function request<T>(method: Method, path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE_METHODS.has(method)) {
    const token = readCsrfToken();
    if (token) headers["X-CSRFToken"] = token;
  }

  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (options.signal) init.signal = options.signal;

  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), init);
  } catch (error) {
    // An abort is the caller's own decision, not a failure to report.
    if (options.signal?.aborted) throw error;
    reportReachability(false);
    throw networkError();
  }
  reportReachability(true);

  let parsed: unknown;
  try {
    parsed = await readBody(response);
  } catch (error) {
    if (options.signal?.aborted) throw error;
    if (!response.ok) throw apiErrorFromBody(response.status, undefined);
    throw new ApiError(response.status, "The server sent an answer Flowdeck could not read.");
  }

  if (!response.ok) throw apiErrorFromBody(response.status, parsed);
  return parsed as T;
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>("GET", path, undefined, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("POST", path, body ?? {}, options),
  put: <T>(path: string, body: unknown, options?: RequestOptions) => request<T>("PUT", path, body, options),
  patch: <T>(path: string, body: unknown, options?: RequestOptions) => request<T>("PATCH", path, body, options),
  delete: <T = void>(path: string, options?: RequestOptions) => request<T>("DELETE", path, undefined, options),
};

/** Asks the liveness endpoint whether the server answers; reports the result like any request. */
export async function pingServer(): Promise<boolean> {
  try {
    await request<unknown>("GET", "/health", undefined);
    return true;
  } catch {
    return false;
  }
}

export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}
