import { create } from "zustand";

import { type ConnectivitySlice, createConnectivitySlice } from "./connectivitySlice";
import { createInboxSlice, type InboxSlice } from "./inboxSlice";
import { createSessionSlice, type SessionSlice } from "./sessionSlice";
import { createThemeSlice, type ThemeSlice } from "./themeSlice";

export type AppState = SessionSlice & ThemeSlice & InboxSlice & ConnectivitySlice;

/** One store, composed of slices; components select the smallest piece they need. */
export const useAppStore = create<AppState>()((...args) => ({
  ...createSessionSlice(...args),
  ...createThemeSlice(...args),
  ...createInboxSlice(...args),
  ...createConnectivitySlice(...args),
}));

export type { AppUrls, BootData, SessionUser } from "./boot";
export { readBootData } from "./boot";
