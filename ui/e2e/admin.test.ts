import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { AuditDecision, AuditService } from "../src/gen/ferry/v1/audit_pb";
import { APIKeyService } from "../src/gen/ferry/v1/identity_pb";
import { PolicyKind, PolicyService } from "../src/gen/ferry/v1/policy_pb";
import { adminClient, env, focused, launchBrowser, newPage, screenshot, signIn } from "./browser";

let browser: Browser;
let viewer: { secret: string; actor: string };
const policyName = "e2e-protect-pool";

/** Calls a procedure over Connect JSON with a bearer key, as any program would. */
function call(procedure: string, key: string, body: object = {}): Promise<Response> {
  return fetch(`${env.baseURL}${procedure}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  browser = await launchBrowser();
  // A viewer key whose call to an admin-only procedure the audit log must show denied.
  const { key, secret } = await adminClient(APIKeyService).createAPIKey({ name: `e2e-viewer-${Date.now()}`, role: "viewer" });
  viewer = { secret, actor: `apikey:${key!.prefix}` };
  const res = await call("/ferry.v1.UserService/ListUsers", secret);
  expect(res.status).toBe(403);
});

afterAll(async () => {
  await browser?.close();
  // Other files share the server: leave no custom policy in effect.
  const policies = adminClient(PolicyService);
  const { policies: all } = await policies.listPolicies({});
  for (const p of all.filter((p) => p.name === policyName && p.activeVersion > 0)) {
    await policies.deactivatePolicy({ kind: p.kind, name: p.name });
  }
});

/** Returns the table row that contains text. */
function row(page: Page, text: string | RegExp) {
  return page.getByRole("row").filter({ hasText: text });
}

describe("audit log", () => {
  it("shows the harness's changes and a denied call, filtered through the URL", async () => {
    await expect
      .poll(async () => (await adminClient(AuditService).listAuditEvents({ actor: viewer.actor, decision: AuditDecision.DENY })).events.length)
      .toBeGreaterThan(0);
    const page = await newPage(browser);
    await signIn(page);

    // Filters come from the URL: the harness's `ferry apply` applied pool e2e.
    await page.goto(`/audit?procedure=${encodeURIComponent("/ferry.v1.WorkPoolService/ApplyWorkPool")}`);
    await page.getByRole("heading", { name: "Audit log", level: 1 }).waitFor();
    await row(page, "WorkPoolService/ApplyWorkPool").first().waitFor();
    expect(await row(page, "WorkPoolService/ApplyWorkPool").first().textContent()).toContain("allowed");
    expect(await page.getByLabel("Procedure", { exact: true }).inputValue()).toBe("/ferry.v1.WorkPoolService/ApplyWorkPool");

    // The filter form writes the URL: the harness created its user.
    await page.getByLabel("Procedure", { exact: true }).fill("/ferry.v1.UserService/CreateUser");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL(/procedure=%2Fferry\.v1\.UserService%2FCreateUser/);
    await row(page, "UserService/CreateUser").first().waitFor();

    // The viewer's refused call, by actor and decision.
    await page.getByLabel("Procedure", { exact: true }).fill("");
    await page.getByLabel("Actor").fill(viewer.actor);
    await page.getByLabel("Decision").selectOption("deny");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL(/decision=deny/);
    const denied = row(page, "UserService/ListUsers");
    await denied.waitFor();
    const text = await denied.textContent();
    expect(text).toContain("denied");
    expect(text).toContain("viewer lacks permission users.read");
    expect(text).toContain(viewer.actor);
    expect(await page.getByRole("row").count()).toBe(2); // header and the one denied call
    await screenshot(page, "audit");

    // A filter that matches nothing says so and how to widen it.
    await page.goto(`/audit?actor=${encodeURIComponent("apikey:nobody")}`);
    await page.getByText("No events match these filters.").waitFor();
    await page.getByRole("link", { name: "show every event" }).click();
    await page.waitForURL((u) => u.pathname === "/audit" && u.search === "");
    await row(page, "allowed").first().waitFor();

    const narrow = await newPage(browser, 375, 800);
    await signIn(narrow);
    await narrow.goto("/audit?decision=deny");
    await row(narrow, "denied").first().waitFor();
    // The page itself does not scroll sideways; only the table does.
    expect(await narrow.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await screenshot(narrow, "audit-375");
  });
});

describe("policies", () => {
  it("refuses a syntax error with its position, then uploads, activates, dry-runs and deactivates a policy", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.goto("/policies");
    await page.getByRole("heading", { name: "Policies", level: 1 }).waitFor();

    const source = page.getByLabel("Rego source");
    await page.getByLabel("Policy name").fill(policyName);
    await source.fill("package ferry.authz.workspace\n\ndeny contains msg if {\n\tmsg :=\n}\n");
    await page.getByRole("button", { name: "Upload version" }).click();
    const problem = page.locator("#upload-error");
    await problem.waitFor();
    expect(await problem.textContent()).toMatch(new RegExp(`${policyName}\\.rego:5:1: rego_parse_error`));
    expect(await source.getAttribute("aria-invalid")).toBe("true");
    expect(await source.getAttribute("aria-describedby")).toContain("upload-error");

    await source.fill(
      [
        "package ferry.authz.workspace",
        "",
        "deny contains msg if {",
        '\tinput.procedure == "/ferry.v1.WorkPoolService/DeleteWorkPool"',
        '\tinput.resource.name == "e2e-protected"',
        '\tmsg := "pool e2e-protected is protected"',
        "}",
        "",
      ].join("\n"),
    );
    await page.getByRole("button", { name: "Upload version" }).click();
    await page.getByText(`Stored version 1 of ${policyName}.`).waitFor();
    await page.waitForURL(/version=1/);
    await page.getByRole("heading", { name: "Source of version 1" }).waitFor();
    expect(await page.locator("pre.policy-source").textContent()).toContain("pool e2e-protected is protected");

    await page.getByRole("button", { name: "Activate version 1" }).click();
    await page.getByRole("button", { name: "Yes, activate" }).click();
    await page.getByText(`Version 1 of ${policyName} is now in effect.`).waitFor();
    await row(page, policyName).filter({ hasText: "version 1" }).waitFor();
    // The Activate button left with the change; focus went to the policy's
    // title, which says what is active, not to the page's body.
    await expect.poll(() => focused(page)).toMatch(new RegExp(`^H2 .*policy ${policyName} version 1 active$`));

    // Dry run: an admin deleting the protected pool is denied by the workspace policy.
    await page.getByLabel("Procedure", { exact: true }).fill("/ferry.v1.WorkPoolService/DeleteWorkPool");
    await page.getByLabel("Role").selectOption("admin");
    await page.getByLabel("Resource type").fill("pool");
    await page.getByLabel("Resource name").fill("e2e-protected");
    await page.getByRole("button", { name: "Evaluate" }).click();
    const result = page.getByRole("region", { name: /Decision:/ });
    await result.waitFor();
    const explained = await result.textContent();
    expect(explained).toContain("denied");
    expect(explained).toContain("pool e2e-protected is protected");
    expect(explained).toContain("workspace policy");
    expect(explained).toContain(`${policyName}@1`);
    await screenshot(page, "policies");

    // Another pool is allowed by the same rules.
    await page.getByLabel("Resource name").fill("other");
    await page.getByRole("button", { name: "Evaluate" }).click();
    await expect.poll(() => result.textContent()).toContain("allowed");

    await page.getByRole("button", { name: `Deactivate ${policyName}` }).click();
    await page.getByRole("button", { name: "Yes, deactivate" }).click();
    await page.getByText(`${policyName} is no longer in effect`).waitFor();
    await expect.poll(() => focused(page)).toMatch(new RegExp(`^H2 .*policy ${policyName} inactive$`));
    const { policies } = await adminClient(PolicyService).listPolicies({ kind: PolicyKind.AUTHZ });
    expect(policies.find((p) => p.name === policyName)?.activeVersion).toBe(0);
  });
});

describe("API keys", () => {
  it("shows a new key once, and a revoked key stops working", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.goto("/api-keys");
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();

    // An admin may give any role up to admin, not owner.
    const roles = await page.getByLabel("Role").locator("option").allTextContents();
    expect(roles).toEqual(["viewer", "operator", "developer", "admin"]);

    const name = `e2e-ui-${Date.now() % 100000}`;
    await page.getByLabel("Name").fill(name);
    await page.getByLabel("Role").selectOption("operator");
    await page.getByLabel("Expires in days").fill("7");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByText("it will not be shown again").waitFor();
    const secret = ((await page.getByLabel("The new API key").textContent()) ?? "").trim();
    expect(secret.length).toBeGreaterThan(20);

    // The key is real: it identifies as an operator.
    const who = await call("/ferry.v1.AuthService/WhoAmI", secret);
    expect(who.status).toBe(200);
    expect(((await who.json()) as { role: string }).role).toBe("operator");

    await page.getByRole("button", { name: "I have copied it, close" }).click();
    await page.getByText(`Key ${name}`).first().waitFor();
    expect(await page.content()).not.toContain(secret);
    expect(page.url()).not.toContain(secret);
    const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
    expect(stored).not.toContain(secret);

    const keyRow = row(page, name);
    await expect.poll(() => keyRow.textContent()).toMatch(/operator.*active/);
    await screenshot(page, "api-keys");

    await keyRow.getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("button", { name: `Yes, revoke ${name}` }).click();
    await page.getByText(`Key ${name}`).filter({ hasText: "is revoked" }).waitFor();
    await expect.poll(() => keyRow.textContent()).toContain("revoked");
    // The Revoke button left with the change; focus went to the list's heading.
    await expect.poll(() => focused(page)).toBe("H2 Keys of this workspace");
    expect((await call("/ferry.v1.AuthService/WhoAmI", secret)).status).toBe(401);
  });

  it("tells a viewer in words that the role does not allow managing keys", async () => {
    const page = await newPage(browser, 375, 800);
    await page.goto("/signin");
    await page.getByRole("tab", { name: "API key" }).click();
    await page.getByLabel("API key").fill(viewer.secret);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await page.goto("/api-keys");
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Your role does not allow this");
    expect(await page.getByRole("button", { name: "Create key" }).count()).toBe(0);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await screenshot(page, "api-keys-viewer-375");
  });
});
