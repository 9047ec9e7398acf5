// Browser tests of the runs list and the run page, against the real server
// and agent of e2e/setup.ts. Runs are created through the API; what the
// tests check is what a person sees.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { RunService, RunState } from "../src/gen/ferry/v1/run_pb";
import { adminClient, focused, launchBrowser, newPage, screenshot, signIn } from "./browser";

const runs = adminClient(RunService);
let browser: Browser;
let page: Page;
/** Runs a test left active; cancelled at the end so the agent is free for other files. */
const cleanup: string[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
  page = await newPage(browser);
  await signIn(page);
});

afterAll(async () => {
  for (const id of cleanup) {
    await runs.cancelRun({ id }).catch(() => undefined);
  }
  await browser?.close();
});

async function createRun(deployment: string, parameters = "", tags: string[] = [], expectedStart?: Date): Promise<string> {
  const { run } = await runs.createRun({
    run: { deployment, parameters, tags, expectedStartTime: expectedStart ? timestampFromDate(expectedStart) : undefined },
  });
  if (!run) throw new Error("CreateRun answered without a run");
  return run.id;
}

async function waitForState(id: string, want: RunState): Promise<void> {
  await expect.poll(async () => (await runs.getRun({ id })).run?.state, { timeout: 30_000, interval: 250 }).toBe(want);
}

/** The badge of the run's state in the run page's summary. */
const summaryState = (p: Page, name: string) => p.locator(".run-summary").getByText(name, { exact: true });

/** Returns the text of each cell in column col (0-based) of the runs table. */
async function column(p: Page, col: number): Promise<string[]> {
  return p
    .getByRole("table", { name: "Runs, newest first" })
    .locator("tbody tr")
    .evaluateAll((rows, c) => rows.map((r) => (r as HTMLTableRowElement).cells[c]?.textContent?.trim() ?? ""), col);
}

