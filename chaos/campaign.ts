// The campaign loop: faults picked at random (seeded) from the kinds asked for, one at a
// time; after each, wait for Healthy (or record that it did not come back), check every
// acknowledged insert on the current primary and attribute the dual-writable samples and the
// client write gap of that window to the fault.
import { lostIds, writeGap, type FaultResult } from "./checker.ts";
import { clusterStatus, errantReplicas, reinitialiseErrantInstances, type Kube } from "./kube.ts";
import type { FaultContext, FaultKind } from "./faults.ts";
import type { Instances } from "./instances.ts";
import type { Rng } from "./rng.ts";
import type { Sampler } from "./sampler.ts";
import type { ChaosWriter } from "./writer.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../src/util/errors.ts";


export interface CampaignOptions {
  faults: number;
  kinds: readonly FaultKind[];
  /** Longest wait for Healthy after a fault. */
  recoveryTimeoutMs: number;
  /**
   * Healthy (every Pod Ready, one writable instance, the labelled primary) must hold this long:
   * the status may still be the one from before the fault (longer than the check interval).
   */
  settleMs: number;
  each?: boolean;
  /**
   * After a fault that did not come back to Healthy: brings the cluster back (e.g. errant
   * replicas re-initialised) so the next fault starts from Healthy; returns a note, recorded
   * with the fault (which still counts as not recovered).
   */
  repair?: (p: Parts) => Promise<string>;
  /** These faults in this order (instead of `each` or `faults` random picks). */
  order?: readonly FaultKind[];
  /** No new fault after this time (ms since the epoch). */
  deadline?: number;
}

export function shuffle<T>(rng: Rng, xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export interface Parts {
  ctx: FaultContext;
  kube: Kube;
  instances: Instances;
  sampler: Sampler;
  writer: ChaosWriter;
}

/**
 * An errant former primary comes back by itself: the controller clones it over the
 * transactions only it has (docs/clustering.md "Errant former primary"; a clone on the real
 * node takes ~10–60 s, mysqld's restart included). Any other errant instance never does (as in
 * MOCO): reported this long, the wait for Healthy gives up (and the campaign re-initialises it).
 */
export const ERRANT_GIVE_UP_MS = 240_000;

/** Waits until the cluster is Available and Healthy with a writable labelled primary; ms from `since`, or undefined. */
export async function waitHealthy(p: Parts, since: number, timeoutMs: number, settleMs: number, errantGiveUpMs = ERRANT_GIVE_UP_MS): Promise<number | undefined> {
  const deadline = since + timeoutMs;
  let healthySince: number | undefined;
  let errantSince: number | undefined;
  while (Date.now() < deadline) {
    let ok = false;
    try {
      const s = await clusterStatus(p.kube, p.instances.namespace, p.instances.cluster);
      errantSince = s.errantReplicas > 0 ? (errantSince ?? Date.now()) : undefined;
      if (errantSince !== undefined && Date.now() - errantSince >= errantGiveUpMs) return undefined;
      const primary = p.instances.labelledPrimary();
      const podsOk = p.instances.pods.length > 0 && p.instances.pods.every((x) => x.ready && !x.deleting);
      // A switchover still asked for (the primary keeps the demote annotation) is a fault not
      // over yet: its status may be the one from before the request.
      ok = podsOk && s.available && s.healthy && primary !== undefined && !primary.demoting &&
        p.sampler.writable.length === 1 && p.sampler.writable[0] === primary.name;
    } catch { ok = false; }
    if (ok) {
      healthySince ??= Date.now();
      if (Date.now() - healthySince >= settleMs) return healthySince - since;
    } else healthySince = undefined;
    await sleep(500);
  }
  return undefined;
}

/**
 * Re-initialises the instances the cluster reports errant (PVC and Pod deleted: the new Pod is
 * cloned from the primary) and waits for Healthy; a note for the report.
 */
export async function reinitialiseErrant(p: Parts, timeoutMs: number, settleMs: number): Promise<string> {
  const { namespace, cluster } = p.instances;
  const errant = await reinitialiseErrantInstances(p.kube, namespace, cluster);
  // The status names the old instance errant until a pass sees the new one: no give-up here.
  const back = await waitHealthy(p, Date.now(), timeoutMs, settleMs, Infinity);
  return `errant [${errant.join(",")}] re-initialised (PVC and Pod deleted); ${back === undefined ? "still not Healthy" : `Healthy ${(back / 1000).toFixed(0)} s later`}`;
}

/** Acknowledged ids missing on the labelled primary (undefined: it could not be read). */
export async function missingOnPrimary(p: Parts): Promise<number[] | undefined> {
  const primary = p.instances.labelledPrimary();
  if (!primary?.ip) return undefined;
  try {
    const acked = p.writer.acked.slice();
    return lostIds(acked, await p.writer.presentOn(primary.ip));
  } catch { return undefined; }
}

/** Why the cluster is not Healthy, as its status says (for a fault that did not recover). */
async function stateNote(p: Parts): Promise<string> {
  try {
    const { namespace, cluster } = p.instances;
    const s = await clusterStatus(p.kube, namespace, cluster);
    const errant = await errantReplicas(p.kube, namespace, cluster);
    return `status: Healthy ${s.healthy} (${s.reason || "no reason"}), primary ${s.currentPrimaryIndex ?? "?"}, errant replicas [${errant.join(",")}], ` +
      `writable ${JSON.stringify(p.sampler.writable)}`;
  } catch (e) { return `status unreadable: ${errorMessage(e)}`; }
}

/**
 * Shared and exclusive turns of the campaign loops (one loop per cluster): a fault of one
 * cluster takes a shared turn (faults of different clusters run at once), a fault of the node
 * or the controller (every cluster feels it) an exclusive one; a waiting exclusive turn goes
 * before new shared ones, so it is not starved.
 */
export class Turns {
  private sharing = 0;
  private alone_ = false;
  private exclusiveWaiting = 0;
  private waiters: (() => void)[] = [];

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves at the next release; the caller checks its condition again and takes its turn in the same tick. */
  private released(): Promise<void> {
    return new Promise<void>((r) => this.waiters.push(r));
  }

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.alone_ || this.exclusiveWaiting > 0) await this.released();
    this.sharing++;
    try { return await fn(); } finally { this.sharing--; this.wake(); }
  }

  async alone<T>(fn: () => Promise<T>): Promise<T> {
    this.exclusiveWaiting++;
    try {
      while (this.alone_ || this.sharing > 0) await this.released();
    } finally { this.exclusiveWaiting--; }
    this.alone_ = true;
    try { return await fn(); } finally { this.alone_ = false; this.wake(); }
  }
}

