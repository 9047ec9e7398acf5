import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import type { Page } from "playwright-core";
import { env, launchBrowser, newPage, screenshot } from "./browser";

/** Logs in through the form as the sign-in tests' own person. */
async function formSignIn(page: Page, password = env.password): Promise<void> {
  await page.getByLabel("Email").fill(env.signinEmail);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe("sign in and out", () => {
  it("sends a signed-out visitor to sign in, and back to the page asked for", async () => {
    const page = await newPage(browser);
    await page.goto("/runs?state=failed");
    await page.waitForURL(/\/signin\?next=/);
    await screenshot(page, "signin");
    await formSignIn(page);
    await page.waitForURL((u) => u.pathname === "/runs");
    expect(new URL(page.url()).search).toBe("?state=failed");
  });

  it("says in words when the password is wrong", async () => {
    const page = await newPage(browser);
    await page.goto("/signin");
    await formSignIn(page, "not-the-password");
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("email or password is wrong");
  });

  it("keeps an API key for the tab only", async () => {
    const page = await newPage(browser);
    await page.goto("/signin");
    await page.getByRole("tab", { name: "API key" }).click();
    await page.getByLabel("API key").fill(env.adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => c.name)).not.toContain("ferry_session");
    const stored = await page.evaluate(() => [sessionStorage.length, localStorage.length]);
    expect(stored).toEqual([1, 0]);
  });

  it("ends the session on sign-out", async () => {
    const page = await newPage(browser);
    await page.goto("/signin");
    await formSignIn(page);
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    const session = (await page.context().cookies()).find((c) => c.name === "ferry_session");
    expect(session?.httpOnly).toBe(true);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/signin/);
    // The old cookie no longer works even if replayed.
    const res = await fetch(`${env.baseURL}/ferry.v1.AuthService/WhoAmI`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Cookie: `ferry_session=${session?.value}` },
      body: "{}",
    });
    expect(res.status).toBe(401);
  });
});
