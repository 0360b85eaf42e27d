// `npm run sandbox` — a whole moco-ts cluster on this machine.
//   up      provision what is missing, start the control plane and the sandbox node in a
//           background supervisor, install the CRDs and the controller, apply a
//           3-instance MySQLCluster and wait until it is Available and Healthy
//   down    stop everything and remove its state (no process, mount or address left)
//   status  show whether the sandbox runs and what `kubectl get mysqlcluster` says
//   serve   (internal) the supervisor process
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { helmTemplate } from "../test/env/helm.ts";
import { startControlPlane, type ControlPlane } from "../test/env/kube.ts";
import { reapStrayProcesses } from "../test/env/procs.ts";
import { BRIDGE_IP, ensureBridge, teardownNetwork } from "./net.ts";
import { SandboxNode } from "./node.ts";
import { mysqlClusterManifest } from "./cluster-manifest.ts";

const repoRoot = path.resolve(import.meta.dirname, "..");
const stateDir = path.join(repoRoot, ".cache", "sandbox");
const pidFile = path.join(stateDir, "supervisor.pid");
const readyFile = path.join(stateDir, "ready.json");
const logFile = path.join(stateDir, "supervisor.log");
export const SANDBOX_KUBECONFIG = path.join(stateDir, "kubeconfig");
const kubectlBin = path.join(repoRoot, ".cache", "bin", "kubectl");
const APISERVER_PORT = 6443;

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function supervisorPid(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    return pid > 0 && isAlive(pid) ? pid : undefined;
  } catch { return undefined; }
}

function kubectl(args: string[], input?: string): string {
  return execFileSync(kubectlBin, ["--kubeconfig", SANDBOX_KUBECONFIG, ...args], {
    encoding: "utf8", input, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], maxBuffer: 64 << 20,
  });
}

function step(msg: string): void {
  process.stdout.write(`==> ${msg}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- supervisor ----

async function serve(): Promise<void> {
  fs.mkdirSync(stateDir, { recursive: true });
  reapStrayProcesses();
  ensureBridge();
  const log = (msg: string, extra: Record<string, unknown> = {}) =>
    console.log(JSON.stringify({ time: new Date().toISOString(), component: "sandbox", msg, ...extra }));
  let cp: ControlPlane | undefined;
  let node: SandboxNode | undefined;
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log("shutting down");
    await node?.stop().catch(() => undefined);
    await cp?.stop().catch(() => undefined);
    teardownNetwork();
    fs.rmSync(readyFile, { force: true });
    process.exit(code);
  };
  process.on("SIGTERM", () => void shutdown(0));
  process.on("SIGINT", () => void shutdown(0));
  try {
    cp = await startControlPlane({
      dir: path.join(stateDir, "control-plane"), bindAddress: BRIDGE_IP, apiserverPort: APISERVER_PORT, volumeBinder: true,
    });
    fs.copyFileSync(cp.kubeconfig, SANDBOX_KUBECONFIG);
    node = new SandboxNode({
      kubeconfig: cp.kubeconfig, dataDir: path.join(stateDir, "node"),
      apiserver: { host: BRIDGE_IP, port: APISERVER_PORT }, caCertFile: cp.ca.cert, caKeyFile: cp.ca.key, log,
    });
    await node.start();
    fs.writeFileSync(readyFile, JSON.stringify({ server: cp.server, kubeconfig: SANDBOX_KUBECONFIG }));
    log("sandbox ready", { server: cp.server });
  } catch (e) {
    log("sandbox failed to start", { error: (e as Error).message });
    await shutdown(1);
  }
}

async function startSupervisor(): Promise<void> {
  if (supervisorPid()) {
    step("sandbox already running");
    return;
  }
  fs.mkdirSync(stateDir, { recursive: true });
  fs.rmSync(readyFile, { force: true });
  const out = fs.openSync(logFile, "a");
  const child = spawn(process.execPath, [path.join(repoRoot, "sandbox", "main.ts"), "serve"], {
    detached: true, stdio: ["ignore", out, out], cwd: repoRoot,
  });
  fs.closeSync(out);
  fs.writeFileSync(pidFile, String(child.pid));
  child.unref();
  step(`starting the control plane and the sandbox node (log: ${path.relative(process.cwd(), logFile)})`);
  const deadline = Date.now() + 180_000;
  while (!fs.existsSync(readyFile)) {
    if (!isAlive(child.pid!)) throw new Error(`the sandbox supervisor exited; see ${logFile}`);
    if (Date.now() > deadline) throw new Error(`the sandbox did not start in 180 s; see ${logFile}`);
    await sleep(500);
  }
}

// ---- up / down ----

function provision(): void {
  for (const script of ["apt-deps.sh", "mysql-rootfs.sh", "build-k8s.sh", "build-helm.sh"]) {
    execFileSync("bash", [path.join(repoRoot, "test", "env", script)], { stdio: "inherit" });
  }
}


async function waitFor(what: string, probe: () => string | undefined, timeoutMs: number): Promise<void> {
  const start = Date.now();
  let last = "";
  for (;;) {
    let state: string | undefined;
    try { state = probe(); } catch (e) { state = `(${(e as Error).message.split("\n")[0]})`; }
    if (state === undefined) {
      process.stdout.write(`    ${what}: done after ${Math.round((Date.now() - start) / 1000)} s\n`);
      return;
    }
    if (state !== last) {
      process.stdout.write(`    ${what}: ${state} (${Math.round((Date.now() - start) / 1000)} s)\n`);
      last = state;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what} (last state: ${state})`);
    await sleep(2000);
  }
}

