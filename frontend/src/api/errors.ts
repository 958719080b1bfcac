/** One problem found by graph validation (DESIGN §7: validate / publish answers). */
export interface ValidationIssue {
  code: string;
  message: string;
  node_id?: string;
  edge_id?: string;
  path?: string;
}

/** DRF field errors: `{"name": ["This field is required."]}`. */
export type FieldErrors = Record<string, string[]>;

/**
 * Every failed API call becomes an ApiError, so pages branch on `status` instead of parsing
 * bodies. `status` is 0 when no HTTP answer arrived at all (offline, DNS, server down).
 */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly errors?: FieldErrors | ValidationIssue[];
  /** The error answer as parsed, for forms whose fields nest (`{"config": {"cron": [...]}}`). */
  readonly body?: unknown;

  constructor(status: number, detail: string, errors?: FieldErrors | ValidationIssue[], body?: unknown) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    if (errors !== undefined) this.errors = errors;
    if (body !== undefined) this.body = body;
  }

  get isNetworkError(): boolean {
    return this.status === 0;
  }

  /**
   * Not signed in (or the session expired). The API lists Bearer authentication first, so DRF
   * answers an anonymous request with 401, never 403.
   */
  get isUnauthenticated(): boolean {
    return this.status === 401;
  }

  /** Signed in but not allowed (or the CSRF check failed); logging in again would not help. */
  get isForbidden(): boolean {
    return this.status === 403;
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }

  /** Someone changed the thing since it was loaded (a stale revision, an already decided approval). */
  get isConflict(): boolean {
    return this.status === 409;
  }

  /** The request was refused for its content; `errors` says which fields or nodes. */
  get isValidation(): boolean {
    return this.status === 400;
  }

  /** Field errors (DRF's shape), when the answer had them. */
  get fieldErrors(): FieldErrors | undefined {
    return this.errors !== undefined && !Array.isArray(this.errors) ? this.errors : undefined;
  }

  /** Graph problems (`{"detail", "errors": [{"code", "message", …}]}`), when the answer had them. */
  get validationIssues(): ValidationIssue[] | undefined {
    return Array.isArray(this.errors) ? this.errors : undefined;
  }
}

const FALLBACK_DETAILS: Record<number, string> = {
  400: "The request was not accepted.",
  401: "You are not signed in.",
  403: "You do not have permission to do this.",
  404: "Not found.",
  409: "Someone else changed this in the meantime.",
  413: "The request is too large.",
  415: "The request format is not supported.",
  429: "Too many requests; try again shortly.",
};

function fallbackDetail(status: number): string {
  return FALLBACK_DETAILS[status] ?? (status >= 500 ? "The server had a problem answering." : `Request failed (HTTP ${status}).`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The messages under one field. DRF nests them for list and object fields — `{"tags": {"0":
 * ["Too long."]}}` or `{"graph": {"nodes": [...]}}` — and a form shows them under the field itself.
 */
function messagesOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(messagesOf);
  if (isRecord(value)) return Object.values(value).flatMap(messagesOf);
  return value === null || value === undefined ? [] : [JSON.stringify(value)];
}

function asFieldErrors(body: Record<string, unknown>): FieldErrors | undefined {
  const fields: FieldErrors = {};
  for (const [key, value] of Object.entries(body)) {
    const messages = messagesOf(value);
    if (messages.length > 0) fields[key] = messages;
  }
  return Object.keys(fields).length > 0 ? fields : undefined;
}

/**
 * Maps an error answer onto ApiError. Understands the three shapes the API uses:
 * `{"detail"}`, `{"detail", "errors": [...]}` and DRF field errors.
 */
export function apiErrorFromBody(status: number, body: unknown): ApiError {
  const error = errorFromBody(status, body);
  return body === undefined ? error : new ApiError(error.status, error.detail, error.errors, body);
}

function errorFromBody(status: number, body: unknown): ApiError {
  if (isRecord(body)) {
    const detail = typeof body.detail === "string" && body.detail ? body.detail : null;
    if (Array.isArray(body.errors)) {
      return new ApiError(status, detail ?? fallbackDetail(status), body.errors as ValidationIssue[]);
    }
    if (isRecord(body.errors)) {
      return new ApiError(status, detail ?? fallbackDetail(status), asFieldErrors(body.errors));
    }
    if (detail) return new ApiError(status, detail);
    const fields = asFieldErrors(body);
    if (fields) {
      const general = fields.non_field_errors?.[0];
      return new ApiError(status, general ?? fallbackDetail(status), fields);
    }
  }
  if (Array.isArray(body) && typeof body[0] === "string") {
    return new ApiError(status, body[0]);
  }
  return new ApiError(status, fallbackDetail(status));
}

export function networkError(): ApiError {
  return new ApiError(0, "Cannot reach the Flowdeck server. Check your connection and try again.");
}
