/**
 * A Gantt chart of attempts, from the events' timestamps: one row per node run of the shown
 * scope, one bar per attempt (queued part lighter), running bars growing with the clock.
 */
import { useEffect, useMemo, useState } from "react";

import type { AttemptSpan } from "../../live/runReducer";
import { ACTIVE_NODE_STATUSES } from "../../live/runReducer";
import { useRunView } from "./runViewStore";

const ROW_LIMIT = 200;

function useNow(isTicking: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!isTicking) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [isTicking]);
  return now;
}

const time = (iso: string | null): number | null => (iso ? Date.parse(iso) : null);

export function Timeline({ isRunActive }: { isRunActive: boolean }) {
  const spans = useRunView((state) => state.live.spans);
  const graph = useRunView((state) => state.graph);
  const select = useRunView((state) => state.select);
  const now = useNow(isRunActive);

  const rows = useMemo(() => {
    const names = new Map(graph?.nodes.map((node) => [node.id, node.name || node.id]) ?? []);
    const list: { key: string; label: string; spans: readonly AttemptSpan[]; first: number }[] = [];
    for (const [key, attempts] of Object.entries(spans)) {
      const first = attempts[0];
      if (!first) continue;
      const start = time(first.queuedAt ?? first.startedAt ?? first.finishedAt) ?? 0;
      const name = names.get(first.nodeId) ?? first.nodeId;
      list.push({ key, label: first.scope ? `${name} · ${first.scope}` : name, spans: attempts, first: start });
    }
    list.sort((a, b) => a.first - b.first || a.label.localeCompare(b.label));
    return list.slice(0, ROW_LIMIT);
  }, [spans, graph]);

  if (rows.length === 0) return <p className="muted">Nothing has started yet.</p>;
  let start = Infinity;
  let end = -Infinity;
  for (const row of rows) {
    for (const span of row.spans) {
      const from = time(span.queuedAt ?? span.startedAt ?? span.finishedAt);
      const to = time(span.finishedAt) ?? (ACTIVE_NODE_STATUSES.has(span.status) ? now : from);
      if (from !== null) start = Math.min(start, from);
      if (to !== null) end = Math.max(end, to);
    }
  }
  const total = Math.max(end - start, 1);
  const percent = (value: number) => `${((value - start) / total) * 100}%`;
  const width = (from: number, to: number) => `max(3px, ${((to - from) / total) * 100}%)`;

  return (
    <div className="run-timeline" data-testid="run-timeline">
      <div className="run-timeline__scale muted">
        <span>0 s</span>
        <span>{(total / 1000).toFixed(total < 10_000 ? 2 : 0)} s</span>
      </div>
      {rows.map((row) => (
        <div className="run-timeline__row" key={row.key} data-testid={`timeline-row-${row.key}`}>
          <button type="button" className="run-timeline__label run-link-button" onClick={() => select({ nodeId: row.spans[0]?.nodeId ?? "", scope: row.spans[0]?.scope ?? "" })}>
            {row.label}
          </button>
          <div className="run-timeline__track">
            {row.spans.map((span, index) => {
              const queued = time(span.queuedAt);
              const started = time(span.startedAt) ?? time(span.finishedAt);
              const finished = time(span.finishedAt) ?? (ACTIVE_NODE_STATUSES.has(span.status) ? now : started);
              const title = `attempt ${span.attempt || 1}: ${span.status}${started !== null && finished !== null ? `, ${finished - started} ms` : ""}`;
              return (
                <span key={index}>
                  {queued !== null && started !== null && started > queued && (
                    <span className="run-timeline__bar run-timeline__bar--queued" style={{ left: percent(queued), width: width(queued, started) }} title={`queued ${started - queued} ms`} />
                  )}
                  {started !== null && finished !== null && (
                    <span className={`run-timeline__bar run-status--${span.status}`} style={{ left: percent(started), width: width(started, finished) }} title={title} data-attempt={span.attempt} />
                  )}
                </span>
              );
            })}
          </div>
        </div>
      ))}
    </div>
  );
}
