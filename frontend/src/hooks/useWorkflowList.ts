import { useCallback, useEffect, useRef, useState } from "react";

import { ApiError, fetchWorkflowPage, isAbortError, listWorkflows, type WorkflowSummary } from "../api";

export type WorkflowListState =
  | { status: "loading" }
  | { status: "error"; error: ApiError }
  | { status: "ready"; workflows: WorkflowSummary[]; count: number; next: string | null };

function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, "Something unexpected went wrong.");
}

/**
 * Loads the workflow list for a search term and pages through it. A newer search aborts the
 * older request, so a slow answer can never overwrite a fresh one.
 */
export function useWorkflowList(search: string) {
  const [state, setState] = useState<WorkflowListState>({ status: "loading" });
  const [loadMoreError, setLoadMoreError] = useState<ApiError | null>(null);
  const [isLoadingMore, setIsLoadingMore] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const pageController = useRef<AbortController | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    pageController.current?.abort();
    setState({ status: "loading" });
    setLoadMoreError(null);
    listWorkflows({ search, signal: controller.signal }).then(
      (page) => setState({ status: "ready", workflows: page.results, count: page.count, next: page.next }),
      (error: unknown) => {
        if (!isAbortError(error)) setState({ status: "error", error: asApiError(error) });
      },
    );
    return () => controller.abort();
  }, [search, attempt]);

  useEffect(() => () => pageController.current?.abort(), []);

  const retry = useCallback(() => setAttempt((value) => value + 1), []);

  const next = state.status === "ready" ? state.next : null;
  const loadMore = useCallback(() => {
    if (!next) return;
    const controller = new AbortController();
    pageController.current?.abort();
    pageController.current = controller;
    setIsLoadingMore(true);
    setLoadMoreError(null);
    fetchWorkflowPage(next, controller.signal)
      .then(
        (page) =>
          setState((previous) =>
            previous.status === "ready"
              ? { status: "ready", workflows: [...previous.workflows, ...page.results], count: page.count, next: page.next }
              : previous,
          ),
        (error: unknown) => {
          if (!isAbortError(error)) setLoadMoreError(asApiError(error));
        },
      )
      .finally(() => {
        if (pageController.current === controller) setIsLoadingMore(false);
      });
  }, [next]);

  return { state, retry, loadMore, isLoadingMore, loadMoreError };
}
