import { useEffect } from "react";

import type { ApiError } from "../api";
import { currentPath, loginUrlFor, pageNavigation } from "../lib/auth";
import { useAppStore } from "../store";
import { Icon } from "./Icon";

interface ApiErrorNoticeProps {
  error: ApiError;
  onRetry?: () => void;
  /**
   * A 401 means the session is gone: send the user to log in and come back here. A 403 is shown,
   * not redirected: the user is signed in, and the login page would send them straight back.
   */
  redirectWhenSignedOut?: boolean;
}

export function ApiErrorNotice({ error, onRetry, redirectWhenSignedOut = true }: ApiErrorNoticeProps) {
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

  const title = error.isNetworkError
    ? "You appear to be offline"
    : error.isForbidden
      ? "You do not have access"
      : error.isUnauthenticated
        ? "You are signed out"
      : "Something went wrong";

  return (
    <div className="notice notice--error" role="alert">
      <Icon name={error.isNetworkError ? "offline" : "alert"} size={20} />
      <div>
        <p className="notice__title">{title}</p>
        <p>{error.detail}</p>
        {onRetry && (
          <button type="button" className="button" onClick={onRetry}>
            Try again
          </button>
        )}
      </div>
    </div>
  );
}
