/**
 * The Django shell embeds `<script id="flowdeck-boot" type="application/json">` (json_script) with
 * the signed-in user and the server-side URLs the SPA must not hard-code. Reading it never throws:
 * a missing or damaged blob yields no user and the default URLs, and the app still renders.
 */

export const BOOT_ELEMENT_ID = "flowdeck-boot";

export interface SessionUser {
  username: string;
  is_staff: boolean;
}

export interface AppUrls {
  login: string;
  logout: string;
  admin: string;
  api_docs: string;
}

export interface BootData {
  user: SessionUser | null;
  urls: AppUrls;
}

export const DEFAULT_URLS: Readonly<AppUrls> = Object.freeze({
  login: "/accounts/login/",
  logout: "/accounts/logout/",
  admin: "/admin/",
  api_docs: "/api/docs/",
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseUser(value: unknown): SessionUser | null {
  if (!isRecord(value) || typeof value.username !== "string" || value.username === "") return null;
  return { username: value.username, is_staff: value.is_staff === true };
}

function parseUrls(value: unknown): AppUrls {
  const urls: AppUrls = { ...DEFAULT_URLS };
  if (!isRecord(value)) return urls;
  for (const key of Object.keys(DEFAULT_URLS) as (keyof AppUrls)[]) {
    const candidate = value[key];
    // Only same-site paths: the blob is server-made, but a stray absolute URL here would become
    // a login redirect or a form target.
    if (typeof candidate === "string" && candidate.startsWith("/") && !candidate.startsWith("//")) {
      urls[key] = candidate;
    }
  }
  return urls;
}

export function parseBootData(raw: unknown): BootData {
  if (!isRecord(raw)) return { user: null, urls: { ...DEFAULT_URLS } };
  return { user: parseUser(raw.user), urls: parseUrls(raw.urls) };
}

export function readBootData(doc: Document = document): BootData {
  const element = doc.getElementById(BOOT_ELEMENT_ID);
  let raw: unknown = null;
  if (element?.textContent) {
    try {
      raw = JSON.parse(element.textContent);
    } catch {
      raw = null;
    }
  }
  return parseBootData(raw);
}
