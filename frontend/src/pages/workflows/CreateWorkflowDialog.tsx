import { type FormEvent, useState } from "react";

import { ApiError, createWorkflow, type WorkflowSummary } from "../../api";
import { ApiErrorNotice } from "../../components/ApiErrorNotice";
import { Dialog } from "../../components/Dialog";
import { FormField } from "../../components/FormField";
import { MAX_TAG_LENGTH, MAX_TAGS, parseTags } from "../../lib/tags";

interface CreateWorkflowDialogProps {
  onClose: () => void;
  onCreated: (workflow: WorkflowSummary) => void;
}

/** Fields the form shows errors under; anything else the server says goes in the notice. */
const FORM_FIELDS = ["name", "description", "tags"] as const;

/** Checks the API would make anyway, said before the round trip. */
export function checkNewWorkflow(name: string, tags: string[]): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  if (!name.trim()) errors.name = ["Give the workflow a name."];
  if (tags.length > MAX_TAGS) errors.tags = [`At most ${MAX_TAGS} tags.`];
  const long = tags.find((tag) => tag.length > MAX_TAG_LENGTH);
  if (long) errors.tags = [...(errors.tags ?? []), `“${long.slice(0, 20)}…” is longer than ${MAX_TAG_LENGTH} characters.`];
  return errors;
}

export function CreateWorkflowDialog({ onClose, onCreated }: CreateWorkflowDialogProps) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [tagsText, setTagsText] = useState("");
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const [error, setError] = useState<ApiError | null>(null);
  const [isSaving, setIsSaving] = useState(false);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const tags = parseTags(tagsText);
    const problems = checkNewWorkflow(name, tags);
    setFieldErrors(problems);
    setError(null);
    if (Object.keys(problems).length > 0) return;
    setIsSaving(true);
    createWorkflow({ name, description, tags }).then(onCreated, (reason: unknown) => {
      setIsSaving(false);
      const apiError = reason instanceof ApiError ? reason : new ApiError(0, "Something unexpected went wrong.");
      const fields = apiError.fieldErrors ?? {};
      const shown = Object.fromEntries(FORM_FIELDS.filter((field) => fields[field]).map((field) => [field, fields[field] ?? []]));
      setFieldErrors(shown);
      // Field errors stand next to their fields; the notice carries everything else.
      const isFullyShown = apiError.isValidation && Object.keys(shown).length > 0 && Object.keys(fields).length === Object.keys(shown).length;
      setError(isFullyShown ? null : apiError);
    });
  };

  return (
    <Dialog title="New workflow" onClose={onClose}>
      <form className="form" onSubmit={submit} noValidate>
        <FormField label="Name" errors={fieldErrors.name}>
          {(props) => (
            <input {...props} className="input" value={name} onChange={(event) => setName(event.target.value)} maxLength={200} />
          )}
        </FormField>
        <FormField label="Description" errors={fieldErrors.description}>
          {(props) => (
            <textarea
              {...props}
              className="input"
              rows={3}
              value={description}
              onChange={(event) => setDescription(event.target.value)}
            />
          )}
        </FormField>
        <FormField label="Tags" errors={fieldErrors.tags} hint="Separate tags with commas.">
          {(props) => (
            <input
              {...props}
              className="input"
              value={tagsText}
              placeholder="support, triage"
              onChange={(event) => setTagsText(event.target.value)}
            />
          )}
        </FormField>
        {Object.keys(fieldErrors).length > 0 && !error && (
          <p className="form__summary" role="status">
            Please correct the fields marked above.
          </p>
        )}
        {error && <ApiErrorNotice error={error} />}
        <div className="form__actions">
          <button type="button" className="button button--quiet" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button--primary" disabled={isSaving} aria-busy={isSaving}>
            {isSaving ? "Creating…" : "Create and open"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
