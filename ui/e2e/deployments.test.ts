import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { DeploymentService } from "../src/gen/ferry/v1/deployment_pb";
import { RunService } from "../src/gen/ferry/v1/run_pb";
import { ScheduleKind, ScheduleService } from "../src/gen/ferry/v1/schedule_pb";
import { member, parseJson } from "../src/lib/json";
import { adminClient, focused, launchBrowser, newPage, screenshot, signIn } from "./browser";

// A deployment of this file only: its "day" parameter has a format the
// form leaves to the server, and it is applied twice to get two versions.
const forms = "e2e-deployments-forms";
const formsSchema = JSON.stringify({
  type: "object",
  properties: { day: { type: "string", format: "date", description: "A calendar date." } },
});

let browser: Browser;
let signedIn: BrowserContext;
beforeAll(async () => {
  browser = await launchBrowser();
  // One sign-in for the whole file: the server allows an account a burst
  // of five logins, then one per 20 s.
  const first = await newPage(browser);
  await signIn(first);
  signedIn = first.context();
  const deployments = adminClient(DeploymentService);
  const spec = { pool: "e2e", command: ["echo", "{{ .day }}"], parametersSchema: formsSchema, tags: ["e2e"] };
  await deployments.applyDeployment({ name: forms, spec: { ...spec, description: "First description." } });
  const second = await deployments.applyDeployment({ name: forms, spec: { ...spec, description: "Second description.", priority: 7 } });
  expect(second.changed).toBe(true);
  // A paused schedule creates no runs until the test resumes it.
  await adminClient(ScheduleService).applySchedule({
    deployment: forms,
    name: "nightly",
    spec: { kind: ScheduleKind.CRON, expression: "30 2 * * *", zone: "Europe/Paris", active: false },
  });
});
afterAll(async () => {
  await browser?.close();
});

/** Opens a page of the signed-in context that fails the test on any
 * uncaught page error. */
async function openPage(width = 1280, height = 860): Promise<Page> {
  const page = await signedIn.newPage();
  await page.setViewportSize({ width, height });
  page.on("pageerror", (err) => {
    throw new Error(`uncaught error in the page: ${err.message}`);
  });
  return page;
}

/** Counts the CreateRun calls the page sends. */
function countCreateRuns(page: Page): () => number {
  let n = 0;
  page.on("request", (req) => {
    if (req.url().includes("/ferry.v1.RunService/CreateRun")) n++;
  });
  return () => n;
}

