/** Returns the value of one cookie, or null when it is absent. */
export function readCookie(name: string, cookieString: string = document.cookie): string | null {
  for (const part of cookieString.split(";")) {
    const separator = part.indexOf("=");
    if (separator === -1) continue;
    if (part.slice(0, separator).trim() !== name) continue;
    const raw = part.slice(separator + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return null;
}

/** Django's CSRF cookie; the session-authenticated API refuses unsafe methods without it. */
export const CSRF_COOKIE_NAME = "csrftoken";

export function readCsrfToken(): string | null {
  return readCookie(CSRF_COOKIE_NAME);
}
