import { useEffect } from "react";

import { clipboardText, copySelection, parseClipboardText } from "./clipboard";
import { useEditorStore } from "./store";

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  return ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/**
 * Editor shortcuts on the whole page: Ctrl/Cmd+Z undo, Shift+Ctrl/Cmd+Z and Ctrl+Y redo,
 * Ctrl/Cmd+C/V/D copy, paste, duplicate, Ctrl/Cmd+A select all, Delete/Backspace delete.
 * Inside text fields the browser's own editing keys win.
 *
 * Copy also puts the selection on the system clipboard as graph JSON, and paste takes it from
 * there when it holds some (so nodes travel between tabs and workflows); the browser's copy and
 * paste events carry it, and when they do not fire the copy kept in memory is pasted.
 */
export function useShortcuts(enabled: boolean, onPaste?: (ids: string[]) => void): void {
  useEffect(() => {
    if (!enabled) return;
    let pasteHandled = false;
    /** What this tab last put on the system clipboard: pasting it uses the copy in memory, whose
     * position moves on with each paste. */
    let written: string | null = null;
    const onKeyDown = (event: KeyboardEvent) => {
      if (isTyping(event.target) || event.defaultPrevented) return;
      const store = useEditorStore.getState();
      const modifier = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (modifier && key === "z" && !event.shiftKey) {
        event.preventDefault();
        store.undo();
      } else if ((modifier && key === "z" && event.shiftKey) || (modifier && key === "y")) {
        event.preventDefault();
        store.redo();
      } else if (modifier && key === "c") {
        // Not prevented: the browser goes on to fire "copy", which fills the system clipboard.
        store.copy();
      } else if (modifier && key === "v") {
        pasteHandled = false;
        setTimeout(() => {
          if (!pasteHandled) onPaste?.(useEditorStore.getState().paste());
        }, 0);
      } else if (modifier && key === "d") {
        event.preventDefault();
        if (store.copy()) onPaste?.(store.paste());
      } else if (modifier && key === "a") {
        event.preventDefault();
        store.selectAll();
      } else if (!modifier && (event.key === "Delete" || event.key === "Backspace")) {
        event.preventDefault();
        store.deleteSelection();
      }
    };
    const onCopy = (event: ClipboardEvent) => {
      if (isTyping(event.target) || !event.clipboardData) return;
      const state = useEditorStore.getState();
      const content = copySelection(state.nodes, state.edges);
      if (!content) return;
      written = clipboardText(content);
      event.clipboardData.setData("text/plain", written);
      event.preventDefault();
    };
    const onPasteEvent = (event: ClipboardEvent) => {
      if (isTyping(event.target)) return;
      const text = event.clipboardData?.getData("text/plain") ?? "";
      const content = text === written ? null : parseClipboardText(text);
      pasteHandled = true;
      event.preventDefault();
      onPaste?.(useEditorStore.getState().paste(content ?? undefined));
    };
    window.addEventListener("keydown", onKeyDown);
    document.addEventListener("copy", onCopy);
    document.addEventListener("paste", onPasteEvent);
    return () => {
      window.removeEventListener("keydown", onKeyDown);
      document.removeEventListener("copy", onCopy);
      document.removeEventListener("paste", onPasteEvent);
    };
  }, [enabled, onPaste]);
}
