// The campaign's fault kinds. Each `inject` starts the fault and returns when it is over
// (healed, or the thing killed); the campaign then waits for Healthy. Faults act through
// sandbox/realnode/faults.ts (containerd tasks, iptables in Pod namespaces, SIGSTOP of node
// daemons) and the API (Pod deletion, the demote annotation).
import mysql from "mysql2/promise";
import {
  FULL_PARTITION, INBOUND_PARTITION, OUTBOUND_PARTITION, apiserverCut, killAndHold, killContainerProcess, partitionPod, podsCut,
  startApiserver, startKubelet, stopApiserver, stopKubelet, type FaultNode, type NetworkCut,
} from "../sandbox/realnode/faults.ts";
import { CONTROLLER_NS, controllerLeader, requestSwitchover, type Kube, type PodInfo } from "./kube.ts";
import type { Instances } from "./instances.ts";
import type { Rng } from "./rng.ts";
import { DATABASE } from "./writer.ts";
import { setTimeout as sleep } from "node:timers/promises";

export interface FaultContext {
  node: FaultNode;
  kube: Kube;
  instances: Instances;
  rng: Rng;
  /** The admin user (moco-admin) for SQL faults on an instance. */
  admin: { user: string; password: string };
  /** An application's user (moco-writable: not a system user, so a switchover may kill its sessions). */
  client: { user: string; password: string };
  /** Divides the durations (the short campaign in the test suite uses shorter faults). */
  short: boolean;
  log(msg: string): void;
  /** The instances the sampler saw writable last (the "until failover" kinds wait on it). */
  writable?: () => readonly string[];
}

export interface FaultKind {
  readonly name: string;
  /**
   * "node": the fault hits the node, the API server or the controller, so every cluster of a
   * run with several (`--clusters`); it runs alone. Default: one cluster's instances.
   */
  readonly scope?: "node";
  /** Returns a note for the report (what exactly was done). */
  inject(ctx: FaultContext): Promise<string>;
}


function primary(ctx: FaultContext): PodInfo {
  const p = ctx.instances.labelledPrimary();
  if (!p) throw new Error("no labelled primary");
  return p;
}

function replica(ctx: FaultContext): PodInfo {
  const rs = ctx.instances.pods.filter((p) => p.role === "replica" && p.ip);
  if (rs.length === 0) throw new Error("no labelled replica");
  return ctx.rng.pick(rs);
}

function seconds(ctx: FaultContext, lo: number, hi: number): number {
  return ctx.short ? Math.min(lo, 10) : ctx.rng.int(lo, hi);
}

async function leader(ctx: FaultContext): Promise<string> {
  const l = await controllerLeader(ctx.kube);
  if (!l) throw new Error("no controller holds the Lease");
  return l;
}

async function holdPartition(ctx: FaultContext, pod: string, namespace: string, cut: NetworkCut, s: number): Promise<void> {
  const p = partitionPod(ctx.node, namespace, pod, cut);
  try { await sleep(s * 1000); } finally { p.heal(); }
}

async function kubernetesServiceIP(kube: Kube): Promise<string> {
  return (await kube.kubectl(["-n", "default", "get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"])).trim();
}

async function adminSql(ctx: FaultContext, pod: PodInfo, sql: string): Promise<void> {
  const c = await mysql.createConnection({ host: pod.ip, port: 33062, user: ctx.admin.user, password: ctx.admin.password, connectTimeout: 3000 });
  try { await c.query({ sql, timeout: 10_000 }); } finally { c.destroy(); }
}

/** Requests a switchover, then after 0–2 s does `action` to the leading controller Pod. */
async function duringSwitchover(ctx: FaultContext, action: (leaderPod: string) => Promise<string>): Promise<string> {
  const l = await leader(ctx);
  const p = primary(ctx);
  await requestSwitchover(ctx.kube, ctx.instances.namespace, p.name);
  const ms = ctx.rng.int(0, 2000);
  await sleep(ms);
  return `${p.name} demoted, ${l} ${await action(l)} after ${ms} ms`;
}

