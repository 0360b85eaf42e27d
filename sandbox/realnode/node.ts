// The real single-node Kubernetes (docs/sandbox.md, "Real node"): etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy, CoreDNS and
// local-path-provisioner, all inside one network namespace of the project's own. The host's
// iptables, routes and sysctls are left alone: kubelet runs in a private mount namespace in
// which the /proc/sys files it would rewrite already hold its values; Pods go under a cgroup
// root of the node's own. Everything the node keeps is under .cache/realnode/<name>.
// The programs come from test/env/provision-node.sh, the images from test/env/build-images.sh.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startControlPlane, writeKubeconfig, type ControlPlane } from "../../test/env/kube.ts";
import { ensureCert } from "../../test/env/pki.ts";
import { controllerUser } from "../../test/env/helm.ts";
import { cacheDir, binDir, reapStrayProcesses, spawnManaged, waitUntil, sleep, type ManagedProcess } from "../../test/env/procs.ts";
import { createNetns, deleteNetns, inNetns, unmountUnder, mountsUnder } from "../../test/env/netns.ts";
import {
  APISERVER_PORT, BRIDGE, KUBELET_SYSCTLS, NODE_IP, POD_CIDR, SERVICE_CIDR, cniConfig, containerdConfig, corefile,
  kubeProxyConfig, kubeletConfig, localPathManifests, paths, BUSYBOX_IMAGE, LOCAL_PATH_NAMESPACE, type NodeLayout,
} from "./config.ts";

// The real path: mount points and command lines are compared with it (.cache may be a symlink).
fs.mkdirSync(path.join(cacheDir, "realnode"), { recursive: true });
export const realNodeRoot = fs.realpathSync(path.join(cacheDir, "realnode"));
export const imagesDir = path.join(cacheDir, "images");

export function nodeLayout(name = "moco-ts-node"): NodeLayout {
  return { dir: path.join(realNodeRoot, name), cgroupRoot: `/moco-ts-${name}`, nodeName: name };
}

const netnsDir = (l: NodeLayout) => path.join(l.dir, "ns");
/** The network namespace file the node's components (and its Pods' bridge) live in. */
export const nodeNetnsFile = (l: NodeLayout) => path.join(netnsDir(l), "net");
/**
 * kube-apiserver's audit log: the requests of moco-controller's ServiceAccount (the chart's,
 * in moco-system) only, Metadata level; the e2e run's RBAC audit reads it (test/e2e/zz-rbac-audit.test.ts).
 * About 1.5 kB per request, ~1.4 requests/s with nothing to do (the leader's Lease renewals and
 * the standby's reads): rotated at AUDIT_LOG_MAX_MB (one old file kept) for a node left running.
 */
export const nodeAuditLog = (l: NodeLayout) => path.join(l.dir, "control-plane", "logs", "audit.log");
export const AUDIT_LOG_MAX_MB = 100;
/** A kubeconfig reaching kube-apiserver at the node's address, for programs inside its namespace. */
export const innerKubeconfigFile = (l: NodeLayout) => path.join(l.dir, "inner.kubeconfig");

function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr?.trim() || err.message}`);
  }
}

function binary(name: string): string {
  const p = path.join(binDir, name);
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run test/env/provision-node.sh`);
  return p;
}

/** The cgroup v1 hierarchies (and the v2 one of a hybrid host) mounted under /sys/fs/cgroup. */
export function cgroupHierarchies(): string[] {
  return fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f[4]?.startsWith("/sys/fs/cgroup/") && (f.includes("cgroup") || f.includes("cgroup2")))
    .map((f) => f[4]!);
}

function createCgroupRoot(l: NodeLayout): void {
  for (const h of cgroupHierarchies()) {
    const dir = path.join(h, l.cgroupRoot);
    fs.mkdirSync(dir, { recursive: true });
    if (path.basename(h) === "cpuset") {
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(h, f), "utf8"));
      }
    }
  }
}

