// The runs page and a run's page with 1,000,000 runs in the database: a
// control plane of its own is seeded straight into its embedded PostgreSQL
// (bench/seedruns), then Chromium opens the pages. The test checks what
// the pages show; the list call's speed is proved by the EXPLAIN checks of
// controlplane/internal/api (TestRunListingAtScale) and measured by
// `make bench`. The call times seen here are printed, not asserted.
import { execFile, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { RunService, RunState } from "../src/gen/ferry/v1/run_pb";
import { adminClient, launchBrowser, newPage, screenshot } from "./browser";
import { removeDataDir, repo, startServer, stopAll, type ServerProc } from "./servers";

const run = promisify(execFile);
const runs = Number(process.env.FERRY_UI_SCALE_RUNS ?? 1_000_000);

let srv: ServerProc;
let browser: Browser;
const children: ChildProcess[] = [];

beforeAll(async () => {
  srv = await startServer("ferry-ui-scale-");
  children.push(srv.proc);
  await srv.ferry("apply", "-f", join(repo, "ui/e2e/ferry.e2e.yaml"));
  const seeder = join(srv.dataDir, "seedruns");
  await run("go", ["build", "-o", seeder, "./bench/seedruns"], { cwd: repo });
  const { stdout } = await run(seeder, ["-data-dir", srv.dataDir, "-runs", String(runs)], { cwd: repo });
  console.log(`scale: ${stdout.trim()}`);
  browser = await launchBrowser();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await stopAll(children);
  if (srv) removeDataDir(srv.dataDir);
});

/** Opens a page on the scale server, signed in with its admin API key. */
async function signedInPage(width = 1280): Promise<Page> {
  const page = await newPage(browser, width, 900, srv.baseURL);
  await page.goto("/signin");
  await page.getByRole("tab", { name: "API key" }).click();
  await page.getByLabel("API key").fill(srv.adminKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  return page;
}

/** Returns the duration in ms of the page's latest call to procedure, as the browser timed it. */
async function lastCallMs(page: Page, procedure: string): Promise<number> {
  return page.evaluate((p) => {
    const entries = performance.getEntriesByType("resource").filter((e) => e.name.includes(`/ferry.v1.RunService/${p}`));
    const last = entries[entries.length - 1] as PerformanceResourceTiming | undefined;
    return last ? last.responseEnd - last.requestStart : -1;
  }, procedure);
}

function client() {
  return adminClient(RunService, srv.baseURL, srv.adminKey);
}

/** Reads the run ids the table links to, in order. */
async function rowIds(page: Page): Promise<string[]> {
  const hrefs = await page.locator("table tbody a[href^='/runs/']").evaluateAll((as) => as.map((a) => a.getAttribute("href") ?? ""));
  return [...new Set(hrefs.map((h) => h.slice("/runs/".length)))];
}

describe(`the runs pages with ${runs.toLocaleString("en")} runs`, () => {
  it("first page shows the newest runs, as the API lists them", async () => {
    const page = await signedInPage();
    await page.goto("/runs");
    await page.locator("table tbody tr").first().waitFor();
    const want = (await client().listRuns({ pageSize: 50 })).runs.map((r) => r.id);
    await expect.poll(() => rowIds(page)).toEqual(want);
    console.log(`scale: runs page ListRuns call ${(await lastCallMs(page, "ListRuns")).toFixed(1)} ms`);
    await screenshot(page, "runs-1m");
  });

  it("a filter change shows only matching runs", async () => {
    const page = await signedInPage();
    await page.goto("/runs?state=failed&deployment=counter");
    await page.locator("table tbody tr").first().waitFor();
    const want = (await client().listRuns({ pageSize: 50, states: [RunState.FAILED], deployment: "counter" })).runs;
    expect(want.length).toBeGreaterThan(0);
    await expect.poll(() => rowIds(page)).toEqual(want.map((r) => r.id));
    console.log(`scale: filtered ListRuns call ${(await lastCallMs(page, "ListRuns")).toFixed(1)} ms`);
  });

  it("the next page continues where the first ended", async () => {
    const page = await signedInPage();
    await page.goto("/runs");
    await page.locator("table tbody tr").first().waitFor();
    const c = client();
    const first = await c.listRuns({ pageSize: 50 });
    const second = await c.listRuns({ pageSize: 50, pageToken: first.nextPageToken });
    await page.getByRole("button", { name: /older|next|more/i }).first().click();
    await expect.poll(async () => (await rowIds(page)).includes(second.runs[0]!.id)).toBe(true);
  });

  it("a run's page loads with its history", async () => {
    const page = await signedInPage();
    const [target] = (await client().listRuns({ pageSize: 1, states: [RunState.COMPLETED] })).runs;
    expect(target).toBeDefined();
    await page.goto(`/runs/${target!.id}`);
    await page.getByText("Completed").first().waitFor();
    await expect.poll(() => page.textContent("body")).toContain(target!.id);
    console.log(`scale: run page GetRun call ${(await lastCallMs(page, "GetRun")).toFixed(1)} ms`);
    await screenshot(page, "run-detail-1m");
  });
});
