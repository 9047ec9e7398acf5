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
  /** sessionCookie is a session of email, made once, that signIn() puts into pages. */
  sessionCookie: string;
  /** signinEmail is a second admin (same password) whose logins the sign-in tests spend. */
  signinEmail: string;
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
  // The server allows an account five logins, then one per 20 s. The tests
  // share one session of the admin, and the sign-in form's own tests log in
  // as another person.
  const signinEmail = "e2e-signin@example.test";
  await srv.ferry("user", "create", signinEmail, "--role", "admin", "--name", "E2E Sign-in", "--password-file", pwFile);
  const login = await fetch(`${srv.baseURL}/ferry.v1.AuthService/Login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const sessionCookie = /ferry_session=([^;]+)/.exec(login.headers.get("set-cookie") ?? "")?.[1];
  if (!login.ok || !sessionCookie) throw new Error(`e2e setup: login failed: ${login.status} ${await login.text()}`);
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
    sessionCookie,
    signinEmail,
    screenshots: join(repo, "ui/e2e/screenshots"),
    foreignRunId: foreignRunId.trim(),
  });

  return async () => {
    await stopAll(children);
    removeDataDir(srv.dataDir);
  };
}
