import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The build lands in the Go package that embeds it into the ferry binary.
// emptyOutDir stays off because that directory also holds a committed
// README; scripts/clean-dist.mjs empties the rest before each build.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../controlplane/internal/webui/dist",
    emptyOutDir: false,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev` proxies API calls to a local `ferry server`.
    proxy: {
      "^/ferry\\.v1\\.": { target: process.env.FERRY_DEV_API ?? "http://127.0.0.1:8080", changeOrigin: false },
    },
  },
});
