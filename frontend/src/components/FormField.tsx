import { type ReactNode, useId } from "react";

interface FormFieldProps {
  label: string;
  /** Messages from the server (DRF field errors) or from a check as you type. */
  errors?: readonly string[] | undefined;
  hint?: ReactNode;
  children: (props: { id: string; "aria-invalid": boolean; "aria-describedby": string | undefined }) => ReactNode;
}

/** A labelled control with its hint and its errors, announced with the control. */
export function FormField({ label, errors, hint, children }: FormFieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const hasErrors = errors !== undefined && errors.length > 0;
  const describedBy = [hint ? hintId : null, hasErrors ? errorId : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className={hasErrors ? "form-field form-field--invalid" : "form-field"}>
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-invalid": hasErrors, "aria-describedby": describedBy })}
      {hint && (
        <p id={hintId} className="form-field__hint">
          {hint}
        </p>
      )}
      {hasErrors && (
        <p id={errorId} className="form-field__error" role="alert">
          {errors.join(" ")}
        </p>
      )}
    </div>
  );
}
