// Liveness watch of each cluster's primary (docs/clustering.md "Liveness watch of the
// primary", issue #14): between passes, the primary a pass last reached is pinged once per
// `--primary-watch-interval` over one kept admin connection (COM_PING; a new connection,
// with a complete handshake, only after a failure); two consecutive failed checks nudge a
// pass at once instead of waiting for `--check-interval`, and tell it whether the primary
// stayed silent (timeouts: a partition, a hung process), which earns it one short status
// try in that pass instead of the full retries. A pass that started after the report and
// ended with the same primary watched (failed, or decided nothing) re-arms it: while the
// primary stays silent the watch nudges again, at most once per PRIMARY_WATCH_RENUDGE_MS.
// One shared scheduler for every cluster:
// each watch ticks on its own random phase (no herd), at most `concurrency` checks run at
// once (a tick finding the limit reached is deferred by a fraction of the interval), a cluster without a reachable primary
// is not watched at all.
import mysql from "mysql2/promise";
import type { Connection } from "mysql2/promise";

import { targetConnectionOptions } from "./sql.ts";
import type { SqlTarget } from "./sql.ts";

/** `--primary-watch-interval` default: two checks per second per cluster (0 disables the watch). */
export const DEFAULT_PRIMARY_WATCH_INTERVAL_MS = 500;
/** Consecutive failed checks that nudge a pass. */
export const PRIMARY_WATCH_FAILURES = 2;
/** Checks in flight at once over all clusters. */
export const DEFAULT_PRIMARY_WATCH_CONCURRENCY = 64;
/**
 * Least time between two reports of one run of failures (a re-armed watch waits this long
 * after its previous report): at most one watch-origin pass per 3 s per cluster while a
 * primary stays down, as often as the pass's own status retries (3 s apart), 3× sooner than
 * the chart's 10 s check interval and 20× sooner than MOCO's 1 min.
 */
export const PRIMARY_WATCH_RENUDGE_MS = 3_000;

/** One check: answered; no answer within the timeout (silent); or an error answer (refused, reset, denied). */
export type CheckResult = "ok" | "silent" | "failed";

/** The watch of one primary between checks. */
export interface WatchState {
  /** Consecutive failed checks. */
  readonly failures: number;
  /** Every one of those failures was silent. */
  readonly allSilent: boolean;
  /** This run of failures has nudged a pass that has not ended since (no spinning). */
  readonly reported: boolean;
  /** When this run of failures last reported (the watch's clock, ms); null: not yet. */
  readonly reportedAt: number | null;
}

export const WATCH_START: WatchState = { failures: 0, allSilent: true, reported: false, reportedAt: null };

/** What the watch tells the worker: the primary failed `threshold` checks in a row. */
export interface WatchReport {
  /** Every failed check timed out (no answer at all), as against an error answer. */
  readonly silent: boolean;
  /** Not the run's first report: a pass since the previous one left the same primary watched. */
  readonly repeat: boolean;
}

export interface WatchClock {
  /** Now, on the clock of `reportedAt` and of rearmWatch's `passStartedAt`. */
  readonly now: number;
  /** Least time between two reports of one run (default PRIMARY_WATCH_RENUDGE_MS). */
  readonly renudgeMs?: number | undefined;
}

/**
 * The state machine of one watch: a success resets it; the `threshold`-th failure in a row
 * reports; once re-armed (rearmWatch), a later failure reports again when `renudgeMs` have
 * passed since the previous report.
 */
export function stepWatch(state: WatchState, result: CheckResult, threshold = PRIMARY_WATCH_FAILURES, clock: WatchClock = { now: 0 }): { state: WatchState; report: WatchReport | null } {
  if (result === "ok") return { state: WATCH_START, report: null };
  const failures = state.failures + 1;
  const allSilent = state.allSilent && result === "silent";
  const backedOff = state.reportedAt === null || clock.now - state.reportedAt >= (clock.renudgeMs ?? PRIMARY_WATCH_RENUDGE_MS);
  const fire = !state.reported && failures >= threshold && backedOff;
  return {
    state: { failures, allSilent, reported: state.reported || fire, reportedAt: fire ? clock.now : state.reportedAt },
    report: fire ? { silent: allSilent, repeat: state.reportedAt !== null } : null,
  };
}

