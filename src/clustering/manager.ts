// The per-cluster manager (docs/clustering.md#per-cluster-manager): one long-lived worker per MySQLCluster,
// woken by nudges (coalesced in a one-slot queue), a periodic tick, or its own redo,
// running one pass at a time: observe → assess → decide → write status → act.
import { randomBytes } from "node:crypto";

import { runOperation, writeStatusAndGuards } from "./act.ts";
import type { ActOptions } from "./act.ts";
import {
  DEFAULT_ROLE_CHANGE_WAIT_MS,
  assessObservation,
  clusterStatusUpdate,
  decideOperation,
  decideState,
} from "./decide.ts";
import { replicasOf } from "./cluster.ts";
import { DEFAULT_FETCH_RETRY_GAP_MS, envDurationMs, observeCluster } from "./observe.ts";
import type { ObserveOptions } from "./observe.ts";
import { clusterKeyString, silentLogger } from "./ports.ts";
import type { ClusterKey, ClusterPorts, ClusteringLogger, ClusteringMetrics } from "./ports.ts";
import { AbortedError } from "./sql.ts";
import { DEFAULT_PRIMARY_WATCH_INTERVAL_MS, PRIMARY_WATCH_FAILURES, PrimaryWatch } from "./watch.ts";
import type { PrimaryWatchOptions, WatchReport, WatchTarget } from "./watch.ts";
import type { ClusterState, Operation } from "./types.ts";
import { DEFAULT_CLONE_SETTLE_MS } from "./act.ts";
import { errorMessage } from "../util/errors.ts";
import { nameAndNamespace } from "../util/object.ts";

export const DEFAULT_CHECK_INTERVAL_MS = 60_000;
/** `--primary-watch-interval` default (the controller uses the engine through this module). */
export { DEFAULT_PRIMARY_WATCH_INTERVAL_MS };
/**
 * Deadline of one pass. A pass still running then is abandoned: its signal aborts, every
 * statement it runs is interrupted (and killed on the server), it is reported (Event
 * PassAbandoned, metric moco_cluster_abandoned_passes_total, error log), and the next pass
 * runs. A clone request is bounded by its own timeout instead (it may copy for long).
 */
export const DEFAULT_PASS_TIMEOUT_MS = 5 * 60_000;
/**
 * How long the worker remembers that every status try of a pass failed to reach an
 * instance: a pass starting within this time tries that instance once instead of
 * `fetchAttempts` times (docs/clustering.md "Timing").
 */
export const UNREACHABLE_MEMO_MS = 30_000;

export const METRIC = {
  checks: "moco_cluster_checks_total",
  errors: "moco_cluster_errors_total",
  processingTime: "moco_cluster_processing_time_seconds",
  available: "moco_cluster_available",
  healthy: "moco_cluster_healthy",
  replicas: "moco_cluster_replicas",
  readyReplicas: "moco_cluster_ready_replicas",
  errantReplicas: "moco_cluster_errant_replicas",
  switchover: "moco_cluster_switchover_total",
  failover: "moco_cluster_failover_total",
  abandonedPasses: "moco_cluster_abandoned_passes_total",
} as const;

export interface ManagerOptions {
  /** Periodic pass (`--check-interval`, default 1 min). */
  readonly checkIntervalMs?: number | undefined;
  /** Deadline of one pass (default DEFAULT_PASS_TIMEOUT_MS). */
  readonly passTimeoutMs?: number | undefined;
  /** Status fetch tries per instance (default 3). */
  readonly fetchAttempts?: number | undefined;
  /** Gap between tries (default 3 s; env MOCO_CHECK_INTERVAL). */
  readonly fetchRetryGapMs?: number | undefined;
  /** Role-change settle (default 300 ms; env MOCO_ROLE_WAIT_DURATION). */
  readonly roleChangeWaitMs?: number | undefined;
  /** Post-clone settle (default 3 s; env MOCO_CLONE_WAIT_DURATION). */
  readonly cloneSettleMs?: number | undefined;
  readonly connectTimeoutMs?: number | undefined;
  readonly readTimeoutMs?: number | undefined;
  /** Further act timings (tests shorten them). */
  readonly act?: Omit<ActOptions, "logger" | "metrics" | "signal" | "cloneSignal"> | undefined;
  readonly metrics?: ClusteringMetrics | undefined;
  readonly logger?: ClusteringLogger | undefined;
  /** Called after every pass (tests, tracing). */
  readonly onPass?: ((result: PassResult) => void) | undefined;
  /**
   * Liveness watch of each cluster's primary (`--primary-watch-interval`, default 500 ms;
   * 0 disables it): checks between passes, a pass nudged after PRIMARY_WATCH_FAILURES
   * failed checks in a row (watch.ts).
   */
  readonly primaryWatchIntervalMs?: number | undefined;
  /**
   * Clone an errant former primary over its unacknowledged transactions (default true;
   * `--reclone-errant-former-primary`, docs/clustering.md "Errant former primary").
   */
  readonly recloneErrantFormerPrimary?: boolean | undefined;
  /** Further watch settings (tests: onCheck, prober). */
  readonly primaryWatch?: Omit<PrimaryWatchOptions, "intervalMs"> | undefined;
  /** Environment for the MOCO_* overrides (default process.env). */
  readonly env?: NodeJS.ProcessEnv | undefined;
}

