import { lazy, Suspense } from "react";

/** The run view carries React Flow; only its own route pays for it. */
const RunViewPage = lazy(() => import("./RunViewPage"));

export default function RunViewRoute() {
  return (
    <Suspense
      fallback={
        <div className="loading" role="status" aria-live="polite">
          <span className="spinner" aria-hidden="true" />
          Opening the run…
        </div>
      }
    >
      <RunViewPage />
    </Suspense>
  );
}