describe("deployments", () => {
  it("lists the deployments with their pool and version", async () => {
    const page = await openPage();
    await page.goto("/");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Deployments" }).click();
    await page.waitForURL((u) => u.pathname === "/deployments");
    const counter = page.getByRole("row").filter({ has: page.getByRole("link", { name: "counter", exact: true }) });
    await expect.poll(() => counter.count()).toBe(1);
    expect(await counter.textContent()).toContain("e2e");
    await page.getByRole("link", { name: "sleeper", exact: true }).waitFor();
    // Cells after the name: pool, queue, version, tags, schedules, updated, dispatch.
    const formsRow = page.getByRole("row").filter({ has: page.getByRole("link", { name: forms, exact: true }) });
    await expect.poll(() => formsRow.getByRole("cell").nth(4).textContent()).toBe("1");
    expect(await formsRow.getByRole("cell").nth(2).textContent()).toBe("2");
    expect(await counter.getByRole("cell").nth(6).textContent()).toBe("Active");
    await screenshot(page, "deployments");
  });

  it("runs counter from its generated form with a big integer kept exact", async () => {
    const page = await openPage();
    await page.goto("/deployments");
    await page.getByRole("link", { name: "counter", exact: true }).click();
    await page.getByRole("heading", { name: "Deployment counter" }).waitFor();
    // Defaults are pre-filled: lines from the deployment, pause and big from the schema.
    expect(await page.getByLabel("lines").inputValue()).toBe("5");
    expect(await page.getByLabel("big").inputValue()).toBe("9007199254740993");
    await page.getByRole("heading", { name: "Schema" }).waitFor();
    await screenshot(page, "deployment-detail");

    await page.getByLabel("lines").fill("3");
    await page.getByLabel("big").fill("18446744073709551617");
    await page.getByRole("button", { name: "Run now" }).click();
    await page.waitForURL(/\/runs\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const id = new URL(page.url()).pathname.split("/").pop()!;

    const { run } = await adminClient(RunService).getRun({ id });
    expect(run?.deployment).toBe("counter");
    const params = parseJson(run!.parameters);
    expect(member(params, "big")).toEqual({ kind: "number", text: "18446744073709551617" });
    expect(member(params, "lines")).toEqual({ kind: "number", text: "3" });
    expect(member(params, "pause")).toEqual({ kind: "string", value: "0.1" });
  });

  it("shows a bad parameter next to its field and sends nothing", async () => {
    const page = await openPage();
    const creates = countCreateRuns(page);
    await page.goto("/deployments/counter");
    const lines = page.getByLabel("lines");
    await lines.waitFor();

    const bad: [string, string][] = [
      ["0", "Must be at least 1."],
      ["abc", "Enter a whole number, such as 42."],
      ["501", "Must be at most 500."],
      ["2.5", "Must be a whole number."],
    ];
    for (const [text, want] of bad) {
      await lines.fill(text);
      await page.getByRole("button", { name: "Run now" }).click();
      await expect.poll(() => lines.getAttribute("aria-invalid")).toBe("true");
      const describedBy = (await lines.getAttribute("aria-describedby")) ?? "";
      const errorId = describedBy.split(" ").find((x) => x.endsWith("-error"));
      expect(errorId).toBeDefined();
      await expect.poll(() => page.locator(`[id="${errorId}"]`).textContent()).toBe(want);
    }
    await screenshot(page, "run-form-error");
    expect(new URL(page.url()).pathname).toBe("/deployments/counter");
    expect(creates()).toBe(0);

    // The JSON editor checks the same rules.
    await page.getByRole("button", { name: "Edit as JSON" }).click();
    const json = page.getByLabel("Parameters (JSON object)");
    expect(await json.inputValue()).toContain('"lines": 2.5,');
    await json.fill('{"lines": 3, "label": "' + "x".repeat(41) + '"}');
    await page.getByRole("button", { name: "Run now" }).click();
    await expect.poll(() => page.locator(".field-error").first().textContent()).toContain("label: Must be at most 40 characters long (it has 41).");
    expect(await json.getAttribute("aria-invalid")).toBe("true");
    expect(creates()).toBe(0);
  });

  it("shows the server's refusal of a value in words", async () => {
    const page = await openPage();
    const creates = countCreateRuns(page);
    await page.goto(`/deployments/${forms}`);
    const day = page.getByLabel("day");
    await day.waitFor();
    // The form leaves "format" to the server, and says so.
    expect(await page.getByText("The server checks that it is a date.").count()).toBe(1);
    await day.fill("next tuesday");
    await page.getByRole("button", { name: "Run now" }).click();
    const alert = page.getByRole("alert").filter({ hasText: "The run was not created" });
    await alert.waitFor();
    const text = (await alert.textContent()) ?? "";
    expect(text).toContain("The request was refused");
    expect(text).toContain('parameter "day"');
    expect(text).toContain("date");
    expect(await day.getAttribute("aria-invalid")).toBe("true");
    expect(creates()).toBe(1);
    expect(new URL(page.url()).pathname).toBe(`/deployments/${forms}`);
  });

  it("lists versions and diffs two of them", async () => {
    const page = await openPage();
    await page.goto(`/deployments/${forms}`);
    await page.getByRole("heading", { name: "Compare versions" }).waitFor();
    expect(await page.getByLabel("From version", { exact: true }).inputValue()).toBe("1");
    expect(await page.getByLabel("To version", { exact: true }).inputValue()).toBe("2");
    const diff = page.getByLabel("Changes from version 1 to version 2");
    await expect.poll(() => diff.locator(".diff-del").allTextContents()).toContain('-   "description": "First description.",');
    const added = await diff.locator(".diff-add").allTextContents();
    expect(added).toContain('+   "description": "Second description.",');
    expect(added).toContain('+   "priority": 7');
    // Unchanged lines are shown as context, not as changes.
    expect(await diff.locator(".diff-same").allTextContents()).toContain('    "pool": "e2e",');

    // Swapping the sides swaps the signs.
    await page.getByLabel("From version", { exact: true }).selectOption("2");
    await page.getByLabel("To version", { exact: true }).selectOption("1");
    const back = page.getByLabel("Changes from version 2 to version 1");
    await expect.poll(() => back.locator(".diff-add").allTextContents()).toContain('+   "description": "First description.",');
    expect(await back.locator(".diff-del").allTextContents()).toContain('-   "priority": 7');
    await screenshot(page, "deployment-versions");
  });

  it("previews a schedule's fire times and pauses and resumes it", async () => {
    const page = await openPage();
    await page.goto(`/deployments/${forms}`);
    const card = page.getByRole("region", { name: "Schedule nightly" });
    await card.waitFor();
    expect(await card.textContent()).toContain("cron 30 2 * * * (Europe/Paris)");
    expect(await card.locator(".badge").first().textContent()).toBe("Paused");
    const times = card.getByRole("list", { name: "Next fire times of nightly" }).getByRole("listitem");
    await expect.poll(() => times.count()).toBe(5);
    // Local times are the zone's 02:30 with its offset.
    for (const t of await times.allTextContents()) expect(t).toMatch(/ 02:30:00 \+0[12]:00 CES?T/);

    await card.getByRole("button", { name: "Resume schedule nightly" }).click();
    await card.getByRole("button", { name: "Yes, resume schedule nightly" }).click();
    await card.getByText("Resumed nightly.").waitFor();
    // The button stays focusable while the call runs, so focus stays on it.
    await expect.poll(() => focused(page)).toBe("BUTTON Pause schedule nightly");
    await expect.poll(() => card.locator(".badge").first().textContent()).toBe("Active");
    await card.getByRole("button", { name: "Pause schedule nightly" }).click();
    await card.getByRole("button", { name: "Yes, pause schedule nightly" }).click();
    await card.getByText(/^Paused nightly; \d+ future runs? cancelled\.$/).waitFor();
    await expect.poll(() => card.locator(".badge").first().textContent()).toBe("Paused");
  });

  it("pauses and resumes dispatch of a deployment, showing whether it is paused", async () => {
    const deployments = adminClient(DeploymentService);
    const paused = async () => (await deployments.getDeployment({ name: forms })).deployment?.paused;
    expect(await paused()).toBe(false);
    const page = await openPage();
    await page.goto(`/deployments/${forms}`);
    const say = (text: string) => page.getByRole("status").filter({ hasText: text }).waitFor();
    // Only the button that changes something is offered.
    await page.getByRole("button", { name: "Pause deployment" }).waitFor();
    expect(await page.getByRole("button", { name: "Resume deployment" }).count()).toBe(0);
    // Pausing asks first; backing out changes nothing and keeps focus on the button.
    await page.getByRole("button", { name: "Pause deployment" }).click();
    const ask = page.getByRole("alertdialog", { name: `Pause deployment ${forms}?` });
    expect(await ask.textContent()).toContain("Runs already claimed carry on.");
    await ask.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => ask.count()).toBe(0);
    expect(await focused(page)).toBe("BUTTON Pause deployment");
    expect(await paused()).toBe(false);

    await page.getByRole("button", { name: "Pause deployment" }).click();
    await ask.getByRole("button", { name: `Yes, pause ${forms}` }).click();
    await say(`Paused ${forms}: its runs stay scheduled until you resume it.`);
    await page.getByRole("button", { name: "Resume deployment" }).waitFor();
    expect(await page.getByRole("button", { name: "Pause deployment" }).count()).toBe(0);
    expect(await paused()).toBe(true);
    // Focus stays on the button, which now offers Resume, not on the page's body.
    expect(await focused(page)).toBe("BUTTON Resume deployment");

    // The list shows it paused too.
    await page.goto("/deployments");
    const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: forms }) });
    await expect.poll(() => row.getByRole("cell").nth(6).textContent()).toBe("Paused");

    // Resuming asks too, and works from the keyboard alone: Enter on the
    // button, then Enter on the confirming button, which has focus.
    await page.goto(`/deployments/${forms}`);
    await page.getByRole("button", { name: "Resume deployment" }).focus();
    await page.keyboard.press("Enter");
    const askResume = page.getByRole("alertdialog", { name: `Resume deployment ${forms}?` });
    await askResume.waitFor();
    await expect.poll(() => focused(page)).toBe(`BUTTON Yes, resume ${forms}`);
    await page.keyboard.press("Enter");
    await say(`Resumed ${forms}: its runs are offered to agents again.`);
    await page.getByRole("button", { name: "Pause deployment" }).waitFor();
    expect(await page.getByRole("button", { name: "Resume deployment" }).count()).toBe(0);
    expect(await focused(page)).toBe("BUTTON Pause deployment");
    expect(await paused()).toBe(false);
  });

  it("works in a narrow window", async () => {
    const page = await openPage(375, 812);
    await page.goto("/deployments/counter");
    await page.getByLabel("lines").waitFor();
    // Only .table-wrap and pre blocks may scroll sideways, never the page.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, "deployment-detail-375");
  });
});
