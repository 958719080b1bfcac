/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const frontendDir = fileURLToPath(new URL(".", import.meta.url));
const djangoOrigin = "http://127.0.0.1:8000";

// Django serves the page shell and the built files (STATIC_URL "/static/", files under
// static/app/), so `base` must match where collectstatic/whitenoise publish them: Vite bakes it
// into dynamic-import and CSS asset URLs. frontend/vite.py reads the manifest to find the entry.
export default defineConfig({
  root: frontendDir,
  base: "/static/app/",
  plugins: [react()],
  build: {
    outDir: "../static/app",
    emptyOutDir: true,
    manifest: true,
    sourcemap: true,
    target: "es2022",
    rolldownOptions: {
      input: "src/main.tsx",
    },
  },
  server: {
    // Only useful when the Vite dev server is the page origin; the Django shell does not use it.
    proxy: {
      "/api": djangoOrigin,
      "/accounts": djangoOrigin,
      "/ws": { target: djangoOrigin, ws: true },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
