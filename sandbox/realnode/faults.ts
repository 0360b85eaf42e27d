// Faults on the real node (sandbox/realnode/node.ts), for the fault campaign (chaos/) and the
// end-to-end tests. Everything is found from what is on the node's disk and in /proc, so it
// works from any process on the host (also while the API server is down):
// - a container's main process: containerd's task of that container (the OCI spec's CRI
//   annotations name the Pod, namespace and container; init.pid is its main process);
// - a Pod's network namespace: the one of its sandbox task (kept across container restarts; a
//   Pod deleted and made again has a new one, so a partition is re-applied by `enforce`);
// - kubelet and kube-apiserver: the node's processes by command line.
// Network faults are iptables rules in a chain of their own inside the Pod's network namespace
// (never the host's): a partition cuts the Pod from every other Pod and Service; the node's own
// address (kubelet probes, CoreDNS, the API server, an observer running in the node's network
// namespace) stays reachable unless the fault names it, except mysqld's ports for a partition of
// an instance (a client on the node is cut like any other).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { APISERVER_PORT, NODE_IP, POD_CIDR, SERVICE_CIDR, paths, type NodeLayout } from "./config.ts";
import { nodeDaemonPids } from "./node.ts";
import { setTimeout as sleep } from "node:timers/promises";

/** What the faults need of a node: its layout (a started RealNode, or nodeLayout(name) of a running one). */
export interface FaultNode { readonly layout: NodeLayout }

const CHAIN_IN = "MOCO-TS-FAULT-IN";
const CHAIN_OUT = "MOCO-TS-FAULT-OUT";

interface TaskSpec {
  annotations?: Record<string, string>;
  linux?: { namespaces?: { type: string; path?: string }[] };
}

