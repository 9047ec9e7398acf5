import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { DeploymentService } from "../src/gen/ferry/v1/deployment_pb";
import { UserService } from "../src/gen/ferry/v1/identity_pb";
import { PauseService } from "../src/gen/ferry/v1/pause_pb";
import { RunService, RunState } from "../src/gen/ferry/v1/run_pb";
import { WorkPoolService } from "../src/gen/ferry/v1/work_pool_pb";
import { adminClient, focused, launchBrowser, newPage, screenshot, signIn } from "./browser";

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  // Other files share the server: pool e2e must end up running whatever happened here.
  await adminClient(PauseService).resume({ target: { pool: "e2e" } });
  await adminClient(PauseService).resume({ target: { pool: "e2e", queue: "default" } });
});

/** Creates a run that fails (exit code 3) on pool e2e and waits until it has. */
async function failedRun(): Promise<string> {
  await adminClient(DeploymentService).applyDeployment({
    name: "dash-failer",
    spec: { pool: "e2e", command: ["sh", "-c", "echo about to fail; exit 3"], description: "Fails at once, for the dashboard tests.", tags: ["e2e"] },
  });
  const runs = adminClient(RunService);
  const { run } = await runs.createRun({ run: { deployment: "dash-failer" } });
  const id = run!.id;
  await expect
    .poll(async () => (await runs.getRun({ id })).run?.state, { timeout: 40_000, interval: 250 })
    .toBe(RunState.FAILED);
  return id;
}

/** Returns the big number of the dashboard card named title. */
async function cardValue(page: Page, title: string): Promise<string> {
  return (await page.getByRole("region", { name: title }).locator(".value").textContent()) ?? "";
}

describe("dashboard", () => {
  it("counts a failure with a link to its run, and the agent online", async () => {
    const failedID = await failedRun();
    // A cancelled run adds a second state to the chart.
    const runs = adminClient(RunService);
    const { run: sleeper } = await runs.createRun({ run: { deployment: "sleeper" } });
    await runs.cancelRun({ id: sleeper!.id, reason: "dashboard test" });

    const page = await newPage(browser);
    await signIn(page);
    await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();

    await expect.poll(() => cardValue(page, "Agents online")).toMatch(/^[1-9]\d*$/);
    await expect.poll(() => cardValue(page, "Failures in the last day")).toMatch(/^[1-9]\d*$/);
    const chart = page.getByRole("img", { name: /created in the last 24 hours/ });
    await expect.poll(() => chart.getAttribute("aria-label")).toMatch(/\d+ failed/);
    expect(await chart.getAttribute("aria-label")).toMatch(/cancel/);

    // The numbers behind the chart are there for those who cannot see it.
    await page.getByText("Numbers behind the chart").click();
    const table = page.getByRole("table").filter({ has: page.getByRole("columnheader", { name: "Failed" }) });
    expect(await table.getByRole("rowheader").count()).toBeGreaterThan(0);

    const link = page.getByRole("region", { name: "Latest failures" }).getByRole("link", { name: `dash-failer run ${failedID}` });
    await link.waitFor();
    expect(await page.getByRole("link", { name: "Show late runs" }).getAttribute("href")).toBe("/runs?late=1");
    await screenshot(page, "dashboard");

    await link.click();
    await page.waitForURL((u) => u.pathname === `/runs/${failedID}`);

    const narrow = await newPage(browser, 375, 800);
    await signIn(narrow);
    await expect.poll(() => cardValue(narrow, "Agents online")).toMatch(/^[1-9]\d*$/);
    await narrow.getByRole("img", { name: /created in the last 24 hours/ }).waitFor();
    const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(narrow, "dashboard-narrow");
  });
});

