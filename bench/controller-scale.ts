// Benchmark (not a test): moco-controller at scale, run as its own process as the image runs
// it (src/controller/main.ts built by tsc into JavaScript, node given the Dockerfile's
// MOCO_CONTROLLER_NODE_FLAGS) against a real control plane (test/env/kube.ts: etcd,
// kube-apiserver, kube-controller-manager; no node, so Pods stay Pending).
//
//   node bench/controller-scale.ts                        # N = 100 and 1000
//   BENCH_N=1000 BENCH_BASELINE_REF=none node bench/controller-scale.ts
//   BENCH_FLAGS="--apiserver-qps-throttle=200" BENCH_NODE_FLAGS="--max-semi-space-size=4" node bench/controller-scale.ts
//     (controller flags, and node flags instead of the image's, for the current controller only)
//   BENCH_TIMEOUT_S=300: how long to wait for convergence (default 900); a controller that
//     has not converged by then is reported with how many clusters had (its time is a bound).
//   BENCH_CURRENT=none: only the baseline.
//   BENCH_AUDIT=1: kube-apiserver writes its audit log (blocking: it slows the API server, so
//     not for the figures) and the bench prints, per client (controller, kube-controller-manager,
//     the bench), the requests by verb and resource, their answers (409, 429, …) and latency,
//     the controller's requests per 10 s after the apply, and how many times the controller
//     wrote each cluster's status and applied its StatefulSet.
//
// For each N the same run measures two controllers, each against a fresh control plane:
//   - baseline: the controller of BENCH_BASELINE_REF (default da4edfc, the commit before the
//     issue-14 scale work) with the CLI flags of that commit's defaults and its image's node flags (none);
//   - current:  this checkout's controller with its shipped defaults and node flags (plus
//     BENCH_FLAGS; BENCH_NODE_FLAGS instead of the image's node flags).
// and, once, the RSS of a bare `node` process idling (the floor of any Node controller).
//
// The controller is started and made leader first; then N one-instance MySQLClusters are
// created by this process (32 in flight). "Converged" for a cluster means: its status says
// ReconcileSuccess=True for its current generation (status.reconcileInfo.generation ==
// metadata.generation), which the reconciler writes only after every object of the cluster
// was applied; at the end the bench also counts those objects (StatefulSet, 3 Services,
// ServiceAccount, user and my.cnf Secrets, my.cnf ConfigMap per cluster, and the controller
// Secret per cluster in moco-system) and fails if any is missing. Time to converge is taken
// from the end of the apply (the last create answered) to the moment the bench's watch saw
// the last cluster converged. Peak RSS is VmHWM of the controller process
// (/proc/PID/status), sampled until the controller is stopped.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { MySQLCluster } from "../src/api/v1beta2/index.ts";
import { Informer } from "../src/k8s/informer.ts";
import { resources } from "../src/k8s/resource.ts";
import { readAuditLog, type AuditEvent } from "../test/env/kube.ts";
import { pino } from "pino";
import { buildDist, makeTmpDir, spawnManaged, sleep, waitUntil, type ManagedProcess } from "../test/env/procs.ts";
import { SYS_NS, clusterManifest, startHarness, type Harness } from "../test/env/controller-harness.ts";

const REPO = path.resolve(import.meta.dirname, "..");
const NS = "bench";
const SIZES = (process.env["BENCH_N"] ?? "100,1000").split(",").map(Number).filter((n) => n > 0);
const BASELINE_REF = process.env["BENCH_BASELINE_REF"] ?? "da4edfc";
const EXTRA_FLAGS = (process.env["BENCH_FLAGS"] ?? "").split(" ").filter((s) => s !== "");
const TIMEOUT_MS = Number(process.env["BENCH_TIMEOUT_S"] ?? 900) * 1000;
const CREATE_CONCURRENCY = 32;
const AUDIT = process.env["BENCH_AUDIT"] === "1";

const mib = (kb: number) => (kb / 1024).toFixed(0);

/** VmHWM and VmRSS of a process in KiB. */
function procMem(pid: number): { hwm: number; rss: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
    return { hwm: kb("VmHWM"), rss: kb("VmRSS") };
  } catch { return undefined; }
}

/** User+system CPU seconds of a process (/proc/PID/stat fields 14 and 15). */
function procCpuSeconds(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch { return NaN; }
}

