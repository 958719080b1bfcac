import { useEffect } from "react";

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
 */
export function useShortcuts(enabled: boolean, onPaste?: (ids: string[]) => void): void {
  useEffect(() => {
    if (!enabled) return;
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
        if (store.copy()) event.preventDefault();
      } else if (modifier && key === "v") {
        event.preventDefault();
        onPaste?.(store.paste());
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
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [enabled, onPaste]);
}
