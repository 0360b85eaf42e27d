// What the real node must leave as it found it on the host (docs/sandbox.md, "Real node"):
// a snapshot of the host taken before the node starts, and the list of what is left or
// changed after its down(). Other programs on the machine (other tests, other real nodes,
// other checkouts' process-based node) make their own mounts, links and routes meanwhile, so mounts are compared only
// where the node can make them, and the links and routes of the earlier process-based node
// (bridge mocots0, Pod veths mv<id>; other checkouts may still run it) are left out;
// iptables rules and sysctls are compared whole.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { KUBELET_SYSCTLS, paths, type NodeLayout } from "./config.ts";
import { cgroupHierarchies, cgroupPids, nodeDaemonPids, otherLiveNodes, podNetnsFiles, HOST_RUNTIME_DIRS } from "./node.ts";

export interface HostSnapshot {
  iptables: string[];
  links: string[];
  routes: string[];
  mounts: string[];
  netns: string[];
  sysctls: Record<string, string>;
  /** Which of HOST_RUNTIME_DIRS exist. */
  runtimeDirs: string[];
}

const SYSCTLS = [...Object.keys(KUBELET_SYSCTLS), "net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet"];

function lines(cmd: string, args: string[]): string[] {
  return execFileSync(cmd, args, { encoding: "utf8" }).split("\n").filter(Boolean);
}

/** iptables-save without comments and packet counters. */
function rules(cmd: string): string[] {
  return lines(cmd, []).filter((l) => !l.startsWith("#")).map((l) => l.replace(/ \[\d+:\d+\]$/, ""));
}

export function hostSnapshot(): HostSnapshot {
  // The earlier process-based node's bridge and its Pods' host-side veths (mv<id>).
  const sandboxLink = (name: string) => name === "mocots0" || /^mv[0-9a-f]+$/.test(name);
  return {
    iptables: [...rules("iptables-save"), ...rules("ip6tables-save")],
    links: lines("ip", ["-o", "link", "show"]).map((l) => l.split(":")[1]!.trim().split("@")[0]!)
      .filter((n) => !sandboxLink(n)).map((n) => `link ${n}`),
    routes: [...lines("ip", ["route", "show", "table", "all"]), ...lines("ip", ["-6", "route", "show", "table", "all"])]
      .filter((r) => !(/ dev (\S+)/.exec(r) && sandboxLink(/ dev (\S+)/.exec(r)![1]!))),
    mounts: fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean).map((l) => {
      const f = l.split(" ");
      const sep = f.indexOf("-");
      return `${f[4]} ${f[sep + 1]} ${f[sep + 2]} ${f[sep + 3] ?? ""}`;
    }),
    netns: fs.existsSync("/run/netns") ? fs.readdirSync("/run/netns") : [],
    sysctls: Object.fromEntries(SYSCTLS.map((k) => [k, fs.readFileSync(`/proc/sys/${k}`, "utf8").trim()])),
    runtimeDirs: HOST_RUNTIME_DIRS.filter((d) => fs.existsSync(d)),
  };
}

/** Mounts only the node can make: under its directory, Pod namespaces, containerd's, /proc/sys. */
function nodeMount(l: NodeLayout, m: string): boolean {
  return m.includes(l.dir) || m.startsWith("/run/netns/cni-") || m.startsWith("/run/containerd") ||
    m.startsWith("/var/lib/kubelet") || m.startsWith("/proc/sys/");
}

/** Everything the node left on the host, compared with `before`; empty when it left nothing. */
export function nodeLeftovers(l: NodeLayout, before: HostSnapshot): string[] {
  const now = hostSnapshot();
  const added = (a: string[], b: string[]) => { const s = new Set(b); return a.filter((x) => !s.has(x)); };
  const out: string[] = [];
  // Other real nodes (other names) may run meanwhile: their Pods' namespaces and the shared
  // runtime directories are theirs, not leftovers of this one.
  const others = otherLiveNodes(l);
  const theirs = new Set(others.flatMap((o) => podNetnsFiles(o)));
  for (const pid of [...nodeDaemonPids(l), ...cgroupPids(l)]) {
    let cmd = "";
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim(); } catch { continue; }
    out.push(`process ${pid} ${cmd}`);
  }
  for (const h of cgroupHierarchies()) {
    if (fs.existsSync(path.join(h, l.cgroupRoot))) out.push(`cgroup ${path.join(h, l.cgroupRoot)}`);
  }
  out.push(...added(now.mounts, before.mounts).filter((m) => nodeMount(l, m) && !theirs.has(m.split(" ")[0]!)).map((m) => `mount ${m}`));
  out.push(...added(now.netns, before.netns).filter((n) => n.startsWith("cni-") && !theirs.has(`/run/netns/${n}`)).map((n) => `netns /run/netns/${n}`));
  if (fs.existsSync(path.join(l.dir, "ns", "net"))) out.push(`netns ${path.join(l.dir, "ns", "net")}`);
  out.push(...added(now.links, before.links), ...added(before.links, now.links).map((x) => `gone ${x}`));
  out.push(...added(now.routes, before.routes).map((r) => `route ${r}`), ...added(before.routes, now.routes).map((r) => `route gone ${r}`));
  out.push(...added(now.iptables, before.iptables).map((r) => `iptables ${r}`),
    ...added(before.iptables, now.iptables).map((r) => `iptables gone ${r}`));
  for (const [k, v] of Object.entries(before.sysctls)) {
    if (now.sysctls[k] !== v) out.push(`sysctl ${k}: ${v} -> ${now.sysctls[k]}`);
  }
  if (fs.existsSync(paths(l).containerdSock)) out.push(`socket ${paths(l).containerdSock}`);
  if (others.length === 0) out.push(...added(now.runtimeDirs, before.runtimeDirs).map((d) => `directory ${d}`));
  return out;
}
