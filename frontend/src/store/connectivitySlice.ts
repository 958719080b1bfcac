import type { StateCreator } from "zustand";

export interface ConnectivitySlice {
  /** What the browser says (`navigator.onLine` and its online/offline events). */
  isBrowserOnline: boolean;
  /** False after a request got no HTTP answer at all; true again after the next one that did. */
  isServerReachable: boolean;
  setBrowserOnline: (isOnline: boolean) => void;
  setServerReachable: (isReachable: boolean) => void;
}

export const createConnectivitySlice: StateCreator<ConnectivitySlice, [], [], ConnectivitySlice> = (set, get) => ({
  isBrowserOnline: typeof navigator === "undefined" ? true : navigator.onLine,
  isServerReachable: true,
  setBrowserOnline: (isOnline) => {
    if (get().isBrowserOnline !== isOnline) set({ isBrowserOnline: isOnline });
  },
  setServerReachable: (isReachable) => {
    if (get().isServerReachable !== isReachable) set({ isServerReachable: isReachable });
  },
});
