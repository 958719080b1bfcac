import { useEffect } from "react";

import { onReachabilityChange, pingServer } from "../api";
import { useAppStore } from "../store";

/** While the server does not answer, ask again this often (and on the browser's `online`). */
export const SERVER_RETRY_INTERVAL_MS = 5_000;

/**
 * Feeds the store's connectivity flags from the browser (`navigator.onLine` and its events) and
 * from every API request, and polls the liveness endpoint while the server is unreachable, so
 * the banner goes away by itself when the connection returns.
 */
export function useConnectivity(): void {
  const setBrowserOnline = useAppStore((state) => state.setBrowserOnline);
  const setServerReachable = useAppStore((state) => state.setServerReachable);
  const isServerReachable = useAppStore((state) => state.isServerReachable);

  useEffect(() => {
    const update = () => setBrowserOnline(navigator.onLine);
    update();
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    const unsubscribe = onReachabilityChange(setServerReachable);
    return () => {
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
      unsubscribe();
    };
  }, [setBrowserOnline, setServerReachable]);

  useEffect(() => {
    if (isServerReachable) return;
    const timer = setInterval(() => void pingServer(), SERVER_RETRY_INTERVAL_MS);
    const pingNow = () => void pingServer();
    window.addEventListener("online", pingNow);
    return () => {
      clearInterval(timer);
      window.removeEventListener("online", pingNow);
    };
  }, [isServerReachable]);
}
