/** The login page URL that brings the user back to `nextPath` after signing in. */
export function loginUrlFor(loginPath: string, nextPath: string): string {
  const url = new URL(loginPath, window.location.origin);
  url.searchParams.set("next", nextPath);
  return `${url.pathname}${url.search}`;
}

export function currentPath(): string {
  return `${window.location.pathname}${window.location.search}${window.location.hash}`;
}

/** Full-page navigation, behind an object so tests can observe it (jsdom cannot navigate). */
export const pageNavigation = {
  assign(url: string): void {
    window.location.assign(url);
  },
};