export const FAULT_KINDS: readonly FaultKind[] = [
  {
    name: "kill -9 mysqld (primary)",
    async inject(ctx) { const p = primary(ctx); killContainerProcess(ctx.node, ctx.instances.namespace, p.name, "mysqld"); return p.name; },
  },
  {
    name: "kill -9 mysqld (replica)",
    async inject(ctx) { const p = replica(ctx); killContainerProcess(ctx.node, ctx.instances.namespace, p.name, "mysqld"); return p.name; },
  },
  {
    name: "Pod deletion (primary)",
    async inject(ctx) { const p = primary(ctx); await ctx.kube.kubectl(["-n", ctx.instances.namespace, "delete", "pod", p.name, "--wait=false"]); return p.name; },
  },
  {
    name: "Pod deletion (replica)",
    async inject(ctx) { const p = replica(ctx); await ctx.kube.kubectl(["-n", ctx.instances.namespace, "delete", "pod", p.name, "--wait=false"]); return p.name; },
  },
  {
    name: "full partition of the primary",
    async inject(ctx) {
      const p = primary(ctx);
      const s = seconds(ctx, 10, 120);
      await holdPartition(ctx, p.name, ctx.instances.namespace, FULL_PARTITION, s);
      return `${p.name} ${s} s`;
    },
  },
  {
    name: "one-way partition of the primary",
    async inject(ctx) {
      const p = primary(ctx);
      const inbound = ctx.rng.next() < 0.5;
      const s = seconds(ctx, 10, 60);
      await holdPartition(ctx, p.name, ctx.instances.namespace, inbound ? INBOUND_PARTITION : OUTBOUND_PARTITION, s);
      return `${p.name} ${inbound ? "inbound" : "outbound"} ${s} s`;
    },
  },
  {
    name: "controller cut from the API server",
    scope: "node",
    async inject(ctx) {
      const l = await leader(ctx);
      const s = seconds(ctx, 20, 40);
      await holdPartition(ctx, l, CONTROLLER_NS, apiserverCut(await kubernetesServiceIP(ctx.kube)), s);
      return `${l} ${s} s`;
    },
  },
  {
    name: "controller cut from the MySQL Pods",
    scope: "node",
    async inject(ctx) {
      const l = await leader(ctx);
      const ips = ctx.instances.pods.map((p) => p.ip).filter((x): x is string => !!x);
      const s = seconds(ctx, 20, 40);
      // A failover during the cut is expected (kill -9 of the primary): the controller must not act blind.
      const p = primary(ctx);
      await holdPartition(ctx, l, CONTROLLER_NS, podsCut(ips), s);
      return `${l} ${s} s (primary ${p.name})`;
    },
  },
  {
    name: "kill -9 controller mid-switchover",
    scope: "node",
    inject: (ctx) => duringSwitchover(ctx, (l) => { killContainerProcess(ctx.node, CONTROLLER_NS, l, "moco-controller"); return Promise.resolve("killed"); }),
  },
  {
    name: "kill -9 controller mid-failover",
    scope: "node",
    async inject(ctx) {
      const l = await leader(ctx);
      const p = primary(ctx);
      const s = seconds(ctx, 10, 20);
      const cut = partitionPod(ctx.node, ctx.instances.namespace, p.name, FULL_PARTITION);
      try {
        const ms = ctx.rng.int(2000, 12_000);
        await sleep(ms);
        killContainerProcess(ctx.node, CONTROLLER_NS, l, "moco-controller");
        await sleep(Math.max(0, s * 1000 - ms));
        return `${p.name} partitioned ${s} s, ${l} killed after ${ms} ms`;
      } finally { cut.heal(); }
    },
  },
  {
    name: "leader hand-over mid-switchover",
    scope: "node",
    inject: (ctx) => duringSwitchover(ctx, async (l) => { await ctx.kube.kubectl(["-n", CONTROLLER_NS, "delete", "pod", l, "--wait=false"]); return "deleted (SIGTERM)"; }),
  },
  {
    name: "API server stopped 30 s",
    scope: "node",
    async inject(ctx) {
      const s = ctx.short ? 10 : 30;
      stopApiserver(ctx.node);
      try { await sleep(s * 1000); } finally { startApiserver(ctx.node); }
      return `${s} s`;
    },
  },
  {
    name: "kubelet stopped",
    scope: "node",
    async inject(ctx) {
      const s = seconds(ctx, 20, 60);
      stopKubelet(ctx.node);
      try { await sleep(s * 1000); } finally { startKubelet(ctx.node); }
      return `${s} s`;
    },
  },
  {
    name: "kill -9 agent",
    async inject(ctx) {
      const p = ctx.rng.next() < 0.5 ? primary(ctx) : replica(ctx);
      killContainerProcess(ctx.node, ctx.instances.namespace, p.name, "agent");
      return `${p.name} (${p.role ?? "?"})`;
    },
  },
  {
    name: "replica SQL thread stopped, switchover",
    async inject(ctx) {
      const r = replica(ctx);
      const p = primary(ctx);
      await adminSql(ctx, r, "STOP REPLICA SQL_THREAD");
      await requestSwitchover(ctx.kube, ctx.instances.namespace, p.name);
      await sleep(seconds(ctx, 10, 30) * 1000);
      // Left stopped, the instance can never catch up: start it again if the controller did not.
      await adminSql(ctx, r, "START REPLICA SQL_THREAD").catch(() => undefined);
      return `${r.name} SQL thread stopped, ${p.name} demoted`;
    },
  },
  {
    name: "client holds a lock during switchover",
    async inject(ctx) {
      // An application's session (moco-writable, the MySQL port): a switchover's
      // super_read_only waits behind its lock until the switchover kills client sessions.
      const p = primary(ctx);
      const c = await mysql.createConnection({ host: p.ip, port: 3306, user: ctx.client.user, password: ctx.client.password, connectTimeout: 3000 });
      c.on("error", () => undefined);
      try {
        await c.query(`LOCK TABLES ${DATABASE}.lockme WRITE`);
        await requestSwitchover(ctx.kube, ctx.instances.namespace, p.name);
        const s = seconds(ctx, 10, 30);
        await sleep(s * 1000);
        const released = await c.query("UNLOCK TABLES").then(() => true, () => false);
        return `${p.name} demoted while ${ctx.client.user} held LOCK TABLES WRITE (${s} s planned; ${released ? "the session outlived the switchover" : "the session was killed"})`;
      } finally { c.destroy(); }
    },
  },
];