/** The source of `ref` (src/, package.json, tsconfig) in a directory, for the baseline controller. */
function checkoutRef(ref: string): string {
  const dir = fs.realpathSync(makeTmpDir("bench-baseline-")); // main.ts runs its CLI only when argv[1] is its real path
  execFileSync("bash", ["-c", `git -C ${JSON.stringify(REPO)} archive ${ref} src package.json tsconfig.json tsconfig.build.json Dockerfile | tar -x -C ${JSON.stringify(dir)}`]);
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** moco-controller's node flags as the image of `root` ships them (the Dockerfile's ENV MOCO_CONTROLLER_NODE_FLAGS; none before it existed). */
function imageNodeFlags(root: string): string[] {
  const m = /^ENV MOCO_CONTROLLER_NODE_FLAGS="([^"]*)"/m.exec(fs.readFileSync(path.join(root, "Dockerfile"), "utf8"));
  return (m?.[1] ?? "").split(" ").filter((s) => s !== "");
}

interface Variant { label: string; root: string; dist: string; flags: string[]; nodeFlags: string[] }

interface Result {
  variant: string; n: number;
  startMs: number; applyMs: number; convergedAfterApplyMs: number; medianAfterApplyMs: number;
  idleRssKb: number; peakHwmKb: number; objects: string; restarts: number; cpuSeconds: number;
  /** Clusters converged; below n when BENCH_TIMEOUT_S ended the wait (the times are then lower bounds). */
  converged: number;
}

function startControllerProcess(h: Harness, v: Variant, logFile: string): ManagedProcess {
  return spawnManaged(`moco-controller (${v.label})`, process.execPath, [
    ...v.nodeFlags,
    path.join(v.dist, "src/controller/main.js"),
    "--kubeconfig", h.cp.kubeconfig, "--webhook-addr", "0", "--metrics-addr", "127.0.0.1:0", "--health-probe-addr", "127.0.0.1:0",
    ...v.flags,
  ], { logFile, env: { ...process.env, POD_NAMESPACE: SYS_NS }, marker: "src/controller/main.js" });
}

async function countObjects(h: Harness, n: number): Promise<string> {
  const count = async (kind: string, ns: string, selector: string) =>
    (await h.kubectl(["get", kind, "-n", ns, "-l", selector, "-o", "name"])).split("\n").filter((l) => l !== "").length;
  const sel = "app.kubernetes.io/created-by=moco";
  const got = {
    statefulsets: await count("statefulsets", NS, sel), services: await count("services", NS, sel),
    serviceaccounts: await count("serviceaccounts", NS, sel), secrets: await count("secrets", NS, sel),
    configmaps: await count("configmaps", NS, sel), controllerSecrets: await count("secrets", SYS_NS, sel),
  };
  const want = { statefulsets: n, services: 3 * n, serviceaccounts: n, secrets: 2 * n, configmaps: n, controllerSecrets: n };
  for (const [k, w] of Object.entries(want)) {
    const g = got[k as keyof typeof got];
    if (g < w) throw new Error(`converged, but only ${g} of ${w} ${k} exist`);
  }
  return Object.entries(got).map(([k, v]) => `${k} ${v}`).join(", ");
}

function converged(c: MySQLCluster): boolean {
  const gen = c.metadata?.generation;
  return gen !== undefined && c.status?.reconcileInfo?.generation === gen &&
    (c.status.conditions ?? []).some((x) => x.type === "ReconcileSuccess" && x.status === "True");
}

