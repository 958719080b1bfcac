import { useEffect } from "react";

import type { ApiError } from "../api";
import { currentPath, loginUrlFor, pageNavigation } from "../lib/auth";
import { useAppStore } from "../store";
import { Icon } from "./Icon";

interface ApiErrorNoticeProps {
  error: ApiError;
  onRetry?: () => void;
  /** The retry button's text ("Try again" by default; "Reload the list" after a conflict). */
  retryLabel?: string;
  onDismiss?: () => void;
  /** What failed, e.g. "Could not import “a.json”"; the status's own title follows it. */
  title?: string;
  /**
   * A 401 means the session is gone: send the user to log in and come back here. A 403 is shown,
   * not redirected: the user is signed in, and the login page would send them straight back.
   */
  redirectWhenSignedOut?: boolean;
}

export function titleFor(error: ApiError): string {
  if (error.isNetworkError) return "You appear to be offline";
  if (error.isUnauthenticated) return "You are signed out";
  if (error.isForbidden) return "You do not have access";
  if (error.isNotFound) return "Not found";
  if (error.isConflict) return "Changed by someone else";
  if (error.isValidation) return "Please check what you entered";
  return "Something went wrong";
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

const FIELD_LABELS: Record<string, string> = { non_field_errors: "", detail: "" };

/** The field errors or graph problems behind a 400, as a list the user can act on. */
export function ApiErrorList({ error }: { error: ApiError }) {
  const issues = error.validationIssues;
  const fields = error.fieldErrors;
  if (issues && issues.length > 0) {
    return (
      <ul className="error-list">
        {issues.map((issue, index) => (
          <li key={index}>
            {issue.message}
            {issue.node_id && <span className="muted"> (node {issue.node_id})</span>}
            {!issue.node_id && issue.path && <span className="muted"> ({issue.path})</span>}
          </li>
        ))}
      </ul>
    );
  }
  if (!fields) return null;
  const entries = Object.entries(fields).flatMap(([field, messages]) =>
    messages.filter((message) => message !== error.detail).map((message) => [field, message] as const),
  );
  if (entries.length === 0) return null;
  return (
    <ul className="error-list">
      {entries.map(([field, message], index) => {
        const label = FIELD_LABELS[field] ?? field;
        return (
          <li key={index}>
            {label && <strong>{label}: </strong>}
            {message}
          </li>
        );
      })}
    </ul>
  );
}

export function ApiErrorNotice({
  error,
  onRetry,
  retryLabel = "Try again",
  onDismiss,
  title,
  redirectWhenSignedOut = true,
}: ApiErrorNoticeProps) {
  const loginPath = useAppStore((state) => state.urls.login);
  const shouldRedirect = redirectWhenSignedOut && error.isUnauthenticated;
  const loginUrl = loginUrlFor(loginPath, currentPath());

  useEffect(() => {
    if (shouldRedirect) pageNavigation.assign(loginUrl);
  }, [shouldRedirect, loginUrl]);

  if (shouldRedirect) {
    return (
      <div className="notice notice--info" role="status">
        <p className="notice__title">Your session has ended.</p>
        <p>
          Taking you to the sign-in page… <a href={loginUrl}>Sign in</a>
        </p>
      </div>
    );
  }

  return (
    <div className="notice notice--error" role="alert" data-status={error.status}>
      <Icon name={error.isNetworkError ? "offline" : "alert"} size={20} />
      <div className="notice__body">
        <p className="notice__title">{title ? `${title}: ${lowerFirst(titleFor(error))}` : titleFor(error)}</p>
        <p>{error.detail}</p>
        <ApiErrorList error={error} />
        {(onRetry || onDismiss) && (
          <div className="notice__actions">
            {onRetry && (
              <button type="button" className="button" onClick={onRetry}>
                {retryLabel}
              </button>
            )}
            {onDismiss && (
              <button type="button" className="button button--quiet" onClick={onDismiss}>
                Dismiss
              </button>
            )}
          </div>
        )}
      </div>
    </div>
  );
}
