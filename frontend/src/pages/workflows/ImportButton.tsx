import { memo, useRef } from "react";

interface ImportButtonProps {
  onFile: (file: File) => void;
  isImporting: boolean;
}

/** A button that opens the file picker for an exported workflow (`*.flowdeck.json`). */
export const ImportButton = memo(function ImportButton({ onFile, isImporting }: ImportButtonProps) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <input
        ref={input}
        type="file"
        accept=".json,application/json"
        className="visually-hidden"
        aria-label="Workflow file to import"
        tabIndex={-1}
        onChange={(event) => {
          const file = event.target.files?.[0];
          // Cleared so that choosing the same file again (after fixing it) fires a change.
          event.target.value = "";
          if (file) onFile(file);
        }}
      />
      <button
        type="button"
        className="button"
        onClick={() => input.current?.click()}
        disabled={isImporting}
        aria-busy={isImporting}
      >
        {isImporting ? "Importing…" : "Import"}
      </button>
    </>
  );
});
