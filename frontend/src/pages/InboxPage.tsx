import "./runs/runs.css";
import "./inbox/inbox.css";

import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { ApiError } from "../api";
import { fetchApproval, fetchApprovalPage, listApprovals, type Approval } from "../api/approvals";
import { connectInbox } from "../api/inbox";
import { ApiErrorNotice } from "../components/ApiErrorNotice";
import { PageHeader } from "../components/PageHeader";
import { useDocumentTitle } from "../hooks/useDocumentTitle";
import { formatRelativeTime } from "../lib/format";
import { useAppStore } from "../store";
import { ApprovalDetail, DueTime } from "./inbox/ApprovalDetail";
import { useInbox } from "./inbox/inboxStore";

/** A burst of socket messages (a run fanning out approvals) costs one refetch. */
const REFRESH_DELAY_MS = 150;

function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, "Something went wrong.");
}

/**
 * Keeps the list of what I can decide now: fetched at start, after every (re)connect of
 * `ws/inbox/` (it has no sequence numbers) and after each message, which is also applied at once.
 */
function useLiveInbox(): { error: ApiError | null; isLive: boolean; refresh: () => void } {
  const replaceItems = useInbox((state) => state.replaceItems);
  const applyMessage = useInbox((state) => state.applyMessage);
  const [error, setError] = useState<ApiError | null>(null);
  const [isLive, setLive] = useState(false);
  const refreshRef = useRef<() => void>(() => undefined);

  useEffect(() => {
    let controller: AbortController | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      controller?.abort();
      const current = new AbortController();
      controller = current;
      listApprovals({ mine: true, status: "pending", page_size: 200 }, current.signal).then(
        (page) => {
          replaceItems(page.results);
          setError(null);
        },
        (caught: unknown) => {
          if (!current.signal.aborted) setError(asApiError(caught));
        },
      );
    };
    const scheduleRefresh = () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, REFRESH_DELAY_MS);
    };
    refreshRef.current = scheduleRefresh;
    refresh();
    const connection = connectInbox({
      onMessage: (message) => {
        applyMessage(message);
        scheduleRefresh();
      },
      onOpen: () => {
        setLive(true);
        scheduleRefresh();
      },
      onClose: () => setLive(false),
    });
    return () => {
      connection.close();
      controller?.abort();
      clearTimeout(timer);
    };
  }, [replaceItems, applyMessage]);

  return { error, isLive, refresh: useCallback(() => refreshRef.current(), []) };
}

/** Re-renders every half minute, so "due in 5 minutes" stays true while the page is open. */
function useMinuteClock(): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((tick) => tick + 1), 30_000);
    return () => clearInterval(timer);
  }, []);
}

function InboxItem({ approval, isSelected, onSelect }: { approval: Approval; isSelected: boolean; onSelect: () => void }) {
  return (
    <li>
      <button type="button" className={isSelected ? "inbox-item is-selected" : "inbox-item"} onClick={onSelect} aria-pressed={isSelected} data-testid={`inbox-item-${approval.id}`}>
        <span className="inbox-item__title">{approval.title || approval.node_id}</span>
        <span className="inbox-item__meta muted">
          {approval.workflow_name} · run {approval.run.slice(0, 8)}
          {approval.claimed_by && ` · claimed by ${approval.claimed_by}`}
        </span>
        <span className="inbox-item__meta">
          {approval.status === "pending" ? (
            <DueTime dueAt={approval.due_at} />
          ) : (
            <>
              <span className={`run-status run-status--${approval.status}`}>{approval.status}</span>{" "}
              <span className="muted">{approval.decided_at ? formatRelativeTime(approval.decided_at) : ""}</span>
            </>
          )}
        </span>
      </button>
    </li>
  );
}

