// Lease-based leader election (client-go's leaderelection, simplified): acquire the Lease
// `<id>` in the controller namespace when it is free or its holder has not renewed it for
// leaseDuration (measured on our clock from when we last saw it change, so clock skew
// between replicas does not matter), renew every retryPeriod, and give up leadership
// when a renewal has not succeeded for renewDeadline. Released on stop so that another
// replica takes over at once. Local helper: src/k8s has no elector yet.
import type { Logger } from "pino";
import type { KubeClient } from "../k8s/client.ts";
import { errorMessage, isAlreadyExists, isConflict, isNotFound } from "../k8s/errors.ts";
import { resources } from "../k8s/resource.ts";
import type { KubeObject } from "../k8s/types.ts";

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number | null;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number | null;
  };
}

export interface LeaderElectorOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly logger: Logger;
}

function microTime(d: Date): string {
  return d.toISOString().replace("Z", "000Z");
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(() => { signal.removeEventListener("abort", on); resolve(); }, ms);
    const on = () => { clearTimeout(t); resolve(); };
    signal.addEventListener("abort", on, { once: true });
  });
}

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #retryMs: number;
  #observed: { record: string; at: number } | undefined;
  #leading = false;

  constructor(o: LeaderElectorOptions) {
    this.#o = o;
    this.#leaseMs = o.leaseDurationMs ?? 15_000;
    this.#renewMs = o.renewDeadlineMs ?? Math.min(10_000, Math.floor(this.#leaseMs * 2 / 3));
    this.#retryMs = o.retryPeriodMs ?? Math.min(2_000, Math.floor(this.#leaseMs / 7.5));
  }

  get leading(): boolean { return this.#leading; }

  /** One acquire-or-renew attempt; true when we hold the lease afterwards. */
  async tryAcquireOrRenew(now = new Date()): Promise<boolean> {
    const { client, namespace, name, identity } = this.#o;
    const durationSec = Math.max(1, Math.ceil(this.#leaseMs / 1000));
    let lease: Lease | undefined;
    try {
      lease = await client.get<Lease>(resources.leases, name, namespace);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (lease === undefined) {
      try {
        await client.create<Lease>(resources.leases, {
          apiVersion: "coordination.k8s.io/v1", kind: "Lease",
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: durationSec, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        });
        this.#observed = undefined;
        return true;
      } catch (e) {
        if (isAlreadyExists(e)) return false;
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.acquireTime]);
    if (this.#observed?.record !== record) this.#observed = { record, at: now.getTime() };
    const holder = spec.holderIdentity ?? "";
    const expired = this.#observed.at + (spec.leaseDurationSeconds ?? durationSec) * 1000 < now.getTime();
    if (holder !== "" && holder !== identity && !expired) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    const next: Lease = {
      ...lease,
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: durationSec,
        acquireTime: holder === identity ? (spec.acquireTime ?? microTime(now)) : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: transitions,
      },
    };
    try {
      const saved = await client.update<Lease>(resources.leases, next);
      const s = saved.spec ?? {};
      this.#observed = { record: JSON.stringify([s.holderIdentity, s.renewTime, s.acquireTime]), at: now.getTime() };
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  /**
   * Campaigns until elected (or the signal aborts), calls `onStarted(leadingSignal)`, renews
   * until renewal fails for renewDeadline or the signal aborts, then aborts leadingSignal
   * and resolves (true when leadership was lost, false when stopped). Releases the lease
   * when stopped while leading and `release` is set.
   */
  async run(signal: AbortSignal, onStarted: (leading: AbortSignal) => void, release = true): Promise<boolean> {
    const log = this.#o.logger;
    while (!signal.aborted) {
      let ok = false;
      try { ok = await this.tryAcquireOrRenew(); } catch (e) { log.warn({ err: errorMessage(e) }, "leader election: acquire failed"); }
      if (ok) break;
      await sleep(this.#retryMs, signal);
    }
    if (signal.aborted) return false;
    log.info({ lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.#o.identity }, "became the leader");
    this.#leading = true;
    const leading = new AbortController();
    onStarted(leading.signal);
    let lastRenew = Date.now();
    let lost = false;
    while (!signal.aborted) {
      await sleep(this.#retryMs, signal);
      if (signal.aborted) break;
      let ok = false;
      try { ok = await this.tryAcquireOrRenew(); } catch (e) { log.warn({ err: errorMessage(e) }, "leader election: renew failed"); }
      if (ok) { lastRenew = Date.now(); continue; }
      if (Date.now() - lastRenew > this.#renewMs) { lost = true; break; }
    }
    this.#leading = false;
    leading.abort();
    if (lost) log.error({}, "leader election lost");
    else if (release) await this.release();
    return lost;
  }

  /** Gives the lease up (holder cleared, 1 s duration) if we hold it. */
  async release(): Promise<void> {
    const { client, namespace, name, identity } = this.#o;
    try {
      const lease = await client.get<Lease>(resources.leases, name, namespace);
      if (lease.spec?.holderIdentity !== identity) return;
      const now = microTime(new Date());
      await client.update<Lease>(resources.leases, { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now, acquireTime: now } });
    } catch (e) {
      this.#o.logger.warn({ err: errorMessage(e) }, "leader election: release failed");
    }
  }
}