export interface Task {
  readonly id: string;
  /** "sandbox" or "container". */
  readonly type: string;
  readonly namespace: string;
  readonly pod: string;
  /** The container's name (empty for a sandbox). */
  readonly container: string;
  /** Main process, when it runs. */
  readonly pid: number | undefined;
  /** The network namespace file of a sandbox. */
  readonly netnsPath: string | undefined;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** The containerd tasks of the node (running containers and Pod sandboxes). */
export function nodeTasks(node: FaultNode): Task[] {
  const dir = path.join(paths(node.layout).containerdState, "io.containerd.runtime.v2.task", "k8s.io");
  let ids: string[];
  try { ids = fs.readdirSync(dir); } catch { return []; }
  const out: Task[] = [];
  for (const id of ids) {
    let spec: TaskSpec;
    try { spec = JSON.parse(fs.readFileSync(path.join(dir, id, "config.json"), "utf8")) as TaskSpec; } catch { continue; }
    const a = spec.annotations ?? {};
    let pid: number | undefined;
    try {
      const n = Number(fs.readFileSync(path.join(dir, id, "init.pid"), "utf8").trim());
      if (n > 0 && alive(n)) pid = n;
    } catch { /* not started, or gone */ }
    const netns = spec.linux?.namespaces?.find((n) => n.type === "network")?.path;
    out.push({
      id, pid,
      type: a["io.kubernetes.cri.container-type"] ?? "",
      namespace: a["io.kubernetes.cri.sandbox-namespace"] ?? "",
      pod: a["io.kubernetes.cri.sandbox-name"] ?? "",
      container: a["io.kubernetes.cri.container-name"] ?? "",
      netnsPath: netns && netns.length > 0 ? netns : undefined,
    });
  }
  return out;
}

/** The main process of a running container; throws when the container does not run. */
export function containerPid(node: FaultNode, namespace: string, pod: string, container: string): number {
  const t = nodeTasks(node).find((x) => x.type === "container" && x.namespace === namespace && x.pod === pod && x.container === container && x.pid);
  if (!t?.pid) throw new Error(`container ${namespace}/${pod}/${container} does not run on node ${node.layout.nodeName}`);
  return t.pid;
}

/**
 * Sends `signal` to the main process of a container of a Pod on the node (SIGKILL: kill -9 of
 * mysqld, of the agent, of the controller). The kubelet then restarts the container as its
 * restart policy says. Returns the pid signalled.
 */
export function killContainerProcess(node: FaultNode, namespace: string, pod: string, container: string, signal: NodeJS.Signals = "SIGKILL"): number {
  const pid = containerPid(node, namespace, pod, container);
  process.kill(pid, signal);
  return pid;
}

/**
 * kill -9 of a container's main process, repeated whenever the kubelet starts the container
 * again (a crash loop: it stays down although the kubelet restarts it at once after the first
 * crash), for `hold` ms or until `hold()` returns true. New tasks are found on the node every
 * 100 ms from containerd's task directory, so a restarted mysqld is killed before it serves.
 * Returns the first pid killed; `held` resolves when the hold ends, with how many restarts
 * were killed.
 */
export function killAndHold(node: FaultNode, namespace: string, pod: string, container: string, hold: number | (() => boolean)): { pid: number; held: Promise<number> } {
  const pid = killContainerProcess(node, namespace, pod, container);
  const until = typeof hold === "number" ? Date.now() + hold : Infinity;
  const done = typeof hold === "number" ? () => Date.now() >= until : hold;
  const killed = new Set([pid]);
  const held = (async () => {
    let restarts = 0;
    while (!done()) {
      for (const t of nodeTasks(node)) {
        if (t.type !== "container" || t.namespace !== namespace || t.pod !== pod || t.container !== container || !t.pid || killed.has(t.pid)) continue;
        try { process.kill(t.pid, "SIGKILL"); restarts++; } catch { /* exited meanwhile */ }
        killed.add(t.pid);
      }
      await sleep(100);
    }
    return restarts;
  })();
  return { pid, held };
}

/** The network namespace of a Pod's current sandbox (a file under /run/netns, or /proc/PID/ns/net). */
export function podNetns(node: FaultNode, namespace: string, pod: string): string {
  const sandboxes = nodeTasks(node).filter((x) => x.type === "sandbox" && x.namespace === namespace && x.pod === pod && x.pid);
  if (sandboxes.length !== 1) throw new Error(`Pod ${namespace}/${pod} has ${sandboxes.length} running sandboxes on node ${node.layout.nodeName}`);
  const s = sandboxes[0]!;
  if (s.netnsPath && fs.existsSync(s.netnsPath)) return s.netnsPath;
  return `/proc/${s.pid}/ns/net`;
}

function iptables(netns: string, args: string[]): string {
  try {
    return execFileSync("nsenter", [`--net=${netns}`, "--", "iptables", "-w", "5", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`iptables ${args.join(" ")} in ${netns}: ${err.stderr?.trim() || err.message}`);
  }
}

/** Which traffic of a Pod a network fault drops. */
export interface NetworkCut {
  /** Drop packets arriving at the Pod from these addresses/CIDRs. */
  readonly inFrom: readonly string[];
  /** Drop packets the Pod sends to these addresses/CIDRs. */
  readonly outTo: readonly string[];
  /** Never dropped (after the ports below): the node's address unless the cut names it. */
  readonly keep: readonly string[];
  /** The Pod's TCP ports closed to everyone (the node included) inbound / outbound (replies). */
  readonly portsIn?: readonly number[];
  readonly portsOut?: readonly number[];
}

/** mysqld's ports (client, X, admin): a partitioned instance is cut from every client, also one on the node. */
export const MYSQL_PORTS: readonly number[] = [3306, 33060, 33062];

/**
 * Every other Pod and Service, both ways, and mysqld's ports for everyone; the node's other
 * traffic (kubelet probes of the agent, DNS) still flows, so the kubelet does not restart it.
 */
export const FULL_PARTITION: NetworkCut = { inFrom: [POD_CIDR, SERVICE_CIDR], outTo: [POD_CIDR, SERVICE_CIDR], keep: [NODE_IP], portsIn: MYSQL_PORTS, portsOut: MYSQL_PORTS };
/** The Pod receives nothing from other Pods (nor on mysqld's ports), but its packets still leave. */
export const INBOUND_PARTITION: NetworkCut = { inFrom: [POD_CIDR, SERVICE_CIDR], outTo: [], keep: [NODE_IP], portsIn: MYSQL_PORTS };
/** The Pod's packets to other Pods (and mysqld's replies to anyone) are lost, but it still receives theirs. */
export const OUTBOUND_PARTITION: NetworkCut = { inFrom: [], outTo: [POD_CIDR, SERVICE_CIDR], keep: [NODE_IP], portsOut: MYSQL_PORTS };
/**
 * A Pod (the controller) cut from the API server: the `kubernetes` Service's ClusterIP and the
 * API server's address and port on the node, both ways.
 */
export function apiserverCut(kubernetesServiceIP: string): NetworkCut {
  return { inFrom: [`${NODE_IP}:${APISERVER_PORT}`], outTo: [kubernetesServiceIP, `${NODE_IP}:${APISERVER_PORT}`], keep: [] };
}
/** A Pod (the controller) cut from the given Pods' addresses, both ways. */
export function podsCut(ips: readonly string[]): NetworkCut {
  return { inFrom: ips, outTo: ips, keep: [NODE_IP] };
}

function ruleArgs(dir: "in" | "out", target: string, action: string): string[] {
  const [addr, port] = target.split(":");
  const args = dir === "in" ? ["-s", addr!] : ["-d", addr!];
  if (port) args.push("-p", "tcp", dir === "in" ? "--sport" : "--dport", port);
  return [...args, "-j", action];
}

/** Installs `cut` in a network namespace, replacing an earlier cut there. */
export function applyCut(netns: string, cut: NetworkCut): void {
  healNetns(netns);
  iptables(netns, ["-N", CHAIN_IN]);
  iptables(netns, ["-N", CHAIN_OUT]);
  for (const port of cut.portsIn ?? []) iptables(netns, ["-A", CHAIN_IN, "-p", "tcp", "--dport", String(port), "-j", "DROP"]);
  for (const port of cut.portsOut ?? []) iptables(netns, ["-A", CHAIN_OUT, "-p", "tcp", "--sport", String(port), "-j", "DROP"]);
  for (const k of cut.keep) {
    iptables(netns, ["-A", CHAIN_IN, ...ruleArgs("in", k, "RETURN")]);
    iptables(netns, ["-A", CHAIN_OUT, ...ruleArgs("out", k, "RETURN")]);
  }
  for (const a of cut.inFrom) iptables(netns, ["-A", CHAIN_IN, ...ruleArgs("in", a, "DROP")]);
  for (const a of cut.outTo) iptables(netns, ["-A", CHAIN_OUT, ...ruleArgs("out", a, "DROP")]);
  iptables(netns, ["-I", "INPUT", "1", "!", "-i", "lo", "-j", CHAIN_IN]);
  iptables(netns, ["-I", "OUTPUT", "1", "!", "-o", "lo", "-j", CHAIN_OUT]);
}

/** Removes a cut from a network namespace (a no-op when there is none, or the namespace is gone). */
export function healNetns(netns: string): void {
  if (!fs.existsSync(netns)) return;
  let rules: string;
  try { rules = iptables(netns, ["-S"]); } catch { return; }
  for (const [chain, hook] of [[CHAIN_IN, "INPUT"], [CHAIN_OUT, "OUTPUT"]] as const) {
    if (!rules.includes(`-N ${chain}`)) continue;
    const jump = hook === "INPUT" ? ["!", "-i", "lo"] : ["!", "-o", "lo"];
    while (iptables(netns, ["-S", hook]).includes(`-j ${chain}`)) iptables(netns, ["-D", hook, ...jump, "-j", chain]);
    iptables(netns, ["-F", chain]);
    iptables(netns, ["-X", chain]);
  }
}

/** Whether a cut is installed in a network namespace. */
export function hasCut(netns: string): boolean {
  if (!fs.existsSync(netns)) return false;
  try { return iptables(netns, ["-S"]).includes(`-N ${CHAIN_IN}`); } catch { return false; }
}

/**
 * A network fault on one Pod. `enforce()` installs the cut in the Pod's current sandbox (again
 * after the Pod was made anew: a new sandbox, a new namespace) and is cheap when it is in place;
 * call it periodically while the fault lasts. `heal()` removes it from every namespace it went to.
 */
export class PodPartition {
  private readonly applied = new Set<string>();
  private readonly node: FaultNode;
  readonly namespace: string;
  readonly pod: string;
  private readonly cut: NetworkCut;
  constructor(node: FaultNode, namespace: string, pod: string, cut: NetworkCut) {
    this.node = node;
    this.namespace = namespace;
    this.pod = pod;
    this.cut = cut;
  }

  /** Returns false when the Pod has no running sandbox now. */
  enforce(): boolean {
    let ns: string;
    try { ns = podNetns(this.node, this.namespace, this.pod); } catch { return false; }
    if (this.applied.has(ns) && hasCut(ns)) return true;
    applyCut(ns, this.cut);
    this.applied.add(ns);
    return true;
  }

  heal(): void {
    for (const ns of this.applied) healNetns(ns);
    this.applied.clear();
  }
}

/** Partitions a Pod now and keeps the cut in place (every `everyMs`) until `heal()`. */
export function partitionPod(node: FaultNode, namespace: string, pod: string, cut: NetworkCut = FULL_PARTITION, everyMs = 500): { heal(): void } {
  const p = new PodPartition(node, namespace, pod, cut);
  if (!p.enforce()) throw new Error(`Pod ${namespace}/${pod} has no running sandbox on node ${node.layout.nodeName}`);
  const timer = setInterval(() => { try { p.enforce(); } catch { /* the sandbox changes under us: next tick */ } }, everyMs);
  return { heal: () => { clearInterval(timer); p.heal(); } };
}

/** Pids of the node's processes whose command line runs `binary` (kubelet, kube-apiserver). */
export function daemonPids(node: FaultNode, binary: string): number[] {
  return nodeDaemonPids(node.layout).filter((pid) => {
    try {
      const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
      return path.basename(argv0) === binary;
    } catch { return false; }
  });
}

function signalDaemon(node: FaultNode, binary: string, signal: NodeJS.Signals): void {
  const pids = daemonPids(node, binary);
  if (pids.length === 0) throw new Error(`no ${binary} process of node ${node.layout.nodeName}`);
  for (const pid of pids) process.kill(pid, signal);
}

/** Whether a process is stopped (state T). */
export function processStopped(pid: number): boolean {
  try { return /^\d+ \(.*\) T/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; }
}

/**
 * Stops the kubelet (SIGSTOP: no heartbeats, probes or restarts; the node goes NotReady after
 * the grace period) and starts it again (SIGCONT) where it was.
 */
export function stopKubelet(node: FaultNode): void { signalDaemon(node, "kubelet", "SIGSTOP"); }
export function startKubelet(node: FaultNode): void { signalDaemon(node, "kubelet", "SIGCONT"); }

/**
 * Stops kube-apiserver from another process than the one that started the node (SIGSTOP:
 * requests hang, watches stall) and starts it again (SIGCONT). In the process that started
 * the node, RealNode.controlPlane.stopApiserver()/startApiserver() stop it for real.
 */
export function stopApiserver(node: FaultNode): void { signalDaemon(node, "kube-apiserver", "SIGSTOP"); }
export function startApiserver(node: FaultNode): void { signalDaemon(node, "kube-apiserver", "SIGCONT"); }
