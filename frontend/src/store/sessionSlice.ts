import type { StateCreator } from "zustand";

import { type AppUrls, type BootData, DEFAULT_URLS, type SessionUser } from "./boot";

export interface SessionSlice {
  user: SessionUser | null;
  urls: AppUrls;
  /** Replaces the session with what the page shell embedded. Called once at start-up. */
  hydrateSession: (boot: BootData) => void;
}

export const createSessionSlice: StateCreator<SessionSlice, [], [], SessionSlice> = (set) => ({
  user: null,
  urls: { ...DEFAULT_URLS },
  hydrateSession: (boot) => set({ user: boot.user, urls: boot.urls }),
});