async function runOne(v: Variant, n: number): Promise<Result> {
  process.stderr.write(`bench: ${v.label}, N=${n}: starting a control plane\n`);
  // 3 Services per cluster: the harness's default /24 service range is too small.
  const h = await startHarness({ apiserverFlags: ["--service-cluster-ip-range", "10.0.0.0/16"], ...(AUDIT ? { audit: true } : {}) });
  let ctl: ManagedProcess | undefined;
  const watch = new Informer<MySQLCluster>(h.client, resources.mysqlClusters, { namespace: NS, logger: pino({ level: "silent" }) });
  try {
    await h.kubectl(["create", "namespace", NS]);
    const logFile = path.join(h.cp.dir, `controller-${v.label}.log`);
    const t0 = Date.now();
    ctl = startControllerProcess(h, v, logFile);
    let pid = ctl.child.pid ?? -1;
    let restarts = 0;
    await waitUntil("the controller to lead", async () => fs.readFileSync(logFile, "utf8").includes("controllers started"), { timeoutMs: 60_000, proc: ctl });
    const startMs = Date.now() - t0;
    await sleep(2000);
    const idleRssKb = procMem(pid)?.rss ?? NaN;
    let peakHwmKb = 0;
    let cpuBefore = 0; // CPU seconds of earlier incarnations (restarts)
    let cpuLast = 0;
    const cpuAtApply = procCpuSeconds(pid);
    const sampler = setInterval(() => {
      const hwm = procMem(pid)?.hwm; // NaN for an exited (zombie) process
      if (hwm !== undefined && Number.isFinite(hwm)) peakHwmKb = Math.max(peakHwmKb, hwm);
      const c = procCpuSeconds(pid);
      if (Number.isFinite(c)) cpuLast = c;
    }, 250);

    const done = new Map<string, number>();
    const note = (c: MySQLCluster) => { if (converged(c) && !done.has(c.metadata?.name ?? "")) done.set(c.metadata?.name ?? "", Date.now()); };
    watch.addHandler({ onAdd: note, onUpdate: (_a, b) => note(b) });
    watch.start();
    await watch.waitForSync();

    const tApply = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, async () => {
      for (let i = next++; i < n; i = next++) {
        await h.client.create(resources.mysqlClusters, clusterManifest(NS, `c${i}`, { replicas: 1 }) as MySQLCluster, { namespace: NS });
      }
    }));
    const tApplied = Date.now();
    process.stderr.write(`bench: ${v.label}, N=${n}: created in ${((tApplied - tApply) / 1000).toFixed(1)} s; waiting\n`);
    const deadline = tApplied + TIMEOUT_MS;
    let lastReport = Date.now();
    while (done.size < n) {
      if (!ctl.running()) {
        // As the kubelet would: start it again (and count it).
        restarts++;
        process.stderr.write(`  the controller exited (${restarts}): ${ctl.outputTail(300).trim().split("\n").at(-1) ?? ""}\n`);
        if (restarts > 20) throw new Error("the controller exited 20 times");
        cpuBefore += cpuLast;
        cpuLast = 0;
        ctl = startControllerProcess(h, v, logFile);
        pid = ctl.child.pid ?? -1;
      }
      if (Date.now() > deadline) {
        // Recorded, not thrown: a baseline that cannot converge in time still gives a ratio (a bound).
        process.stderr.write(`  only ${done.size} of ${n} clusters converged after ${TIMEOUT_MS / 1000} s\n`);
        break;
      }
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        process.stderr.write(`  ${done.size}/${n} converged, RSS ${mib(procMem(pid)?.rss ?? 0)} MiB\n`);
      }
      await sleep(100);
    }
    const complete = done.size >= n;
    const times = complete ? [...done.values()].map((t) => t - tApplied).sort((a, b) => a - b) : [...done.values(), ...Array<number>(n - done.size).fill(Date.now())].map((t) => t - tApplied).sort((a, b) => a - b);
    const objects = complete ? await countObjects(h, n) : "not counted (not converged)";
    if (h.cp.auditLog !== undefined) printAudit(`${v.label}, N=${n}`, h.cp.auditLog, tApply, tApplied);
    await sleep(3000); // the tail of the work (clustering passes of the new clusters) counts towards the peak
    clearInterval(sampler);
    const hwmEnd = procMem(pid)?.hwm;
    if (hwmEnd !== undefined && Number.isFinite(hwmEnd)) peakHwmKb = Math.max(peakHwmKb, hwmEnd);
    const cpuSeconds = cpuBefore + procCpuSeconds(pid) - (restarts === 0 ? cpuAtApply : 0);
    return {
      variant: v.label, n, startMs, applyMs: tApplied - tApply,
      convergedAfterApplyMs: Math.max(0, times.at(-1) ?? 0), medianAfterApplyMs: Math.max(0, times[Math.floor(times.length / 2)] ?? 0),
      idleRssKb, peakHwmKb, objects, restarts, cpuSeconds, converged: done.size,
    };
  } finally {
    await watch.stop();
    await ctl?.stop(10_000);
    if (process.env["BENCH_KEEP_LOGS"] !== undefined && ctl !== undefined) {
      for (const f of fs.readdirSync(h.cp.dir).filter((x) => x.startsWith("controller-"))) {
        fs.copyFileSync(path.join(h.cp.dir, f), path.join(REPO, ".cache", `bench-${n}-${f}`));
      }
    }
    await h.stop();
  }
}

