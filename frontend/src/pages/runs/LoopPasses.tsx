/**
 * A loop's passes: live counters, a paged list of passes with their status, and the node runs of
 * the picked pass (from `node-runs/?scope=<loop>[<i>]`). Picking a pass also shows it on the graph.
 */
import { useEffect, useState } from "react";
import { useShallow } from "zustand/react/shallow";

import { ApiError } from "../../api";
import { listNodeRuns, type NodeRunRow } from "../../api/runs";
import { passProgress, passScope } from "../../live/derive";
import { STATUS_LABELS } from "./RunNodes";
import { useRunView } from "./runViewStore";

const PASSES_PER_PAGE = 50;

export function LoopPasses({ runId, loopId, scope }: { runId: string; loopId: string; scope: string }) {
  const progress = useRunView(
    useShallow((state) => {
      const found = passProgress(state.live, loopId, scope, state.bodyOf[loopId] ?? []);
      return { total: found.total, succeeded: found.succeeded, failed: found.failed, running: found.running, pending: found.pending, passes: JSON.stringify(found.passes) };
    }),
  );
  const picked = useRunView((state) => state.selectedPass[loopId] ?? null);
  const selectPass = useRunView((state) => state.selectPass);
  const select = useRunView((state) => state.select);
  const [page, setPage] = useState(0);
  const [rows, setRows] = useState<NodeRunRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const passes = JSON.parse(progress.passes) as Record<number, string>;
  const pageCount = Math.max(1, Math.ceil(progress.total / PASSES_PER_PAGE));
  const first = page * PASSES_PER_PAGE;
  const indices = Array.from({ length: Math.max(0, Math.min(PASSES_PER_PAGE, progress.total - first)) }, (_, offset) => first + offset);
  const pickedScope = picked === null ? null : passScope(scope, loopId, picked);
  const pickedStatus = picked === null ? null : passes[picked];

  useEffect(() => {
    if (pickedScope === null) {
      setRows(null);
      return;
    }
    const controller = new AbortController();
    listNodeRuns(runId, { scope: pickedScope, page_size: 500 }, controller.signal).then(
      (found) => {
        setRows(found.results);
        setError(null);
      },
      (caught: unknown) => {
        if (!controller.signal.aborted) setError(caught instanceof ApiError ? caught.detail : "The pass could not be loaded.");
      },
    );
    return () => controller.abort();
  }, [runId, pickedScope, pickedStatus]);

  return (
    <div className="run-passes" data-testid={`loop-passes-${loopId}`}>
      <h3>Passes</h3>
      <p className="run-passes__counts">
        <span>{progress.total} total</span> · <span className="run-status run-status--succeeded">{progress.succeeded} succeeded</span>
        {progress.running > 0 && (
          <>
            {" "}
            · <span className="run-status run-status--running">{progress.running} running</span>
          </>
        )}
        {progress.failed > 0 && (
          <>
            {" "}
            · <span className="run-status run-status--failed">{progress.failed} failed</span>
          </>
        )}
        {progress.pending > 0 && <> · {progress.pending} to go</>}
      </p>
      <div className="run-passes__grid" role="list">
        {indices.map((index) => (
          <button
            type="button"
            role="listitem"
            key={index}
            className={`run-pass run-pass--${passes[index] ?? "pending"}${picked === index ? " is-picked" : ""}`}
            title={`Pass ${index}: ${passes[index] ?? "pending"}`}
            onClick={() => selectPass(loopId, picked === index ? null : index)}
            data-testid={`pass-${loopId}-${index}`}
          >
            {index}
          </button>
        ))}
      </div>
      {pageCount > 1 && (
        <div className="run-passes__pager">
          <button type="button" className="button button--quiet button--small" disabled={page === 0} onClick={() => setPage(page - 1)}>
            Previous
          </button>
          <span className="muted">
            Passes {first}–{first + indices.length - 1} of {progress.total}
          </span>
          <button type="button" className="button button--quiet button--small" disabled={page >= pageCount - 1} onClick={() => setPage(page + 1)}>
            Next
          </button>
        </div>
      )}
      {error && <p className="notice notice--error">{error}</p>}
      {picked !== null && rows && (
        <table className="run-table" data-testid={`pass-rows-${loopId}`}>
          <caption>Pass {picked}</caption>
          <thead>
            <tr>
              <th>Node</th>
              <th>Status</th>
              <th>Output</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={`${row.node_id}-${row.scope}`}>
                <td>
                  <button type="button" className="run-link-button" onClick={() => select({ nodeId: row.node_id, scope: row.scope })}>
                    {row.node_id}
                  </button>
                </td>
                <td>
                  <span className={`run-status run-status--${row.status}`}>{STATUS_LABELS[row.status] ?? row.status}</span>
                </td>
                <td>
                  <code className="run-cell-json">{row.output === null ? "—" : JSON.stringify(row.output).slice(0, 120)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