describe("run page", () => {
  it("shows log lines as they arrive, the state flip and parameters exactly", async () => {
    const id = await createRun("counter", '{"lines": 30, "pause": "0.5", "big": 9007199254740993}');
    cleanup.push(id);
    await page.goto(`/runs/${id}`);
    await page.getByRole("heading", { name: `Run ${id.slice(-8)}` }).waitFor();
    // A marker in the window proves later content came without a reload.
    await page.evaluate(() => ((window as unknown as { runsMarker: string }).runsMarker = "same page"));

    const log = page.getByRole("log", { name: "Run log" });
    await log.getByText("line 1 of 30", { exact: true }).waitFor({ timeout: 30_000 });
    expect(await log.getByText("line 30 of 30", { exact: true }).count()).toBe(0);
    await log.getByText("line 30 of 30", { exact: true }).waitFor({ timeout: 40_000 });
    await log.getByText("big=9007199254740993", { exact: true }).waitFor();
    await summaryState(page, "Completed").waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { runsMarker?: string }).runsMarker)).toBe("same page");

    const params = await page.getByLabel("Parameters").textContent();
    expect(params).toContain('"big": 9007199254740993');
    expect(params).toContain('"lines": 30');
    expect(params).toContain('"pause": "0.5"');
    await page.getByRole("region", { name: "Attempt 1" }).getByText("Running", { exact: true }).waitFor();
    expect(await page.getByRole("button", { name: "Retry" }).count()).toBe(0);

    // Following keeps the newest line in view; scrolling up stops it.
    const follow = page.getByRole("checkbox", { name: "Follow" });
    const gap = () => log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    expect(await follow.isChecked()).toBe(true);
    expect(await log.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true);
    await expect.poll(gap).toBeLessThan(2);
    await log.evaluate((el) => el.scrollTo(0, 0));
    await expect.poll(() => follow.isChecked()).toBe(false);
    await follow.check();
    await expect.poll(gap).toBeLessThan(2);

    // Search keeps the matching lines and marks the match.
    await page.getByLabel("Search the log").fill("OF 30");
    await expect.poll(() => log.locator(".log-line").count()).toBe(30);
    expect(await log.locator("mark").first().textContent()).toBe("of 30");
    await page.getByLabel("Search the log").fill("big=");
    await expect.poll(() => log.locator(".log-line").allTextContents()).toEqual(["big=9007199254740993"]);
    await page.getByLabel("Search the log").fill("");
    await screenshot(page, "run-detail");
  });

  it("cancels a running run after a confirmation", async () => {
    const id = await createRun("sleeper");
    cleanup.push(id);
    await page.goto(`/runs/${id}`);
    await page.getByRole("log", { name: "Run log" }).getByText("started", { exact: true }).waitFor({ timeout: 30_000 });
    await summaryState(page, "Running").waitFor();

    await page.getByRole("button", { name: "Cancel run" }).click();
    const confirm = page.getByRole("alertdialog", { name: "Cancel this run?" });
    await confirm.getByRole("button", { name: "Keep it" }).click();
    expect(await confirm.count()).toBe(0);
    expect((await runs.getRun({ id })).run?.state).toBe(RunState.RUNNING);

    await page.getByRole("button", { name: "Cancel run" }).click();
    await confirm.getByRole("button", { name: "Yes, cancel the run" }).click();
    await page.getByText(/^Cancel requested: the run is (Cancelling|Cancelled)\.$/).waitFor();
    await summaryState(page, "Cancelled").waitFor({ timeout: 30_000 });
    expect((await runs.getRun({ id })).run?.state).toBe(RunState.CANCELLED);
    await page.getByRole("button", { name: "Retry" }).waitFor();
    expect(await page.getByRole("button", { name: "Cancel run" }).count()).toBe(0);
    // The Cancel button left with the change; focus went to Retry when the
    // answer offered it at once, or else to the page's title, never the body.
    expect(await focused(page)).toMatch(/^(BUTTON Retry|H1 Run \S+)$/);
  });

  it("retries a cancelled run as a new attempt", async () => {
    const id = await createRun("sleeper", "", [], new Date(Date.now() + 3_600_000));
    cleanup.push(id);
    await runs.cancelRun({ id, reason: "arranged by the test" });
    await waitForState(id, RunState.CANCELLED);
    await page.goto(`/runs/${id}`);
    await summaryState(page, "Cancelled").waitFor();
    await page.getByText("Attempt 1 of 1", { exact: true }).waitFor();

    await page.getByRole("button", { name: "Retry" }).click();
    await page.getByText(/^Retry scheduled: attempt 2 of 2 is /).waitFor();
    // Retry left with the change and Cancel run took its place, and focus.
    await expect.poll(() => focused(page)).toBe("BUTTON Cancel run");
    await page.getByText("Attempt 2 of 2", { exact: true }).waitFor();
    await page.getByRole("region", { name: "Attempt 2" }).waitFor();
    // The new attempt is not yet due at its expected start, so it starts now
    // or waits; either way it is no longer Cancelled.
    expect((await runs.getRun({ id })).run?.attempt).toBe(2);
    expect(await summaryState(page, "Cancelled").count()).toBe(0);
  });

  it.each([
    ["a random UUID", randomUUID()],
    ["a malformed id", "not-a-run-id"],
  ])("says Run not found for %s", async (_, id) => {
    await page.goto(`/runs/${id}`);
    await page.getByRole("heading", { name: "Run not found" }).waitFor();
    await page.getByRole("link", { name: "Back to the runs" }).click();
    await page.waitForURL((u) => u.pathname === "/runs");
  });
});