/** Every process id in the node's cgroup tree (any hierarchy). */
export function cgroupPids(l: NodeLayout): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
    try {
      for (const p of fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n")) if (p) pids.add(Number(p));
    } catch { /* gone */ }
  };
  for (const h of cgroupHierarchies()) walk(path.join(h, l.cgroupRoot));
  return [...pids];
}

/** Removes the node's cgroups, deepest first. */
function removeCgroupRoot(l: NodeLayout): void {
  const rm = (dir: string) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) if (e.isDirectory()) rm(path.join(dir, e.name));
    try { fs.rmdirSync(dir); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`cannot remove cgroup ${dir}: ${(e as Error).message}`);
    }
  };
  for (const h of cgroupHierarchies()) rm(path.join(h, l.cgroupRoot));
}

/** Processes whose command line names the node's directory (its daemons and containerd's shims). */
export function nodeDaemonPids(l: NodeLayout): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, "utf8").includes(l.dir + "/")) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

const taskDir = (l: NodeLayout) => path.join(paths(l).containerdState, "io.containerd.runtime.v2.task", "k8s.io");

/** The ids of the containers (and Pod sandboxes) containerd has tasks for. */
function taskIds(l: NodeLayout): string[] {
  try { return fs.readdirSync(taskDir(l)); } catch { return []; }
}

/**
 * Files of a task outside the node's directory: its shim's socket (containerd 1.6 names it
 * after sha256(<grpc address>/<namespace>/<id>) under /run/containerd/s) and libcni's cached
 * results (/var/lib/cni/results/<network>-<id>-<interface>). A shim or a CNI DEL removes them;
 * a killed one does not.
 */
function taskHostFiles(l: NodeLayout, id: string): string[] {
  const sock = `/run/containerd/s/${createHash("sha256").update(path.join(paths(l).containerdSock, "k8s.io", id)).digest("hex")}`;
  let results: string[] = [];
  try { results = fs.readdirSync("/var/lib/cni/results").filter((f) => f.includes(`-${id}-`)).map((f) => `/var/lib/cni/results/${f}`); } catch { /* none */ }
  return [sock, ...results];
}