type TimedAuditEvent = AuditEvent & { userAgent?: string; requestReceivedTimestamp?: string; stageTimestamp?: string };

/** BENCH_AUDIT: where the API server's requests went (stderr). */
function printAudit(label: string, file: string, tApply: number, tApplied: number): void {
  const events = (readAuditLog(file) as TimedAuditEvent[]).filter((e) => e.stage === "ResponseComplete" && Date.parse(e.requestReceivedTimestamp ?? "") >= tApply);
  const client = (e: TimedAuditEvent) => {
    const ua = e.userAgent ?? "";
    if (ua.startsWith("moco-controller")) return ua.includes("leader-election") ? "controller (Lease)" : "controller";
    if (ua.startsWith("kube-controller-manager")) return "kube-controller-manager";
    if (ua.startsWith("moco-ts")) return "bench";
    return ua.split(" ")[0]?.split("/")[0] ?? "?";
  };
  const what = (e: TimedAuditEvent) => `${e.verb}${e.verb === "patch" && e.requestURI.includes("force=true") ? " (apply)" : ""} ${e.objectRef?.resource ?? e.requestURI.split("?")[0]}${e.objectRef?.subresource === undefined ? "" : `/${e.objectRef.subresource}`}`;
  const ms = (e: TimedAuditEvent) => Date.parse(e.stageTimestamp ?? "") - Date.parse(e.requestReceivedTimestamp ?? "");
  const out: string[] = [`audit (${label}): ${events.length} requests from the start of the apply`];
  const byClient = new Map<string, TimedAuditEvent[]>();
  for (const e of events) byClient.set(client(e), [...(byClient.get(client(e)) ?? []), e]);
  for (const [c, es] of [...byClient].sort((a, b) => b[1].length - a[1].length)) {
    const kinds = new Map<string, { n: number; codes: Map<number, number>; ms: number[] }>();
    for (const e of es) {
      const k = kinds.get(what(e)) ?? { n: 0, codes: new Map<number, number>(), ms: [] };
      k.n++;
      const code = e.responseStatus?.code ?? 0;
      k.codes.set(code, (k.codes.get(code) ?? 0) + 1);
      if (e.verb !== "watch") k.ms.push(ms(e));
      kinds.set(what(e), k);
    }
    out.push(`  ${c}: ${es.length}`);
    for (const [k, v] of [...kinds].sort((a, b) => b[1].n - a[1].n)) {
      const sorted = [...v.ms].sort((a, b) => a - b);
      out.push(`    ${k}: ${v.n} (${[...v.codes].map(([code, n]) => `${code}×${n}`).join(" ")}; median ${sorted[Math.floor(sorted.length / 2)] ?? "-"} ms)`);
    }
  }
  const ctl = byClient.get("controller") ?? [];
  const buckets = new Map<number, number>();
  for (const e of ctl) { const b = Math.floor((Date.parse(e.requestReceivedTimestamp ?? "") - tApplied) / 10_000); buckets.set(b, (buckets.get(b) ?? 0) + 1); }
  out.push(`  controller requests per 10 s from the end of the apply: ${[...buckets].sort((a, b) => a[0] - b[0]).map(([b, n]) => `${b * 10}s:${n}`).join(" ")}`);
  const perCluster = (pred: (e: TimedAuditEvent) => boolean, name: (e: TimedAuditEvent) => string) => {
    const m = new Map<string, number>();
    for (const e of ctl.filter(pred)) m.set(name(e), (m.get(name(e)) ?? 0) + 1);
    const hist = new Map<number, number>();
    for (const n of m.values()) hist.set(n, (hist.get(n) ?? 0) + 1);
    return [...hist].sort((a, b) => a[0] - b[0]).map(([n, c]) => `${n}×: ${c}`).join(", ");
  };
  out.push(`  status writes per cluster (clusters): ${perCluster((e) => e.objectRef?.resource === "mysqlclusters" && e.objectRef.subresource === "status" && e.verb === "update", (e) => e.objectRef?.name ?? "")}`);
  out.push(`  StatefulSet applies per cluster (clusters): ${perCluster((e) => e.objectRef?.resource === "statefulsets" && e.verb === "patch" && e.requestURI.includes("force=true"), (e) => e.objectRef?.name ?? "")}`);
  process.stderr.write(`${out.join("\n")}\n`);
}