/** Longest hold of an "until failover" fault (MOCO's timings: 1 min interval + the fetch retries). */
export const FAILOVER_HOLD_MAX_S = 300;

/**
 * Resolves when an instance other than `old` is writable (a failover, as the client sees it)
 * plus `afterMs`, or after `maxS`; with whether the failover was seen and how long it took.
 */
async function untilFailover(ctx: FaultContext, old: string, maxS: number, afterMs = 1000): Promise<{ seen: boolean; ms: number }> {
  if (!ctx.writable) throw new Error("this fault kind needs the sampler's writable instances (FaultContext.writable)");
  const t = Date.now();
  while (Date.now() - t < maxS * 1000) {
    if (ctx.writable().some((p) => p !== old)) {
      const ms = Date.now() - t;
      await sleep(afterMs);
      return { seen: true, ms };
    }
    await sleep(100);
  }
  return { seen: false, ms: Date.now() - t };
}

const heldNote = (h: { seen: boolean; ms: number }) => (h.seen ? `another instance writable after ${(h.ms / 1000).toFixed(1)} s` : `NO failover within ${FAILOVER_HOLD_MAX_S} s`);

/** A partition of the primary held until another instance is writable (a lost node: it never comes back by itself in time). */
async function partitionUntilFailover(ctx: FaultContext, cut: NetworkCut, what: string): Promise<string> {
  const p = primary(ctx);
  const part = partitionPod(ctx.node, ctx.instances.namespace, p.name, cut);
  let h: { seen: boolean; ms: number };
  try { h = await untilFailover(ctx, p.name, FAILOVER_HOLD_MAX_S); } finally { part.heal(); }
  return `${p.name} ${what}, healed when ${heldNote(h)}`;
}

/**
 * The kinds of the failover benchmark (bench/failover.ts, issue #14): each fault lasts until
 * the client can write again somewhere else (capped at FAILOVER_HOLD_MAX_S), so the write gap
 * measures detection and failover, not a random fault duration. Not picked by the campaign's
 * default random draw (its seeds keep their meaning); `--kinds` names them.
 */
