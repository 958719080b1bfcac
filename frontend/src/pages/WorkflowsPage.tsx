import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";

import type { WorkflowSummary } from "../api";
import { ApiErrorNotice } from "../components/ApiErrorNotice";
import { PageHeader } from "../components/PageHeader";
import { useDebouncedValue } from "../hooks/useDebouncedValue";
import { useDocumentTitle } from "../hooks/useDocumentTitle";
import { useWorkflowList } from "../hooks/useWorkflowList";
import { useAppStore } from "../store";
import { CreateWorkflowDialog } from "./workflows/CreateWorkflowDialog";
import { ImportButton } from "./workflows/ImportButton";
import { type PageNotice, useWorkflowActions } from "./workflows/useWorkflowActions";
import { WorkflowFilterBar } from "./workflows/WorkflowFilterBar";
import { WorkflowRow } from "./workflows/WorkflowRow";

const SEARCH_DELAY_MS = 250;

/** The filters kept in the address, so a reload or a shared link shows the same list. */
const FILTER_PARAMS = ["search", "owner", "tag", "archived"] as const;
type FilterParam = (typeof FILTER_PARAMS)[number];

/** Adds values to a sorted list of known names (owners and tags seen so far), keeping it stable. */
function withKnown(previous: string[], values: Iterable<string>): string[] {
  const merged = new Set(previous);
  let hasNew = false;
  for (const value of values) {
    if (value && !merged.has(value)) {
      merged.add(value);
      hasNew = true;
    }
  }
  return hasNew ? [...merged].sort((a, b) => a.localeCompare(b)) : previous;
}

function NoticeBanner({ notice, onDismiss, onReload }: { notice: PageNotice; onDismiss: () => void; onReload: () => void }) {
  if (notice.kind === "error") {
    return (
      <ApiErrorNotice
        error={notice.error}
        title={notice.title}
        onDismiss={onDismiss}
        {...(notice.isConflict && {
          onRetry: () => {
            onDismiss();
            onReload();
          },
          retryLabel: "Reload the list",
        })}
      />
    );
  }
  return (
    <div className="notice notice--success" role="status">
      <p>
        {notice.message}{" "}
        {notice.openId !== undefined && <Link to={`/workflows/${notice.openId}`}>Open it</Link>}
      </p>
      <div className="notice__actions notice__actions--inline">
        {notice.undo && (
          <button type="button" className="button button--small" onClick={notice.undo}>
            Undo
          </button>
        )}
        <button type="button" className="button button--quiet button--small" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      </div>
    </div>
  );
}

