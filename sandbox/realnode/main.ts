// The real node (docs/sandbox.md) left running in a background supervisor, with the images
// imported: `npm run sandbox` (sandbox/main.ts) and test/run.sh's e2e layer start and stop
// it through nodeUp/nodeDown; `node sandbox/realnode/main.ts up|down|status|kubectl …` with
// MOCO_TS_NODE=<name> does the same by hand.
//   up       start it in a background supervisor and wait until it is Ready
//   down     stop it and check that nothing of it is left on the host
//   status   whether it runs
//   kubectl  kubectl against it (through the forward on the host's loopback)
//   serve    (internal) the supervisor: runs the node until SIGTERM
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { binDir, isAlive, sleep } from "../../test/env/procs.ts";
import { nodeLayout, startRealNode, teardownNodeLeftovers } from "./node.ts";
import { hostSnapshot, nodeLeftovers, type HostSnapshot } from "./host-check.ts";
import type { NodeLayout } from "./config.ts";

const files = (l: NodeLayout) => ({
  pidFile: path.join(l.dir, "supervisor.pid"),
  readyFile: path.join(l.dir, "ready.json"),
  snapshotFile: path.join(l.dir, "host-before.json"),
  logFile: path.join(l.dir, "supervisor.log"),
});
/** The host's kubeconfig of a node (kube-apiserver through the supervisor's forward on 127.0.0.1). */
export const hostKubeconfig = (l: NodeLayout) => path.join(l.dir, "control-plane", "kubeconfig");

/**
 * The network namespace the node's supervisor runs in (the host's, where hostKubeconfig's
 * forward listens): for a process inside the node's namespace to act as one on the host.
 */
export const supervisorNetns = (l: NodeLayout) => `/proc/${fs.readFileSync(files(l).pidFile, "utf8").trim()}/ns/net`;

let layout = nodeLayout(process.env.MOCO_TS_NODE ?? "moco-ts-node");
let { pidFile, readyFile, snapshotFile, logFile } = files(layout);
let kubeconfig = hostKubeconfig(layout);

function use(name: string): void {
  layout = nodeLayout(name);
  ({ pidFile, readyFile, snapshotFile, logFile } = files(layout));
  kubeconfig = hostKubeconfig(layout);
}

function supervisorPid(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    return pid > 0 && isAlive(pid) ? pid : undefined;
  } catch { return undefined; }
}

async function serve(): Promise<void> {
  const node = await startRealNode({ name: layout.nodeName });
  fs.writeFileSync(readyFile, JSON.stringify({ kubeconfig: node.kubeconfig, ...node.timings }));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await node.down();
    fs.rmSync(readyFile, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
  await new Promise(() => undefined);
}

/** Whether the node `name` runs (its supervisor is alive and it was Ready). */
export function nodeRunning(name: string): boolean {
  use(name);
  return supervisorPid() !== undefined && fs.existsSync(readyFile);
}

/** Starts the node `name` in a background supervisor (a no-op when it runs) and waits until it is Ready. */
export async function nodeUp(name: string): Promise<void> {
  use(name);
  await up();
}

/** Stops the node `name`; throws when anything of it is left on the host. */
export async function nodeDown(name: string): Promise<void> {
  use(name);
  await down();
}

async function up(): Promise<void> {
  if (supervisorPid()) { console.log(`real node ${layout.nodeName}: already running`); return; }
  fs.mkdirSync(layout.dir, { recursive: true });
  fs.rmSync(readyFile, { force: true });
  if (!fs.existsSync(snapshotFile)) fs.writeFileSync(snapshotFile, JSON.stringify(hostSnapshot()));
  const out = fs.openSync(logFile, "a");
  const child = spawn(process.execPath, [import.meta.filename, "serve"], { detached: true, stdio: ["ignore", out, out], env: { ...process.env, MOCO_TS_NODE: layout.nodeName } });
  fs.writeFileSync(pidFile, String(child.pid));
  child.unref();
  process.stdout.write(`real node ${layout.nodeName}: starting (log ${logFile})`);
  for (;;) {
    if (fs.existsSync(readyFile)) break;
    if (!supervisorPid()) throw new Error(`the supervisor exited; see ${logFile}:\n${fs.readFileSync(logFile, "utf8").slice(-4000)}`);
    process.stdout.write(".");
    await sleep(2000);
  }
  const ready = JSON.parse(fs.readFileSync(readyFile, "utf8")) as { nodeReadySeconds: number; upSeconds: number };
  console.log(`\nreal node ${layout.nodeName}: Ready after ${ready.nodeReadySeconds.toFixed(0)} s, all up after ${ready.upSeconds.toFixed(0)} s`);
}

async function down(): Promise<void> {
  const pid = supervisorPid();
  if (pid) {
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 600 && isAlive(pid); i++) await sleep(500);
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  await teardownNodeLeftovers(layout);
  fs.rmSync(pidFile, { force: true });
  if (fs.existsSync(snapshotFile)) {
    const left = nodeLeftovers(layout, JSON.parse(fs.readFileSync(snapshotFile, "utf8")) as HostSnapshot);
    fs.rmSync(snapshotFile, { force: true });
    if (left.length) throw new Error(`real node ${layout.nodeName}: left on the host:\n  ${left.join("\n  ")}`);
  }
  console.log(`real node ${layout.nodeName}: down, nothing left on the host`);
}

const [cmd, ...rest] = process.argv.slice(2);
if (import.meta.main) switch (cmd ?? "up") {
  case "up": await up(); break;
  case "down": await down(); break;
  case "serve": await serve(); break;
  case "status": console.log(supervisorPid() && fs.existsSync(readyFile) ? "running" : "not running"); break;
  case "kubectl":
    try {
      execFileSync(path.join(binDir, "kubectl"), ["--kubeconfig", kubeconfig, ...rest], { stdio: "inherit" });
    } catch (e) { process.exitCode = (e as { status?: number }).status ?? 1; }
    break;
  default:
    console.error("usage: MOCO_TS_NODE=NAME node sandbox/realnode/main.ts up|down|status|kubectl ARGS…");
    process.exitCode = 2;
}
