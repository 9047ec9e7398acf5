// Browser tests of the run page's log tail: it starts at the end of a long
// log, and "Load earlier lines" pages backward until the first line, with
// every line shown once. The run is created through the API.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { DeploymentService } from "../src/gen/ferry/v1/deployment_pb";
import { RunService, RunState } from "../src/gen/ferry/v1/run_pb";
import { adminClient, launchBrowser, newPage, screenshot, signIn } from "./browser";

/** How many lines the run prints; above the page's tail of 1,000 lines. */
const total = 3000;

const runs = adminClient(RunService);
let browser: Browser;
let page: Page;

beforeAll(async () => {
  browser = await launchBrowser();
  page = await newPage(browser);
  await signIn(page);
});

afterAll(async () => {
  await browser?.close();
});

/** Runs a deployment printing `total` numbered lines at once and waits
 * until it completed and its last line is stored. Deployment counter of
 * ferry.e2e.yaml allows at most 500 lines, so this file applies its own. */
async function longRun(): Promise<string> {
  await adminClient(DeploymentService).applyDeployment({
    name: "log-lines",
    spec: {
      pool: "e2e",
      command: ["sh", "-c", `i=1; while [ $i -le ${total} ]; do echo "line $i of ${total}"; i=$((i+1)); done`],
      description: "Prints 3,000 numbered lines at once, for the log tail tests.",
      tags: ["e2e"],
    },
  });
  const { run } = await runs.createRun({ run: { deployment: "log-lines" } });
  const id = run!.id;
  await expect.poll(async () => (await runs.getRun({ id })).run?.state, { timeout: 40_000, interval: 250 }).toBe(RunState.COMPLETED);
  await expect
    .poll(async () => (await runs.listRunLogs({ id, backward: true, pageSize: 20 })).lines.map((l) => l.text), { timeout: 20_000, interval: 250 })
    .toContain(`line ${total} of ${total}`);
  return id;
}

/** Returns the text of every line in the run's stored log, in order. */
async function storedLines(id: string): Promise<string[]> {
  const out: string[] = [];
  let pageToken = "";
  do {
    const r = await runs.listRunLogs({ id, pageToken, pageSize: 10000 });
    out.push(...r.lines.map((l) => l.text));
    pageToken = r.nextPageToken;
  } while (pageToken !== "");
  return out;
}

describe("run log tail", () => {
  it("starts at the last lines and loads earlier ones on request, each once", async () => {
    const id = await longRun();
    const stored = await storedLines(id);
    expect(stored.filter((t) => t.startsWith("line ")).length).toBe(total);

    await page.goto(`/runs/${id}`);
    const log = page.getByRole("log", { name: "Run log" });
    const texts = () => log.locator(".log-line").allTextContents();
    await log.getByText(`line ${total} of ${total}`, { exact: true }).waitFor({ timeout: 30_000 });
    await page.getByText("End of log: the run has ended").waitFor();
    // The last 1,000 lines, and nothing before them.
    expect(await texts()).toEqual(stored.slice(-1000));
    expect(await log.getByText(`line 1 of ${total}`, { exact: true }).count()).toBe(0);
    await screenshot(page, "run-log-tail");

    const earlier = page.getByRole("button", { name: "Load earlier lines" });
    await earlier.click();
    await expect.poll(texts).toEqual(stored.slice(-2000));
    await earlier.click();
    await expect.poll(texts).toEqual(stored.slice(-3000));
    // The whole log is now shown, every line once: nothing earlier to load.
    if (stored.length > 3000) await earlier.click();
    await expect.poll(texts).toEqual(stored);
    await log.getByText(`line 1 of ${total}`, { exact: true }).waitFor();
    expect(await earlier.count()).toBe(0);
    expect(new Set(await texts()).size).toBe(stored.length);

    // Search still finds a line among the loaded ones.
    await page.getByLabel("Search the log").fill("line 42 of");
    await expect.poll(texts).toEqual([`line 42 of ${total}`]);
    await page.getByLabel("Search the log").fill("");
    await expect.poll(async () => (await texts()).length).toBe(stored.length);

    // Following keeps the newest line in view after the earlier lines came.
    const follow = page.getByRole("checkbox", { name: "Follow" });
    expect(await follow.isChecked()).toBe(true);
    await expect.poll(() => log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(2);

    const narrow = await newPage(browser, 375);
    await signIn(narrow);
    await narrow.goto(`/runs/${id}`);
    await narrow.getByRole("log", { name: "Run log" }).getByText(`line ${total} of ${total}`, { exact: true }).waitFor({ timeout: 30_000 });
    await narrow.getByRole("button", { name: "Load earlier lines" }).waitFor();
    expect(await narrow.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await screenshot(narrow, "run-log-tail-narrow");
    await narrow.close();
  });
});
