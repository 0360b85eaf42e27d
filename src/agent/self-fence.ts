// Self-fencing (docs/clustering.md "Self-fencing", moco-ts addition): a primary cut off from
// its replicas keeps accepting connections, and its clients' commits wait for semi-sync
// acknowledgements that never come. Once the controller has promoted another instance and
// the partition heals, the old primary would stay writable until a controller pass fences
// it. The agent, which reaches mysqld over the local socket whatever the network does,
// fences its own instance as soon as a commit has waited for an acknowledgement longer than
// --self-fence-threshold (below the controller's failover detection), the way the
// controller's fenceHungUp does (src/mysql/fence.ts). It never unfences: the controller's
// pass makes a still-elected primary writable again once its replicas can acknowledge.
import type { Connection } from "mysql2/promise";

import { fenceHungUp, type FenceConnection } from "../mysql/fence.ts";
import type { Logger } from "./log.ts";

/** Default --self-fence-threshold: a few seconds, below the controller's failover detection. */
export const DEFAULT_SELF_FENCE_THRESHOLD_MS = 5_000;
/** How often the agent looks at its instance. */
export const SELF_FENCE_POLL_INTERVAL_MS = 1_000;
/** Bound of the observation query. */
const OBSERVE_TIMEOUT_MS = 5_000;

/**
 * The PROCESSLIST state of a commit waiting for a semi-sync acknowledgement (MySQL 8.4/9.7,
 * semisync_source; "… from slave" with the legacy plugin).
 */
export const ACK_WAIT_STATE_PATTERN = "Waiting for semi-sync ACK from %";

export interface SelfFenceObservation {
  readonly superReadOnly: boolean;
  /** @@rpl_semi_sync_source_enabled (or the legacy name). */
  readonly semiSyncSourceEnabled: boolean;
  /** The longest time a session has been waiting for an acknowledgement, in whole seconds; null: none waits. */
  readonly longestAckWaitSeconds: number | null;
}

export type SelfFenceDecision = { readonly fence: boolean; readonly reason: string };

/** Whether to fence now (pure). `thresholdMs` 0 disables self-fencing. */
export function decideSelfFence(obs: SelfFenceObservation, thresholdMs: number): SelfFenceDecision {
  if (thresholdMs <= 0) return { fence: false, reason: "self-fencing is disabled" };
  if (obs.superReadOnly) return { fence: false, reason: "the instance is read-only" };
  if (!obs.semiSyncSourceEnabled) return { fence: false, reason: "the instance is not a semi-sync source" };
  const waited = obs.longestAckWaitSeconds;
  if (waited === null) return { fence: false, reason: "no commit waits for an acknowledgement" };
  if (waited * 1000 < thresholdMs) return { fence: false, reason: `a commit has waited ${waited} s for an acknowledgement, below the threshold` };
  return { fence: true, reason: `a commit has waited ${waited} s for a semi-sync acknowledgement (threshold ${thresholdMs / 1000} s)` };
}

/** The query behind SelfFenceObservation (needs PROCESS: run as moco-admin). */
export const SELF_FENCE_OBSERVE_QUERY =
  "SELECT @@super_read_only AS sro, " +
  "(SELECT MAX(VARIABLE_VALUE) FROM performance_schema.global_variables WHERE VARIABLE_NAME IN ('rpl_semi_sync_source_enabled','rpl_semi_sync_master_enabled')) AS ss, " +
  `(SELECT MAX(TIME) FROM performance_schema.processlist WHERE STATE LIKE '${ACK_WAIT_STATE_PATTERN}') AS w`;

function onOff(v: unknown): boolean {
  const s = String(v ?? "").toUpperCase();
  return s === "1" || s === "ON";
}

export function parseSelfFenceObservation(row: Record<string, unknown> | undefined): SelfFenceObservation {
  if (row === undefined) throw new Error("no row for the self-fence observation");
  const w = row.w;
  return {
    superReadOnly: onOff(row.sro),
    semiSyncSourceEnabled: onOff(row.ss),
    longestAckWaitSeconds: w === null || w === undefined ? null : Number(w),
  };
}