export interface PassResult {
  readonly key: ClusterKey;
  readonly opId: string;
  readonly origin: string;
  /** null when the cluster is gone or the pass failed before deciding. */
  readonly state: ClusterState | null;
  readonly operation: Operation | null;
  readonly redo: boolean;
  /** Ordinals every status try of this pass failed to reach (absent when the pass did not observe). */
  readonly unreachable?: readonly number[] | undefined;
  /** Ordinals this pass gave a short try or skipped because of the memo or the watch. */
  readonly hinted?: readonly number[] | undefined;
  /** The ordinal the liveness watch follows after this pass (null: none; absent: unchanged). */
  readonly watched?: number | null | undefined;
  /** Set when the pass failed. */
  readonly error?: string | undefined;
  readonly durationMs: number;
}

export interface PassContext {
  readonly opId: string;
  readonly origin: string;
  /** Aborts at the pass deadline or when the worker stops. */
  readonly signal?: AbortSignal | undefined;
  /** Aborts when the worker stops only: clone requests, which have their own bound. */
  readonly stopSignal?: AbortSignal | undefined;
  /** The report of the previous pass when it was abandoned (condition PassAbandoned). */
  readonly previousPassAbandoned?: string | undefined;
  /** Ordinals the previous pass could not reach at all (UNREACHABLE_MEMO_MS). */
  readonly recentlyUnreachable?: ReadonlySet<number> | undefined;
  /** Whether the liveness watch has reported `ordinal` silent since this pass started (observe's silentNow). */
  readonly watchSilentNow?: ((ordinal: number) => boolean) | undefined;
}

/** The memo of the last pass's unreachable ordinals (UNREACHABLE_MEMO_MS). */
export interface UnreachableMemo {
  readonly ordinals: ReadonlySet<number>;
  readonly until: number;
}

/**
 * The ordinals the next pass treats as recently unreachable (observe.ts fetchPlanFor):
 * those of an unexpired memo of the previous pass, and those the liveness watch saw fail
 * silently (no answer at all) since; undefined when none.
 */
export function recentlyUnreachableFor(memo: UnreachableMemo | null, now: number, watchSilent: ReadonlySet<number>): ReadonlySet<number> | undefined {
  const out = new Set<number>(watchSilent);
  if (memo !== null && memo.until > now) for (const i of memo.ordinals) out.add(i);
  return out.size === 0 ? undefined : out;
}

/** `op-` + 5 random lowercase alphanumerics. */
export function newOperationId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(5);
  let out = "op-";
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

/** Timings with the MOCO_* environment overrides applied. */
export function resolveTimings(options: ManagerOptions): {
  fetchRetryGapMs: number;
  roleChangeWaitMs: number;
  cloneSettleMs: number;
} {
  const env = options.env ?? process.env;
  return {
    fetchRetryGapMs: options.fetchRetryGapMs ?? envDurationMs("MOCO_CHECK_INTERVAL", DEFAULT_FETCH_RETRY_GAP_MS, env),
    roleChangeWaitMs: options.roleChangeWaitMs ?? envDurationMs("MOCO_ROLE_WAIT_DURATION", DEFAULT_ROLE_CHANGE_WAIT_MS, env),
    cloneSettleMs: options.cloneSettleMs ?? envDurationMs("MOCO_CLONE_WAIT_DURATION", DEFAULT_CLONE_SETTLE_MS, env),
  };
}