export const FAILOVER_KINDS: readonly FaultKind[] = [
  {
    // Node loss as the cluster sees it: the primary's Pod cut from every Pod and Service, the
    // kubelet still reporting it Ready (its probes reach the agent), until the failover.
    name: "full partition of the primary until failover",
    inject: (ctx) => partitionUntilFailover(ctx, FULL_PARTITION, "fully partitioned"),
  },
  {
    // Nothing reaches the primary's mysqld (clients, replicas' IO threads, the controller); its
    // own outbound connections still work.
    name: "inbound partition of the primary until failover",
    inject: (ctx) => partitionUntilFailover(ctx, INBOUND_PARTITION, "cut inbound"),
  },
  {
    // mysqld crashed and stays down (a crash loop: every restart the kubelet makes is killed
    // before it serves); the Pod and its agent stay, so nothing but the controller's pass
    // notices. Released after the failover (the kubelet's restart back-off then applies).
    name: "kill -9 mysqld (primary) kept down until failover",
    async inject(ctx) {
      const p = primary(ctx);
      let h = { seen: false, ms: 0 };
      let done = false;
      const k = killAndHold(ctx.node, ctx.instances.namespace, p.name, "mysqld", () => done);
      try { h = await untilFailover(ctx, p.name, FAILOVER_HOLD_MAX_S); } finally { done = true; }
      const restarts = await k.held;
      return `${p.name} mysqld killed (${restarts} restarts killed), released when ${heldNote(h)}`;
    },
  },
  {
    // What `kubectl moco switchover` does (the demote annotation), under the writer's load;
    // returns when the labelled primary changed.
    name: "switchover under write load",
    async inject(ctx) {
      const p = primary(ctx);
      await requestSwitchover(ctx.kube, ctx.instances.namespace, p.name);
      const t = Date.now();
      while (Date.now() - t < FAILOVER_HOLD_MAX_S * 1000) {
        const now = ctx.instances.labelledPrimary();
        if (now && now.name !== p.name) return `${p.name} demoted, ${now.name} labelled primary after ${((Date.now() - t) / 1000).toFixed(1)} s`;
        await sleep(200);
      }
      return `${p.name} demoted, NO new labelled primary within ${FAILOVER_HOLD_MAX_S} s`;
    },
  },
];

/**
 * Kinds that check one recovery on purpose, outside the random draw and the failover
 * benchmark; `--kinds` names them.
 */
export const CHECK_KINDS: readonly FaultKind[] = [
  {
    // A commit in flight at a failover, made certain: the primary writes a transaction no
    // replica receives (their IO threads stopped; semi-sync off so the commit returns; clients
    // shut out first with offline_mode, so nothing the writer is told committed is lost), then
    // its mysqld is killed and kept down until the failover. It comes back errant with that one
    // transaction of its own: the controller must clone it over it (docs/clustering.md "Errant
    // former primary"), else the campaign reports it not recovered.
    name: "primary killed with an unreplicated commit (errant former primary)",
    async inject(ctx) {
      const p = primary(ctx);
      const replicas = ctx.instances.pods.filter((x) => x.name !== p.name && x.ip);
      await Promise.all(replicas.map((r) => adminSql(ctx, r, "STOP REPLICA IO_THREAD")));
      const id = Date.now() % 2_000_000_000;
      const c = await mysql.createConnection({ host: p.ip, port: 33062, user: ctx.admin.user, password: ctx.admin.password, connectTimeout: 3000 });
      let gtid = "";
      try {
        await c.query("SET GLOBAL offline_mode=ON");
        await c.query("SET GLOBAL rpl_semi_sync_source_enabled=OFF");
        await c.query(`INSERT INTO ${DATABASE}.lockme (id) VALUES (?)`, [id]);
        const [rows] = await c.query("SELECT @@gtid_executed AS g");
        gtid = String((rows as { g?: string }[])[0]?.g ?? "").replace(/\n/g, "");
      } finally { c.destroy(); }
      let h = { seen: false, ms: 0 };
      let done = false;
      const k = killAndHold(ctx.node, ctx.instances.namespace, p.name, "mysqld", () => done);
      try { h = await untilFailover(ctx, p.name, FAILOVER_HOLD_MAX_S); } finally { done = true; }
      const restarts = await k.held;
      return `${p.name} wrote lockme ${id} unreplicated (its gtid_executed ${gtid}), mysqld killed (${restarts} restarts killed), released when ${heldNote(h)}`;
    },
  },
];

export function faultKind(name: string): FaultKind {
  const all = [...FAULT_KINDS, ...FAILOVER_KINDS, ...CHECK_KINDS];
  const k = all.find((f) => f.name === name);
  if (!k) throw new Error(`unknown fault kind "${name}"; known: ${all.map((f) => f.name).join(", ")}`);
  return k;
}