/** RSS of `node` idling with nothing loaded. */
async function bareNodeRssKb(): Promise<number> {
  const p = spawnManaged("bare node", process.execPath, ["-e", "setInterval(() => {}, 1000)"], { marker: "setInterval(() => {}, 1000)" });
  await sleep(1500);
  const m = procMem(p.child.pid ?? -1);
  await p.kill();
  return m?.rss ?? NaN;
}

async function main(): Promise<void> {
  const variants: Variant[] = [];
  if (BASELINE_REF !== "none") {
    const root = checkoutRef(BASELINE_REF);
    variants.push({ label: `baseline ${BASELINE_REF}`, root, dist: buildDist(root), flags: [], nodeFlags: imageNodeFlags(root) });
  }
  const nodeFlags = process.env["BENCH_NODE_FLAGS"] === undefined ? imageNodeFlags(REPO) : process.env["BENCH_NODE_FLAGS"].split(" ").filter((s) => s !== "");
  if (process.env["BENCH_CURRENT"] !== "none") variants.push({ label: ["current", ...EXTRA_FLAGS, ...nodeFlags].join(" "), root: REPO, dist: buildDist(REPO), flags: EXTRA_FLAGS, nodeFlags });
  const bare = await bareNodeRssKb();
  const results: Result[] = [];
  try {
    for (const n of SIZES) for (const v of variants) results.push(await runOne(v, n));
  } finally {
    for (const v of variants) {
      fs.rmSync(v.dist, { recursive: true, force: true });
      if (v.root !== REPO) fs.rmSync(v.root, { recursive: true, force: true });
    }
  }
  console.log(`\nmoco-controller at scale (${SIZES.join(", ")} one-instance MySQLClusters; own process; ${process.env["BENCH_MACHINE"] ?? "this machine"})`);
  console.log(`bare node process RSS: ${mib(bare)} MiB; load average at the end: ${fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  console.log("| controller | N | start→leader s | create N s | converged after apply: median / last s | controller exits | controller CPU s (apply → converged + 3 s) | idle RSS MiB | peak RSS (VmHWM) MiB | peak / bare node | time ratio vs baseline | RSS ratio vs baseline |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    const base = results.find((b) => b.n === r.n && b.variant.startsWith("baseline"));
    const ratio = (a: number, b: number | undefined) => (b === undefined || b === 0 ? "—" : (a / b).toFixed(2));
    // A side that did not converge in time has a lower bound for its time: the ratio is a bound.
    const timeRatio = (x: Result, b: Result | undefined) => {
      const v = ratio(x.convergedAfterApplyMs, b?.convergedAfterApplyMs);
      const xDone = x.converged >= x.n;
      const bDone = b === undefined || b.converged >= b.n;
      return xDone && !bDone ? `< ${v}` : !xDone && bDone ? `> ${v}` : !xDone && !bDone ? "—" : v;
    };
    console.log(`| ${r.variant} | ${r.n} | ${(r.startMs / 1000).toFixed(1)} | ${(r.applyMs / 1000).toFixed(1)} | ` +
      `${(r.medianAfterApplyMs / 1000).toFixed(1)} / ${r.converged < r.n ? `> ${(r.convergedAfterApplyMs / 1000).toFixed(1)} (${r.converged}/${r.n} converged)` : (r.convergedAfterApplyMs / 1000).toFixed(1)} | ${r.restarts} | ${r.cpuSeconds.toFixed(1)} | ${mib(r.idleRssKb)} | ${mib(r.peakHwmKb)} | ` +
      `${(r.peakHwmKb / bare).toFixed(1)} | ${timeRatio(r, base)} | ${ratio(r.peakHwmKb, base?.peakHwmKb)} |`);
  }
  for (const r of results) console.log(`objects (${r.variant}, N=${r.n}): ${r.objects}`);
}

main().then(() => process.exit(0), (e: unknown) => { console.error(e); process.exit(1); });