describe("pools", () => {
  it("lists pool e2e with its agent online, pauses and resumes it", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.goto("/pools");
    const pool = page.getByRole("region", { name: /^Pool e2e/ });
    await pool.waitFor();
    const agentRow = pool.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "e2e-agent" }) });
    await expect.poll(() => agentRow.getByText("Online", { exact: true }).count()).toBe(1);
    expect(await pool.getByRole("rowheader", { name: "default" }).count()).toBe(1);
    await screenshot(page, "pools");

    await pool.getByRole("button", { name: "Pause pool e2e" }).click();
    const dialog = page.getByRole("alertdialog", { name: "Pause pool e2e?" });
    await dialog.getByRole("button", { name: "Pause pool" }).click();
    await pool.getByRole("status").filter({ hasText: "Pool e2e paused" }).waitFor();
    await pool.getByRole("button", { name: "Resume pool e2e" }).waitFor();
    expect(await pool.getByRole("heading", { name: /Pool e2e/ }).textContent()).toContain("Paused");
    // The button stays, reading Resume, and keeps focus.
    await expect.poll(() => focused(page)).toBe("BUTTON Resume pool e2e");
    expect((await adminClient(WorkPoolService).getWorkPool({ name: "e2e" })).workPool?.paused).toBe(true);

    // Cancel leaves it as it is.
    await pool.getByRole("button", { name: "Resume pool e2e" }).click();
    await page.getByRole("alertdialog", { name: "Resume pool e2e?" }).getByRole("button", { name: "Cancel" }).click();
    expect((await adminClient(WorkPoolService).getWorkPool({ name: "e2e" })).workPool?.paused).toBe(true);

    await pool.getByRole("button", { name: "Resume pool e2e" }).click();
    await page.getByRole("alertdialog", { name: "Resume pool e2e?" }).getByRole("button", { name: "Resume pool" }).click();
    await pool.getByRole("status").filter({ hasText: "Pool e2e resumed" }).waitFor();
    await pool.getByRole("button", { name: "Pause pool e2e" }).waitFor();
    expect((await adminClient(WorkPoolService).getWorkPool({ name: "e2e" })).workPool?.paused).toBe(false);
    await expect.poll(() => focused(page)).toBe("BUTTON Pause pool e2e");

    // A queue pauses and resumes the same way, its button keeping focus.
    const queueRow = pool.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "default" }) });
    await queueRow.getByRole("button", { name: "Pause queue default of pool e2e" }).click();
    await page.getByRole("alertdialog", { name: "Pause queue default of pool e2e?" }).getByRole("button", { name: "Pause queue" }).click();
    await pool.getByRole("status").filter({ hasText: "Queue default of pool e2e paused" }).waitFor();
    await expect.poll(() => focused(page)).toBe("BUTTON Resume queue default of pool e2e");
    expect(await queueRow.textContent()).toContain("Paused");
    await queueRow.getByRole("button", { name: "Resume queue default of pool e2e" }).click();
    await page.getByRole("alertdialog", { name: "Resume queue default of pool e2e?" }).getByRole("button", { name: "Resume queue" }).click();
    await pool.getByRole("status").filter({ hasText: "Queue default of pool e2e resumed" }).waitFor();
    await expect.poll(() => focused(page)).toBe("BUTTON Pause queue default of pool e2e");

    // At 375 px the page scrolls only inside its tables.
    const narrow = await newPage(browser, 375, 800);
    await signIn(narrow);
    await narrow.goto("/pools");
    await narrow.getByRole("rowheader", { name: "e2e-agent" }).waitFor();
    const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });

  it("tells a viewer in words that pausing is not allowed", async () => {
    const email = "dash-viewer@example.test";
    const password = "viewer-password-" + Math.random().toString(36).slice(2);
    await adminClient(UserService).createUser({ email, displayName: "Dashboard Viewer", password, role: "viewer" });

    const page = await newPage(browser);
    await page.goto("/signin");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await page.goto("/pools");
    const pool = page.getByRole("region", { name: /^Pool e2e/ });
    await pool.getByRole("button", { name: "Pause pool e2e" }).click();
    await page.getByRole("alertdialog", { name: "Pause pool e2e?" }).getByRole("button", { name: "Pause pool" }).click();
    const alert = pool.getByRole("alert");
    await expect.poll(() => alert.textContent()).toContain("Cannot pause pool e2e: Your role does not allow this");
    expect(await alert.textContent()).toContain("Ask an admin");
    expect((await adminClient(WorkPoolService).getWorkPool({ name: "e2e" })).workPool?.paused).toBe(false);
  });
});
