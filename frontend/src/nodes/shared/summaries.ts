import type { JsonValue } from "../../api/editor";

export function mapKeys(value: JsonValue | undefined): string[] {
  return value && typeof value === "object" && !Array.isArray(value) ? Object.keys(value) : [];
}

export function shorten(text: string, limit = 48): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > limit ? `${flat.slice(0, limit - 1)}…` : flat;
}

export function text(value: JsonValue | undefined): string {
  return typeof value === "string" ? value : "";
}
