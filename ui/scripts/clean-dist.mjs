// Empties the embedded build directory, keeping its committed README, so a
// build never leaves stale assets behind for the ferry binary to embed.
import { readdirSync, rmSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const dist = new URL("../../controlplane/internal/webui/dist/", import.meta.url).pathname;
mkdirSync(dist, { recursive: true });
for (const name of readdirSync(dist)) {
  if (name !== "README.md") rmSync(join(dist, name), { recursive: true, force: true });
}