export default function WorkflowsPage() {
  useDocumentTitle("Workflows");
  const navigate = useNavigate();
  const username = useAppStore((state) => state.user?.username ?? null);
  const [searchParams, setSearchParams] = useSearchParams();
  const urlSearch = searchParams.get("search") ?? "";
  const owner = searchParams.get("owner") ?? "";
  const tag = searchParams.get("tag") ?? "";
  const showArchived = searchParams.get("archived") === "true";
  const [searchText, setSearchText] = useState(urlSearch);
  const [isCreating, setIsCreating] = useState(false);
  // Follow the address when it changes from outside the box (the nav link, back/forward).
  useEffect(() => {
    setSearchText((current) => (current.trim() === urlSearch ? current : urlSearch));
  }, [urlSearch]);
  const search = useDebouncedValue(searchText.trim(), SEARCH_DELAY_MS);
  const { state, retry, reload, loadMore, isLoadingMore, loadMoreError } = useWorkflowList({
    search,
    owner,
    tag,
    archived: showArchived,
  });
  const { busy, notice, dismissNotice, runAction, importFile, isImporting } = useWorkflowActions(reload);

  const [knownOwners, setKnownOwners] = useState<string[]>([]);
  const [knownTags, setKnownTags] = useState<string[]>([]);
  const rows = state.status === "ready" ? state.workflows : null;
  useEffect(() => {
    setKnownOwners((previous) => withKnown(previous, [username ?? "", owner, ...(rows ?? []).map((row) => row.owner)]));
    setKnownTags((previous) => withKnown(previous, [tag, ...(rows ?? []).flatMap((row) => row.tags)]));
  }, [rows, username, owner, tag]);

  const setFilter = useCallback(
    (name: FilterParam, value: string) => {
      setSearchParams(
        (previous) => {
          const next = new URLSearchParams(previous);
          if (value) next.set(name, value);
          else next.delete(name);
          return next;
        },
        { replace: true },
      );
    },
    [setSearchParams],
  );

  const onSearchChange = useCallback(
    (value: string) => {
      setSearchText(value);
      setFilter("search", value.trim());
    },
    [setFilter],
  );
  const onOwnerChange = useCallback((value: string) => setFilter("owner", value), [setFilter]);
  const onTagChange = useCallback((value: string) => setFilter("tag", value), [setFilter]);
  const onShowArchivedChange = useCallback((value: boolean) => setFilter("archived", value ? "true" : ""), [setFilter]);
  const onCreated = useCallback((workflow: WorkflowSummary) => navigate(`/workflows/${workflow.id}`), [navigate]);
  const closeCreate = useCallback(() => setIsCreating(false), []);

  const filterSummary = useMemo(() => {
    const parts: string[] = [];
    if (search) parts.push(`matching “${search}”`);
    if (owner) parts.push(`owned by ${owner === username ? "you" : owner}`);
    if (tag) parts.push(`tagged “${tag}”`);
    return parts.join(", ");
  }, [search, owner, tag, username]);
  const isFiltered = Boolean(search || owner || tag);
  const noun = showArchived ? "archived workflow" : "workflow";

  return (
    <section aria-labelledby="page-title" className="page">
      <PageHeader title="Workflows" description="Graphs of prompts, conditions, approvals and more that you can run.">
        <Link to="/templates" className="button" data-testid="use-template">Use template</Link>
        <ImportButton onFile={importFile} isImporting={isImporting} />
        <button type="button" className="button button--primary" onClick={() => setIsCreating(true)}>
          New workflow
        </button>
      </PageHeader>

      <WorkflowFilterBar
        searchText={searchText}
        onSearchChange={onSearchChange}
        owner={owner}
        owners={knownOwners}
        onOwnerChange={onOwnerChange}
        tag={tag}
        tags={knownTags}
        onTagChange={onTagChange}
        showArchived={showArchived}
        onShowArchivedChange={onShowArchivedChange}
        currentUsername={username}
      />

      {notice && <NoticeBanner notice={notice} onDismiss={dismissNotice} onReload={reload} />}

      {state.status === "loading" && (
        <div className="loading" role="status" aria-live="polite">
          <span className="spinner" aria-hidden="true" />
          Loading workflows…
        </div>
      )}

      {state.status === "error" && <ApiErrorNotice error={state.error} onRetry={retry} />}

      {state.status === "ready" && (
        <>
          <p className="result-count muted" role="status" aria-live="polite">
            {state.count === 1 ? `1 ${noun}` : `${state.count} ${noun}s`}
            {filterSummary && <> {filterSummary}</>}
          </p>
          {state.workflows.length === 0 ? (
            <div className="empty-state">
              {isFiltered ? (
                <p>No {noun} matches these filters. Try another name, owner or tag.</p>
              ) : showArchived ? (
                <p>Nothing is archived. Archived workflows keep their versions and runs and can be restored.</p>
              ) : (
                <>
                  <p>No workflows yet.</p>
                  <p>
                    <button type="button" className="button button--primary" onClick={() => setIsCreating(true)}>
                      Create your first workflow
                    </button>
                  </p>
                </>
              )}
            </div>
          ) : (
            <ul className="workflow-list" aria-label="Workflows">
              {state.workflows.map((workflow) => (
                <WorkflowRow
                  key={workflow.id}
                  workflow={workflow}
                  busyAction={busy.get(workflow.id) ?? null}
                  onAction={runAction}
                  onTagSelect={onTagChange}
                />
              ))}
            </ul>
          )}
          {loadMoreError && <ApiErrorNotice error={loadMoreError} onRetry={loadMore} />}
          {state.next && !loadMoreError && (
            <div className="load-more">
              <button type="button" className="button" onClick={loadMore} disabled={isLoadingMore} aria-busy={isLoadingMore}>
                {isLoadingMore ? "Loading…" : "Show more"}
              </button>
            </div>
          )}
        </>
      )}

      {isCreating && <CreateWorkflowDialog onClose={closeCreate} onCreated={onCreated} />}
    </section>
  );
}
