import { useEffect, useId, useRef, type ReactNode } from "react";

/** A modal dialog on the native <dialog> element: focus trapping and Escape come with it. */
export function Dialog({ title, onClose, children, testId, wide }: { title: string; onClose: () => void; children: ReactNode; testId: string; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal?.();
    return () => dialog?.close?.();
  }, []);
  return (
    <dialog
      ref={ref}
      className={`fd-dialog${wide ? " fd-dialog--wide" : ""}`}
      aria-labelledby={titleId}
      data-testid={testId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <header className="fd-dialog__header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose} data-testid={`${testId}-close`}>
          ×
        </button>
      </header>
      <div className="fd-dialog__body">{children}</div>
    </dialog>
  );
}
