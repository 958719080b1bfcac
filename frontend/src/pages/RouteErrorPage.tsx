import { isRouteErrorResponse, useRouteError } from "react-router";

/** Shown when rendering a route throws: the rest of the shell stays usable. */
export default function RouteErrorPage() {
  const error = useRouteError();
  const message = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : error instanceof Error
      ? error.message
      : "Unknown error";
  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Something went wrong</h1>
      <div className="notice notice--error" role="alert">
        <div>
          <p className="notice__title">This page failed to display.</p>
          <p className="muted">{message}</p>
          <button type="button" className="button" onClick={() => window.location.reload()}>
            Reload the page
          </button>
        </div>
      </div>
    </section>
  );
}
