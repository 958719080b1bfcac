import { beforeEach, describe, expect, it } from "vitest";

import type { Approval } from "../../api/approvals";
import type { InboxMessage } from "../../api/inbox";
import { applyInboxMessage, canDecideNow, mergeHistory, sortInbox, useInbox } from "./inboxStore";

function approval(id: string, overrides: Partial<Approval> = {}): Approval {
  return {
    id,
    run: "run-1",
    workflow: 1,
    workflow_name: "Triage",
    node_id: "escalate",
    scope: "",
    status: "pending",
    title: `Approval ${id}`,
    instructions: "",
    payload: { ticket: "x" },
    payload_hash: "h",
    form: null,
    assignees: { users: ["bob"], groups: [] },
    required_approvals: 1,
    allow_self_approval: false,
    due_at: null,
    on_timeout: "reject",
    escalated: false,
    claimed_by: null,
    claim_expires_at: null,
    decision: null,
    decided_by: null,
    decided_at: null,
    comment: "",
    data: null,
    timed_out: false,
    decisions: [],
    created_at: "2026-01-01T00:00:00Z",
    ...overrides,
  };
}

const upsert = (item: Approval): InboxMessage => ({ type: "approval.upsert", approval: item as never });
const remove = (item: Approval): InboxMessage => ({ type: "approval.remove", approval: item as never });

describe("sortInbox", () => {
  it("puts the soonest due first, undated ones last, then the oldest", () => {
    const items = [
      approval("late", { due_at: "2026-01-03T00:00:00Z" }),
      approval("undated-new", { created_at: "2026-01-02T00:00:00Z" }),
      approval("soon", { due_at: "2026-01-02T00:00:00Z" }),
      approval("undated-old"),
    ];
    expect(sortInbox(items).map((item) => item.id)).toEqual(["soon", "late", "undated-old", "undated-new"]);
  });
});

describe("canDecideNow", () => {
  it("is true for a pending approval nobody else holds and I have not decided", () => {
    expect(canDecideNow(approval("a"), "bob")).toBe(true);
    expect(canDecideNow(approval("a", { claimed_by: "bob" }), "bob")).toBe(true);
    expect(canDecideNow(approval("a", { claimed_by: "alice" }), "bob")).toBe(false);
    expect(canDecideNow(approval("a", { status: "approved" }), "bob")).toBe(false);
    expect(canDecideNow(approval("a", { decisions: [{ user: "bob", decision: "approved", comment: "", data: null, at: "" }] }), "bob")).toBe(false);
  });
});

describe("applyInboxMessage", () => {
  it("adds a new approval in due order and replaces a known one", () => {
    const first = approval("a", { due_at: "2026-01-05T00:00:00Z" });
    let items = applyInboxMessage([], upsert(first), "bob");
    items = applyInboxMessage(items, upsert(approval("b", { due_at: "2026-01-02T00:00:00Z" })), "bob");
    items = applyInboxMessage(items, upsert({ ...first, title: "renamed" }), "bob");

    expect(items.map((item) => [item.id, item.title])).toEqual([
      ["b", "Approval b"],
      ["a", "renamed"],
    ]);
  });

  it("drops an approval that is removed, claimed by someone else or decided", () => {
    const items = [approval("a"), approval("b"), approval("c")];

    expect(applyInboxMessage(items, remove(approval("a", { status: "approved" })), "bob").map((item) => item.id)).toEqual(["b", "c"]);
    expect(applyInboxMessage(items, upsert(approval("b", { claimed_by: "alice" })), "bob").map((item) => item.id)).toEqual(["a", "c"]);
    expect(applyInboxMessage(items, remove(approval("zzz")), "bob")).toEqual(items);
  });
});

describe("mergeHistory", () => {
  it("keeps one entry per approval, newest decision first, and never a pending one", () => {
    const old = approval("a", { status: "approved", decided_at: "2026-01-01T00:00:00Z" });
    const merged = mergeHistory([old], [approval("b", { status: "rejected", decided_at: "2026-01-02T00:00:00Z" }), { ...old, comment: "updated" }, approval("c")]);

    expect(merged.map((item) => [item.id, item.comment])).toEqual([
      ["b", ""],
      ["a", "updated"],
    ]);
  });
});

describe("useInbox", () => {
  beforeEach(() => {
    useInbox.setState({ me: "bob", items: [], isLoaded: false, history: [], selectedId: null });
  });

  it("takes the REST list as the authority, keeping only pending approvals", () => {
    useInbox.getState().replaceItems([approval("a"), approval("b", { status: "expired" })]);

    expect(useInbox.getState().items.map((item) => item.id)).toEqual(["a"]);
    expect(useInbox.getState().isLoaded).toBe(true);
  });

  it("moves an approval I decided from the list into the history", () => {
    useInbox.getState().replaceItems([approval("a"), approval("b")]);
    useInbox.getState().applyOwn(approval("a", { status: "approved", decided_by: "bob", decided_at: "2026-01-02T00:00:00Z" }));

    expect(useInbox.getState().items.map((item) => item.id)).toEqual(["b"]);
    expect(useInbox.getState().history.map((item) => [item.id, item.status])).toEqual([["a", "approved"]]);
  });

  it("keeps a claim of mine in the list and follows live messages", () => {
    useInbox.getState().replaceItems([approval("a")]);
    useInbox.getState().applyOwn(approval("a", { claimed_by: "bob" }));
    expect(useInbox.getState().items[0]?.claimed_by).toBe("bob");

    useInbox.getState().applyMessage(upsert(approval("n")));
    useInbox.getState().applyMessage(remove(approval("a", { status: "cancelled" })));
    expect(useInbox.getState().items.map((item) => item.id)).toEqual(["n"]);
    expect(useInbox.getState().history.map((item) => [item.id, item.status])).toEqual([["a", "cancelled"]]);
  });
});
