// The campaign loop: faults picked at random (seeded) from the kinds asked for, one at a
// time; after each, wait for Healthy (or record that it did not come back), check every
// acknowledged insert on the current primary and attribute the dual-writable samples and the
// client write gap of that window to the fault.
import { lostIds, writeGap, type FaultResult } from "./checker.ts";
import { clusterStatus, errantReplicas, type Kube } from "./kube.ts";
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
  repair?: () => Promise<string>;
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

/** Waits until the cluster is Available and Healthy with a writable labelled primary; ms from `since`, or undefined. */
export async function waitHealthy(p: Parts, since: number, timeoutMs: number, settleMs: number): Promise<number | undefined> {
  const deadline = since + timeoutMs;
  let healthySince: number | undefined;
  while (Date.now() < deadline) {
    let ok = false;
    try {
      const s = await clusterStatus(p.kube, p.instances.namespace, p.instances.cluster);
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

export async function runCampaign(p: Parts, o: CampaignOptions, onResult: (r: FaultResult) => void): Promise<FaultResult[]> {
  const results: FaultResult[] = [];
  const lostSeen = new Set<number>();
  // `each`: every kind once, in a seeded random order (the short version in the test suite).
  const order = o.order ?? (o.each ? shuffle(p.ctx.rng, o.kinds) : undefined);
  const count = order ? order.length : o.faults;
  for (let i = 0; i < count && Date.now() < (o.deadline ?? Infinity); i++) {
    const kind = order ? order[i]! : p.ctx.rng.pick(o.kinds);
    const dualBefore = p.sampler.counter.total;
    const startedAt = Date.now();
    let note: string;
    try {
      note = await kind.inject(p.ctx);
    } catch (e) {
      note = `injection failed: ${errorMessage(e)}`;
    }
    const recoveredMs = await waitHealthy(p, startedAt, o.recoveryTimeoutMs, o.settleMs);
    const endAt = recoveredMs === undefined ? Date.now() : startedAt + recoveredMs;
    const gapMs = writeGap(p.writer.ackTimes, startedAt, endAt);
    const missing = await missingOnPrimary(p);
    if (recoveredMs === undefined) note = `${note}; ${await stateNote(p)}`;
    if (recoveredMs === undefined && o.repair) note = `${note}; repair: ${await o.repair().catch((e: unknown) => `failed: ${errorMessage(e)}`)}`;
    const fresh = (missing ?? []).filter((id) => !lostSeen.has(id));
    for (const id of fresh) lostSeen.add(id);
    const r: FaultResult = {
      kind: kind.name, startedAt, recoveredMs, gapMs, lost: fresh.length,
      dualWritable: p.sampler.counter.total - dualBefore,
      note: missing === undefined ? `${note}; acknowledged writes not checked (primary unreadable)` : fresh.length ? `${note}; lost ids ${fresh.slice(0, 10).join(",")}` : note,
    };
    results.push(r);
    onResult(r);
  }
  return results;
}