/**
 * A pass ended and left this watch in place (same primary: it failed, or decided nothing).
 * When that pass started at or after the last report it has consumed it: the watch may
 * report again (stepWatch's back-off applies). A pass that started before the report has
 * not seen it (its nudge is still pending): the state is kept.
 */
export function rearmWatch(state: WatchState, passStartedAt: number): WatchState {
  if (!state.reported || state.reportedAt === null || passStartedAt < state.reportedAt) return state;
  return { ...state, reported: false };
}

/** What to watch: the ordinal the last pass reached as the primary, and how to reach it. */
export interface WatchTarget {
  readonly ordinal: number;
  /** Never logged. */
  readonly sql: SqlTarget;
}

/** One check of a target; `close` ends whatever it keeps. */
export interface Prober {
  check(timeoutMs: number): Promise<CheckResult>;
  close(): void;
}

/** mysql2 error codes meaning "no answer" (the connect timeout covers the handshake too). */
const SILENT_CODES = new Set(["ETIMEDOUT", "PROTOCOL_SEQUENCE_TIMEOUT"]);

/**
 * The default prober: one kept admin connection, COM_PING on it; on any failure the
 * connection is dropped and the next check opens a new one (a full MySQL handshake: a bare
 * TCP connect would count towards max_connect_errors).
 */
export class PingProber implements Prober {
  private readonly target: SqlTarget;
  private conn: Connection | null = null;
  /** Bumped by every drop: a connect that completes after its check gave up is not kept. */
  private generation = 0;
  private closed = false;

  constructor(target: SqlTarget) {
    this.target = target;
  }

  async check(timeoutMs: number): Promise<CheckResult> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve("silent"), timeoutMs);
    });
    const work = this.ping(timeoutMs).then(
      (): CheckResult => "ok",
      (e: unknown): CheckResult => (SILENT_CODES.has(String((e as { code?: unknown } | null)?.code)) ? "silent" : "failed"),
    );
    const result = await Promise.race([work, timedOut]);
    clearTimeout(timer);
    if (result !== "ok") this.drop();
    return result;
  }

  private async ping(timeoutMs: number): Promise<void> {
    let conn = this.conn;
    if (conn === null) {
      const generation = this.generation;
      conn = await mysql.createConnection(targetConnectionOptions(this.target, timeoutMs));
      conn.on("error", () => undefined);
      // Completed after a timeout dropped the attempt, or after close(): not kept.
      if (this.closed || this.generation !== generation) {
        conn.destroy();
        throw Object.assign(new Error("superseded"), { code: "ETIMEDOUT" });
      }
      this.conn = conn;
    }
    await conn.ping();
  }

  private drop(): void {
    this.generation++;
    this.conn?.destroy();
    this.conn = null;
  }

  close(): void {
    this.closed = true;
    this.drop();
  }
}

export interface PrimaryWatchOptions {
  /** Time between two checks of one primary, and each check's timeout (default 1 s). */
  readonly intervalMs?: number | undefined;
  readonly concurrency?: number | undefined;
  readonly threshold?: number | undefined;
  /** Least time between two reports of one run of failures (default PRIMARY_WATCH_RENUDGE_MS). */
  readonly renudgeMs?: number | undefined;
  /** The prober of a target (default PingProber; unit tests pass fakes). */
  readonly prober?: ((target: WatchTarget) => Prober) | undefined;
  /** Called after every check (tests, tracing). */
  readonly onCheck?: ((key: string, ordinal: number, result: CheckResult) => void) | undefined;
}

interface Entry {
  readonly target: WatchTarget;
  readonly prober: Prober;
  readonly onReport: (ordinal: number, report: WatchReport) => void;
  state: WatchState;
  timer: NodeJS.Timeout | null;
  stopped: boolean;
}

