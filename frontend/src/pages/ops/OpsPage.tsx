import "./ops.css";

import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router";

import type { ApiError } from "../../api";
import { fetchOpsFigures, type NodeFigure, type OpsFigures } from "../../api/ops";
import { ApiErrorNotice } from "../../components/ApiErrorNotice";
import { PageHeader } from "../../components/PageHeader";
import { useDocumentTitle } from "../../hooks/useDocumentTitle";
import { formatDateTime, formatRelativeTime } from "../../lib/format";
import { formatDuration, formatRate } from "./chartScale";
import { LineChart } from "./LineChart";

const REFRESH_MS = 15_000;
const WINDOWS = [
  { label: "Last hour", hours: 1, bucketMinutes: 5 },
  { label: "Last 24 hours", hours: 24, bucketMinutes: 60 },
  { label: "Last 7 days", hours: 168, bucketMinutes: 360 },
] as const;

function Figure({ label, value, tone, testId }: { label: string; value: string | number; tone?: "danger" | "success"; testId?: string }) {
  return (
    <div className={`ops-figure${tone ? ` ops-figure--${tone}` : ""}`} data-testid={testId}>
      <span className="ops-figure__value">{value}</span>
      <span className="ops-figure__label">{label}</span>
    </div>
  );
}

function bucketLabel(iso: string, hours: number): string {
  const date = new Date(iso);
  return hours > 24
    ? date.toLocaleDateString(undefined, { month: "short", day: "numeric" })
    : date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

function NodeTable({ rows, caption, testId }: { rows: NodeFigure[]; caption: string; testId: string }) {
  return (
    <table className="ops-table" data-testid={testId}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Workflow</th>
          <th scope="col">Node</th>
          <th scope="col">Attempts</th>
          <th scope="col">p50</th>
          <th scope="col">p95</th>
          <th scope="col">Tokens</th>
          <th scope="col">Cost</th>
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 && (
          <tr>
            <td colSpan={7} className="ops-empty">
              Nothing in this window.
            </td>
          </tr>
        )}
        {rows.map((row) => (
          <tr key={`${row.workflow_id}:${row.node_id}`}>
            <td>
              <Link to={`/workflows/${row.workflow_id}`}>{row.workflow}</Link>
            </td>
            <td>
              <code>{row.node_id}</code> <span className="ops-muted">{row.node_type}</span>
            </td>
            <td>
              {row.attempts}
              {row.failed > 0 && <span className="ops-muted"> ({row.failed} failed)</span>}
            </td>
            <td>{formatDuration(row.p50_ms)}</td>
            <td>{formatDuration(row.p95_ms)}</td>
            <td>{row.tokens}</td>
            <td>${row.cost_usd}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The operations console for staff: the system's state on one page, refreshed every 15 s. */
export default function OpsPage() {
  useDocumentTitle("Operations");
  const [windowIndex, setWindowIndex] = useState(1);
  const [figures, setFigures] = useState<OpsFigures | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const selected = WINDOWS[windowIndex] ?? WINDOWS[1];

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        setFigures(await fetchOpsFigures(selected.hours, selected.bucketMinutes, signal));
        setError(null);
      } catch (caught) {
        if (signal?.aborted) return;
        setError(caught as ApiError);
      }
    },
    [selected.hours, selected.bucketMinutes],
  );

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    const timer = setInterval(() => void load(controller.signal), REFRESH_MS);
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  }, [load]);

  const labels = figures?.series.map((point) => bucketLabel(point.start, selected.hours)) ?? [];
  return (
    <section aria-labelledby="page-title" className="page ops-page" data-testid="ops-page" data-loaded={figures !== null}>
      <PageHeader title="Operations" description="Queues, workers, agents, runs, latency, cost and the sweep — the system's state at a glance.">
        <label className="ops-window">
          <span className="visually-hidden">Window</span>
          <select value={windowIndex} onChange={(event) => setWindowIndex(Number(event.target.value))}>
            {WINDOWS.map((item, index) => (
              <option key={item.label} value={index}>
                {item.label}
              </option>
            ))}
          </select>
        </label>
      </PageHeader>
      {error && <ApiErrorNotice error={error} title="The figures could not be loaded" onRetry={() => void load()} />}
      {figures && (
        <>
          <div className="ops-figures">
            <Figure label="active runs" value={figures.runs.active} testId="ops-active" />
            <Figure label="waiting" value={figures.runs.waiting} testId="ops-waiting" />
            <Figure label="paused" value={figures.runs.paused} />
            <Figure label={`failed (${selected.label.toLowerCase()})`} value={figures.runs.finished_in_window.failed} tone={figures.runs.finished_in_window.failed ? "danger" : undefined} testId="ops-failed" />
            <Figure label="failure rate" value={formatRate(figures.runs.failure_rate)} />
            <Figure label="node p50 / p95" value={`${formatDuration(figures.nodes.latency.p50_ms)} / ${formatDuration(figures.nodes.latency.p95_ms)}`} />
            <Figure label="tokens" value={figures.nodes.tokens} />
            <Figure label="LLM cost" value={`$${figures.nodes.cost_usd}`} />
            <Figure label="stuck runs" value={figures.stuck_runs.count} tone={figures.stuck_runs.count ? "danger" : undefined} testId="ops-stuck" />
          </div>

          <div className="ops-grid">
            <div className="ops-card">
              <h2>Queues</h2>
              <ul className="ops-list" data-testid="ops-queues">
                {figures.queues.map((queue) => (
                  <li key={queue.name}>
                    <code>{queue.name}</code>
                    <span>{queue.depth === null ? "n/a" : `${queue.depth} waiting`}</span>
                  </li>
                ))}
              </ul>
              <h2>Workers</h2>
              <ul className="ops-list" data-testid="ops-workers">
                {figures.workers.length === 0 && <li className="ops-empty">No worker answered.</li>}
                {figures.workers.map((worker) => (
                  <li key={worker.name}>
                    <span className={`ops-dot ${worker.alive ? "ops-dot--ok" : "ops-dot--bad"}`} aria-hidden="true" />
                    <code>{worker.name}</code>
                    <span className="ops-muted">{worker.alive ? "alive" : "not answering"}</span>
                  </li>
                ))}
              </ul>
              {figures.worker_activity.length > 0 && (
                <ul className="ops-list ops-list--small">
                  {figures.worker_activity.map((row) => (
                    <li key={row.worker}>
                      <code>{row.worker}</code>
                      <span className="ops-muted">
                        {row.attempts} attempts · last claim {row.last_claim_at ? formatRelativeTime(row.last_claim_at) : "—"}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </div>
            <div className="ops-card">
              <h2>External agents</h2>
              <p className="ops-muted">
                {figures.external_agents.counts.alive} alive · {figures.external_agents.counts.silent} silent · {figures.external_agents.counts.revoked} revoked
              </p>
              <ul className="ops-list" data-testid="ops-agents">
                {figures.external_agents.agents.map((agent) => (
                  <li key={agent.id}>
                    <span className={`ops-dot ${agent.state === "alive" ? "ops-dot--ok" : "ops-dot--bad"}`} aria-hidden="true" />
                    <span>{agent.name}</span>
                    <span className="ops-muted">
                      {agent.state}
                      {agent.last_heartbeat_at && ` · ${formatRelativeTime(agent.last_heartbeat_at)}`}
                    </span>
                  </li>
                ))}
              </ul>
              <h2>Sweep</h2>
              <p className="ops-muted" data-testid="ops-sweep">
                Last sweep {figures.sweep.last_sweep_at ? formatRelativeTime(figures.sweep.last_sweep_at) : "never"} · every {figures.sweep.interval_s} s
              </p>
              <ul className="ops-list ops-list--small">
                {Object.keys(figures.sweep.found).length === 0 && <li className="ops-empty">Found nothing to recover in this window.</li>}
                {Object.entries(figures.sweep.found).map(([kind, count]) => (
                  <li key={kind}>
                    <span>{kind.replaceAll("_", " ")}</span>
                    <span>{count}</span>
                  </li>
                ))}
              </ul>
            </div>
          </div>

          <div className="ops-grid">
            <LineChart
              title="Run failure rate"
              testId="ops-chart-failures"
              labels={labels}
              floor={0.1}
              format={(value) => formatRate(value)}
              series={[{ label: "failed / finished", className: "ops-series--danger", values: figures.series.map((point) => point.failure_rate) }]}
            />
            <LineChart
              title="Node latency"
              testId="ops-chart-latency"
              labels={labels}
              format={(value) => formatDuration(value)}
              series={[
                { label: "p50", className: "ops-series--accent", values: figures.series.map((point) => point.latency_p50_ms) },
                { label: "p95", className: "ops-series--warning", values: figures.series.map((point) => point.latency_p95_ms) },
              ]}
            />
          </div>

          {figures.nodes.truncated && <p className="ops-muted">Node figures cover the newest {figures.nodes.attempts} attempts of this window.</p>}
          <NodeTable rows={figures.nodes.slowest} caption="Slowest nodes (by p95)" testId="ops-slowest" />
          <NodeTable rows={figures.nodes.costliest} caption="Most expensive nodes" testId="ops-costliest" />

          <table className="ops-table" data-testid="ops-stuck-runs">
            <caption>Stuck runs (running, nothing queued or running for over {figures.stuck_runs.after_s} s)</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Workflow</th>
                <th scope="col">Status</th>
                <th scope="col">Idle since</th>
              </tr>
            </thead>
            <tbody>
              {figures.stuck_runs.runs.length === 0 && (
                <tr>
                  <td colSpan={4} className="ops-empty">
                    None.
                  </td>
                </tr>
              )}
              {figures.stuck_runs.runs.map((run) => (
                <tr key={run.id}>
                  <td>
                    <Link to={`/runs/${run.id}`}>
                      <code>{run.id.slice(0, 8)}</code>
                    </Link>
                  </td>
                  <td>{run.workflow}</td>
                  <td>{run.status}</td>
                  <td>{run.idle_since ? formatDateTime(run.idle_since) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="ops-muted">
            {figures.mode} mode · figures of {formatDateTime(figures.generated_at)} · also on <code>/metrics</code>
          </p>
        </>
      )}
    </section>
  );
}
