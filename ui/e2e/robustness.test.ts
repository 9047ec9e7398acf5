// Browser tests of the UI's defences: one call per click, long unbroken
// text, bidirectional-override text, a control plane that stops answering,
// filters the runs list ignores and a session that ends elsewhere.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { DeploymentService } from "../src/gen/ferry/v1/deployment_pb";
import { APIKeyService } from "../src/gen/ferry/v1/identity_pb";
import { RunService } from "../src/gen/ferry/v1/run_pb";
import { adminClient, launchBrowser, newPage, screenshot, signIn } from "./browser";

const runs = adminClient(RunService);
let browser: Browser;
/** Runs a test left active; cancelled at the end so the agent is free for other files. */
const cleanup: string[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const id of cleanup) await runs.cancelRun({ id }).catch(() => undefined);
  await browser?.close();
});

async function createRun(deployment: string, parameters = ""): Promise<string> {
  const { run } = await runs.createRun({ run: { deployment, parameters } });
  if (!run) throw new Error("CreateRun answered without a run");
  cleanup.push(run.id);
  return run.id;
}

/** Counts the page's calls of one procedure, such as "RunService/CancelRun". */
function countCalls(page: Page, procedure: string): () => number {
  let n = 0;
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === `/ferry.v1.${procedure}`) n++;
  });
  return () => n;
}

/** Returns by how many pixels the page is wider than the window (0 when it is not). */
const overflow = (page: Page) => page.evaluate(() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth));

/** The text of the page's main content, as a person reads it. */
const mainText = (page: Page) => page.locator("#main").innerText();

const bidiControls = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;

describe("one call per click", () => {
  it("cancels and retries once on a double click, without an error", async () => {
    const page = await newPage(browser);
    await signIn(page);
    const cancels = countCalls(page, "RunService/CancelRun");
    const retries = countCalls(page, "RunService/RetryRun");
    const id = await createRun("sleeper");
    await page.goto(`/runs/${id}`);
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.getByRole("button", { name: "Yes, cancel the run" }).dblclick();
    await page.getByText(/^Cancel requested: the run is/).waitFor();
    await page.locator(".run-summary").getByText("Cancelled", { exact: true }).waitFor({ timeout: 30_000 });
    expect(cancels()).toBe(1);
    expect(await page.getByRole("alert").count()).toBe(0);

    await page.getByRole("button", { name: "Retry" }).dblclick();
    await page.getByText(/^Retry scheduled: attempt 2 of/).waitFor();
    expect(retries()).toBe(1);
    expect(await page.getByRole("alert").count()).toBe(0);
    await runs.cancelRun({ id });
  });
});

describe("long unbroken text", () => {
  const long = "x".repeat(10_000);

  it.each([1280, 375])("keeps pages within %d px", async (width) => {
    const page = await newPage(browser, width);
    await signIn(page);

    // The policies dry run echoes the procedure in its denial.
    await page.goto("/policies");
    await page.getByLabel("Procedure", { exact: true }).fill(`/ferry.v1.${long}/Do`);
    await page.getByRole("button", { name: "Evaluate" }).click();
    const result = page.getByRole("region", { name: /Decision:/ });
    await result.waitFor();
    expect(await result.textContent()).toContain(long.slice(0, 100));
    expect(await overflow(page)).toBe(0);
    if (width === 375) await screenshot(page, "long-text-policies-375");

    // The runs list names what it ignored in the address.
    await page.goto(`/runs?state=${long}`);
    await page.getByText(/^Ignored in the address: state/).waitFor();
    expect(await overflow(page)).toBe(0);

    // A deployment that does not exist, named in the error notice.
    await page.goto(`/deployments/${long.slice(0, 2000)}`);
    await page.getByRole("alert").waitFor();
    expect(await overflow(page)).toBe(0);
  });
});

describe("bidirectional controls", () => {
  it("shows them as escapes in parameters and in error text built from the address", async () => {
    const page = await newPage(browser);
    await signIn(page);
    const id = await createRun("counter", '{"lines": 1, "label": "abc\u202Efed.exe"}');
    await page.goto(`/runs/${id}`);
    const params = page.getByLabel("Parameters");
    await params.waitFor();
    expect(await params.textContent()).toContain('"label": "abc⟨U+202E⟩fed.exe"');
    expect(await mainText(page)).not.toMatch(bidiControls);

    await page.goto(`/deployments/${encodeURIComponent("\u202Enuf-on")}`);
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const text = await alert.innerText();
    expect(text).toContain("Cannot load deployment ⟨U+202E⟩nuf-on");
    expect(text).not.toMatch(bidiControls);
    expect(await mainText(page)).not.toMatch(bidiControls);
    await screenshot(page, "bidi-deployment");
  });
});

