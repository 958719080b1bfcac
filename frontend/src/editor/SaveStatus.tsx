import type { Autosaver } from "./autosave";
import { useEditorStore } from "./store";

const LABELS = {
  saved: "Saved",
  pending: "Unsaved changes",
  saving: "Saving…",
  conflict: "Conflict",
  error: "Not saved",
} as const;

export function SaveStatus({ autosaver }: { autosaver: Autosaver | null }) {
  const status = useEditorStore((state) => state.saveStatus);
  const message = useEditorStore((state) => state.saveMessage);
  return (
    <div className={`fd-save fd-save--${status}`} data-testid="save-status" data-status={status} role="status" aria-live="polite">
      <span className="fd-save__dot" aria-hidden="true" />
      <span>{LABELS[status]}</span>
      {status === "conflict" && (
        <span className="fd-save__actions">
          <span className="fd-save__message">{message}</span>
          <button type="button" className="button fd-small" data-testid="conflict-reload" onClick={() => void autosaver?.reload()}>
            Reload their version
          </button>
          <button type="button" className="button button--quiet fd-small" data-testid="conflict-overwrite" onClick={() => void autosaver?.overwrite()}>
            Keep mine
          </button>
        </span>
      )}
      {status === "error" && (
        <span className="fd-save__actions">
          <span className="fd-save__message">{message}</span>
          <button type="button" className="button button--quiet fd-small" onClick={() => void autosaver?.flush()}>
            Retry
          </button>
        </span>
      )}
    </div>
  );
}
