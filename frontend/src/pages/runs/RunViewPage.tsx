import "@xyflow/react/dist/style.css";
import "../../editor/editor.css";
import "./runs.css";

import { ReactFlowProvider } from "@xyflow/react";
import { useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { ApiError } from "../../api";
import { fetchNodeTypes, fetchWorkflow } from "../../api/editor";
import {
  cancelRun,
  connectRunEvents,
  fetchRunDetail,
  fetchRunEvents,
  pauseRun,
  rerun,
  resumeRun,
  retryRun,
  TERMINAL_RUN_STATUSES,
  type RunDetail,
  type RunStatus,
} from "../../api/runs";
import { ApiErrorNotice } from "../../components/ApiErrorNotice";
import { useDocumentTitle } from "../../hooks/useDocumentTitle";
import { formatDateTime, formatRelativeTime } from "../../lib/format";
import { createRunStream } from "../../live/runStream";
import { EventLog } from "./EventLog";
import { JsonBlock, NodeInspector } from "./NodeInspector";
import { RunGraph } from "./RunGraph";
import { RunStatusBadge } from "./RunStatusBadge";
import { useRunView } from "./runViewStore";
import { Timeline } from "./Timeline";

type Tab = "timeline" | "events" | "data";

/** Opens the run's event stream and mirrors it into the run view store while the page is open. */
function useLiveRun(runId: string) {
  const reset = useRunView((state) => state.reset);
  const setLive = useRunView((state) => state.setLive);
  useEffect(() => {
    reset(runId);
    const stream = createRunStream(runId, {
      fetchEvents: (id, after) => fetchRunEvents(id, after),
      connect: (id, after, handlers) => connectRunEvents(id, after, handlers),
    });
    const sync = () => setLive(stream.getState(), stream.getStats());
    const unsubscribe = stream.subscribe(sync);
    sync();
    return () => {
      unsubscribe();
      stream.close();
    };
  }, [runId, reset, setLive]);
}

/** Roles that may cancel, pause, resume, retry and re-run (DESIGN §7: the runner role and up). */
const CONTROLLING_ROLES = new Set(["owner", "editor", "runner"]);

function RunControls({ run, status, canControl, onError }: { run: RunDetail; status: RunStatus; canControl: boolean; onError: (error: unknown) => void }) {
  const navigate = useNavigate();
  const [busy, setBusy] = useState<string | null>(null);
  const act = async (name: string, action: () => Promise<unknown>) => {
    setBusy(name);
    try {
      await action();
    } catch (error) {
      onError(error);
    } finally {
      setBusy(null);
    }
  };
  const isTerminal = TERMINAL_RUN_STATUSES.has(status);
  if (!canControl) {
    return (
      <div className="run-controls">
        <Link className="button button--quiet" to={`/workflows/${run.workflow}`} data-testid="open-in-editor">
          Open in editor
        </Link>
      </div>
    );
  }
  return (
    <div className="run-controls" role="toolbar" aria-label="Run controls">
      {(status === "running" || status === "waiting") && (
        <button type="button" className="button" disabled={busy !== null} onClick={() => void act("pause", () => pauseRun(run.id))} data-testid="run-pause">
          Pause
        </button>
      )}
      {status === "paused" && (
        <button type="button" className="button" disabled={busy !== null} onClick={() => void act("resume", () => resumeRun(run.id))} data-testid="run-resume">
          Resume
        </button>
      )}
      {!isTerminal && (
        <button
          type="button"
          className="button"
          disabled={busy !== null}
          onClick={() => {
            if (window.confirm("Cancel this run? Work under way is stopped and pending approvals are withdrawn.")) void act("cancel", () => cancelRun(run.id));
          }}
          data-testid="run-cancel"
        >
          Cancel run
        </button>
      )}
      {status === "failed" && (
        <button type="button" className="button" disabled={busy !== null} onClick={() => void act("retry", () => retryRun(run.id))} data-testid="run-retry-failed">
          Retry failed nodes
        </button>
      )}
      <button
        type="button"
        className="button"
        disabled={busy !== null}
        onClick={() =>
          void act("rerun", async () => {
            const started = await rerun(run);
            navigate(`/runs/${started.id}`);
          })
        }
        title={run.is_draft ? "Runs the current draft with the same inputs" : `Runs version ${run.version} again with the same inputs`}
        data-testid="run-rerun"
      >
        Re-run
      </button>
      <Link className="button button--quiet" to={`/workflows/${run.workflow}`} data-testid="open-in-editor">
        Open in editor
      </Link>
    </div>
  );
}

function RunView({ runId }: { runId: string }) {
  useLiveRun(runId);
  const [run, setRun] = useState<RunDetail | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [tab, setTab] = useState<Tab>("timeline");
  const liveStatus = useRunView((state) => state.live.runStatus);
  const isConnected = useRunView((state) => state.stats.isConnected);
  const hasSelection = useRunView((state) => state.selection !== null);
  const hasGraph = useRunView((state) => state.graph !== null);
  const setGraph = useRunView((state) => state.setGraph);
  const hasLoadedGraph = useRef(false);
  const [role, setRole] = useState<string | null>(null);
  const status: RunStatus | null = liveStatus ?? run?.status ?? null;
  useDocumentTitle(run ? `Run of ${run.workflow_name}` : "Run");

  useEffect(() => {
    hasLoadedGraph.current = false;
    setRun(null);
    setLoadError(null);
  }, [runId]);

  // The summary (outputs, finish time) is refetched whenever the live status moves.
  useEffect(() => {
    const controller = new AbortController();
    const load = async () => {
      try {
        const detail = await fetchRunDetail(runId, controller.signal);
        setRun(detail);
        if (!hasLoadedGraph.current) {
          const [registry, workflow] = await Promise.all([fetchNodeTypes(controller.signal), fetchWorkflow(detail.workflow, controller.signal).catch(() => null)]);
          // Superseded (the live status moved on): the next load fetches both again. Going on
          // here would take an aborted workflow fetch for "no role" and hide the controls.
          if (controller.signal.aborted) return;
          setGraph(detail.graph, registry);
          setRole(workflow?.role ?? null);
          hasLoadedGraph.current = true;
        }
      } catch (error) {
        if (!controller.signal.aborted) setLoadError(asApiError(error));
      }
    };
    void load();
    return () => controller.abort();
  }, [runId, liveStatus, setGraph]);

  if (loadError && !run) {
    return (
      <section className="page">
        <ApiErrorNotice error={loadError} title="This run could not be opened" />
        {loadError.isNotFound && <p className="muted">Approvers without a role on the workflow see the approval in their inbox, not the run itself.</p>}
        <p>
          <Link to="/runs">Back to runs</Link>
        </p>
      </section>
    );
  }
  if (!run || !status) {
    return (
      <div className="loading" role="status" aria-live="polite">
        <span className="spinner" aria-hidden="true" />
        Loading the run…
      </div>
    );
  }
  const isActive = !TERMINAL_RUN_STATUSES.has(status);
  const canControl = role !== null && CONTROLLING_ROLES.has(role);
  return (
    <section className="page run-page" aria-labelledby="page-title" data-testid="run-view" data-run-id={run.id} data-status={status}>
      <div className="page-header">
        <div>
          <p className="muted run-page__crumbs">
            <Link to="/runs">Runs</Link> / {run.workflow_name}
            {run.parent_run && (
              <>
                {" "}
                · started by <Link to={`/runs/${run.parent_run}`}>run {run.parent_run.slice(0, 8)}</Link>
                {run.parent_node && ` (${run.parent_node})`}
              </>
            )}
          </p>
          <h1 id="page-title">
            Run <code>{run.id.slice(0, 8)}</code> <RunStatusBadge status={status} testId="run-status" />
          </h1>
          <p className="page-header__description">
            {run.is_draft ? "Draft" : `Version ${run.version}`} · {run.source}
            {run.created_by && ` by ${run.created_by}`} · started {formatRelativeTime(run.created_at)}
            {run.finished_at && ` · finished ${formatDateTime(run.finished_at)}`} ·{" "}
            <span className={isConnected ? "run-live run-live--on" : "run-live"} data-testid="run-live" data-live={isConnected}>
              {isConnected ? "live" : "reconnecting…"}
            </span>
          </p>
        </div>
        <div className="page-header__actions">
          <RunControls run={run} status={status} canControl={canControl} onError={(error) => setActionError(asApiError(error))} />
        </div>
      </div>
      {actionError && <ApiErrorNotice error={actionError} title="That did not work" onDismiss={() => setActionError(null)} />}
      {status === "failed" && run.error !== null && (
        <div className="notice notice--error" data-testid="run-error">
          <p>
            <strong>The run failed.</strong> {typeof run.error === "object" && run.error && "message" in run.error ? String((run.error as { message: unknown }).message) : ""}
          </p>
        </div>
      )}
      <div className={hasSelection ? "run-layout has-inspector" : "run-layout"}>
        {hasGraph ? (
          <ReactFlowProvider>
            <RunGraph />
          </ReactFlowProvider>
        ) : (
          <div className="loading run-canvas">Drawing the graph…</div>
        )}
        {hasSelection && <NodeInspector runId={run.id} canControl={canControl} />}
      </div>
      <div className="run-tabs" role="tablist" aria-label="Run details">
        {(["timeline", "events", "data"] as const).map((name) => (
          <button key={name} type="button" role="tab" aria-selected={tab === name} className={tab === name ? "run-tab is-active" : "run-tab"} onClick={() => setTab(name)} data-testid={`tab-${name}`}>
            {name === "timeline" ? "Timeline" : name === "events" ? "Events" : "Inputs and outputs"}
          </button>
        ))}
      </div>
      <div role="tabpanel" className="run-tabpanel">
        {tab === "timeline" && <Timeline isRunActive={isActive} />}
        {tab === "events" && <EventLog />}
        {tab === "data" && (
          <div className="run-data">
            <div>
              <h3>Inputs</h3>
              <JsonBlock value={run.inputs} testId="run-inputs" />
            </div>
            <div>
              <h3>Outputs{run.end_node_id ? ` (from ${run.end_node_id})` : ""}</h3>
              <JsonBlock value={run.outputs ?? undefined} testId="run-outputs" />
            </div>
            {run.error !== null && (
              <div>
                <h3>Error</h3>
                <JsonBlock value={run.error} />
              </div>
            )}
          </div>
        )}
      </div>
    </section>
  );
}

export default function RunViewPage() {
  const { id } = useParams();
  if (!id) return null;
  return <RunView key={id} runId={id} />;
}

/** Errors other than the client's own (a bug, a parse failure) shown the same way. */
export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, error instanceof Error ? error.message : "Something went wrong.");
}
