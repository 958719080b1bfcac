import "@xyflow/react/dist/style.css";
import "../../editor/editor.css";

import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useRef, useState } from "react";
import { useParams } from "react-router";

import { ApiError } from "../../api";
import { loadEditor, validateGraph } from "../../api/editor";
import { ApiErrorNotice } from "../../components/ApiErrorNotice";
import { useDocumentTitle } from "../../hooks/useDocumentTitle";
import { Autosaver } from "../../editor/autosave";
import { Canvas } from "../../editor/Canvas";
import { DiffView, type VersionRef } from "../../editor/DiffView";
import { Palette } from "../../editor/Palette";
import { IssuesPanel } from "../../editor/panel/IssuesPanel";
import { NodePanel, useSingleSelection } from "../../editor/panel/NodePanel";
import { WorkflowPanel } from "../../editor/panel/WorkflowPanel";
import { PublishDialog } from "../../editor/PublishDialog";
import { RunDialog } from "../../editor/RunDialog";
import { useEditorStore } from "../../editor/store";
import { Toolbar, type EditorDialog } from "../../editor/Toolbar";
import { useShortcuts } from "../../editor/useShortcuts";
import { TriggersPanel } from "../../editor/triggers/TriggersPanel";
import { VersionsPanel } from "../../editor/VersionsPanel";

type Tab = "inspector" | "issues" | "versions" | "triggers";

/** Runs `callback` once the page is idle after drawing (soon after, where idle callbacks are missing). */
function afterFirstPaint(callback: () => void): void {
  if (typeof window.requestIdleCallback === "function") window.requestIdleCallback(callback, { timeout: 1500 });
  else setTimeout(callback, 300);
}

type LoadState = { status: "loading" } | { status: "error"; error: ApiError } | { status: "ready" };

function SidePanel({ tab, setTab, versionsKey, onCompare, canEdit, workflowId }: { tab: Tab; setTab: (tab: Tab) => void; versionsKey: number; onCompare: (from: VersionRef, to: VersionRef) => void; canEdit: boolean; workflowId: number }) {
  const selected = useSingleSelection();
  const issueCount = useEditorStore((state) => state.issues.length);
  return (
    <aside className="fd-side" aria-label="Details">
      <div className="fd-tabs" role="tablist">
        {(["inspector", "issues", "versions", "triggers"] as const).map((name) => (
          <button key={name} type="button" role="tab" aria-selected={tab === name} className={tab === name ? "is-active" : undefined} onClick={() => setTab(name)} data-testid={`tab-${name}`}>
            {name === "inspector" ? "Node" : name === "issues" ? `Problems (${issueCount})` : name === "versions" ? "Versions" : "Triggers"}
          </button>
        ))}
      </div>
      <div className="fd-side__body">
        {tab === "inspector" &&
          (selected ? (
            <fieldset className="fd-node-fieldset" disabled={!canEdit}>
              <NodePanel nodeId={selected} />
            </fieldset>
          ) : (
            <WorkflowPanel canEdit={canEdit} />
          ))}
        {tab === "issues" && <IssuesPanel />}
        {tab === "versions" && <VersionsPanel refreshKey={versionsKey} onCompare={onCompare} />}
        {tab === "triggers" && <TriggersPanel workflowId={workflowId} canEdit={canEdit} />}
      </div>
    </aside>
  );
}