/** One cluster's outcome of a fault window. */
interface Outcome { recoveredMs: number | undefined; gapMs: number; missing: number[] | undefined; dual: number; dualSeen: string[]; state?: string }

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 22);

async function outcome(p: Parts, startedAt: number, dualBefore: number, o: CampaignOptions): Promise<Outcome> {
  const recoveredMs = await waitHealthy(p, startedAt, o.recoveryTimeoutMs, o.settleMs);
  const endAt = recoveredMs === undefined ? Date.now() : startedAt + recoveredMs;
  const gapMs = writeGap(p.writer.ackTimes, startedAt, endAt);
  const missing = await missingOnPrimary(p);
  const state = recoveredMs === undefined ? await stateNote(p) : undefined;
  const dualSeen = p.sampler.counter.recent.filter((x) => x.at >= startedAt).slice(0, 3).map((x) => `${clock(x.at)} [${x.pods.join(",")}]`);
  return { recoveredMs, gapMs, missing, dual: p.sampler.counter.total - dualBefore, dualSeen, state };
}

/**
 * Runs the faults against one cluster, or against several at once (`--clusters`): one loop per
 * cluster picks its faults from its own seeded generator; faults of one cluster overlap with
 * those of others, faults of the node or the controller (`scope: "node"`) run alone and end
 * when every cluster is Healthy again, and count once (their lost writes, dual-writable
 * samples and write gaps over all clusters). `faults` is the total over all loops.
 */
export async function runCampaign(parts: Parts | readonly Parts[], o: CampaignOptions, onResult: (r: FaultResult) => void): Promise<FaultResult[]> {
  const all: readonly Parts[] = Array.isArray(parts) ? parts : [parts as Parts];
  const several = all.length > 1;
  const results: FaultResult[] = [];
  const lostSeen = all.map(() => new Set<number>());
  const turns = new Turns();
  // `each`: every kind once, in a seeded random order (the short version in the test suite).
  const order = o.order ?? (o.each ? shuffle(all[0]!.ctx.rng, o.kinds) : undefined);
  const count = order ? order.length : o.faults;
  let next = 0;
  const ticket = (): number | undefined => (next < count && Date.now() < (o.deadline ?? Infinity) ? next++ : undefined);

  async function one(i: number, kind: FaultKind): Promise<FaultResult> {
    const p = all[i]!;
    const affected = kind.scope === "node" ? all.map((_, j) => j) : [i];
    const dualBefore = all.map((x) => x.sampler.counter.total);
    const startedAt = Date.now();
    let note: string;
    try {
      note = await kind.inject(p.ctx);
    } catch (e) {
      note = `injection failed: ${errorMessage(e)}`;
    }
    const outs = await Promise.all(affected.map((j) => outcome(all[j]!, startedAt, dualBefore[j]!, o)));
    let lost = 0;
    const notes: string[] = [several ? `[${p.instances.cluster}] ${note}` : note];
    for (const [k, j] of affected.entries()) {
      const out = outs[k]!;
      const name = several ? `${all[j]!.instances.cluster}: ` : "";
      if (out.state) notes.push(`${name}${out.state}`);
      if (out.dual > 0) notes.push(`${name}dual-writable ${out.dual} from ${out.dualSeen.join(" ")}`);
      if (out.state && o.repair) notes.push(`${name}repair: ${await o.repair(all[j]!).catch((e: unknown) => `failed: ${errorMessage(e)}`)}`);
      if (out.missing === undefined) { notes.push(`${name}acknowledged writes not checked (primary unreadable)`); continue; }
      const fresh = out.missing.filter((id) => !lostSeen[j]!.has(id));
      for (const id of fresh) lostSeen[j]!.add(id);
      lost += fresh.length;
      if (fresh.length) notes.push(`${name}lost ids ${fresh.slice(0, 10).join(",")}`);
    }
    return {
      kind: kind.name, startedAt,
      recoveredMs: outs.some((x) => x.recoveredMs === undefined) ? undefined : Math.max(...outs.map((x) => x.recoveredMs!)),
      gapMs: Math.max(...outs.map((x) => x.gapMs)), lost, dualWritable: outs.reduce((a, x) => a + x.dual, 0), note: notes.join("; "),
    };
  }

  async function loop(i: number): Promise<void> {
    const rng = all[i]!.ctx.rng;
    for (let t = ticket(); t !== undefined; t = ticket()) {
      const kind = order ? order[t]! : rng.pick(o.kinds);
      const r = await (kind.scope === "node" ? turns.alone(() => one(i, kind)) : turns.shared(() => one(i, kind)));
      results.push(r);
      onResult(r);
    }
  }
  await Promise.all(all.map((_, i) => loop(i)));
  return results;
}
