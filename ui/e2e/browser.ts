// Helpers of the browser tests: Debian's Chromium driven by playwright-core,
// API clients on the same Connect API for arranging and checking state.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";
import { expect, inject } from "vitest";

/** The harness's servers and credentials. */
export const env = inject("ferry");

/** Launches headless Chromium with the flags this machine needs. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Opens a page that fails the test on any uncaught page error. */
export async function newPage(browser: Browser, width = 1280, height = 860, baseURL = env.baseURL): Promise<Page> {
  const ctx = await browser.newContext({ baseURL, viewport: { width, height } });
  const page = await ctx.newPage();
  page.on("pageerror", (err) => {
    throw new Error(`uncaught error in the page: ${err.message}`);
  });
  return page;
}

/** Signs page in as the harness's admin with the session made by the
 * setup (the sign-in form itself is tested in signin.test.ts; logging in
 * through it for every test would trip the server's login rate limit). */
export async function signIn(page: Page): Promise<void> {
  await page.context().addCookies([
    { name: "ferry_session", value: env.sessionCookie, url: env.baseURL, httpOnly: true, sameSite: "Lax" },
  ]);
  await page.goto("/");
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  expect(new URL(page.url()).pathname).toBe("/");
}

/** Writes a full-page screenshot to ui/e2e/screenshots/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(env.screenshots, { recursive: true });
  await page.screenshot({ path: join(env.screenshots, `${name}.png`), fullPage: true });
}

/** Returns an API client authenticated with the installation's admin key. */
export function adminClient<T extends DescService>(service: T, baseURL = env.baseURL, key = env.adminKey): Client<T> {
  const transport = createConnectTransport({
    baseUrl: baseURL,
    interceptors: [
      (next) => async (req) => {
        req.header.set("Authorization", `Bearer ${key}`);
        return next(req);
      },
    ],
  });
  return createClient(service, transport);
}

/** Describes the element with keyboard focus as its tag and accessible
 * text, such as "BUTTON Resume deployment"; "BODY" when focus fell to the page. */
export function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (el === null || el === document.body) return "BODY";
    const text = (el.getAttribute("aria-label") ?? el.textContent ?? "").replace(/\s+/g, " ").trim();
    return `${el.tagName} ${text}`;
  });
}