async function up(opts: { name: string; namespace: string; replicas: string; timeout: string }): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the sandbox needs root (network namespaces, mounts, chroot)");
  const t0 = Date.now();
  step("provisioning (cached under .cache/)");
  provision();
  await startSupervisor();
  step("installing moco-ts from its Helm chart (helm template, applied with kubectl)");
  kubectl(["apply", "--server-side", "-f", path.join(repoRoot, "deploy", "controller", "00-namespace.yaml")]);
  kubectl(["apply", "--server-side", "-f", "-"], helmTemplate({}));
  await waitFor("CRDs", () => {
    const out = kubectl(["get", "crd", "mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com", "-o",
      "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Established')].status}{end}"]);
    return out === "TrueTrue" ? undefined : "establishing";
  }, 60_000);
  await waitFor("moco-controller", () => {
    const out = kubectl(["-n", "moco-system", "get", "deploy", "moco-controller", "-o", "jsonpath={.status.availableReplicas}"]);
    return Number(out) >= 1 ? undefined : "starting";
  }, 180_000);
  await waitFor("webhook certificates", () => {
    const out = kubectl(["get", "mutatingwebhookconfiguration", "moco-mutating-webhook-configuration", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"]);
    return out.length > 0 ? undefined : "waiting for the controller to inject its CA";
  }, 120_000);
  step(`applying MySQLCluster ${opts.namespace}/${opts.name} with ${opts.replicas} instances`);
  if (opts.namespace !== "default") kubectl(["create", "namespace", opts.namespace]).toString();
  const applyStart = Date.now();
  kubectl(["apply", "-f", "-"], mysqlClusterManifest({ name: opts.name, namespace: opts.namespace, replicas: Number(opts.replicas) }));
  await waitFor("cluster", () => {
    const out = kubectl(["-n", opts.namespace, "get", "mysqlcluster", opts.name, "-o",
      "jsonpath={.status.conditions[?(@.type=='Available')].status}/{.status.conditions[?(@.type=='Healthy')].status}/{.status.syncedReplicas}"]);
    const [available, healthy, synced] = out.split("/");
    return available === "True" && healthy === "True" ? undefined : `available=${available || "-"} healthy=${healthy || "-"} ready=${synced || 0}/${opts.replicas}`;
  }, Number(opts.timeout) * 1000);
  const applyToAvailable = Math.round((Date.now() - applyStart) / 100) / 10;
  process.stdout.write("\n" + kubectl(["-n", opts.namespace, "get", "mysqlcluster", opts.name]) + "\n");
  const kc = path.relative(process.cwd(), SANDBOX_KUBECONFIG) || SANDBOX_KUBECONFIG;
  process.stdout.write(`moco-ts sandbox is up (${Math.round((Date.now() - t0) / 1000)} s; apply → Available ${applyToAvailable} s).

  kubectl:      export KUBECONFIG=${path.resolve(kc)}; ${kubectlBin} get mysqlcluster -A
  connect:      ${kubectlBin} --kubeconfig ${kc} moco mysql -n ${opts.namespace} -u moco-writable ${opts.name}   (needs kubectl-moco on PATH: ${path.join(repoRoot, "sandbox", "bin")})
                or: the primary's Pod IP (kubectl get pod -l moco.cybozu.com/role=primary -o wide) port 3306,
                    user moco-writable, password from Secret moco-${opts.name} key WRITABLE_PASSWORD
  tear down:    npm run sandbox -- down
`);
}

async function down(): Promise<void> {
  const pid = supervisorPid();
  if (pid) {
    step("stopping the sandbox");
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 120_000;
    while (isAlive(pid) && Date.now() < deadline) await sleep(300);
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  reapStrayProcesses();
  teardownNetwork();
  fs.rmSync(stateDir, { recursive: true, force: true });
  step("sandbox removed");
}

function status(): void {
  const pid = supervisorPid();
  if (!pid) {
    process.stdout.write("sandbox: not running\n");
    return;
  }
  process.stdout.write(`sandbox: running (supervisor pid ${pid}, kubeconfig ${SANDBOX_KUBECONFIG})\n`);
  try { process.stdout.write(kubectl(["get", "mysqlcluster", "-A"])); } catch (e) { process.stdout.write(`${(e as Error).message}\n`); }
}

const program = new Command("sandbox").description("a whole moco-ts cluster on this machine");
program.command("up", { isDefault: true }).description("start the sandbox and a MySQLCluster, wait until it is healthy")
  .option("--name <name>", "MySQLCluster name", "sandbox")
  .option("--namespace <ns>", "namespace", "default")
  .option("--replicas <n>", "instances (1, 3 or 5)", "3")
  .option("--timeout <seconds>", "how long to wait for the cluster", "900")
  .action(async (o: { name: string; namespace: string; replicas: string; timeout: string }) => up(o));
program.command("down").description("stop the sandbox and remove its state").action(down);
program.command("status").description("show the sandbox state").action(status);
program.command("serve", { hidden: true }).action(serve);

if (import.meta.main) {
  program.parseAsync(process.argv).catch((e: unknown) => {
    process.stderr.write(`sandbox: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
