/**
 * One node run in full: status, what it waits for, its streaming text, and every attempt with its
 * input, rendered templates, output, error, timings, tokens and cost. Refetched whenever the
 * node's live state moves; loops add their passes.
 */
import { useEffect, useState } from "react";
import { Link } from "react-router";

import { ApiError } from "../../api";
import { fetchNodeRun, retryRun, type Attempt, type NodeRunDetail } from "../../api/runs";
import { nodeKey, nodeState } from "../../live/runReducer";
import { formatDateTime } from "../../lib/format";
import { LoopPasses } from "./LoopPasses";
import { STATUS_LABELS } from "./RunNodes";
import { useRunView } from "./runViewStore";

export function JsonBlock({ value, testId }: { value: unknown; testId?: string }) {
  if (value === undefined) return <p className="muted">—</p>;
  return (
    <pre className="fd-code run-json" data-testid={testId}>
      {typeof value === "string" ? value : JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function durationBetween(start: string | null, end: string | null): string {
  if (!start || !end) return "";
  const ms = Date.parse(end) - Date.parse(start);
  if (!Number.isFinite(ms)) return "";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function AttemptView({ attempt, isOpen }: { attempt: Attempt; isOpen: boolean }) {
  const tokens = attempt.usage ? (attempt.usage.input_tokens ?? 0) + (attempt.usage.output_tokens ?? 0) : null;
  return (
    <details className="run-attempt" open={isOpen} data-testid={`attempt-${attempt.number}`}>
      <summary>
        <strong>Attempt {attempt.number}</strong> <span className={`run-status run-status--${attempt.status}`}>{attempt.status}</span>
        {attempt.started_at && <span className="muted"> {durationBetween(attempt.started_at, attempt.finished_at)}</span>}
      </summary>
      <dl className="run-facts">
        {attempt.queued_at && (
          <>
            <dt>Queued</dt>
            <dd>{formatDateTime(attempt.queued_at)}</dd>
          </>
        )}
        {attempt.started_at && (
          <>
            <dt>Started</dt>
            <dd>{formatDateTime(attempt.started_at)}</dd>
          </>
        )}
        {attempt.finished_at && (
          <>
            <dt>Finished</dt>
            <dd>{formatDateTime(attempt.finished_at)}</dd>
          </>
        )}
        {attempt.model && (
          <>
            <dt>Model</dt>
            <dd>
              {attempt.model}
              {attempt.provider_kind && ` (${attempt.provider_kind})`}
            </dd>
          </>
        )}
        {tokens !== null && (
          <>
            <dt>Tokens</dt>
            <dd data-testid={`attempt-${attempt.number}-tokens`}>
              {attempt.usage?.input_tokens ?? 0} in · {attempt.usage?.output_tokens ?? 0} out
            </dd>
          </>
        )}
        {attempt.cost_usd !== null && (
          <>
            <dt>Cost</dt>
            <dd>${Number(attempt.cost_usd).toFixed(6)}</dd>
          </>
        )}
        {attempt.latency_ms !== null && (
          <>
            <dt>Latency</dt>
            <dd>{attempt.latency_ms} ms</dd>
          </>
        )}
        {attempt.worker && (
          <>
            <dt>Worker</dt>
            <dd>{attempt.worker}</dd>
          </>
        )}
      </dl>
      <h4>Input</h4>
      <JsonBlock value={attempt.input} />
      {attempt.rendered !== null && (
        <>
          <h4>Rendered templates</h4>
          <JsonBlock value={attempt.rendered} testId={`attempt-${attempt.number}-rendered`} />
        </>
      )}
      {attempt.output !== null && (
        <>
          <h4>Output</h4>
          <JsonBlock value={attempt.output} testId={`attempt-${attempt.number}-output`} />
        </>
      )}
      {attempt.error && (
        <>
          <h4>Error</h4>
          <p className="notice notice--error">
            <code>{attempt.error.code}</code> {attempt.error.message}
            {attempt.error.retryable ? " (retryable)" : ""}
          </p>
        </>
      )}
    </details>
  );
}

export function NodeInspector({ runId, canControl }: { runId: string; canControl: boolean }) {
  const selection = useRunView((state) => state.selection);
  const spec = useRunView((state) => state.graph?.nodes.find((node) => node.id === state.selection?.nodeId));
  const info = useRunView((state) => (spec ? state.registry[spec.type] : undefined));
  const liveNode = useRunView((state) => (state.selection ? state.live.nodes[nodeKey(state.selection.nodeId, state.selection.scope)] : undefined));
  const live = selection ? (liveNode ?? nodeState(useRunView.getState().live, selection.nodeId, selection.scope)) : null;
  const stream = useRunView((state) => (state.selection ? state.live.streams[nodeKey(state.selection.nodeId, state.selection.scope)] : undefined));
  const select = useRunView((state) => state.select);
  const [detail, setDetail] = useState<NodeRunDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [isRetrying, setRetrying] = useState(false);
  const nodeId = selection?.nodeId;
  const scope = selection?.scope ?? "";
  const liveSeq = live?.seq ?? 0;

  useEffect(() => {
    setDetail(null);
    setMessage(null);
  }, [nodeId, scope]);

  useEffect(() => {
    if (!nodeId) return;
    const controller = new AbortController();
    // A short delay folds a burst of events into one fetch.
    const timer = setTimeout(() => {
      fetchNodeRun(runId, nodeId, scope, controller.signal).then(
        (found) => {
          setDetail(found);
          setError(null);
        },
        (caught: unknown) => {
          if (controller.signal.aborted) return;
          if (caught instanceof ApiError && caught.isNotFound) setDetail(null);
          else setError(caught instanceof ApiError ? caught.detail : "The node run could not be loaded.");
        },
      );
    }, 150);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [runId, nodeId, scope, liveSeq]);

  if (!selection || !live) return null;
  const status = live.status;
  const attempts = detail?.attempts ?? [];
  const showStream = stream && stream.text && (status === "running" || !attempts.some((attempt) => attempt.number === stream.attempt && attempt.output !== null));

  const retry = async () => {
    setRetrying(true);
    setMessage(null);
    try {
      await retryRun(runId, { node_id: selection.nodeId, scope: selection.scope });
      setMessage("Retrying from this node.");
    } catch (caught) {
      setMessage(caught instanceof ApiError ? caught.detail : "The retry was refused.");
    } finally {
      setRetrying(false);
    }
  };

  return (
    <section className="run-inspector" aria-label="Node inspector" data-testid="node-inspector" data-node-id={selection.nodeId} data-scope={selection.scope}>
      <header className="run-inspector__header">
        <div>
          <p className="muted run-inspector__type">{info?.label ?? spec?.type}</p>
          <h2>{spec?.name || selection.nodeId}</h2>
          {selection.scope && <p className="muted">Pass {selection.scope}</p>}
        </div>
        <button type="button" className="button button--quiet button--small" onClick={() => select(null)} aria-label="Close the inspector">
          ×
        </button>
      </header>
      <p>
        <span className={`run-status run-status--${status}`} data-testid="inspector-status" data-status={status}>
          {STATUS_LABELS[status]}
        </span>
        {live.attempt !== null && <span className="muted"> · attempt {live.attempt}</span>}
        {live.durationMs !== null && <span className="muted"> · {live.durationMs} ms</span>}
      </p>
      {status === "waiting" && live.waitReason === "approval" && (
        <p className="notice notice--info">
          Waits for an approval{live.dueAt ? `, due ${formatDateTime(live.dueAt)}` : ""}.{" "}
          <Link to={live.approvalId ? `/inbox?approval=${encodeURIComponent(live.approvalId)}` : "/inbox"} data-testid="inspector-approval-link">
            Open it in the inbox
          </Link>
        </p>
      )}
      {status === "waiting" && live.waitReason && live.waitReason !== "approval" && <p className="notice notice--info">Waits for {live.waitReason === "timer" ? "its timer" : "an external agent"}.</p>}
      {status === "retrying" && (
        <p className="notice notice--info">
          Attempt {live.attempt} failed ({live.error?.code}); the next one starts {live.retryAt ? formatDateTime(live.retryAt) : "soon"}.
        </p>
      )}
      {canControl && (status === "failed" || status === "succeeded" || status === "cancelled") && info?.type !== "start" && (
        <p>
          <button type="button" className="button button--small" onClick={() => void retry()} disabled={isRetrying} data-testid="retry-node">
            {isRetrying ? "Retrying…" : "Retry from this node"}
          </button>
        </p>
      )}
      {message && (
        <p className="notice notice--info" role="status" data-testid="retry-message">
          {message}
        </p>
      )}
      {error && <p className="notice notice--error">{error}</p>}
      {showStream && (
        <>
          <h3>Streaming {status === "running" && <span className="spinner" aria-hidden="true" />}</h3>
          <pre className="fd-code run-json run-stream" data-testid="streaming-text" aria-live="polite">
            {stream.text}
          </pre>
        </>
      )}
      {spec?.type === "loop" && <LoopPasses runId={runId} loopId={selection.nodeId} scope={selection.scope} />}
      {detail?.child_run && (
        <p>
          <Link to={`/runs/${detail.child_run}`} data-testid="inspector-child-run">
            Open the sub-workflow's run
          </Link>
        </p>
      )}
      {detail && (
        <>
          {detail.error && (
            <>
              <h3>Error</h3>
              <p className="notice notice--error" data-testid="inspector-error">
                <code>{detail.error.code}</code> {detail.error.message}
              </p>
            </>
          )}
          <h3>Input</h3>
          <JsonBlock value={detail.input} testId="inspector-input" />
          <h3>Output</h3>
          <JsonBlock value={detail.output ?? undefined} testId="inspector-output" />
          {attempts.length > 0 && <h3>Attempts ({attempts.length})</h3>}
          {attempts.map((attempt, index) => (
            <AttemptView key={`${attempt.number}-${index}`} attempt={attempt} isOpen={index === attempts.length - 1} />
          ))}
        </>
      )}
      {!detail && status === "pending" && <p className="muted">This node has not run yet.</p>}
    </section>
  );
}
