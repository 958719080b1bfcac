import "./styles/index.css";

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createBrowserRouter } from "react-router";
import { RouterProvider } from "react-router/dom";

import { watchSystemTheme } from "./lib/theme";
import { routes } from "./routes";
import { readBootData, useAppStore } from "./store";

const store = useAppStore.getState();
store.hydrateSession(readBootData());
store.initTheme();
watchSystemTheme(store.followSystemTheme);

const router = createBrowserRouter(routes);
const container = document.getElementById("root");

if (container) {
  createRoot(container).render(
    <StrictMode>
      <RouterProvider router={router} />
    </StrictMode>,
  );
}
