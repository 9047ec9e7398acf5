import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { WorkPoolService } from "../src/gen/ferry/v1/work_pool_pb";
import { adminClient, focused, launchBrowser, newPage, screenshot, signIn } from "./browser";

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  // Other files share the server and its one agent: e2e-agent must take runs again whatever happened here.
  await adminClient(WorkPoolService).undrainAgent({ pool: "e2e", name: "e2e-agent" });
});

/** Returns e2e-agent as the API lists it. */
async function e2eAgent() {
  const { agents } = await adminClient(WorkPoolService).listAgents({ pool: "e2e" });
  const agent = agents.find((a) => a.name === "e2e-agent");
  if (agent === undefined) throw new Error("e2e-agent is not listed in pool e2e");
  return agent;
}

describe("drain", () => {
  it("drains e2e-agent from the pools page and undrains it again", async () => {
    expect((await e2eAgent()).drainRequested).toBe(false);
    const page = await newPage(browser);
    await signIn(page);
    await page.goto("/pools");
    const pool = page.getByRole("region", { name: /^Pool e2e/ });
    const agentRow = pool.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "e2e-agent" }) });
    await agentRow.waitFor();
    expect(await agentRow.getByRole("cell", { name: "No", exact: true }).count()).toBe(1);

    // Cancel leaves the agent as it is.
    await agentRow.getByRole("button", { name: "Drain agent e2e-agent of pool e2e" }).click();
    await page.getByRole("alertdialog", { name: "Drain agent e2e-agent?" }).getByRole("button", { name: "Cancel" }).click();
    expect((await e2eAgent()).drainRequested).toBe(false);

    await agentRow.getByRole("button", { name: "Drain agent e2e-agent of pool e2e" }).click();
    const dialog = page.getByRole("alertdialog", { name: "Drain agent e2e-agent?" });
    expect(await dialog.textContent()).toContain("will be offered no new runs until it is undrained");
    await screenshot(page, "pools-drain-confirm");
    await dialog.getByRole("button", { name: "Drain agent" }).click();
    await pool.getByRole("status").filter({ hasText: "Agent e2e-agent is draining: it is offered no new runs" }).waitFor();
    await agentRow.getByText("Draining (requested by an operator)").waitFor();
    // The button stays, reading Undrain, and keeps focus.
    await expect.poll(() => focused(page)).toBe("BUTTON Undrain agent e2e-agent of pool e2e");
    expect(await agentRow.getByText("Draining (agent shutting down)").count()).toBe(0);
    const drained = await e2eAgent();
    expect(drained.drainRequested).toBe(true);
    expect(drained.draining).toBe(false);
    expect(drained.drainRequestedBy).toMatch(/^user:/);
    expect(await agentRow.textContent()).toContain(`by ${drained.drainRequestedBy}`);
    await screenshot(page, "pools-agent-drained");

    // At 375 px the page still scrolls only inside its tables.
    const narrow = await newPage(browser, 375, 800);
    await signIn(narrow);
    await narrow.goto("/pools");
    await narrow.getByText("Draining (requested by an operator)", { exact: true }).waitFor();
    const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(narrow, "pools-agent-drained-narrow");

    await agentRow.getByRole("button", { name: "Undrain agent e2e-agent of pool e2e" }).click();
    await page.getByRole("alertdialog", { name: "Undrain agent e2e-agent?" }).getByRole("button", { name: "Undrain agent" }).click();
    await pool.getByRole("status").filter({ hasText: "Agent e2e-agent undrained: it is offered runs again." }).waitFor();
    await agentRow.getByRole("button", { name: "Drain agent e2e-agent of pool e2e" }).waitFor();
    expect(await agentRow.getByText("Draining (requested by an operator)").count()).toBe(0);
    await expect.poll(() => focused(page)).toBe("BUTTON Drain agent e2e-agent of pool e2e");
    expect((await e2eAgent()).drainRequested).toBe(false);
  });
});