describe("bidirectional controls in a deployment", () => {
  const name = "e2e-bidi";
  const deployments = adminClient(DeploymentService);
  afterAll(async () => {
    await deployments.deleteDeployment({ name }).catch(() => undefined);
  });

  it("shows them as escapes in the deployments list and detail", async () => {
    const description = "Nightly \u202Eexport\u202C of invoices";
    // A Hebrew tag: right-to-left text the page must isolate from its neighbours.
    const tag = "bidi-\u05D0\u05D1";
    const spec = { pool: "e2e", description, command: ["echo", "abc\u202Efed.exe"], tags: ["e2e", tag] };
    // The server refuses bidirectional controls in tags (printable characters only), naming the field.
    await expect(deployments.applyDeployment({ name, spec: { ...spec, tags: ["x\u202Ey"] } })).rejects.toThrow(/tags/);
    await deployments.applyDeployment({ name, spec });

    const page = await newPage(browser);
    await signIn(page);
    await page.goto("/deployments");
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name, exact: true }) });
    await row.waitFor();
    expect(await row.textContent()).toContain("Nightly ⟨U+202E⟩export⟨U+202C⟩ of invoices");
    expect(await row.locator("bdi.badge").allTextContents()).toEqual(["e2e", tag]);
    expect(await page.evaluate(() => document.body.textContent)).not.toMatch(bidiControls);
    expect(await mainText(page)).not.toMatch(bidiControls);

    await row.getByRole("link", { name, exact: true }).click();
    await page.getByRole("heading", { name: `Deployment ${name}` }).waitFor();
    const main = await mainText(page);
    expect(main).toContain("Nightly ⟨U+202E⟩export⟨U+202C⟩ of invoices");
    expect(main).toContain('["echo","abc⟨U+202E⟩fed.exe"]');
    expect(await page.locator("#main bdi.badge").allTextContents()).toEqual(["e2e", tag]);
    expect(await page.evaluate(() => document.body.textContent)).not.toMatch(bidiControls);
    expect(main).not.toMatch(bidiControls);
    await screenshot(page, "bidi-deployment-detail");
  });
});

describe("a control plane that stops answering", () => {
  it("says so while calls fail or hang, and clears when they are answered", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.goto("/runs");
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    const banner = page.getByText("The control plane is not answering; retrying…");
    expect(await banner.count()).toBe(0);

    // Calls failing as Unavailable, as from a proxy in front of a stopped server.
    const listRuns = /\/ferry\.v1\.RunService\/ListRuns/;
    await page.route(listRuns, (route) =>
      route.fulfill({ status: 503, contentType: "application/json", body: '{"code":"unavailable","message":"no upstream"}' }),
    );
    await banner.waitFor({ timeout: 15_000 });
    await screenshot(page, "not-answering");
    await page.unroute(listRuns);
    await banner.waitFor({ state: "detached", timeout: 15_000 });

    // A call that hangs for longer than 8 s.
    await page.route(listRuns, async (route) => {
      await new Promise((ok) => setTimeout(ok, 10_000));
      await route.continue().catch(() => undefined);
    });
    await banner.waitFor({ timeout: 20_000 });
    await page.unroute(listRuns);
    await banner.waitFor({ state: "detached", timeout: 20_000 });
  });

  it("shows the page being opened, not the old one, while its code loads", async () => {
    const page = await newPage(browser);
    await signIn(page);
    // Hold the audit page's code for a moment.
    await page.route(/\/assets\/Audit-[^/]*\.js$/, async (route) => {
      await new Promise((ok) => setTimeout(ok, 1_500));
      await route.continue();
    });
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByText("Loading the page…").waitFor();
    const current = page.getByRole("navigation", { name: "Main" }).locator("a.active");
    expect(await current.allInnerTexts()).toEqual(["Audit log"]);
    await page.getByRole("heading", { name: "Audit log" }).waitFor();
  });
});

describe("runs filters and sessions", () => {
  it("names the filters of the address it ignores", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.goto("/runs?state=bogus&after=notadate");
    const notice = page.getByText(/^Ignored in the address:/);
    await notice.waitFor();
    expect(await notice.textContent()).toBe("Ignored in the address: state “bogus” (not a run state); after “notadate” (not a time).");
  });

  it("offers Try again only where retrying can help", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.goto("/deployments/no-such-deployment");
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-code")).toBe("5"); // NotFound
    expect(await alert.getByRole("button", { name: "Try again" }).count()).toBe(0);
  });

  it("says the session ended when a signed-in person is sent to sign in, not on a first visit", async () => {
    const first = await newPage(browser);
    await first.goto("/runs");
    await first.waitForURL(/\/signin\?next=/);
    await first.getByRole("heading", { name: "Sign in to Ferry" }).waitFor();
    expect(await first.getByText(/Your session ended/).count()).toBe(0);

    const keys = adminClient(APIKeyService);
    const { key, secret } = await keys.createAPIKey({ name: `e2e-ending-${Date.now()}`, role: "viewer" });
    const page = await newPage(browser);
    await page.goto("/signin");
    await page.getByRole("tab", { name: "API key" }).click();
    await page.getByLabel("API key").fill(secret);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await page.getByRole("link", { name: "Runs" }).click();
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    await keys.revokeAPIKey({ id: key!.id });
    // The list refreshes every 5 s; the refused call ends the session.
    await page.waitForURL(/\/signin\?next=%2Fruns/, { timeout: 20_000 });
    await page.getByText(/^Your session ended/).waitFor();
    await screenshot(page, "session-ended");
  });
});