function History({ selectedId, onSelect }: { selectedId: string | null; onSelect: (id: string) => void }) {
  const history = useInbox((state) => state.history);
  const addHistory = useInbox((state) => state.addHistory);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [isLoading, setLoading] = useState(false);

  const load = useCallback(
    async (url: string | null) => {
      setLoading(true);
      try {
        const page = url ? await fetchApprovalPage(url) : await listApprovals({ page_size: 50 });
        addHistory(page.results);
        setNext(page.next);
        setError(null);
      } catch (caught) {
        setError(asApiError(caught));
      } finally {
        setLoading(false);
      }
    },
    [addHistory],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  return (
    <>
      {error && <ApiErrorNotice error={error} title="The history could not be loaded" onRetry={() => void load(null)} />}
      {history.length === 0 && !isLoading && <p className="empty-state">Nothing decided yet.</p>}
      <ul className="inbox-list" data-testid="inbox-history">
        {history.map((approval) => (
          <InboxItem key={approval.id} approval={approval} isSelected={approval.id === selectedId} onSelect={() => onSelect(approval.id)} />
        ))}
      </ul>
      {next && (
        <button type="button" className="button load-more" disabled={isLoading} onClick={() => void load(next)}>
          {isLoading ? "Loading…" : "Load more"}
        </button>
      )}
    </>
  );
}

export default function InboxPage() {
  useDocumentTitle("Inbox");
  const me = useAppStore((state) => state.user?.username ?? null);
  const setMe = useInbox((state) => state.setMe);
  const items = useInbox((state) => state.items);
  const isLoaded = useInbox((state) => state.isLoaded);
  const history = useInbox((state) => state.history);
  const [searchParams, setSearchParams] = useSearchParams();
  const tab = searchParams.get("tab") === "history" ? "history" : "pending";
  const selectedId = searchParams.get("approval");
  const [selected, setSelected] = useState<Approval | null>(null);
  const [selectError, setSelectError] = useState<ApiError | null>(null);

  useEffect(() => setMe(me), [me, setMe]);
  useMinuteClock();
  const { error, isLive, refresh } = useLiveInbox();

  // The open item follows the lists' live copies; one not in a list is fetched on its own.
  const listed = items.find((item) => item.id === selectedId) ?? history.find((item) => item.id === selectedId) ?? null;
  useEffect(() => {
    if (!selectedId) {
      setSelected(null);
      return;
    }
    if (listed) {
      setSelected(listed);
      return;
    }
    const controller = new AbortController();
    fetchApproval(selectedId, controller.signal).then(
      (found) => {
        setSelected(found);
        setSelectError(null);
      },
      (caught: unknown) => {
        if (!controller.signal.aborted) setSelectError(asApiError(caught));
      },
    );
    return () => controller.abort();
  }, [selectedId, listed]);

  const open = (id: string | null) => {
    const next = new URLSearchParams(searchParams);
    if (id) next.set("approval", id);
    else next.delete("approval");
    setSearchParams(next, { replace: true });
  };
  const showTab = (name: "pending" | "history") => {
    const next = new URLSearchParams(searchParams);
    if (name === "history") next.set("tab", "history");
    else next.delete("tab");
    setSearchParams(next, { replace: true });
  };

  return (
    <section aria-labelledby="page-title" className="page inbox-page" data-testid="inbox-page" data-live={isLive}>
      <PageHeader
        title="Inbox"
        description={
          <>
            Approvals you can decide now, directly or through your groups.{" "}
            <span className={isLive ? "run-live run-live--on" : "run-live"}>{isLive ? "live" : "connecting…"}</span>
          </>
        }
      />
      {error && <ApiErrorNotice error={error} title="The inbox could not be loaded" onRetry={refresh} />}
      <div className="run-tabs" role="tablist" aria-label="Inbox">
        <button type="button" role="tab" aria-selected={tab === "pending"} className={tab === "pending" ? "run-tab is-active" : "run-tab"} onClick={() => showTab("pending")} data-testid="inbox-tab-pending">
          To decide <span className="badge" data-testid="inbox-pending-count">{items.length}</span>
        </button>
        <button type="button" role="tab" aria-selected={tab === "history"} className={tab === "history" ? "run-tab is-active" : "run-tab"} onClick={() => showTab("history")} data-testid="inbox-tab-history">
          History
        </button>
      </div>
      <div className="inbox-layout">
        <div className="inbox-column">
          {tab === "pending" ? (
            <>
              {isLoaded && items.length === 0 && (
                <div className="empty-state" data-testid="inbox-empty">
                  <p>Nothing waits for you. New approvals appear here as runs reach them.</p>
                </div>
              )}
              <ul className="inbox-list" data-testid="inbox-list">
                {items.map((approval) => (
                  <InboxItem key={approval.id} approval={approval} isSelected={approval.id === selectedId} onSelect={() => open(approval.id)} />
                ))}
              </ul>
            </>
          ) : (
            <History selectedId={selectedId} onSelect={(id) => open(id)} />
          )}
        </div>
        <div className="inbox-column inbox-column--detail">
          {selectError && selectedId && <ApiErrorNotice error={selectError} title="This approval could not be opened" />}
          {selected ? (
            <ApprovalDetail key={selected.id} approval={selected} onChanged={refresh} />
          ) : (
            <p className="muted inbox-hint">
              Pick an approval to see its payload and decide. Runs waiting on approvals are listed on the <Link to="/runs?status=waiting">runs page</Link>.
            </p>
          )}
        </div>
      </div>
    </section>
  );
}
