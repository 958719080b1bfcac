import { useCallback, useRef, useState } from "react";

import {
  ApiError,
  archiveWorkflow,
  duplicateWorkflow,
  fetchWorkflowExport,
  importWorkflow,
  restoreWorkflow,
  type WorkflowSummary,
} from "../../api";
import { downloadJson, exportFileName } from "../../lib/download";
import type { WorkflowAction } from "./WorkflowRow";

/** What the page says after an action: a result with an optional link or undo, or a failure. */
export type PageNotice =
  | { kind: "success"; message: string; openId?: number; undo?: () => void }
  | { kind: "error"; title: string; error: ApiError; isConflict: boolean };

function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, "Something unexpected went wrong.");
}

const FAILURE_TITLES: Record<WorkflowAction | "import", string> = {
  duplicate: "Could not duplicate",
  export: "Could not export",
  archive: "Could not archive",
  restore: "Could not restore",
  import: "Could not import",
};

/** Reads a chosen file as JSON; an unreadable or non-JSON file becomes a 400-like error to show. */
export async function readJsonFile(file: File): Promise<unknown> {
  let text: string;
  try {
    text = await file.text();
  } catch {
    throw new ApiError(400, `“${file.name}” could not be read.`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : "invalid JSON";
    throw new ApiError(400, `“${file.name}” is not a JSON file (${reason}). Choose a file exported from Flowdeck.`);
  }
}

/**
 * The row actions and import of the workflows page. `onChanged` refreshes the list after anything
 * that changed it; one action at a time runs per row.
 */
export function useWorkflowActions(onChanged: () => void) {
  const [busy, setBusy] = useState<ReadonlyMap<number, WorkflowAction>>(new Map());
  const [notice, setNotice] = useState<PageNotice | null>(null);
  const [isImporting, setIsImporting] = useState(false);
  const onChangedRef = useRef(onChanged);
  onChangedRef.current = onChanged;

  const setRowBusy = (id: number, action: WorkflowAction | null) =>
    setBusy((previous) => {
      const next = new Map(previous);
      if (action) next.set(id, action);
      else next.delete(id);
      return next;
    });

  const fail = (what: WorkflowAction | "import", name: string | null, error: unknown) => {
    const apiError = asApiError(error);
    const title = name ? `${FAILURE_TITLES[what]} “${name}”` : FAILURE_TITLES[what];
    setNotice({ kind: "error", title, error: apiError, isConflict: apiError.isConflict });
  };

  const restore = useCallback(async (workflow: WorkflowSummary) => {
    await restoreWorkflow(workflow.id, workflow.revision);
    setNotice({ kind: "success", message: `Restored “${workflow.name}”.`, openId: workflow.id });
    onChangedRef.current();
  }, []);

  const runAction = useCallback(
    (action: WorkflowAction, workflow: WorkflowSummary) => {
      setRowBusy(workflow.id, action);
      setNotice(null);
      let work: Promise<void>;
      switch (action) {
        case "duplicate":
          work = duplicateWorkflow(workflow).then((copy) => {
            setNotice({ kind: "success", message: `Created “${copy.name}”.`, openId: copy.id });
            onChangedRef.current();
          });
          break;
        case "export":
          work = fetchWorkflowExport(workflow.id).then((document) => {
            downloadJson(exportFileName(workflow.name), document);
          });
          break;
        case "archive":
          work = archiveWorkflow(workflow.id).then(() => {
            const undo = () => {
              setNotice(null);
              restore(workflow).catch((error: unknown) => fail("restore", workflow.name, error));
            };
            setNotice({ kind: "success", message: `Archived “${workflow.name}”.`, undo });
            onChangedRef.current();
          });
          break;
        case "restore":
          work = restore(workflow);
          break;
      }
      work
        .catch((error: unknown) => fail(action, workflow.name, error))
        .finally(() => setRowBusy(workflow.id, null));
    },
    [restore],
  );

  const importFile = useCallback((file: File) => {
    setIsImporting(true);
    setNotice(null);
    readJsonFile(file)
      .then(importWorkflow)
      .then((created) => {
        setNotice({ kind: "success", message: `Imported “${created.name}”.`, openId: created.id });
        onChangedRef.current();
      })
      .catch((error: unknown) => fail("import", file.name, error))
      .finally(() => setIsImporting(false));
  }, []);

  const dismissNotice = useCallback(() => setNotice(null), []);

  return { busy, notice, dismissNotice, runAction, importFile, isImporting };
}
