import "./runs/runs.css";

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { ApiError, listWorkflows, type WorkflowSummary } from "../api";
import { connectRunSummaries, fetchRunPage, listRuns, RUN_SOURCES, RUN_STATUSES, type RunFilters, type RunListItem } from "../api/runs";
import { ApiErrorNotice } from "../components/ApiErrorNotice";
import { PageHeader } from "../components/PageHeader";
import { useDocumentTitle } from "../hooks/useDocumentTitle";
import { formatDateTime, formatRelativeTime } from "../lib/format";
import { applyRunSummary } from "./runs/runList";
import { RunStatusBadge } from "./runs/RunStatusBadge";

const SOURCE_LABELS: Record<string, string> = {
  manual: "Manual",
  api: "API",
  webhook: "Webhook",
  schedule: "Schedule",
  workflow_event: "Workflow event",
  retry: "Re-run",
};

function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, "Something went wrong.");
}

/** A date input's day as the start of that day in the browser's time zone, in ISO form. */
function dayStart(day: string, offsetDays = 0): string | undefined {
  if (!day) return undefined;
  const [year, month, date] = day.split("-").map(Number);
  if (!year || !month || !date) return undefined;
  return new Date(year, month - 1, date + offsetDays).toISOString();
}

function duration(run: RunListItem, now: number): string {
  if (!run.started_at) return "";
  const end = run.finished_at ? Date.parse(run.finished_at) : now;
  const ms = end - Date.parse(run.started_at);
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

const FILTER_PARAMS = ["workflow", "status", "source", "from", "to"] as const;

function filtersFrom(params: URLSearchParams): RunFilters {
  const workflow = Number(params.get("workflow"));
  return {
    workflow: Number.isInteger(workflow) && workflow > 0 ? workflow : undefined,
    status: params.get("status") || undefined,
    source: params.get("source") || undefined,
    created_after: dayStart(params.get("from") ?? ""),
    // "to" is inclusive for people: runs created before the next day began.
    created_before: dayStart(params.get("to") ?? "", 1),
  };
}

export default function RunsPage() {
  useDocumentTitle("Runs");
  const [searchParams, setSearchParams] = useSearchParams();
  const filterKey = FILTER_PARAMS.map((name) => searchParams.get(name) ?? "").join("|");
  // Rebuilt only when a filter changes, not on every render of the search params.
  const filters = useMemo(() => filtersFrom(new URLSearchParams(FILTER_PARAMS.map((name, index) => [name, filterKey.split("|")[index] ?? ""]))), [filterKey]);
  const [runs, setRuns] = useState<RunListItem[]>([]);
  /** The server's count, and how many rows the list had then: live additions move it on. */
  const [counted, setCounted] = useState<{ count: number; rows: number } | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [isLoading, setLoading] = useState(true);
  const [isLive, setLive] = useState(false);
  const [workflows, setWorkflows] = useState<WorkflowSummary[]>([]);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [now, setNow] = useState(() => Date.now());
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  const load = useCallback(
    async (signal?: AbortSignal) => {
      setLoading(true);
      try {
        const page = await listRuns(filtersRef.current, signal);
        setRuns(page.results);
        setCounted({ count: page.count, rows: page.results.length });
        setNext(page.next);
        setError(null);
      } catch (caught) {
        if (!signal?.aborted) setError(asApiError(caught));
      } finally {
        if (!signal?.aborted) setLoading(false);
      }
    },
    [],
  );

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [filters, load]);

  useEffect(() => {
    listWorkflows().then((page) => setWorkflows(page.results), () => undefined);
  }, []);

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  // Live: summaries are applied at once; after a reconnect the list is fetched again (no seq here).
  useEffect(() => {
    const connection = connectRunSummaries({
      onSummary: (run) => {
        setRuns((current) => applyRunSummary(current, run, filtersRef.current));
        setFresh((current) => new Set(current).add(`${run.id}:${run.status}`));
      },
      onOpen: (isReconnect) => {
        setLive(true);
        if (isReconnect) void load();
      },
      onClose: () => setLive(false),
    });
    return () => connection.close();
  }, [load]);

  const setFilter = (name: string, value: string) => {
    const updated = new URLSearchParams(searchParams);
    if (value) updated.set(name, value);
    else updated.delete(name);
    setSearchParams(updated, { replace: true });
  };

  const loadMore = async () => {
    if (!next) return;
    try {
      const page = await fetchRunPage(next);
      const added = page.results.filter((run) => !runs.some((item) => item.id === run.id));
      setRuns((current) => [...current, ...added]);
      setCounted((current) => (current ? { ...current, rows: current.rows + added.length } : current));
      setNext(page.next);
    } catch (caught) {
      setError(asApiError(caught));
    }
  };

  const count = counted ? Math.max(0, counted.count + runs.length - counted.rows) : null;
  return (
    <section aria-labelledby="page-title" className="page" data-testid="runs-page" data-live={isLive}>
      <PageHeader
        title="Runs"
        description={
          <>
            Every run of the workflows you can see, newest first.{" "}
            <span className={isLive ? "run-live run-live--on" : "run-live"}>{isLive ? "live" : "connecting…"}</span>
          </>
        }
      />
      <form className="filter-bar" role="search" aria-label="Filter runs" onSubmit={(event) => event.preventDefault()}>
        <label className="filter-bar__field">
          <span>Workflow</span>
          <select className="select" value={searchParams.get("workflow") ?? ""} onChange={(event) => setFilter("workflow", event.target.value)} data-testid="filter-workflow">
            <option value="">All workflows</option>
            {workflows.map((workflow) => (
              <option key={workflow.id} value={workflow.id}>
                {workflow.name}
              </option>
            ))}
          </select>
        </label>
        <label className="filter-bar__field">
          <span>Status</span>
          <select className="select" value={searchParams.get("status") ?? ""} onChange={(event) => setFilter("status", event.target.value)} data-testid="filter-status">
            <option value="">Any status</option>
            {RUN_STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </label>
        <label className="filter-bar__field">
          <span>Source</span>
          <select className="select" value={searchParams.get("source") ?? ""} onChange={(event) => setFilter("source", event.target.value)} data-testid="filter-source">
            <option value="">Any source</option>
            {RUN_SOURCES.map((source) => (
              <option key={source} value={source}>
                {SOURCE_LABELS[source] ?? source}
              </option>
            ))}
          </select>
        </label>
        <label className="filter-bar__field">
          <span>From</span>
          <input className="input" type="date" value={searchParams.get("from") ?? ""} onChange={(event) => setFilter("from", event.target.value)} data-testid="filter-from" />
        </label>
        <label className="filter-bar__field">
          <span>To</span>
          <input className="input" type="date" value={searchParams.get("to") ?? ""} onChange={(event) => setFilter("to", event.target.value)} data-testid="filter-to" />
        </label>
      </form>
      {error && <ApiErrorNotice error={error} title="The runs could not be loaded" onRetry={() => void load()} />}
      {count !== null && (
        <p className="result-count" data-testid="runs-count">
          {count} run{count === 1 ? "" : "s"}
        </p>
      )}
      {!isLoading && runs.length === 0 && !error && (
        <div className="empty-state">
          <p>No runs match. Start one from a workflow's editor, the API, a webhook or a schedule.</p>
        </div>
      )}
      {runs.length > 0 && (
        <table className="run-table runs-table" data-testid="runs-table">
          <thead>
            <tr>
              <th>Run</th>
              <th>Workflow</th>
              <th>Status</th>
              <th>Source</th>
              <th>Started by</th>
              <th>Created</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr key={run.id} data-testid={`run-row-${run.id}`} data-status={run.status} className={fresh.has(`${run.id}:${run.status}`) ? "is-fresh" : undefined}>
                <td>
                  <Link to={`/runs/${run.id}`}>
                    <code>{run.id.slice(0, 8)}</code>
                  </Link>
                </td>
                <td>
                  <Link to={`/workflows/${run.workflow}`}>{run.workflow_name}</Link> <span className="muted">{run.is_draft ? "draft" : run.version !== null ? `v${run.version}` : ""}</span>
                </td>
                <td>
                  <RunStatusBadge status={run.status} />
                </td>
                <td>{SOURCE_LABELS[run.source] ?? run.source}</td>
                <td>{run.created_by ?? "—"}</td>
                <td title={formatDateTime(run.created_at)}>{formatRelativeTime(run.created_at, now)}</td>
                <td>{duration(run, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" className="button load-more" onClick={() => void loadMore()}>
          Load more
        </button>
      )}
    </section>
  );
}