function Editor({ workflowId }: { workflowId: number }) {
  const autosaverRef = useRef<Autosaver | null>(null);
  const [autosaver, setAutosaver] = useState<Autosaver | null>(null);
  const [dialog, setDialog] = useState<EditorDialog>(null);
  const [tab, setTab] = useState<Tab>("inspector");
  const [versionsKey, setVersionsKey] = useState(0);
  const [diff, setDiff] = useState<{ from: VersionRef; to: VersionRef } | null>(null);
  const role = useEditorStore((state) => state.workflow?.role);
  const canEdit = role === "owner" || role === "editor";
  const flow = useReactFlow();
  const selected = useSingleSelection();

  useEffect(() => {
    if (!canEdit) return;
    const saver = new Autosaver(workflowId);
    saver.start();
    autosaverRef.current = saver;
    setAutosaver(saver);
    const warn = (event: BeforeUnloadEvent) => {
      const state = useEditorStore.getState();
      if (state.changeCount !== state.savedChangeCount) event.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => {
      window.removeEventListener("beforeunload", warn);
      void saver.flush();
      saver.stop();
    };
  }, [workflowId, canEdit]);

  useEffect(() => {
    if (selected) setTab("inspector");
  }, [selected]);

  const showInspector = useCallback(() => setTab("inspector"), []);
  const onPaste = useCallback(
    (ids: string[]) => {
      if (ids.length) requestAnimationFrame(() => void flow.fitView({ nodes: ids.map((id) => ({ id })), duration: 150, maxZoom: 1, padding: 0.4 }));
    },
    [flow],
  );
  useShortcuts(canEdit && dialog === null && diff === null, onPaste);

  return (
    <div className="fd-editor" data-testid="editor" data-ready="true">
      <Toolbar autosaver={autosaver} onOpen={setDialog} onShowIssues={() => setTab("issues")} canEdit={canEdit} />
      <div className="fd-editor__body">
        {canEdit && <Palette />}
        <Canvas readOnly={!canEdit} onNodeClick={showInspector} />
        <SidePanel tab={tab} setTab={setTab} versionsKey={versionsKey} onCompare={(from, to) => setDiff({ from, to })} canEdit={canEdit} workflowId={workflowId} />
      </div>
      {dialog === "publish" && (
        <PublishDialog
          autosaver={autosaver}
          onClose={() => setDialog(null)}
          onPublished={() => {
            setVersionsKey((key) => key + 1);
          }}
        />
      )}
      {dialog === "run" && <RunDialog autosaver={autosaver} onClose={() => setDialog(null)} />}
      {diff && <DiffView workflowId={workflowId} from={diff.from} to={diff.to} onClose={() => setDiff(null)} />}
    </div>
  );
}

export default function EditorPage() {
  const params = useParams();
  const workflowId = Number(params.id);
  const [state, setState] = useState<LoadState>({ status: "loading" });
  const [attempt, setAttempt] = useState(0);
  const name = useEditorStore((store) => store.workflow?.name ?? "");
  useDocumentTitle(name ? `${name} · Editor` : "Editor");

  useEffect(() => {
    if (!Number.isInteger(workflowId) || workflowId < 1) {
      setState({ status: "error", error: new ApiError(404, "There is no such workflow.") });
      return;
    }
    let cancelled = false;
    setState({ status: "loading" });
    loadEditor(workflowId)
      .then(([registry, workflow]) => {
        if (cancelled) return;
        useEditorStore.getState().load(workflow, registry);
        performance.mark("flowdeck:editor-loaded");
        setState({ status: "ready" });
        // The server's full check of the saved draft (expressions, schemas, agents, people), shown
        // unless the designer has already changed something (the autosave then brings a newer one).
        // Asked once the canvas is drawn, so the server's work does not compete with drawing it.
        afterFirstPaint(() => {
          if (cancelled) return;
          validateGraph(workflowId)
            .then((result) => {
              const store = useEditorStore.getState();
              if (!cancelled && store.changeCount === 0) store.setServerIssues(result.errors);
            })
            .catch(() => undefined);
        });
      })
      .catch((error: unknown) => {
        if (cancelled) return;
        setState({ status: "error", error: error instanceof ApiError ? error : new ApiError(0, "The editor could not load.") });
      });
    return () => {
      cancelled = true;
    };
  }, [workflowId, attempt]);

  if (state.status === "loading") {
    return (
      <div className="loading" role="status" aria-live="polite">
        <span className="spinner" aria-hidden="true" />
        Opening the editor…
      </div>
    );
  }
  if (state.status === "error") return <ApiErrorNotice error={state.error} onRetry={() => setAttempt((value) => value + 1)} />;
  return (
    <ReactFlowProvider>
      <Editor workflowId={workflowId} />
    </ReactFlowProvider>
  );
}
