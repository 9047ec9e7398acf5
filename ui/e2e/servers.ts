// Real Ferry processes for the browser tests: `bin/ferry server` on its
// embedded PostgreSQL and `bin/ferry-agent`, on loopback ports only.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, existsSync, rmSync, chmodSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

/** The repository root. */
export const repo = resolve(import.meta.dirname, "../..");

const run = promisify(execFile);

/** A running control plane. */
export interface ServerProc {
  baseURL: string;
  dataDir: string;
  adminKey: string;
  proc: ChildProcess;
  /** ferry runs the CLI against this server with its admin key. */
  ferry: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;
  /** ferryIn runs the CLI with another data directory (its own login session). */
  ferryIn: (dataDir: string, ...args: string[]) => Promise<{ stdout: string; stderr: string }>;
}

/** Fails unless bin/ferry and bin/ferry-agent are built. */
export function requireBinaries(): void {
  for (const bin of ["bin/ferry", "bin/ferry-agent"]) {
    if (!existsSync(join(repo, bin))) throw new Error(`${bin} is missing: run make build first (make test does)`);
  }
}

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

/** Starts `ferry server` on a free loopback port with a new data directory. */
export async function startServer(prefix: string): Promise<ServerProc> {
  requireBinaries();
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  // The embedded PostgreSQL runs as an unprivileged user when the tests run as root.
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const log = join(dataDir, "server.log");
  const proc = spawn(join(repo, "bin/ferry"), ["server", "--addr", `127.0.0.1:${port}`, "--data-dir", dataDir], {
    cwd: repo,
    stdio: ["ignore", openSync(join(dataDir, "server.out"), "w"), openSync(log, "w")],
  });
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`ferry server exited (${proc.exitCode}); see ${log}`);
    if (i >= 300) throw new Error(`ferry server not ready after 60 s; see ${log}`);
    try {
      if ((await fetch(`${baseURL}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const env = { ...process.env, FERRY_SERVER: baseURL, FERRY_DATA_DIR: dataDir, FERRY_API_KEY: "" };
  return {
    baseURL,
    dataDir,
    adminKey: readFileSync(join(dataDir, "admin-api-key"), "utf8").trim(),
    proc,
    ferry: (...args: string[]) => run(join(repo, "bin/ferry"), args, { cwd: repo, env, maxBuffer: 16 << 20 }),
    ferryIn: (dir: string, ...args: string[]) =>
      run(join(repo, "bin/ferry"), args, { cwd: repo, env: { ...env, FERRY_DATA_DIR: dir }, maxBuffer: 16 << 20 }),
  };
}

/** Starts `ferry-agent` for a pool of srv with a new token and the trusted keys. */
export async function startAgent(srv: ServerProc, pool: string, name: string): Promise<ChildProcess> {
  const tokenFile = join(srv.dataDir, `${name}-token`);
  const { stdout: token } = await srv.ferry("agent", "token", "create", "--pool", pool, "--name", name);
  writeFileSync(tokenFile, token.trim(), { mode: 0o600 });
  const keysFile = join(srv.dataDir, "trusted-keys");
  const { stdout: keys } = await srv.ferry("keys", "ls", "--output", "agent");
  writeFileSync(keysFile, keys);
  return spawn(
    join(repo, "bin/ferry-agent"),
    ["--server", srv.baseURL, "--token-file", tokenFile, "--name", name, "--capacity", "8", "--trusted-keys-file", keysFile],
    { cwd: repo, stdio: ["ignore", "ignore", openSync(join(srv.dataDir, `${name}.log`), "w")] },
  );
}

/** Stops processes gently, then firmly after 15 s, in reverse order. */
export async function stopAll(children: ChildProcess[]): Promise<void> {
  for (const c of [...children].reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
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

/** Removes a data directory unless FERRY_E2E_KEEP is set. */
export function removeDataDir(dir: string): void {
  if (process.env.FERRY_E2E_KEEP) console.log(`ferry e2e: data kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
