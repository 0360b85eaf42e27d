// Leader election on a coordination.k8s.io/v1 Lease, with client-go's algorithm:
//  - a candidate takes the Lease when it is absent, has no holder, or its record has not
//    changed for leaseDuration as observed on the candidate's own clock (no clock-skew trust);
//  - the leader renews every retryPeriod; if it cannot renew within renewDeadline it stops
//    leading (onStoppedLeading) — it must then stop acting as leader;
//  - updates carry the resourceVersion, so two candidates never both win a round;
//  - the leader's work (onStartedLeading) runs under a signal. On stop() the signal aborts
//    and the leader keeps renewing until the work has ended, and only then releases the
//    Lease (empty holder, 1 s duration) so a successor takes over at once: a successor can
//    never start while this leader's work still runs.
//  - when a renewal misses its deadline the signal aborts at once (the work must end before
//    the Lease can expire for another candidate: leaseDuration − renewDeadline later); work
//    still running after workStopTimeoutMs is reported to onWorkNotStopped, whose caller
//    ends the process (moco-controller does).
// Defaults are client-go's: lease 15 s, renew deadline 10 s, retry period 2 s; with a shorter
// lease duration the other two default to 2/3 and 2/15 of it (tests shorten the lease).
import type { Logger } from "pino";
import type { KubeClient } from "./client.ts";
import { realClock, type Clock } from "./clock.ts";
import { errorMessage } from "../util/errors.ts";
import { isAlreadyExists, isConflict, isNotFound } from "./errors.ts";
import { defaultLogger } from "./log.ts";
import { resourcePath, resources } from "./resource.ts";
import type { KubeObject } from "./types.ts";

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectorOptions {
  namespace: string;
  /** Lease name (moco-controller: --leader-election-id, default "moco"). */
  name: string;
  /** This candidate's identity (e.g. the Pod name plus a random suffix). */
  identity: string;
  /** Default 15 s. */
  leaseDurationMs?: number;
  /** Default min(10 s, 2/3 of leaseDuration). */
  renewDeadlineMs?: number;
  /** Default min(2 s, leaseDuration / 7.5). */
  retryPeriodMs?: number;
  /** Release the Lease on stop() while leading (default true). */
  releaseOnStop?: boolean;
  /** Called once leadership is acquired; the signal aborts when it is lost or stop() is called. stop() awaits a returned promise before releasing. */
  onStartedLeading?: (signal: AbortSignal) => void | Promise<void>;
  /** Called when leadership ends (lost, or stop()): when the work's signal aborts. */
  onStoppedLeading?: () => void;
  /** After a loss, the time the work gets to end (default leaseDuration − renewDeadline). */
  workStopTimeoutMs?: number;
  /** Called when the work has not ended workStopTimeoutMs after leadership was lost. */
  onWorkNotStopped?: () => void;
  /** Called whenever the observed holder changes (including to this identity). */
  onNewLeader?: (identity: string) => void;
  clock?: Clock;
  logger?: Logger;
}