/** A mysql2 connection as the fencing statements want it (src/mysql/fence.ts). */
export function fenceConnection(c: Connection): FenceConnection {
  return {
    async exec(sql, params = [], options = {}) {
      await c.query(options.timeoutMs === undefined ? { sql } : { sql, timeout: options.timeoutMs }, [...params]);
    },
    async query(sql) {
      const [rows] = await c.query({ sql, timeout: OBSERVE_TIMEOUT_MS });
      return rows as Record<string, unknown>[];
    },
  };
}

export interface SelfFenceMetrics {
  /** Fences done. */
  fenced(): void;
  /** Fences that failed (retried at the next look). */
  failed(): void;
}

export interface SelfFenceOptions {
  /** A new connection to the own mysqld as a user with PROCESS, SYSTEM_VARIABLES_ADMIN and CONNECTION_ADMIN (moco-admin over the socket). */
  readonly connect: () => Promise<Connection>;
  readonly thresholdMs: number;
  readonly intervalMs?: number | undefined;
  readonly logger: Pick<Logger, "debug" | "info" | "warn" | "error">;
  readonly metrics: SelfFenceMetrics;
  /** Error text without secrets. */
  readonly describe: (err: unknown) => string;
}

/** The agent's watcher: one look every interval, a fence when decideSelfFence says so. */
export class SelfFence {
  private readonly opts: SelfFenceOptions;
  private conn: Connection | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Looks in a row that could not ask mysqld (logged at error once, then at debug: mysqld restarts). */
  private failures = 0;

  constructor(opts: SelfFenceOptions) {
    this.opts = opts;
  }

  /** One look (and fence). Returns the decision; throws when mysqld cannot be asked. */
  async check(): Promise<SelfFenceDecision> {
    if (this.conn === null) {
      const c = await this.opts.connect();
      c.on("error", () => {
        if (this.conn === c) this.conn = null;
      });
      this.conn = c;
    }
    const conn = this.conn;
    try {
      const fc = fenceConnection(conn);
      const obs = parseSelfFenceObservation((await fc.query(SELF_FENCE_OBSERVE_QUERY))[0]);
      const decision = decideSelfFence(obs, this.opts.thresholdMs);
      if (!decision.fence) return decision;
      this.opts.logger.warn({ waitedSeconds: obs.longestAckWaitSeconds, thresholdMs: this.opts.thresholdMs }, `self-fencing: ${decision.reason}`);
      try {
        await fenceHungUp(fc);
      } catch (err) {
        this.opts.metrics.failed();
        throw err;
      }
      this.opts.metrics.fenced();
      this.opts.logger.warn({ waitedSeconds: obs.longestAckWaitSeconds }, "self-fenced: offline_mode, client connections killed, semi-sync source off, super_read_only on; the controller makes the instance writable again if it is still the primary");
      return decision;
    } catch (err) {
      conn.destroy();
      if (this.conn === conn) this.conn = null;
      throw err;
    }
  }

  start(): void {
    if (this.opts.thresholdMs <= 0 || this.timer !== null) return;
    this.stopped = false;
    const tick = (): void => {
      this.running = this.check().then(
        () => {
          if (this.failures > 0) this.opts.logger.info({ failures: this.failures }, "self-fence check works again");
          this.failures = 0;
        },
        (err: unknown) => {
          const log = this.failures++ === 0 ? this.opts.logger.error.bind(this.opts.logger) : this.opts.logger.debug.bind(this.opts.logger);
          log({ error: this.opts.describe(err) }, "self-fence check failed");
        },
      ).finally(() => {
        this.running = null;
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? SELF_FENCE_POLL_INTERVAL_MS);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    this.conn?.destroy();
    this.conn = null;
  }
}
