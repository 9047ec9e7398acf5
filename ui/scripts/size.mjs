// Prints the gzip-compressed size of the JavaScript and CSS that the
// first page load fetches: the entry script and the chunks and styles it
// imports statically (modulepreload and stylesheet links in index.html).
// Lazily loaded page chunks are not counted; they load on navigation.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const dist = new URL("../../controlplane/internal/webui/dist/", import.meta.url).pathname;
const html = readFileSync(join(dist, "index.html"), "utf8");
const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
if (refs.length === 0) {
  console.error("size: index.html references no assets; run npm run build first");
  process.exit(1);
}
let js = 0;
let css = 0;
for (const ref of new Set(refs)) {
  const gz = gzipSync(readFileSync(join(dist, ref)), { level: 9 }).length;
  if (ref.endsWith(".js")) js += gz;
  else css += gz;
}
console.log(`ui_initial_js_gzip_kb ${(js / 1024).toFixed(1)}`);
console.log(`ui_initial_css_gzip_kb ${(css / 1024).toFixed(1)}`);
