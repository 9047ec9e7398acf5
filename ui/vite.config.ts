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
    // The entry chunk is ~440 kB minified (~135 kB gzipped): react-dom
    // ~180 kB, @bufbuild/protobuf ~100 kB (its JSON and binary codecs, and
    // google/protobuf/descriptor.proto, which ferry/v1/options.proto extends
    // and so every generated service file needs), @tanstack/query-core,
    // react-router and Connect. The app's own code in it is the sign-in
    // page, the layout and the API helpers (~25 kB); pages are lazy chunks and
    // only identity_pb (WhoAmI) is generated code in it. None of it can be
    // deferred without a restructure, so the warning sits above that; the
    // budget that matters is `npm run size` (initial JS < 250 kB gzipped).
    chunkSizeWarningLimit: 500,
  },
  server: {
    // `npm run dev` proxies API calls to a local `ferry server`.
    proxy: {
      "^/ferry\\.v1\\.": { target: process.env.FERRY_DEV_API ?? "http://127.0.0.1:8080", changeOrigin: false },
    },
  },
});