/** The network namespace files of Pod sandboxes (made by containerd under /run/netns) the node knows of. */
export function podNetnsFiles(l: NodeLayout): string[] {
  const tasks = taskDir(l);
  const out = new Set<string>();
  for (const id of taskIds(l)) {
    try {
      const spec = JSON.parse(fs.readFileSync(path.join(tasks, id, "config.json"), "utf8")) as {
        linux?: { namespaces?: { type: string; path?: string }[] };
      };
      const p = spec.linux?.namespaces?.find((n) => n.type === "network")?.path;
      if (p?.startsWith("/var/run/netns/") || p?.startsWith("/run/netns/")) out.add(p.replace(/^\/var\/run\//, "/run/"));
    } catch { /* not a sandbox, or gone */ }
  }
  return [...out];
}

/**
 * The other real nodes that have processes running now, of this checkout or of another one
 * (a git worktree has a .cache/realnode of its own): found from the command lines of their
 * daemons, which name the node's directory (<…>/realnode/<name>/…).
 */
export function otherLiveNodes(l: NodeLayout): NodeLayout[] {
  const dirs = new Set<string>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let cmdline: string;
    try { cmdline = fs.readFileSync(`/proc/${d}/cmdline`, "utf8"); } catch { continue; }
    for (const m of cmdline.matchAll(/(\/[^\0\s]*\/realnode\/[^/\0\s]+)\//g)) dirs.add(m[1]!);
  }
  dirs.delete(l.dir);
  return [...dirs].filter((dir) => fs.existsSync(dir)).map((dir) => ({ dir, cgroupRoot: `/moco-ts-${path.basename(dir)}`, nodeName: path.basename(dir) }));
}

/**
 * Host directories containerd's shims (socket directory) and libcni (result cache) create
 * outside the node's own, whatever their configuration; removed when empty.
 */
export const HOST_RUNTIME_DIRS = ["/run/containerd/s", "/run/containerd", "/var/lib/cni/results", "/var/lib/cni"];

function killAll(pids: number[]): void {
  for (const pid of pids) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
}

/**
 * Removes whatever a node left, from what is on disk (also after a crash of the process that
 * ran it): its processes, containers, Pod network namespaces, mounts, cgroups and namespace.
 */
export async function teardownNodeLeftovers(l: NodeLayout): Promise<void> {
  const podNetns = podNetnsFiles(l);
  const ids = taskIds(l);
  for (let i = 0; i < 20; i++) {
    const pids = [...nodeDaemonPids(l), ...cgroupPids(l)];
    if (pids.length === 0) break;
    killAll(pids);
    await sleep(250);
  }
  for (const f of podNetns) {
    if (mountsUnder(f).includes(f)) { try { run("umount", [f]); } catch { run("umount", ["-l", f]); } }
    fs.rmSync(f, { force: true });
  }
  for (const id of ids) for (const f of taskHostFiles(l, id)) fs.rmSync(f, { force: true });
  unmountUnder(l.dir);
  deleteNetns(netnsDir(l));
  removeCgroupRoot(l);
  fs.rmSync(paths(l).containerdSock, { force: true });
  fs.rmSync(`${paths(l).containerdSock}.ttrpc`, { force: true });
  for (const d of HOST_RUNTIME_DIRS) {
    try { fs.rmdirSync(d); } catch { /* absent, or in use by another node */ }
  }
}

export interface RealNode {
  readonly layout: NodeLayout;
  readonly controlPlane: ControlPlane;
  /** The network namespace file everything runs in. */
  readonly netns: string;
  /** Host kubeconfig (kube-apiserver through a forward on the host's loopback). */
  readonly kubeconfig: string;
  kubectl(args: string[], input?: string): Promise<string>;
  /** Seconds from start to the Node being Ready, and to every component being up. */
  readonly timings: { nodeReadySeconds: number; upSeconds: number };
  /** The node's processes (for RSS measurements). */
  processes(): ManagedProcess[];
  /** Deletes the Pods, stops everything and removes every trace from the host. */
  down(): Promise<void>;
}

/**
 * The images test/env/build-images.sh saves that Pods use (not the bases they are built on).
 * pause and busybox are needed by the node itself; the others are imported when built.
 */
const NODE_IMAGES = ["pause", "busybox", "slowlog", "exporter", "mysql", "moco-ts"];

function importImages(sock: string): string[] {
  const names: string[] = [];
  if (!fs.existsSync(imagesDir)) throw new Error(`${imagesDir} is missing: run test/env/build-images.sh`);
  for (const base of NODE_IMAGES) {
    const archive = path.join(imagesDir, `${base}.oci.tar`);
    const namesFile = path.join(imagesDir, `${base}.names`);
    if (!fs.existsSync(archive) || !fs.existsSync(namesFile)) {
      if (base === "pause" || base === "busybox") throw new Error(`${archive} is missing: run test/env/build-images.sh`);
      continue;
    }
    const wanted = fs.readFileSync(namesFile, "utf8").split("\n").filter(Boolean);
    const ctr = ["--address", sock, "-n", "k8s.io"];
    // The archive's index names the image by its first name (org.opencontainers.image.ref.name).
    const first = wanted[0]!;
    run("ctr", [...ctr, "images", "import", archive]);
    for (const n of wanted.slice(1)) run("ctr", [...ctr, "images", "tag", "--force", first, n]);
    names.push(...wanted);
  }
  return names;
}

export async function startRealNode(opts: { name?: string; images?: boolean } = {}): Promise<RealNode> {
  const started = Date.now();
  const l = nodeLayout(opts.name);
  const p = paths(l);
  reapStrayProcesses();
  await teardownNodeLeftovers(l);
  // A fresh cluster each time: no objects, Pods, volumes or logs of an earlier run (containerd's
  // root stays: the images in it are imported again quickly).
  for (const d of ["control-plane", "kubelet", "local-path", "pod-logs", "cni/ipam", "containerd/state", "logs"]) {
    fs.rmSync(path.join(l.dir, d), { recursive: true, force: true });
  }
  for (const d of [p.cniConfDir, p.cniDataDir, p.kubeletRoot, p.podLogs, p.sysctlDir, p.localPathDir, p.logs, path.dirname(p.containerdSock)]) {
    fs.mkdirSync(d, { recursive: true });
  }
  const log = (n: string) => path.join(p.logs, `${n}.log`);
  const procs: ManagedProcess[] = [];
  let cp: ControlPlane | undefined;

  // Network namespace: the bridge with the node's address, the Service range routed onto it,
  // forwarding on (only inside the namespace).
  const netns = createNetns(netnsDir(l));
  const ns = (cmd: string, args: string[]) => inNetns(netns, cmd, args);
  if (!ns("ip", ["-o", "link", "show"]).includes(`${BRIDGE}:`)) {
    ns("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    ns("ip", ["addr", "add", `${NODE_IP}/${POD_CIDR.split("/")[1]}`, "dev", BRIDGE]);
    ns("ip", ["link", "set", BRIDGE, "up"]);
    ns("ip", ["route", "add", SERVICE_CIDR, "dev", BRIDGE]);
  }
  ns("sh", ["-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);
  createCgroupRoot(l);

  const down = async () => {
    // kube-scheduler first: Pods that controllers recreate while the others are deleted stay
    // Pending instead of starting on the kubelet about to stop.
    await procs.find((x) => x.name === "kube-scheduler")?.stop(10_000);
    if (cp) {
      await cp.kubectl(["delete", "pods", "--all", "--all-namespaces", "--grace-period=2", "--timeout=90s", "--wait"]).catch(() => "");
    }
    for (const proc of [...procs].reverse()) await proc.stop(10_000);
    await cp?.stop();
    await teardownNodeLeftovers(l);
  };

  try {
    cp = await startControlPlane({
      dir: path.join(l.dir, "control-plane"), netns, bindAddress: NODE_IP, apiserverPort: APISERVER_PORT, volumeBinder: true, nodeLifecycle: true,
      audit: { users: [controllerUser()], maxSizeMb: AUDIT_LOG_MAX_MB },
      // The `kubernetes` Service gets its endpoint, so Pods reach the API server at its ClusterIP.
      apiserverFlags: ["--endpoint-reconciler-type=lease", "--enable-aggregator-routing=false"],
    });
    const controlPlane = cp;
    const pki = path.join(controlPlane.dir, "pki");
    const inner = innerKubeconfigFile(l);
    writeKubeconfig(inner, controlPlane.innerServer, controlPlane.ca.cert, controlPlane.adminCert);
    const kubeletClient = ensureCert(pki, `kubelet-${l.nodeName}`, controlPlane.ca, {
      cn: `system:node:${l.nodeName}`, org: "system:masters", usage: "client",
    });
    const kubeletServing = ensureCert(pki, `kubelet-serving-${l.nodeName}`, controlPlane.ca, {
      cn: l.nodeName, sans: [NODE_IP, l.nodeName], usage: "server",
    });
    const kubeletKubeconfig = path.join(l.dir, "kubelet.kubeconfig");
    writeKubeconfig(kubeletKubeconfig, controlPlane.innerServer, controlPlane.ca.cert, kubeletClient, `system:node:${l.nodeName}`);

    // containerd
    fs.writeFileSync(p.containerdConfig, containerdConfig(l));
    fs.writeFileSync(path.join(p.cniConfDir, "10-moco-ts-node.conflist"), cniConfig(l));
    const containerd = spawnManaged("containerd", "/usr/bin/containerd", ["--config", p.containerdConfig],
      { netns, logFile: log("containerd"), marker: p.containerdConfig });
    procs.push(containerd);
    await waitUntil("containerd", async () => {
      run("ctr", ["--address", p.containerdSock, "version"]);
      return true;
    }, { timeoutMs: 60_000, proc: containerd, intervalMs: 250 });
    if (opts.images ?? true) importImages(p.containerdSock);

    // kubelet, in a private mount namespace: its root dir is a shared mount (volume mounts reach
    // containerd), /proc is private there and the sysctls it would set read back its values.
    if (!mountsUnder(p.kubeletRoot).includes(p.kubeletRoot)) {
      run("mount", ["--bind", p.kubeletRoot, p.kubeletRoot]);
      run("mount", ["--make-shared", p.kubeletRoot]);
    }
    const binds: string[] = [];
    for (const [key, value] of Object.entries(KUBELET_SYSCTLS)) {
      const f = path.join(p.sysctlDir, key.replace(/\//g, "."));
      fs.writeFileSync(f, `${value}\n`);
      binds.push(`mount --bind '${f}' /proc/sys/${key}`);
    }
    fs.writeFileSync(p.resolvConf, "");
    fs.writeFileSync(p.kubeletConfig, kubeletConfig(l, { ca: controlPlane.ca.cert, ...kubeletServing }));
    const kubeletArgs = ["--config", p.kubeletConfig, "--kubeconfig", kubeletKubeconfig, "--root-dir", p.kubeletRoot,
      "--hostname-override", l.nodeName, "--node-ip", NODE_IP, "--v=1"];
    const kubelet = spawnManaged("kubelet", "unshare", ["--mount", "--propagation", "unchanged", "--", "sh", "-c",
      `set -e; mount --make-rprivate /proc; ${binds.join("; ")}; exec "$0" "$@"`, binary("kubelet"), ...kubeletArgs],
    { netns, logFile: log("kubelet"), marker: p.kubeletConfig });
    procs.push(kubelet);

    const scheduler = spawnManaged("kube-scheduler", binary("kube-scheduler"), ["--kubeconfig", inner,
      "--authentication-kubeconfig", inner, "--authorization-kubeconfig", inner,
      "--bind-address", "127.0.0.1", "--secure-port", "10259", "--leader-elect=false", "--v=1"],
    { netns, logFile: log("kube-scheduler"), marker: inner });
    procs.push(scheduler);
    fs.writeFileSync(p.kubeProxyConfig, kubeProxyConfig(l, inner));
    const proxy = spawnManaged("kube-proxy", binary("kube-proxy"), ["--config", p.kubeProxyConfig, "--v=1"],
      { netns, logFile: log("kube-proxy"), marker: p.kubeProxyConfig });
    procs.push(proxy);
    fs.writeFileSync(p.corefile, corefile(inner));
    const coredns = spawnManaged("coredns", binary("coredns"), ["-conf", p.corefile],
      { netns, logFile: log("coredns"), marker: p.corefile });
    procs.push(coredns);

    await waitUntil("node Ready", async () => {
      const node = JSON.parse(await controlPlane.kubectl(["get", "node", l.nodeName, "-o", "json"])) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    }, { timeoutMs: 120_000, proc: kubelet, intervalMs: 1000 });
    const nodeReadySeconds = (Date.now() - started) / 1000;

    await controlPlane.kubectl(["apply", "-f", "-"], localPathManifests(l));
    const provisioner = spawnManaged("local-path-provisioner", binary("local-path-provisioner"), ["--debug", "start",
      "--kubeconfig", inner, "--namespace", LOCAL_PATH_NAMESPACE, "--configmap-name", "local-path-config",
      "--service-account-name", "local-path-provisioner", "--helper-image", BUSYBOX_IMAGE,
      "--provisioner-name", "rancher.io/local-path"],
    { netns, logFile: log("local-path-provisioner"), marker: inner });
    procs.push(provisioner);
    await waitUntil("CoreDNS ready", async () => {
      ns("curl", ["-sf", "http://127.0.0.1:8181/ready"]);
      return true;
    }, { timeoutMs: 60_000, proc: coredns, intervalMs: 500 });

    return {
      layout: l, controlPlane, netns, kubeconfig: controlPlane.kubeconfig,
      kubectl: (args, input) => controlPlane.kubectl(args, input),
      timings: { nodeReadySeconds, upSeconds: (Date.now() - started) / 1000 },
      processes: () => [...procs],
      down,
    };
  } catch (e) {
    await down().catch(() => undefined);
    throw e;
  }
}