/**
 * One pass (docs/clustering.md#per-cluster-manager "A pass"): gather and decide, write status, maintain prevent-delete, run
 * the operation. Throws on error (after closing every connection it opened).
 */
export async function runClusterPass(
  ports: ClusterPorts,
  options: ManagerOptions,
  ctx: PassContext,
): Promise<Omit<PassResult, "durationMs" | "key" | "opId" | "origin"> & { readonly watchTarget?: WatchTarget | null }> {
  const log = (options.logger ?? silentLogger).child?.({ op: ctx.opId }) ?? options.logger ?? silentLogger;
  const timings = resolveTimings(options);
  const observeOptions: ObserveOptions = {
    fetchAttempts: options.fetchAttempts,
    fetchRetryGapMs: timings.fetchRetryGapMs,
    connectTimeoutMs: options.connectTimeoutMs,
    readTimeoutMs: options.readTimeoutMs,
    recentlyUnreachable: ctx.recentlyUnreachable,
    silentNow: ctx.watchSilentNow,
    signal: ctx.signal,
    logger: log,
  };
  const seen = await observeCluster(ports, observeOptions);
  if (seen === null) return { state: null, operation: null, redo: false, watchTarget: null };
  const { conns, unreachable } = seen;
  try {
    const observed = assessObservation(seen.observation);
    const decision = decideState(observed);
    const update = clusterStatusUpdate(observed, decision.state, ctx.previousPassAbandoned);
    await writeStatusAndGuards(ports, observed, update);
    setPassMetrics(options.metrics, ports.key, observed.cluster, update);
    if (ctx.signal?.aborted === true) throw new AbortedError("aborted");
    const operation = decideOperation(observed, decision, { roleChangeWaitMs: timings.roleChangeWaitMs, recloneErrantFormerPrimary: options.recloneErrantFormerPrimary !== false });
    log.info(
      {
        state: decision.state,
        operation: operation.kind,
        primary: observed.primaryIndex,
        errant: observed.errantReplicas,
        hungUp: observed.hungUpReplicas,
      },
      `cluster state is ${decision.state}`,
    );
    const { redo } = await runOperation(
      { ports, observed, conns, passwords: seen.passwords, tls: seen.tls, options: { ...options.act, cloneSettleMs: options.act?.cloneSettleMs ?? timings.cloneSettleMs, logger: log, metrics: options.metrics, signal: ctx.signal, cloneSignal: ctx.stopSignal ?? ctx.signal } },
      operation,
    );
    return { state: decision.state, operation, redo, unreachable, watchTarget: watchTargetOf(seen, observed.primaryIndex, operation) };
  } finally {
    await conns.closeAll();
  }
}

/**
 * What the liveness watch follows after a pass: the primary this pass reached, unless its
 * operation changes the primary (the next pass names the new one); null when none.
 */
function watchTargetOf(seen: { readonly observation: { readonly instances: readonly unknown[] }; readonly conns: { targetOf(i: number): WatchTarget["sql"] } }, primaryIndex: number, operation: Operation): WatchTarget | null {
  if (operation.kind === "switchover" || operation.kind === "failover") return null;
  if (primaryIndex < 0 || seen.observation.instances[primaryIndex] == null) return null;
  try {
    return { ordinal: primaryIndex, sql: seen.conns.targetOf(primaryIndex) };
  } catch {
    return null;
  }
}

function setPassMetrics(
  metrics: ClusteringMetrics | undefined,
  key: ClusterKey,
  cluster: Parameters<typeof replicasOf>[0],
  update: ReturnType<typeof clusterStatusUpdate>,
): void {
  if (metrics === undefined) return;
  const labels = nameAndNamespace(key);
  const cond = (type: string) => update.conditions.find((c) => c.type === type)?.status === "True";
  metrics.setGauge(METRIC.available, labels, cond("Available") ? 1 : 0);
  metrics.setGauge(METRIC.healthy, labels, cond("Healthy") ? 1 : 0);
  metrics.setGauge(METRIC.replicas, labels, replicasOf(cluster));
  metrics.setGauge(METRIC.readyReplicas, labels, update.syncedReplicas);
  metrics.setGauge(METRIC.errantReplicas, labels, update.errantReplicas);
}

