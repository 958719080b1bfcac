import { useEffect } from "react";

import { connectInbox, fetchPendingApprovalCount } from "../api";
import { useAppStore } from "../store";

/** Several changes in a burst (a run fanning out approvals) cost one refetch. */
export const INBOX_REFRESH_DELAY_MS = 150;

/**
 * Keeps the store's pending-approval count current: fetched at start, then refetched whenever the
 * `ws/inbox/` socket reports a change and after every (re)connect — the socket has no sequence
 * numbers, so whatever happened while it was down is only known from REST.
 */
export function useLiveInboxCount(isEnabled: boolean): void {
  const setPendingApprovalCount = useAppStore((state) => state.setPendingApprovalCount);
  const setInboxLive = useAppStore((state) => state.setInboxLive);

  useEffect(() => {
    if (!isEnabled) return;
    let controller: AbortController | null = null;
    let refreshTimer: ReturnType<typeof setTimeout> | undefined;

    const refresh = () => {
      controller?.abort();
      const current = new AbortController();
      controller = current;
      // A failed count keeps the last one shown; the offline banner explains a lost connection.
      fetchPendingApprovalCount(current.signal).then(setPendingApprovalCount, () => undefined);
    };
    const scheduleRefresh = () => {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(refresh, INBOX_REFRESH_DELAY_MS);
    };

    refresh();
    const connection = connectInbox({
      onMessage: scheduleRefresh,
      onOpen: () => {
        setInboxLive(true);
        // Also on the first open: an approval created between the fetch and the socket's
        // subscription would otherwise be missed.
        scheduleRefresh();
      },
      onClose: () => setInboxLive(false),
    });

    return () => {
      connection.close();
      controller?.abort();
      clearTimeout(refreshTimer);
      setInboxLive(false);
    };
  }, [isEnabled, setPendingApprovalCount, setInboxLive]);
}
