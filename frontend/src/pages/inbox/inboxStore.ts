/**
 * The approval inbox's state: what I can decide now (REST is the authority, `ws/inbox/` messages
 * are applied at once and then confirmed by a refetch), my history, and the open item.
 */
import { create } from "zustand";

import type { Approval } from "../../api/approvals";
import type { InboxMessage } from "../../api/inbox";

/** Due soonest first (no due date last), then oldest first. */
export function sortInbox(items: readonly Approval[]): Approval[] {
  const due = (item: Approval) => (item.due_at ? Date.parse(item.due_at) : Infinity);
  return [...items].sort((a, b) => due(a) - due(b) || Date.parse(a.created_at) - Date.parse(b.created_at) || a.id.localeCompare(b.id));
}

/**
 * What the client can tell about "mine" from an approval alone: pending, not claimed by someone
 * else, not decided by me. (Assignment is implied: the socket only tells assignees; the self rule
 * is the server's to apply, so a refetch follows every message.)
 */
export function canDecideNow(approval: Approval, me: string | null): boolean {
  if (approval.status !== "pending") return false;
  if (approval.claimed_by !== null && approval.claimed_by !== me) return false;
  return !approval.decisions.some((decision) => decision.user === me);
}

/** Applies one socket message to the list of what I can decide now. */
export function applyInboxMessage(items: readonly Approval[], message: InboxMessage, me: string | null): Approval[] {
  const incoming = message.approval as unknown as Approval;
  const others = items.filter((item) => item.id !== incoming.id);
  if (message.type === "approval.upsert" && canDecideNow(incoming, me)) return sortInbox([...others, incoming]);
  return others.length === items.length ? [...items] : others;
}

/** History: newest decision first, one entry per approval. */
export function mergeHistory(history: readonly Approval[], decided: readonly Approval[]): Approval[] {
  const byId = new Map(history.map((item) => [item.id, item]));
  for (const item of decided) if (item.status !== "pending") byId.set(item.id, item);
  const at = (item: Approval) => Date.parse(item.decided_at ?? item.created_at);
  return [...byId.values()].sort((a, b) => at(b) - at(a));
}

export interface InboxState {
  me: string | null;
  items: Approval[];
  isLoaded: boolean;
  history: Approval[];
  selectedId: string | null;
  setMe: (me: string | null) => void;
  /** The authoritative list from REST. */
  replaceItems: (items: readonly Approval[]) => void;
  applyMessage: (message: InboxMessage) => void;
  /** An approval changed by my own action (claim, release, decide). */
  applyOwn: (approval: Approval) => void;
  addHistory: (items: readonly Approval[]) => void;
  select: (id: string | null) => void;
}

export const useInbox = create<InboxState>()((set) => ({
  me: null,
  items: [],
  isLoaded: false,
  history: [],
  selectedId: null,
  setMe: (me) => set({ me }),
  replaceItems: (items) => set({ items: sortInbox(items.filter((item) => item.status === "pending")), isLoaded: true }),
  applyMessage: (message) =>
    set((state) => {
      const approval = message.approval as unknown as Approval;
      // Decided (by anyone, or timed out): it belongs in the history from now on.
      const history = approval.status !== "pending" ? mergeHistory(state.history, [approval]) : state.history;
      return { items: applyInboxMessage(state.items, message, state.me), history };
    }),
  applyOwn: (approval) =>
    set((state) => {
      const message: InboxMessage = { type: approval.status === "pending" ? "approval.upsert" : "approval.remove", approval: approval as never };
      const history = approval.status === "pending" ? state.history : mergeHistory(state.history, [approval]);
      return { items: applyInboxMessage(state.items, message, state.me), history };
    }),
  addHistory: (items) => set((state) => ({ history: mergeHistory(state.history, items) })),
  select: (selectedId) => set({ selectedId }),
}));
