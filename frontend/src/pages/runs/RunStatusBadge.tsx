import type { RunStatus } from "../../api/runs";

const LABELS: Record<RunStatus, string> = {
  pending: "Pending",
  running: "Running",
  waiting: "Waiting",
  paused: "Paused",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
};

export function RunStatusBadge({ status, testId }: { status: RunStatus; testId?: string }) {
  return (
    <span className={`run-status run-status--${status}`} data-testid={testId} data-status={status}>
      {LABELS[status] ?? status}
    </span>
  );
}
