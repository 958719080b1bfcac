import { useCallback, useEffect, useState } from "react";

import { ApiError } from "../api";
import { activateVersion, fetchVersion, listVersions, type VersionSummary } from "../api/editor";
import type { VersionRef } from "./DiffView";
import { useEditorStore } from "./store";

function when(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** Published versions, newest first: compare any two (or one with the draft) and roll back. */
export function VersionsPanel({ refreshKey, onCompare }: { refreshKey: number; onCompare: (from: VersionRef, to: VersionRef) => void }) {
  const workflow = useEditorStore((state) => state.workflow);
  const canEdit = workflow?.role === "owner" || workflow?.role === "editor";
  const [versions, setVersions] = useState<VersionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [from, setFrom] = useState<string>("");
  const [to, setTo] = useState<string>("draft");
  const workflowId = workflow?.id;

  const load = useCallback(async () => {
    if (!workflowId) return;
    try {
      const page = await listVersions(workflowId);
      setVersions(page.results);
      setError(null);
      const [newest, previous] = page.results;
      if (newest) {
        setFrom(String(previous?.number ?? newest.number));
        setTo(previous ? String(newest.number) : "draft");
      }
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : "Could not load the versions.");
    }
  }, [workflowId]);

  useEffect(() => {
    void load();
  }, [load, refreshKey]);

  const activate = async (number: number) => {
    if (!workflowId || !workflow) return;
    try {
      await activateVersion(workflowId, number);
      useEditorStore.setState({ workflow: { ...workflow, activeVersion: number } });
      await load();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : "Could not activate the version.");
    }
  };

  /** Puts a version's graph into the draft as one undoable edit (autosave then saves it). */
  const restore = async (number: number) => {
    if (!workflowId) return;
    try {
      const version = await fetchVersion(workflowId, number);
      useEditorStore.getState().replaceGraph(version.graph);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : "Could not load the version.");
    }
  };

  const toRef = (value: string): VersionRef => (value === "draft" ? "draft" : Number(value));
  if (error) return <p className="notice notice--error">{error}</p>;
  if (!versions) return <p className="loading">Loading versions…</p>;
  if (versions.length === 0) return <p className="muted" data-testid="versions-empty">Nothing published yet. Publish to create version 1.</p>;
  return (
    <div className="fd-versions" data-testid="versions-panel">
      <div className="fd-versions__compare">
        <label>
          <span className="fd-field__label">Compare</span>
          <select className="fd-input" value={from} onChange={(event) => setFrom(event.target.value)} data-testid="diff-from">
            {versions.map((version) => (
              <option key={version.number} value={version.number}>
                v{version.number}
              </option>
            ))}
            <option value="draft">draft</option>
          </select>
        </label>
        <label>
          <span className="fd-field__label">with</span>
          <select className="fd-input" value={to} onChange={(event) => setTo(event.target.value)} data-testid="diff-to">
            {versions.map((version) => (
              <option key={version.number} value={version.number}>
                v{version.number}
              </option>
            ))}
            <option value="draft">draft</option>
          </select>
        </label>
        <button type="button" className="button fd-small" onClick={() => from && onCompare(toRef(from), toRef(to))} data-testid="diff-open">
          Show changes
        </button>
      </div>
      <ol className="fd-versions__list">
        {versions.map((version) => (
          <li key={version.number} className="fd-versions__item" data-testid={`version-${version.number}`} data-active={version.is_active}>
            <div className="fd-versions__head">
              <strong>v{version.number}</strong>
              {version.is_active && <span className="badge badge--success">active</span>}
              <span className="muted">{when(version.created_at)}</span>
            </div>
            <p className="fd-versions__note">{version.note || <span className="muted">No note</span>}</p>
            <p className="muted">by {version.author ?? "unknown"}</p>
            <div className="fd-versions__actions">
              <button type="button" className="button button--quiet fd-small" onClick={() => onCompare(version.number, "draft")} data-testid={`version-diff-draft-${version.number}`}>
                Compare with draft
              </button>
              {canEdit && (
                <button type="button" className="button button--quiet fd-small" onClick={() => void restore(version.number)} data-testid={`version-restore-${version.number}`} title="Replace the draft with this version (undo brings the draft back)">
                  Restore to draft
                </button>
              )}
              {!version.is_active && canEdit && (
                <button type="button" className="button button--quiet fd-small" onClick={() => void activate(version.number)} data-testid={`version-activate-${version.number}`}>
                  Activate
                </button>
              )}
            </div>
          </li>
        ))}
      </ol>
    </div>
  );
}