/** One cluster's worker loop (docs/clustering.md#per-cluster-manager). */
export class ClusterWorker {
  readonly key: ClusterKey;
  private readonly ports: ClusterPorts;
  private readonly options: ManagerOptions;
  private readonly abort = new AbortController();
  private readonly watch: PrimaryWatch | undefined;
  /** Ordinals the liveness watch saw fail silently since the last pass started. */
  private readonly watchSilent = new Set<number>();
  private pending: string | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private passesRun = 0;
  /** The report of the last pass when it was abandoned at its deadline. */
  private abandonedReport: string | undefined;
  /** Ordinals the last pass could not reach, and until when that is remembered. */
  private unreachableMemo: UnreachableMemo | null = null;

  /** `watch`: the manager's shared liveness watch (none: passes run on nudges and the interval only). */
  constructor(ports: ClusterPorts, options: ManagerOptions = {}, watch?: PrimaryWatch) {
    this.key = ports.key;
    this.ports = ports;
    this.options = options;
    this.watch = watch;
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  get passes(): number {
    return this.passesRun;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Ask for a pass now. A nudge while one is pending is dropped. */
  nudge(origin: string): void {
    if (this.stopped || this.pending !== null) return;
    this.pending = origin;
    this.wake?.();
  }

  /** Cancel the loop and wait for the current pass to end. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.watch?.remove(clusterKeyString(this.key));
    this.wake?.();
    await this.loop;
  }

  /** The watch's report: the primary failed its checks in a row; a pass now. */
  private onWatchReport(log: ClusteringLogger, ordinal: number, report: WatchReport): void {
    if (this.stopped) return;
    log.warn({ instance: ordinal, silent: report.silent, repeat: report.repeat, checks: PRIMARY_WATCH_FAILURES }, "the primary failed its liveness checks; starting a pass");
    if (report.silent) this.watchSilent.add(ordinal);
    this.nudge("watch");
  }

  private waitForTrigger(): Promise<string | null> {
    if (this.stopped) return Promise.resolve(null);
    if (this.pending !== null) {
      const origin = this.pending;
      this.pending = null;
      return Promise.resolve(origin);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish("interval"), this.options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS);
      const finish = (origin: string | null): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve(origin);
      };
      this.wake = () => {
        if (this.stopped) return finish(null);
        if (this.pending === null) return;
        const origin = this.pending;
        this.pending = null;
        finish(origin);
      };
    });
  }

  private async run(): Promise<void> {
    const base = this.options.logger ?? silentLogger;
    const log = base.child?.({ cluster: clusterKeyString(this.key) }) ?? base;
    const labels = nameAndNamespace(this.key);
    const metrics = this.options.metrics;
    for (;;) {
      const origin = await this.waitForTrigger();
      if (origin === null || this.stopped) return;
      const opId = newOperationId();
      const started = performance.now();
      metrics?.incCounter(METRIC.checks, labels);
      log.info({ op: opId, origin }, "start a pass");
      let result: PassResult;
      const timeoutMs = this.options.passTimeoutMs ?? DEFAULT_PASS_TIMEOUT_MS;
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any([this.abort.signal, deadline]);
      try {
        const previousPassAbandoned = this.abandonedReport;
        this.abandonedReport = undefined;
        const hint = recentlyUnreachableFor(this.unreachableMemo, Date.now(), this.watchSilent);
        // Only the pass right after the one that saw the failures uses the memo.
        this.unreachableMemo = null;
        this.watchSilent.clear();
        const { watchTarget, ...r } = await runClusterPass(this.ports, { ...this.options, logger: log }, { opId, origin, signal, stopSignal: this.abort.signal, previousPassAbandoned, recentlyUnreachable: hint, watchSilentNow: (i) => this.watchSilent.has(i) });
        if (r.unreachable !== undefined && r.unreachable.length > 0) {
          this.unreachableMemo = { ordinals: new Set(r.unreachable), until: Date.now() + UNREACHABLE_MEMO_MS };
        }
        if (this.watch !== undefined && watchTarget !== undefined && !this.stopped) {
          this.watch.set(clusterKeyString(this.key), watchTarget, (ordinal, report) => this.onWatchReport(log, ordinal, report));
        }
        this.watch?.passEnded(clusterKeyString(this.key), started);
        const watched = this.watch === undefined || watchTarget === undefined ? {} : { watched: watchTarget?.ordinal ?? null };
        result = { ...r, ...watched, hinted: hint === undefined ? [] : [...hint].sort((a, b) => a - b), key: this.key, opId, origin, durationMs: performance.now() - started };
        if (r.redo) this.nudge("redo");
      } catch (e) {
        if (this.stopped && e instanceof AbortedError) return;
        // A failed pass changed nothing the watch follows: it may nudge again (watch.ts).
        this.watch?.passEnded(clusterKeyString(this.key), started);
        metrics?.incCounter(METRIC.errors, labels);
        if (deadline.aborted) {
          metrics?.incCounter(METRIC.abandonedPasses, labels);
          const text = (this.abandonedReport = `A clustering pass (${opId}, ${origin}) did not finish within ${timeoutMs / 1000} s and was abandoned: ${errorMessage(e)}`);
          log.error({ op: opId, origin, timeoutMs, error: errorMessage(e) }, "abandoned a pass that outlived its deadline");
          try {
            await this.ports.events.emit("Warning", "PassAbandoned", text);
          } catch (err) {
            log.warn({ error: errorMessage(err) }, "failed to emit an event");
          }
          // The next pass runs at once.
          this.nudge("abandoned");
        }
        log.error({ op: opId, origin, error: errorMessage(e) }, "failed to run a pass");
        result = {
          key: this.key,
          opId,
          origin,
          state: null,
          operation: null,
          redo: false,
          error: errorMessage(e),
          durationMs: performance.now() - started,
        };
      }
      this.passesRun++;
      metrics?.observe(METRIC.processingTime, labels, result.durationMs / 1000);
      try {
        this.options.onPass?.(result);
      } catch (e) {
        log.warn({ error: errorMessage(e) }, "onPass hook failed");
      }
    }
  }
}

