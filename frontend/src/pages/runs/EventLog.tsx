import { formatDateTime } from "../../lib/format";
import { useRunView } from "./runViewStore";

const SHOWN = 300;

/** The run's events as applied, newest first, with what the stream did to keep them whole. */
export function EventLog() {
  const log = useRunView((state) => state.live.log);
  const lastSeq = useRunView((state) => state.live.lastSeq);
  const duplicates = useRunView((state) => state.live.duplicatesDropped);
  const stats = useRunView((state) => state.stats);
  const select = useRunView((state) => state.select);
  const shown = log.slice(-SHOWN).reverse();
  return (
    <div className="run-events" data-testid="run-events" data-applied={log.length} data-last-seq={lastSeq} data-duplicates={duplicates} data-connections={stats.connections} data-gap-fetches={stats.gapFetches}>
      <p className="muted">
        {log.length} events applied (last seq {lastSeq}) · {duplicates} repeats ignored · connected {stats.connections} time{stats.connections === 1 ? "" : "s"} · {stats.gapFetches} gap
        {stats.gapFetches === 1 ? "" : "s"} filled
      </p>
      <table className="run-table">
        <thead>
          <tr>
            <th>Seq</th>
            <th>Event</th>
            <th>Node</th>
            <th>Time</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((entry) => (
            <tr key={entry.seq} data-seq={entry.seq}>
              <td>{entry.seq}</td>
              <td>
                <code>{entry.type}</code>
              </td>
              <td>
                {entry.nodeId && (
                  <button type="button" className="run-link-button" onClick={() => select({ nodeId: entry.nodeId as string, scope: entry.scope })}>
                    {entry.nodeId}
                    {entry.scope && ` · ${entry.scope}`}
                  </button>
                )}
              </td>
              <td className="muted">{formatDateTime(entry.ts)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {log.length > SHOWN && <p className="muted">Showing the latest {SHOWN}.</p>}
    </div>
  );
}
