import type { StateCreator } from "zustand";

export interface InboxSlice {
  /** Approvals the signed-in user can decide now; null until the first answer. */
  pendingApprovalCount: number | null;
  /** True while the `ws/inbox/` socket is open, so the count follows changes as they happen. */
  isInboxLive: boolean;
  setPendingApprovalCount: (count: number) => void;
  setInboxLive: (isLive: boolean) => void;
}

export const createInboxSlice: StateCreator<InboxSlice, [], [], InboxSlice> = (set) => ({
  pendingApprovalCount: null,
  isInboxLive: false,
  setPendingApprovalCount: (count) => set({ pendingApprovalCount: Math.max(0, count) }),
  setInboxLive: (isLive) => set({ isInboxLive: isLive }),
});
