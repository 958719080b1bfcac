import { memo, useState } from "react";

import { pingServer } from "../api";
import { useAppStore } from "../store";
import { Icon } from "./Icon";

/**
 * One banner for a lost connection, whichever side noticed first: the browser (offline) or a
 * request that got no answer. It clears by itself when a later request gets through.
 */
export const ConnectionBanner = memo(function ConnectionBanner() {
  const isBrowserOnline = useAppStore((state) => state.isBrowserOnline);
  const isServerReachable = useAppStore((state) => state.isServerReachable);
  const [isChecking, setIsChecking] = useState(false);

  if (isBrowserOnline && isServerReachable) return null;

  const checkNow = () => {
    setIsChecking(true);
    void pingServer().finally(() => setIsChecking(false));
  };

  return (
    <div className="connection-banner" role="alert">
      <Icon name="offline" size={18} />
      {isBrowserOnline ? (
        <p>
          <strong>Cannot reach the Flowdeck server.</strong> Your last action may not have been saved; Flowdeck keeps
          trying.
        </p>
      ) : (
        <p>
          <strong>You are offline.</strong> Changes cannot be saved until your connection returns.
        </p>
      )}
      <button type="button" className="button button--small" onClick={checkNow} disabled={isChecking}>
        {isChecking ? "Checking…" : "Try now"}
      </button>
    </div>
  );
});