describe("runs list", () => {
  it("filters by state and by deployment, and keeps the filters in the address", async () => {
    const tag = `filters-${randomUUID().slice(0, 8)}`;
    const done = await createRun("counter", '{"lines": 1, "pause": "0", "big": 1}', [tag]);
    const cancelled = await createRun("sleeper", "", [tag], new Date(Date.now() + 3_600_000));
    await runs.cancelRun({ id: cancelled });
    await waitForState(done, RunState.COMPLETED);
    await waitForState(cancelled, RunState.CANCELLED);

    await page.goto("/runs");
    await page.getByRole("link", { name: `Run ${done}` }).waitFor();
    await page.getByRole("checkbox", { name: "Cancelled" }).check();
    await page.waitForURL((u) => u.search === "?state=cancelled");
    await page.getByRole("link", { name: `Run ${cancelled}` }).waitFor();
    await expect.poll(() => page.getByRole("link", { name: `Run ${done}` }).count()).toBe(0);
    const states = await column(page, 0);
    expect(states.length).toBeGreaterThan(0);
    expect(new Set(states)).toEqual(new Set(["Cancelled"]));

    // A reload keeps the filter.
    await page.reload();
    await page.getByRole("link", { name: `Run ${cancelled}` }).waitFor();
    expect(await page.getByRole("checkbox", { name: "Cancelled" }).isChecked()).toBe(true);

    await page.getByRole("button", { name: "Clear filters" }).first().click();
    await page.waitForURL((u) => u.search === "");
    await page.getByLabel("Deployment").fill("counter");
    await page.getByLabel("Deployment").press("Enter");
    await page.waitForURL((u) => u.search === "?deployment=counter");
    await page.getByRole("link", { name: `Run ${done}` }).waitFor();
    await expect.poll(() => page.getByRole("link", { name: `Run ${cancelled}` }).count()).toBe(0);
    const deployments = await column(page, 2);
    expect(deployments.length).toBeGreaterThan(0);
    for (const d of deployments) expect(d).toMatch(/^counter( v\d+)?$/);

    // Filters combine; when nothing matches, the page says what to do.
    await page.goto(`/runs?state=cancelled&deployment=sleeper&tag=${tag}`);
    await page.getByRole("link", { name: `Run ${cancelled}` }).waitFor();
    expect(await column(page, 1)).toEqual([cancelled.slice(-8)]);
    await page.goto(`/runs?state=running&tag=${tag}`);
    await page.getByText("No runs match these filters.").waitFor();
    await page.getByRole("button", { name: "Clear filters" }).last().click();
    await page.waitForURL((u) => u.search === "");
    await page.getByRole("link", { name: `Run ${done}` }).waitFor();
    await screenshot(page, "runs");

    const narrow = await newPage(browser, 375, 800);
    await signIn(narrow);
    await narrow.goto("/runs");
    await narrow.getByRole("link", { name: `Run ${done}` }).waitFor();
    const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBe(0);
    await screenshot(narrow, "runs-narrow");
    await narrow.goto(`/runs/${done}`);
    await narrow.getByRole("log", { name: "Run log" }).getByText("line 1 of 1", { exact: true }).waitFor();
    expect(await narrow.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
    await narrow.context().close();
  });

  it("pages through runs with Older and Newer", async () => {
    const tag = `pager-${randomUUID().slice(0, 8)}`;
    const later = new Date(Date.now() + 3_600_000);
    const { runs: made } = await runs.createRuns({
      runs: Array.from({ length: 53 }, () => ({ deployment: "sleeper", tags: [tag], expectedStartTime: timestampFromDate(later) })),
    });
    cleanup.push(...made.map((r) => r.id));
    await page.goto(`/runs?tag=${tag}`);
    const table = page.getByRole("table", { name: "Runs, newest first" });
    await page.getByText("Page 1 · 50 runs").waitFor();
    expect(await page.getByRole("button", { name: "← Newer" }).isDisabled()).toBe(true);
    const first = await column(page, 1);
    await page.getByRole("button", { name: "Older →" }).click();
    await page.getByText("Page 2 · 3 runs").waitFor();
    expect(await table.locator("tbody tr").count()).toBe(3);
    expect(await page.getByRole("button", { name: "Older →" }).isDisabled()).toBe(true);
    const second = await column(page, 1);
    expect(second.filter((id) => first.includes(id))).toEqual([]);
    await page.getByRole("button", { name: "← Newer" }).click();
    await page.getByText("Page 1 · 50 runs").waitFor();
    expect(await column(page, 1)).toEqual(first);

    // A run that is not due yet says why it waits.
    await table.getByRole("link", { name: /^Run / }).first().click();
    await page.getByRole("heading", { name: "Why isn't it running?" }).waitFor();
    await page.getByText(/^the run is scheduled to start at /).waitFor();
  });
});
