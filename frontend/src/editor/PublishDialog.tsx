import { useState } from "react";

import { ApiError, type ValidationIssue } from "../api";
import { publishWorkflow, type VersionDetail } from "../api/editor";
import type { Autosaver } from "./autosave";
import { Dialog } from "./Dialog";
import { useEditorStore } from "./store";

export function PublishDialog({ autosaver, onClose, onPublished }: { autosaver: Autosaver | null; onClose: () => void; onPublished: (version: VersionDetail) => void }) {
  const workflow = useEditorStore((state) => state.workflow);
  const [note, setNote] = useState("");
  const [activate, setActivate] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [issues, setIssues] = useState<ValidationIssue[]>([]);
  const [result, setResult] = useState<VersionDetail | null>(null);

  const submit = async () => {
    if (!workflow) return;
    setBusy(true);
    setError(null);
    setIssues([]);
    try {
      if (!(await autosaver?.flush())) {
        setError("The draft could not be saved; publish needs the saved draft.");
        return;
      }
      const version = await publishWorkflow(workflow.id, { note, activate, revision: useEditorStore.getState().revision });
      setResult(version);
      if (version.is_active) useEditorStore.setState({ workflow: { ...workflow, activeVersion: version.number } });
      onPublished(version);
    } catch (caught) {
      if (caught instanceof ApiError) {
        setError(caught.detail);
        if (Array.isArray(caught.errors)) {
          setIssues(caught.errors as ValidationIssue[]);
          useEditorStore.getState().setServerIssues(caught.errors as ValidationIssue[]);
        }
      } else {
        setError("Publishing failed.");
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title="Publish a version" onClose={onClose} testId="publish-dialog">
      {result ? (
        <div data-testid="publish-result" data-version={result.number}>
          <p>
            Version {result.number} {result.is_active ? "is active." : "was published (not active)."}
            {result.note !== note && " The draft had not changed since, so this is the latest version."}
          </p>
          <button type="button" className="button" onClick={onClose}>
            Done
          </button>
        </div>
      ) : (
        <form
          className="fd-form"
          onSubmit={(event) => {
            event.preventDefault();
            void submit();
          }}
        >
          <label className="fd-field">
            <span className="fd-field__label">Note</span>
            <textarea className="fd-input" rows={3} value={note} onChange={(event) => setNote(event.target.value)} placeholder="What changed in this version" data-testid="publish-note" maxLength={2000} />
          </label>
          <label className="fd-check">
            <input type="checkbox" checked={activate} onChange={(event) => setActivate(event.target.checked)} data-testid="publish-activate" />
            Make it the active version (used by triggers and runs)
          </label>
          {error && (
            <div className="notice notice--error" role="alert" data-testid="publish-error">
              <p className="notice__title">{error}</p>
              {issues.length > 0 && (
                <ul>
                  {issues.slice(0, 10).map((issue, index) => (
                    <li key={index}>{issue.message}</li>
                  ))}
                </ul>
              )}
            </div>
          )}
          <div className="fd-dialog__actions">
            <button type="button" className="button button--quiet" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="button" disabled={busy} data-testid="publish-submit">
              {busy ? "Publishing…" : "Publish"}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
