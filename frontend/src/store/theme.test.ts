import { afterEach, describe, expect, it, vi } from "vitest";

import { THEME_STORAGE_KEY } from "../lib/theme";
import { useAppStore } from "./index";

function stubSystemTheme(isDark: boolean) {
  vi.stubGlobal(
    "matchMedia",
    vi.fn((query: string) => ({
      matches: isDark,
      media: query,
      addEventListener: vi.fn(),
      removeEventListener: vi.fn(),
    })),
  );
}

afterEach(() => {
  window.localStorage.clear();
  delete document.documentElement.dataset.theme;
  useAppStore.setState({ theme: "light", isThemeChosen: false });
});

describe("theme slice", () => {
  it("follows the OS preference when the user has not chosen", () => {
    stubSystemTheme(true);

    useAppStore.getState().initTheme();

    expect(useAppStore.getState()).toMatchObject({ theme: "dark", isThemeChosen: false });
    expect(document.documentElement.dataset.theme).toBe("dark");
  });

  it("prefers the stored choice over the OS preference", () => {
    stubSystemTheme(true);
    window.localStorage.setItem(THEME_STORAGE_KEY, "light");

    useAppStore.getState().initTheme();

    expect(useAppStore.getState()).toMatchObject({ theme: "light", isThemeChosen: true });
    expect(document.documentElement.dataset.theme).toBe("light");
  });

  it("stores a toggle, applies it, and then ignores OS changes", () => {
    stubSystemTheme(false);
    const store = useAppStore.getState();
    store.initTheme();

    store.toggleTheme();
    store.followSystemTheme("light");

    expect(window.localStorage.getItem(THEME_STORAGE_KEY)).toBe("dark");
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(useAppStore.getState().theme).toBe("dark");
  });

  it("follows an OS change while no choice is stored", () => {
    stubSystemTheme(false);
    const store = useAppStore.getState();
    store.initTheme();

    store.followSystemTheme("dark");

    expect(document.documentElement.dataset.theme).toBe("dark");
  });
});
