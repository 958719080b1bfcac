/**
 * Autosave of the draft: a debounced PATCH with the loaded `revision`. One save is in flight at
 * a time; changes made meanwhile are saved right after it. A 409 stops saving and leaves the
 * choice (reload or overwrite) to the user, so nobody's work is silently replaced.
 */
import { ApiError } from "../api";
import { fetchWorkflow, saveDraft } from "../api/editor";
import { currentGraph, useEditorStore } from "./store";

export const AUTOSAVE_DELAY_MS = 700;
const RETRY_DELAY_MS = 5000;

export class Autosaver {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight: Promise<boolean> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly workflowId: number) {}

  start(): void {
    this.unsubscribe = useEditorStore.subscribe((state, previous) => {
      if (state.changeCount !== previous.changeCount) this.schedule(AUTOSAVE_DELAY_MS);
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delay);
  }

  /** Saves now if anything is unsaved; resolves true when the draft on the server is current. */
  async flush(): Promise<boolean> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.inFlight) await this.inFlight;
    const state = useEditorStore.getState();
    if (state.saveStatus === "conflict") return false;
    if (state.changeCount === state.savedChangeCount) return true;
    this.inFlight = this.save();
    try {
      return await this.inFlight;
    } finally {
      this.inFlight = null;
    }
  }

  private async save(): Promise<boolean> {
    const store = useEditorStore.getState();
    const sent = store.changeCount;
    store.markSaving();
    try {
      const saved = await saveDraft(this.workflowId, currentGraph(store), store.revision);
      useEditorStore.getState().markSaved(saved.revision, sent, saved.validation.errors);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        useEditorStore.getState().markConflict("Someone else saved this workflow since you opened it.");
        return false;
      }
      const message = error instanceof ApiError ? error.detail : "The draft could not be saved.";
      useEditorStore.getState().markSaveError(message);
      this.schedule(RETRY_DELAY_MS);
      return false;
    }
    const after = useEditorStore.getState();
    if (after.changeCount !== after.savedChangeCount) return this.save();
    return true;
  }

  /** Discards local changes and loads the draft as the server has it now. */
  async reload(): Promise<void> {
    const workflow = await fetchWorkflow(this.workflowId);
    const state = useEditorStore.getState();
    state.load(workflow, Object.values(state.registry));
  }

  /** Keeps local changes and saves them over the newer server draft. */
  async overwrite(): Promise<boolean> {
    const workflow = await fetchWorkflow(this.workflowId);
    useEditorStore.setState({ revision: workflow.revision, saveStatus: "pending", saveMessage: null, savedChangeCount: -1 });
    return this.flush();
  }
}