function sameTarget(a: WatchTarget, b: WatchTarget): boolean {
  return a.ordinal === b.ordinal && a.sql.host === b.sql.host && a.sql.port === b.sql.port && a.sql.user === b.sql.user &&
    a.sql.password === b.sql.password && a.sql.tls?.ca === b.sql.tls?.ca && a.sql.tls?.serverName === b.sql.tls?.serverName;
}

/** The watches of every cluster of one manager. */
export class PrimaryWatch {
  private readonly entries = new Map<string, Entry>();
  private readonly intervalMs: number;
  private readonly concurrency: number;
  private readonly threshold: number;
  private readonly renudgeMs: number;
  private readonly proberOf: (target: WatchTarget) => Prober;
  private readonly onCheck: PrimaryWatchOptions["onCheck"];
  private inFlight = 0;
  private deferredTicks = 0;

  constructor(options: PrimaryWatchOptions = {}) {
    this.intervalMs = options.intervalMs ?? DEFAULT_PRIMARY_WATCH_INTERVAL_MS;
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_PRIMARY_WATCH_CONCURRENCY);
    this.threshold = Math.max(1, options.threshold ?? PRIMARY_WATCH_FAILURES);
    this.renudgeMs = Math.max(0, options.renudgeMs ?? PRIMARY_WATCH_RENUDGE_MS);
    this.proberOf = options.prober ?? ((t) => new PingProber(t.sql));
    this.onCheck = options.onCheck;
  }

  /** Clusters watched now. */
  get size(): number {
    return this.entries.size;
  }

  /** Ticks deferred because `concurrency` checks were in flight. */
  get deferred(): number {
    return this.deferredTicks;
  }

  /**
   * Watch `target` for `key` (null: stop watching it). The same target keeps its state and
   * connection; another one starts afresh at a random phase of the interval.
   */
  set(key: string, target: WatchTarget | null, onReport: (ordinal: number, report: WatchReport) => void): void {
    const have = this.entries.get(key);
    if (target !== null && have !== undefined && sameTarget(have.target, target)) return;
    if (have !== undefined) this.remove(key);
    if (target === null || this.intervalMs <= 0) return;
    const entry: Entry = { target, prober: this.proberOf(target), onReport, state: WATCH_START, timer: null, stopped: false };
    this.entries.set(key, entry);
    this.schedule(key, entry, Math.random() * this.intervalMs);
  }

  /**
   * A pass of `key` that started at `passStartedAt` (performance.now()) ended: re-arm its
   * watch (rearmWatch). Call it after `set` with that pass's target, so that a pass that
   * changed the primary finds a fresh watch (or none) here.
   */
  passEnded(key: string, passStartedAt: number): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) entry.state = rearmWatch(entry.state, passStartedAt);
  }

  remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    entry.stopped = true;
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.prober.close();
  }

  stopAll(): void {
    for (const key of [...this.entries.keys()]) this.remove(key);
  }

  private schedule(key: string, entry: Entry, delayMs: number): void {
    if (entry.stopped) return;
    entry.timer = setTimeout(() => void this.tick(key, entry), Math.max(0, delayMs));
    entry.timer.unref();
  }

  private async tick(key: string, entry: Entry): Promise<void> {
    entry.timer = null;
    if (entry.stopped) return;
    if (this.inFlight >= this.concurrency) {
      // Deferred by a random quarter to half interval: timers that fire together (a busy
      // event loop) spread out instead of each losing a whole interval; no request is made.
      this.deferredTicks++;
      this.schedule(key, entry, this.intervalMs * (0.25 + Math.random() * 0.25));
      return;
    }
    const started = performance.now();
    this.inFlight++;
    let result: CheckResult;
    try {
      result = await entry.prober.check(this.intervalMs);
    } catch {
      result = "failed";
    } finally {
      this.inFlight--;
    }
    if (entry.stopped) return;
    this.onCheck?.(key, entry.target.ordinal, result);
    const step = stepWatch(entry.state, result, this.threshold, { now: performance.now(), renudgeMs: this.renudgeMs });
    entry.state = step.state;
    if (step.report !== null) entry.onReport(entry.target.ordinal, step.report);
    this.schedule(key, entry, this.intervalMs - (performance.now() - started));
  }
}
