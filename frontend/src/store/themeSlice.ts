import type { StateCreator } from "zustand";

import { applyTheme, readStoredTheme, storeTheme, systemTheme, type Theme } from "../lib/theme";

export interface ThemeSlice {
  theme: Theme;
  /** True once the user picked a theme; until then the OS preference decides. */
  isThemeChosen: boolean;
  /** Reads the stored choice (or the OS preference) and applies it to the document. */
  initTheme: () => void;
  toggleTheme: () => void;
  /** Follows an OS theme change unless the user has chosen a theme. */
  followSystemTheme: (theme: Theme) => void;
}

export const createThemeSlice: StateCreator<ThemeSlice, [], [], ThemeSlice> = (set, get) => ({
  theme: "light",
  isThemeChosen: false,
  initTheme: () => {
    const stored = readStoredTheme();
    const theme = stored ?? systemTheme();
    applyTheme(theme);
    set({ theme, isThemeChosen: stored !== null });
  },
  toggleTheme: () => {
    const theme: Theme = get().theme === "dark" ? "light" : "dark";
    storeTheme(theme);
    applyTheme(theme);
    set({ theme, isThemeChosen: true });
  },
  followSystemTheme: (theme) => {
    if (get().isThemeChosen) return;
    applyTheme(theme);
    set({ theme });
  },
});