/** RFC 3339 with microseconds, as metav1.MicroTime serializes. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

const jitterFactor = 1.2;

export class LeaderElector {
  readonly identity: string;
  readonly #client: KubeClient;
  readonly #o: Required<Pick<LeaderElectorOptions, "namespace" | "name" | "leaseDurationMs" | "renewDeadlineMs" | "retryPeriodMs" | "releaseOnStop">>;
  readonly #opts: LeaderElectorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #observed: LeaseSpec | undefined;
  #observedTime = 0;
  #leader: string | undefined;
  #leading = false;
  #leadAbort: AbortController | undefined;
  #leadWork: Promise<void> | undefined;
  #run: Promise<void> | undefined;

  constructor(client: KubeClient, opts: LeaderElectorOptions) {
    this.#client = client;
    this.#opts = opts;
    this.identity = opts.identity;
    const leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.#o = {
      namespace: opts.namespace, name: opts.name, leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs ?? Math.min(10_000, Math.floor(leaseDurationMs * 2 / 3)),
      retryPeriodMs: opts.retryPeriodMs ?? Math.min(2_000, Math.floor(leaseDurationMs / 7.5)),
      releaseOnStop: opts.releaseOnStop ?? true,
    };
    if (!opts.identity) throw new Error("leader election: identity is required");
    if (this.#o.leaseDurationMs <= this.#o.renewDeadlineMs) throw new Error("leader election: leaseDuration must be greater than renewDeadline");
    if (this.#o.renewDeadlineMs <= jitterFactor * this.#o.retryPeriodMs) throw new Error("leader election: renewDeadline must be greater than retryPeriod × 1.2");
    this.#clock = opts.clock ?? realClock;
    this.#log = (opts.logger ?? defaultLogger).child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
  }

  isLeader(): boolean { return this.#leading; }

  /** The timings in use (defaults filled in). */
  get timings(): { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number } {
    const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = this.#o;
    return { leaseDurationMs, renewDeadlineMs, retryPeriodMs };
  }

  /** The holder last observed (possibly this identity), if any. */
  getLeader(): string | undefined { return this.#leader; }

  /** Starts campaigning in the background; run() returns the same promise. */
  start(): Promise<void> {
    this.#run ??= this.#campaign();
    return this.#run;
  }

  /** Campaigns, leads until leadership is lost or stop() is called, then resolves. */
  run(): Promise<void> { return this.start(); }

  /** Stops campaigning or leading; when leading, ends the leader's work and releases the Lease. */
  async stop(): Promise<void> {
    this.#stop.abort(new Error("leader elector stopped"));
    await this.#run;
  }

  async #campaign(): Promise<void> {
    const signal = this.#stop.signal;
    // Acquire.
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew()) break;
      await this.#clock.sleep(this.#o.retryPeriodMs * (1 + Math.random() * (jitterFactor - 1)), signal).catch(() => undefined);
    }
    if (signal.aborted) return;
    this.#leading = true;
    this.#leadAbort = new AbortController();
    this.#log.info("started leading");
    const leadAbort = this.#leadAbort;
    let workEnded = false;
    // Wakes the renew loop's sleep once stop() was asked for and the work has ended.
    const drained = new AbortController();
    const endWork = (lost: boolean): void => {
      if (leadAbort.signal.aborted) return;
      this.#leading = false;
      leadAbort.abort(new Error(lost ? "leadership lost" : "leader elector stopped"));
      this.#log.info({ lost }, "stopped leading");
      try { this.#opts.onStoppedLeading?.(); } catch (e) { this.#log.error({ err: errorMessage(e) }, "onStoppedLeading failed"); }
    };
    this.#leadWork = (async () => {
      try { await this.#opts.onStartedLeading?.(leadAbort.signal); } catch (e) { this.#log.error({ err: errorMessage(e) }, "onStartedLeading failed"); }
    })().finally(() => {
      workEnded = true;
      if (signal.aborted) drained.abort();
    });
    const onStop = (): void => {
      endWork(false);
      if (workEnded) drained.abort();
    };
    signal.addEventListener("abort", onStop, { once: true });
    if (signal.aborted) onStop();
    // Renew until a renewal round misses the deadline, or until stop() was asked for and
    // the work has ended: the Lease stays held while the work drains.
    let lost = false;
    while (!drained.signal.aborted) {
      await this.#clock.sleep(this.#o.retryPeriodMs, drained.signal).catch(() => undefined);
      if (drained.signal.aborted) break;
      const deadline = this.#clock.now() + this.#o.renewDeadlineMs;
      let renewed = false;
      while (!drained.signal.aborted && this.#clock.now() < deadline) {
        if (await this.#tryAcquireOrRenew(deadline - this.#clock.now())) { renewed = true; break; }
        if (this.#leader !== this.identity && this.#leader !== undefined && this.#leader !== "") break;
        await this.#clock.sleep(Math.min(this.#o.retryPeriodMs, Math.max(0, deadline - this.#clock.now())), drained.signal).catch(() => undefined);
      }
      if (drained.signal.aborted) break;
      if (!renewed) { lost = true; break; }
    }
    signal.removeEventListener("abort", onStop);
    if (lost) {
      endWork(true);
      const bound = this.#opts.workStopTimeoutMs ?? this.#o.leaseDurationMs - this.#o.renewDeadlineMs;
      const timer = this.#clock.setTimer(() => {
        if (workEnded) return;
        this.#log.error({ workStopTimeoutMs: bound }, "leadership lost and the leader's work has not ended");
        try { this.#opts.onWorkNotStopped?.(); } catch (e) { this.#log.error({ err: errorMessage(e) }, "onWorkNotStopped failed"); }
      }, bound);
      await this.#leadWork;
      timer.cancel();
      return;
    }
    await this.#leadWork;
    if (this.#o.releaseOnStop) await this.#release();
  }

  #path(name?: string): string {
    return resourcePath(resources.leases, { namespace: this.#o.namespace, name });
  }

  #observe(lease: Lease): void {
    const spec = lease.spec ?? {};
    const prev = this.#observed;
    if (!prev || prev.holderIdentity !== spec.holderIdentity || prev.renewTime !== spec.renewTime
      || prev.acquireTime !== spec.acquireTime || prev.leaseTransitions !== spec.leaseTransitions
      || prev.leaseDurationSeconds !== spec.leaseDurationSeconds) {
      this.#observed = { ...spec };
      this.#observedTime = this.#clock.now();
    }
    const holder = spec.holderIdentity ?? "";
    if (holder !== (this.#leader ?? "")) {
      this.#leader = holder;
      if (holder) {
        try { this.#opts.onNewLeader?.(holder); } catch (e) { this.#log.error({ err: errorMessage(e) }, "onNewLeader failed"); }
      }
    }
  }

  async #tryAcquireOrRenew(timeoutMs = this.#o.renewDeadlineMs): Promise<boolean> {
    const now = this.#clock.now();
    const signal = AbortSignal.timeout(Math.max(1, timeoutMs));
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    try {
      let lease: Lease;
      try {
        lease = await this.#client.request<Lease>("GET", this.#path(this.#o.name), { signal });
      } catch (e) {
        if (!isNotFound(e)) throw e;
        const created = await this.#client.request<Lease>("POST", this.#path(), {
          signal,
          body: {
            apiVersion: "coordination.k8s.io/v1", kind: "Lease",
            metadata: { name: this.#o.name, namespace: this.#o.namespace },
            spec: { holderIdentity: this.identity, leaseDurationSeconds: durationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
          },
        });
        this.#observe(created);
        return true;
      }
      this.#observe(lease);
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? "";
      const heldByOther = holder !== "" && holder !== this.identity;
      if (heldByOther && this.#observedTime + (spec.leaseDurationSeconds ?? durationSeconds) * 1000 > now) return false;
      const mine = holder === this.identity;
      const next: Lease = {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: this.identity,
          leaseDurationSeconds: durationSeconds,
          renewTime: microTime(now),
          acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
          leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
        },
      };
      const updated = await this.#client.request<Lease>("PUT", this.#path(this.#o.name), { signal, body: next });
      this.#observe(updated);
      return true;
    } catch (e) {
      if (isConflict(e) || isAlreadyExists(e)) this.#log.debug({ err: errorMessage(e) }, "lost a lease update race");
      else this.#log.warn({ err: errorMessage(e) }, "could not acquire or renew the lease");
      return false;
    }
  }

  async #release(): Promise<void> {
    try {
      const lease = await this.#client.request<Lease>("GET", this.#path(this.#o.name), { signal: AbortSignal.timeout(this.#o.renewDeadlineMs) });
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = this.#clock.now();
      await this.#client.request<Lease>("PUT", this.#path(this.#o.name), {
        signal: AbortSignal.timeout(this.#o.renewDeadlineMs),
        body: { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(now), acquireTime: microTime(now) } },
      });
      this.#log.info("released the lease");
    } catch (e) {
      this.#log.warn({ err: errorMessage(e) }, "could not release the lease");
    }
  }
}
