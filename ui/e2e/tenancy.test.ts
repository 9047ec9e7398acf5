import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { Code, ConnectError } from "@connectrpc/connect";
import { RunService } from "../src/gen/ferry/v1/run_pb";
import { adminClient, env, launchBrowser, newPage, signIn } from "./browser";

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe("another workspace's run", () => {
  it("exists, and the API of the first workspace answers NotFound for it", async () => {
    expect(env.foreignRunId).toMatch(/^[0-9a-f-]{36}$/);
    const err = await adminClient(RunService)
      .getRun({ id: env.foreignRunId })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
  });

  it("shows \"Run not found\" on its page, and nothing of it", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.goto(`/runs/${env.foreignRunId}`);
    await page.getByRole("heading", { name: "Run not found" }).waitFor();
    const body = (await page.textContent("body")) ?? "";
    expect(body).not.toContain("other-job");
    expect(body).not.toContain("other-pool");
  });

  it("is not listed on the runs page", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.goto("/runs");
    await page.locator("table tbody tr, .empty").first().waitFor();
    const hrefs = await page.locator("a[href^='/runs/']").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    expect(hrefs).not.toContain(`/runs/${env.foreignRunId}`);
    expect((await page.textContent("body")) ?? "").not.toContain("other-job");
  });
});
