import { useReactFlow } from "@xyflow/react";
import { useState } from "react";

import { ApiError } from "../api";
import { exportWorkflow, validateGraph } from "../api/editor";
import type { Autosaver } from "./autosave";
import { SaveStatus } from "./SaveStatus";
import { currentGraph, useEditorStore } from "./store";

export type EditorDialog = "publish" | "run" | null;

interface ToolbarProps {
  autosaver: Autosaver | null;
  onOpen: (dialog: EditorDialog) => void;
  onShowIssues: () => void;
  canEdit: boolean;
}

export function Toolbar({ autosaver, onOpen, onShowIssues, canEdit }: ToolbarProps) {
  const workflow = useEditorStore((state) => state.workflow);
  const canUndo = useEditorStore((state) => state.past.length > 0);
  const canRedo = useEditorStore((state) => state.future.length > 0);
  const issueCount = useEditorStore((state) => state.issues.length);
  const flow = useReactFlow();
  const [validating, setValidating] = useState(false);
  const [layingOut, setLayingOut] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  const validate = async () => {
    if (!workflow) return;
    setValidating(true);
    setNotice(null);
    try {
      const result = await validateGraph(workflow.id, currentGraph(useEditorStore.getState()));
      useEditorStore.getState().setServerIssues(result.errors);
      setNotice(result.valid ? "Valid" : `${result.errors.length} problem${result.errors.length === 1 ? "" : "s"}`);
      if (!result.valid) onShowIssues();
    } catch (error) {
      setNotice(error instanceof ApiError ? error.detail : "Validation failed.");
    } finally {
      setValidating(false);
    }
  };

  const download = async () => {
    if (!workflow) return;
    await autosaver?.flush();
    const document = await exportWorkflow(workflow.id);
    const blob = new Blob([JSON.stringify(document, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const link = Object.assign(window.document.createElement("a"), { href: url, download: `${workflow.name || "workflow"}.flowdeck.json` });
    link.click();
    URL.revokeObjectURL(url);
  };

  return (
    <div className="fd-toolbar" role="toolbar" aria-label="Editor">
      <h1 className="fd-toolbar__title" data-testid="editor-title">
        {workflow?.name}
      </h1>
      <SaveStatus autosaver={autosaver} />
      <div className="fd-toolbar__group">
        <button type="button" className="button button--quiet" onClick={() => useEditorStore.getState().undo()} disabled={!canUndo || !canEdit} data-testid="undo" title="Undo (Ctrl+Z)">
          Undo
        </button>
        <button type="button" className="button button--quiet" onClick={() => useEditorStore.getState().redo()} disabled={!canRedo || !canEdit} data-testid="redo" title="Redo (Shift+Ctrl+Z)">
          Redo
        </button>
        <button
          type="button"
          className="button button--quiet"
          disabled={!canEdit || layingOut}
          aria-busy={layingOut}
          onClick={() => {
            // Show the busy state first: laying out hundreds of nodes takes a moment.
            setLayingOut(true);
            requestAnimationFrame(() =>
              setTimeout(() => {
                useEditorStore.getState().autoLayout();
                setLayingOut(false);
                requestAnimationFrame(() => void flow.fitView({ padding: 0.15, duration: 200 }));
              }, 0),
            );
          }}
          data-testid="auto-layout"
        >
          {layingOut ? "Laying out…" : "Auto-layout"}
        </button>
        <button type="button" className="button button--quiet" onClick={() => void flow.fitView({ padding: 0.15, duration: 200 })} data-testid="fit-view">
          Fit view
        </button>
      </div>
      <div className="fd-toolbar__group">
        <button type="button" className="button button--quiet" onClick={onShowIssues} data-testid="issues-count" data-count={issueCount}>
          {issueCount === 0 ? "No problems" : `${issueCount} problem${issueCount === 1 ? "" : "s"}`}
        </button>
        <button type="button" className="button button--quiet" onClick={() => void validate()} disabled={validating} data-testid="validate">
          {validating ? "Checking…" : "Validate"}
        </button>
        {notice && (
          <span className="fd-toolbar__notice" data-testid="validate-result">
            {notice}
          </span>
        )}
        <button type="button" className="button button--quiet" onClick={() => void download()} data-testid="export">
          Export
        </button>
        <button type="button" className="button button--quiet" onClick={() => onOpen("run")} data-testid="open-run">
          Run
        </button>
        <button type="button" className="button" onClick={() => onOpen("publish")} disabled={!canEdit} data-testid="open-publish">
          Publish
        </button>
      </div>
    </div>
  );
}