/** Holds one worker per `namespace/name` (docs/clustering.md#per-cluster-manager). */
export class ClusterManager {
  private readonly workers = new Map<string, ClusterWorker>();
  private closed = false;
  private readonly portsFor: (key: ClusterKey) => ClusterPorts;
  private readonly options: ManagerOptions;
  /** Shared by every worker (undefined when `primaryWatchIntervalMs` is 0). */
  readonly watch: PrimaryWatch | undefined;

  constructor(portsFor: (key: ClusterKey) => ClusterPorts, options: ManagerOptions = {}) {
    this.portsFor = portsFor;
    this.options = options;
    const intervalMs = options.primaryWatchIntervalMs ?? DEFAULT_PRIMARY_WATCH_INTERVAL_MS;
    this.watch = intervalMs > 0 ? new PrimaryWatch({ ...options.primaryWatch, intervalMs }) : undefined;
  }

  /** Start the worker if absent, then nudge it (nothing once stopAll was called). */
  update(key: ClusterKey, origin: string): void {
    if (this.closed) return;
    const k = clusterKeyString(key);
    let worker = this.workers.get(k);
    if (worker === undefined) {
      worker = new ClusterWorker(this.portsFor(key), this.options, this.watch);
      this.workers.set(k, worker);
      worker.start();
    }
    worker.nudge(origin);
  }

  /** Nudge only if a worker exists. */
  updateNoStart(key: ClusterKey, origin: string): void {
    this.workers.get(clusterKeyString(key))?.nudge(origin);
  }

  has(key: ClusterKey): boolean {
    return this.workers.has(clusterKeyString(key));
  }

  /** Cancel the worker and delete its metric series. */
  async stop(key: ClusterKey): Promise<void> {
    const k = clusterKeyString(key);
    const worker = this.workers.get(k);
    this.workers.delete(k);
    if (worker !== undefined) await worker.stop();
    this.options.metrics?.deleteCluster(nameAndNamespace(key));
  }

  /** Cancel the worker; keep its metrics but set the state gauges to NaN. */
  async pause(key: ClusterKey): Promise<void> {
    const k = clusterKeyString(key);
    const worker = this.workers.get(k);
    this.workers.delete(k);
    if (worker !== undefined) await worker.stop();
    const metrics = this.options.metrics;
    if (metrics !== undefined) {
      const labels = nameAndNamespace(key);
      for (const name of [METRIC.available, METRIC.healthy, METRIC.readyReplicas, METRIC.errantReplicas]) {
        metrics.setGauge(name, labels, Number.NaN);
      }
    }
  }

  /** Cancel every worker and wait (controller shutdown, leadership lost); no worker starts after. */
  async stopAll(): Promise<void> {
    this.closed = true;
    const all = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(all.map((w) => w.stop()));
    this.watch?.stopAll();
  }
}
