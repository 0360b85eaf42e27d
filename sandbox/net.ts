// Pod networking of the sandbox node: one Linux bridge on the host and one network
// namespace per Pod, joined by a veth pair. Every Pod gets its own address in
// 10.213.0.0/16 (the bridge is 10.213.0.1), its own loopback, and sees the others
// and the host (kube-apiserver listens on the bridge address). Nothing leaves the
// machine: the range is only routed on the bridge, with no NAT and no forwarding to
// other interfaces. Fault injection drops traffic of a Pod with iptables rules in its
// own namespace.
import { execFileSync } from "node:child_process";
import fs from "node:fs";

export const BRIDGE = "mocots0";
export const BRIDGE_IP = "10.213.0.1";
export const POD_CIDR_PREFIX = 16;
const NETNS_PREFIX = "mocots-";

function run(cmd: string, args: string[], opts: { ignoreError?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    if (opts.ignoreError) return "";
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr?.trim() || err.message}`);
  }
}

/** Creates the bridge (idempotent). */
export function ensureBridge(): void {
  const exists = run("ip", ["-o", "link", "show", BRIDGE], { ignoreError: true }).trim() !== "";
  if (!exists) {
    run("ip", ["link", "add", BRIDGE, "type", "bridge"]);
  }
  const addrs = run("ip", ["-o", "-4", "addr", "show", "dev", BRIDGE]);
  if (!addrs.includes(`${BRIDGE_IP}/`)) {
    run("ip", ["addr", "add", `${BRIDGE_IP}/${POD_CIDR_PREFIX}`, "dev", BRIDGE]);
  }
  run("ip", ["link", "set", BRIDGE, "up"]);
}

/** Removes every Pod namespace, the bridge and the fault chain. */
export function teardownNetwork(): void {
  for (const ns of listPodNetns()) deletePodNetwork(ns);
  run("ip", ["link", "del", BRIDGE], { ignoreError: true });
}

export function listPodNetns(): string[] {
  if (!fs.existsSync("/run/netns")) return [];
  return fs.readdirSync("/run/netns").filter((n) => n.startsWith(NETNS_PREFIX));
}

export function netnsPath(netns: string): string {
  return `/run/netns/${netns}`;
}

/**
 * Allocates Pod addresses 10.213.<block>.2 … 10.213.<block>.254 for blocks in
 * [firstBlock, lastBlock], skipping ones in use. Separate block ranges let the
 * sandbox and test nodes share the bridge without colliding.
 */
export class AddressAllocator {
  private readonly used = new Set<string>();
  private next = 0;
  private readonly firstBlock: number;
  private readonly size: number;

  constructor(firstBlock = 1, lastBlock = 100) {
    this.firstBlock = firstBlock;
    this.size = (lastBlock - firstBlock + 1) * 253;
  }

  allocate(): string {
    for (let i = 0; i < this.size; i++) {
      const n = (this.next + i) % this.size;
      const ip = `10.213.${this.firstBlock + Math.floor(n / 253)}.${2 + (n % 253)}`;
      if (!this.used.has(ip)) {
        this.used.add(ip);
        this.next = n + 1;
        return ip;
      }
    }
    throw new Error("pod address range exhausted");
  }

  release(ip: string): void {
    this.used.delete(ip);
  }
}

/** Short, interface-name-safe id for a Pod UID. */
export function shortId(uid: string): string {
  return uid.replace(/-/g, "").slice(0, 10);
}

/** Creates the Pod's network namespace with eth0=ip/16 and lo up; returns the netns name. */
export function createPodNetwork(uid: string, ip: string): string {
  const id = shortId(uid);
  const netns = `${NETNS_PREFIX}${id}`;
  const hostVeth = `mv${id}`;
  deletePodNetwork(netns);
  run("ip", ["netns", "add", netns]);
  run("ip", ["link", "add", hostVeth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
  run("ip", ["link", "set", hostVeth, "master", BRIDGE, "up"]);
  run("ip", ["-n", netns, "addr", "add", `${ip}/${POD_CIDR_PREFIX}`, "dev", "eth0"]);
  run("ip", ["-n", netns, "link", "set", "eth0", "up"]);
  run("ip", ["-n", netns, "link", "set", "lo", "up"]);
  run("ip", ["-n", netns, "route", "add", "default", "via", BRIDGE_IP]);
  return netns;
}

export function deletePodNetwork(netns: string): void {
  const id = netns.slice(NETNS_PREFIX.length);
  run("ip", ["link", "del", `mv${id}`], { ignoreError: true });
  run("ip", ["netns", "del", netns], { ignoreError: true });
}

/**
 * Drops traffic between a Pod and an address, in both directions, with iptables
 * rules inside the Pod's own network namespace (fault injection). Bridged traffic
 * is not seen by the host's iptables without br_netfilter, so the rules live where
 * the packets are sure to pass.
 */
export function dropTraffic(netns: string, peerIp: string): void {
  run("ip", ["netns", "exec", netns, "iptables", "-A", "INPUT", "-s", peerIp, "-j", "DROP"]);
  run("ip", ["netns", "exec", netns, "iptables", "-A", "OUTPUT", "-d", peerIp, "-j", "DROP"]);
}

/** Removes every fault rule of a Pod. */
export function healTraffic(netns: string): void {
  run("ip", ["netns", "exec", netns, "iptables", "-F", "INPUT"], { ignoreError: true });
  run("ip", ["netns", "exec", netns, "iptables", "-F", "OUTPUT"], { ignoreError: true });
}
