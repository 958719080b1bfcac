import { useCallback, useEffect, useState } from "react";
import { useSearchParams } from "react-router";

import { ApiErrorNotice } from "../components/ApiErrorNotice";
import { PageHeader } from "../components/PageHeader";
import { useDebouncedValue } from "../hooks/useDebouncedValue";
import { useDocumentTitle } from "../hooks/useDocumentTitle";
import { useWorkflowList } from "../hooks/useWorkflowList";
import { SearchField } from "./workflows/SearchField";
import { WorkflowRow } from "./workflows/WorkflowRow";

const SEARCH_DELAY_MS = 250;

export default function WorkflowsPage() {
  useDocumentTitle("Workflows");
  const [searchParams, setSearchParams] = useSearchParams();
  const urlSearch = searchParams.get("search") ?? "";
  const [searchText, setSearchText] = useState(urlSearch);
  // Follow the address when it changes from outside the box (the nav link, back/forward).
  useEffect(() => {
    setSearchText((current) => (current.trim() === urlSearch ? current : urlSearch));
  }, [urlSearch]);
  const search = useDebouncedValue(searchText.trim(), SEARCH_DELAY_MS);
  const { state, retry, loadMore, isLoadingMore, loadMoreError } = useWorkflowList(search);

  // The term lives in the address too, so a reload or a shared link shows the same list.
  const onSearchChange = useCallback(
    (value: string) => {
      setSearchText(value);
      const term = value.trim();
      setSearchParams(term ? { search: term } : {}, { replace: true });
    },
    [setSearchParams],
  );

  return (
    <section aria-labelledby="page-title" className="page">
      <PageHeader title="Workflows" description="Graphs of prompts, conditions, approvals and more that you can run.">
        <SearchField value={searchText} onChange={onSearchChange} label="Search workflows" placeholder="Search workflows" />
      </PageHeader>

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
            {state.count === 1 ? "1 workflow" : `${state.count} workflows`}
            {search && <> matching “{search}”</>}
          </p>
          {state.workflows.length === 0 ? (
            <div className="empty-state">
              {search ? (
                <p>No workflow matches “{search}”. Try another name, description or tag.</p>
              ) : (
                <p>
                  No workflows yet. The visual editor arrives in a later release; until then create one with{" "}
                  <code>POST /api/workflows/</code>.
                </p>
              )}
            </div>
          ) : (
            <ul className="workflow-list" aria-label="Workflows">
              {state.workflows.map((workflow) => (
                <WorkflowRow key={workflow.id} workflow={workflow} />
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
    </section>
  );
}
