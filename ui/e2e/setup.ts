// Global setup of the browser tests: a real `ferry server` on its embedded
// PostgreSQL and a real `ferry-agent`, both from bin/ (make build), on
// loopback ports of this machine only. Tests reach them through inject().
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import type { TestProject } from "vitest/node";
import { removeDataDir, repo, startAgent, startServer, stopAll } from "./servers";

/** What the tests get from the harness. */
export interface FerryEnv {
  baseURL: string;
  repo: string;
  dataDir: string;
  adminKey: string;
  email: string;
  password: string;
  screenshots: string;
  /** foreignRunId is a run of workspace "other", of which the admin is no member. */
  foreignRunId: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    ferry: FerryEnv;
  }
}

export default async function setup(project: TestProject) {
  if (!existsSync("/usr/bin/chromium")) throw new Error("Chromium is missing: apt-get install chromium (.ci/run does)");
  const children: ChildProcess[] = [];
  const srv = await startServer("ferry-ui-e2e-");
  children.push(srv.proc);
  await srv.ferry("apply", "-f", join(repo, "ui/e2e/ferry.e2e.yaml"));

  const email = "e2e-admin@example.test";
  const password = "e2e-password-" + Math.random().toString(36).slice(2);
  const pwFile = join(srv.dataDir, "e2e-password");
  writeFileSync(pwFile, password, { mode: 0o600 });
  await srv.ferry("user", "create", email, "--role", "admin", "--name", "E2E Admin", "--password-file", pwFile);
  children.push(await startAgent(srv, "e2e", "e2e-agent"));

  // A second workspace with a run of its own: the tests sign in to the
  // first one and must not see it. The CLI logs in to "other" from a data
  // directory of its own, so the admin key keeps serving the first.
  // Its owner is another person, so the admin above belongs to one
  // workspace only and signs in without naming it.
  const otherOwner = "other-owner@example.test";
  await srv.ferry("user", "create", otherOwner, "--role", "viewer", "--password-file", pwFile);
  await srv.ferry("workspace", "create", "other", "--owner", otherOwner);
  const otherDir = join(srv.dataDir, "other");
  mkdirSync(otherDir, { mode: 0o700 });
  await srv.ferryIn(otherDir, "login", "--email", otherOwner, "--password-file", pwFile, "--workspace", "other");
  await srv.ferryIn(otherDir, "apply", "-f", join(repo, "ui/e2e/ferry.other.yaml"));
  const { stdout: foreignRunId } = await srv.ferryIn(otherDir, "run", "start", "other-job");

  project.provide("ferry", {
    baseURL: srv.baseURL,
    repo,
    dataDir: srv.dataDir,
    adminKey: srv.adminKey,
    email,
    password,
    screenshots: join(repo, "ui/e2e/screenshots"),
    foreignRunId: foreignRunId.trim(),
  });

  return async () => {
    await stopAll(children);
    removeDataDir(srv.dataDir);
  };
}
