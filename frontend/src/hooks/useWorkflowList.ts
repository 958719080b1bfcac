import { useCallback, useEffect, useRef, useState } from "react";

import {
  ApiError,
  fetchWorkflowPage,
  isAbortError,
  listWorkflows,
  type WorkflowFilters,
  type WorkflowSummary,
} from "../api";

export type WorkflowListState =
  | { status: "loading" }
  | { status: "error"; error: ApiError }
  | { status: "ready"; workflows: WorkflowSummary[]; count: number; next: string | null };

function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, "Something unexpected went wrong.");
}

interface LoadRequest {
  serial: number;
  /** A reload after a change keeps the current rows on screen until the new ones arrive. */
  keepsRows: boolean;
}

/**
 * Loads the workflow list for a set of filters and pages through it. Newer filters abort the
 * older request, so a slow answer can never overwrite a fresh one. `retry` starts over (showing
 * the loading state); `reload` refetches in place after a create, archive or import.
 */
export function useWorkflowList({ search = "", owner = "", tag = "", archived = false }: WorkflowFilters) {
  const [state, setState] = useState<WorkflowListState>({ status: "loading" });
  const [loadMoreError, setLoadMoreError] = useState<ApiError | null>(null);
  const [isLoadingMore, setIsLoadingMore] = useState(false);
  const [request, setRequest] = useState<LoadRequest>({ serial: 0, keepsRows: false });
  const pageController = useRef<AbortController | null>(null);
  const loadedFilters = useRef<string | null>(null);

  useEffect(() => {
    const filtersKey = JSON.stringify([search, owner, tag, archived]);
    const keepsRows = request.keepsRows && loadedFilters.current === filtersKey;
    loadedFilters.current = filtersKey;
    const controller = new AbortController();
    pageController.current?.abort();
    if (!keepsRows) setState({ status: "loading" });
    setLoadMoreError(null);
    listWorkflows({ search, owner, tag, archived, signal: controller.signal }).then(
      (page) => setState({ status: "ready", workflows: page.results, count: page.count, next: page.next }),
      (error: unknown) => {
        if (!isAbortError(error)) setState({ status: "error", error: asApiError(error) });
      },
    );
    return () => controller.abort();
  }, [search, owner, tag, archived, request]);

  useEffect(() => () => pageController.current?.abort(), []);

  const retry = useCallback(() => setRequest((previous) => ({ serial: previous.serial + 1, keepsRows: false })), []);
  const reload = useCallback(() => setRequest((previous) => ({ serial: previous.serial + 1, keepsRows: true })), []);

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

  return { state, retry, reload, loadMore, isLoadingMore, loadMoreError };
}
