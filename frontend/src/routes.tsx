import { lazy, Suspense, useState } from "react";
import { Navigate, useParams, type RouteObject } from "react-router";

import { preloadEditor } from "./api/editor";

import { AppShell } from "./components/AppShell";
import AgentsPage from "./pages/AgentsPage";
import InboxPage from "./pages/InboxPage";
import NotFoundPage from "./pages/NotFoundPage";
import RouteErrorPage from "./pages/RouteErrorPage";
import RunsPage from "./pages/RunsPage";
import RunViewRoute from "./pages/runs/RunViewRoute";
import WorkflowsPage from "./pages/WorkflowsPage";

/** The editor carries React Flow and the layout library; only its own route pays for them. */
const EditorPage = lazy(() => import("./pages/editor/EditorPage"));

function EditorRoute() {
  const { id } = useParams();
  const workflowId = Number(id);
  // Ask for the workflow while the editor's script is still on its way (once per open).
  useState(() => Number.isInteger(workflowId) && workflowId > 0 && preloadEditor(workflowId));
  return (
    <Suspense
      fallback={
        <div className="loading" role="status" aria-live="polite">
          <span className="spinner" aria-hidden="true" />
          Opening the editor…
        </div>
      }
    >
      <EditorPage />
    </Suspense>
  );
}

/**
 * Client-side routes. Django serves the same shell for `/` and every path under these sections,
 * so a reload on any of them lands here.
 */
export const routes: RouteObject[] = [
  {
    path: "/",
    element: <AppShell />,
    children: [
      {
        errorElement: <RouteErrorPage />,
        children: [
          { index: true, element: <Navigate to="/workflows" replace /> },
          { path: "workflows", element: <WorkflowsPage /> },
          { path: "workflows/:id", element: <EditorRoute key="editor" /> },
          { path: "runs", element: <RunsPage /> },
          { path: "runs/:id", element: <RunViewRoute /> },
          { path: "inbox", element: <InboxPage /> },
          { path: "agents", element: <AgentsPage /> },
          { path: "ops", lazy: () => import("./pages/ops/OpsPage").then((page) => ({ Component: page.default })) },
          { path: "templates", lazy: () => import("./pages/templates/TemplatesPage").then((page) => ({ Component: page.default })) },
          { path: "*", element: <NotFoundPage /> },
        ],
      },
    ],
  },
];
