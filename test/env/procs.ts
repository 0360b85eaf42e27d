// Child processes of the test environment (mysqld, etcd, kube-apiserver, S3 servers…):
// started with PDEATHSIG=SIGKILL so they die with the test process, killed on exit,
// and recorded in .cache/run/ so that a later run reaps any left by a crashed one.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { GiveUp, PollTimeout, eventually } from "./eventually.ts";

export const repoRoot = path.resolve(import.meta.dirname, "../..");
export const cacheDir = path.join(repoRoot, ".cache");
export const binDir = path.join(cacheDir, "bin");

/** A fresh directory under .cache/tmp (created on first use: a fresh clone has none). */
export function makeTmpDir(prefix: string): string {
  const base = path.join(cacheDir, "tmp");
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, prefix));
}

/**
 * `npm run build` (tsc -p tsconfig.build.json) of the source in `root` into a fresh directory,
 * laid out as the image's /app: the built src/, package.json, node_modules (a link to the
 * repository's). Returns the directory; the caller removes it.
 */
export function buildDist(root = repoRoot): string {
  const out = fs.realpathSync(makeTmpDir("dist-")); // main.js runs its CLI only when argv[1] is its real path
  execFileSync(path.join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", path.join(root, "tsconfig.build.json"), "--outDir", out], { cwd: root, stdio: "pipe" });
  fs.copyFileSync(path.join(root, "package.json"), path.join(out, "package.json"));
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(out, "node_modules"));
  return out;
}
const registryDir = path.join(cacheDir, "run", "procs");

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) {
      try { child.kill("SIGKILL"); } catch { /* already gone */ }
    }
  });
}

export function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** node:timers/promises' setTimeout, under the name the tests and the sandbox use. */
export { sleep };

interface RegistryRecord { pid: number; owner: number; cmd: string; cleanup?: string }

/** Kills processes left by test runs whose owner process is gone; returns how many. */
export function reapStrayProcesses(): number {
  let reaped = 0;
  if (!fs.existsSync(registryDir)) return 0;
  for (const f of fs.readdirSync(registryDir)) {
    const file = path.join(registryDir, f);
    let rec: RegistryRecord;
    try { rec = JSON.parse(fs.readFileSync(file, "utf8")) as RegistryRecord; } catch { fs.rmSync(file, { force: true }); continue; }
    if (isAlive(rec.owner)) continue;
    if (isAlive(rec.pid)) {
      let cmdline = "";
      try { cmdline = fs.readFileSync(`/proc/${rec.pid}/cmdline`, "utf8"); } catch { /* gone */ }
      if (cmdline.includes(rec.cmd)) { process.kill(rec.pid, "SIGKILL"); reaped++; }
    }
    if (rec.cleanup) fs.rmSync(rec.cleanup, { recursive: true, force: true });
    fs.rmSync(file, { force: true });
  }
  return reaped;
}

export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly name: string;
  running(): boolean;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  kill(): Promise<void>;
  /** The last part of the process's output (stdout+stderr, or its log file). */
  outputTail(chars?: number): string;
}

/**
 * Spawns `cmd argv` with PDEATHSIG=SIGKILL. Output goes to `logFile` (appended) when
 * given, else is kept in memory (last 16 KiB). `marker` is a string the command line
 * contains, used to recognise the process when reaping; `cleanup` a directory removed
 * when a stray is reaped. `netns` (a network namespace file, test/env/netns.ts) runs the
 * command inside that network namespace (`nsenter --net`).
 */
export function spawnManaged(name: string, cmd: string, argv: string[], opts: {
  logFile?: string; env?: NodeJS.ProcessEnv; cwd?: string; marker?: string; cleanup?: string; netns?: string;
} = {}): ManagedProcess {
  installExitHook();
  const out = opts.logFile ? fs.openSync(opts.logFile, "a") : "pipe";
  const enter = opts.netns ? ["nsenter", `--net=${opts.netns}`, "--"] : [];
  const child = spawn("setpriv", ["--pdeathsig", "SIGKILL", "--", ...enter, cmd, ...argv], {
    stdio: ["ignore", out, out],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  if (typeof out === "number") fs.closeSync(out);
  let buffer = "";
  const keep = (d: Buffer) => { buffer = (buffer + d.toString()).slice(-16384); };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  live.add(child);
  fs.mkdirSync(registryDir, { recursive: true });
  const recFile = path.join(registryDir, `${process.pid}-${child.pid}.json`);
  const rec: RegistryRecord = { pid: child.pid ?? -1, owner: process.pid, cmd: opts.marker ?? path.basename(cmd) };
  if (opts.cleanup) rec.cleanup = opts.cleanup;
  fs.writeFileSync(recFile, JSON.stringify(rec));
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => { live.delete(child); fs.rmSync(recFile, { force: true }); resolve(); });
    child.once("error", () => { live.delete(child); fs.rmSync(recFile, { force: true }); resolve(); });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    name,
    exited,
    running,
    async stop(graceMs = 30_000) {
      if (!running()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (!running()) return;
      child.kill("SIGKILL");
      await exited;
    },
    outputTail(chars = 4000) {
      if (opts.logFile) {
        try {
          const text = fs.readFileSync(opts.logFile, "utf8");
          return text.slice(-chars);
        } catch { return ""; }
      }
      return buffer.slice(-chars);
    },
  };
}

/** Polls `probe` until it returns true; fails early when `proc` exits. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, opts: {
  timeoutMs: number; proc?: ManagedProcess; intervalMs?: number;
}): Promise<void> {
  const { proc } = opts;
  try {
    await eventually(what, async () => {
      if (proc && !proc.running()) throw new GiveUp(`${proc.name} exited while waiting for ${what}:\n${proc.outputTail()}`);
      return await probe();
    }, opts.timeoutMs, opts.intervalMs ?? 250);
  } catch (e) {
    if (e instanceof PollTimeout && proc) throw new Error(`${e.message}\n${proc.outputTail()}`, { cause: e.cause });
    throw e;
  }
}

/** A free TCP port on 127.0.0.1 (by binding port 0). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
