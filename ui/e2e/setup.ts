// Global setup of the browser tests: a real `ferry server` on its embedded
// PostgreSQL and a real `ferry-agent`, both from bin/ (make build), on
// loopback ports of this machine only. Tests reach them through inject().
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, openSync, existsSync, rmSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

/** What the tests get from the harness. */
export interface FerryEnv {
  baseURL: string;
  repo: string;
  dataDir: string;
  adminKey: string;
  email: string;
  password: string;
  screenshots: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    ferry: FerryEnv;
  }
}

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, "../..");
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? ok(addr.port) : fail(new Error("no port"))));
    });
  });
}

async function waitReady(url: string, proc: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`ferry server exited (${proc.exitCode}); see ${log}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`ferry server not ready after 60 s; see ${log}`);
}

export default async function setup(project: TestProject) {
  for (const bin of ["bin/ferry", "bin/ferry-agent"]) {
    if (!existsSync(join(repo, bin))) throw new Error(`${bin} is missing: run make build first (make test does)`);
  }
  if (!existsSync("/usr/bin/chromium")) throw new Error("Chromium is missing: apt-get install chromium (.ci/run does)");
  const dataDir = mkdtempSync(join(tmpdir(), "ferry-ui-e2e-"));
  // The embedded PostgreSQL runs as an unprivileged user when the tests run as root.
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const serverLog = join(dataDir, "server.log");
  const server = spawn(join(repo, "bin/ferry"), ["server", "--addr", `127.0.0.1:${port}`, "--data-dir", dataDir], {
    cwd: repo,
    stdio: ["ignore", openSync(join(dataDir, "server.out"), "w"), openSync(serverLog, "w")],
  });
  children.push(server);
  await waitReady(baseURL, server, serverLog);

  const env = { ...process.env, FERRY_SERVER: baseURL, FERRY_DATA_DIR: dataDir };
  const ferry = (...args: string[]) => run(join(repo, "bin/ferry"), args, { cwd: repo, env });
  await ferry("apply", "-f", join(repo, "ui/e2e/ferry.e2e.yaml"));

  const email = "e2e-admin@example.test";
  const password = "e2e-password-" + Math.random().toString(36).slice(2);
  const pwFile = join(dataDir, "e2e-password");
  writeFileSync(pwFile, password, { mode: 0o600 });
  await ferry("user", "create", email, "--role", "admin", "--name", "E2E Admin", "--password-file", pwFile);

  const tokenFile = join(dataDir, "agent-token");
  const { stdout: token } = await ferry("agent", "token", "create", "--pool", "e2e", "--name", "e2e-agent");
  writeFileSync(tokenFile, token.trim(), { mode: 0o600 });
  const keysFile = join(dataDir, "trusted-keys");
  const { stdout: keys } = await ferry("keys", "ls", "--output", "agent");
  writeFileSync(keysFile, keys);
  const agent = spawn(
    join(repo, "bin/ferry-agent"),
    ["--server", baseURL, "--token-file", tokenFile, "--name", "e2e-agent", "--capacity", "8", "--trusted-keys-file", keysFile],
    { cwd: repo, stdio: ["ignore", "ignore", openSync(join(dataDir, "agent.log"), "w")] },
  );
  children.push(agent);

  const ferryEnv: FerryEnv = {
    baseURL,
    repo,
    dataDir,
    adminKey: readFileSync(join(dataDir, "admin-api-key"), "utf8").trim(),
    email,
    password,
    screenshots: join(repo, "ui/e2e/screenshots"),
  };
  project.provide("ferry", ferryEnv);

  return async () => {
    for (const c of children.reverse()) {
      if (c.exitCode === null) {
        c.kill("SIGTERM");
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            c.kill("SIGKILL");
            r();
          }, 15_000);
          c.once("exit", () => {
            clearTimeout(t);
            r();
          });
        });
      }
    }
    if (!process.env.FERRY_E2E_KEEP) rmSync(dataDir, { recursive: true, force: true });
    else console.log(`ferry e2e: data kept in ${dataDir}`);
  };
}
