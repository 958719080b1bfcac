import { ApiError } from "../../api";
import type { JsonValue } from "../../api/editor";

export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, "Something went wrong.");
}

/** The JSON in a text field; undefined when it does not parse. Empty text is null. */
export function parseJsonField(text: string): JsonValue | undefined {
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
}
