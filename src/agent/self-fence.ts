// Self-fencing (docs/clustering.md "Self-fencing", moco-ts addition): a primary cut off from
// its replicas keeps accepting connections. Once the controller has promoted another
// instance and the partition heals, the old primary would stay writable until a controller
// pass fences it. The agent, which reaches mysqld over the local socket whatever the network
// does, fences its own instance (the controller's fenceHungUp, src/mysql/fence.ts) when
//  - (active) fewer than w = rpl_semi_sync_source_wait_for_replica_count of its peers have
//    confirmed, for --self-fence-threshold on end, that they replicate from it: every
//    SELF_FENCE_PROBE_INTERVAL_MS it asks the other agents of the StatefulSet (src/agent/peers.ts);
//  - (passive) a commit has waited for a semi-sync acknowledgement longer than
//    max(--self-fence-threshold, ACK_WAIT_MIN_THRESHOLD_MS).
// It never unfences: the controller's pass makes a still-elected primary writable again
// once w replicas replicate from it. The engine's failover guard (src/clustering/fence-guard.ts)
// relies on the active bound (src/mysql/self-fence.ts).
import type { Connection } from "mysql2/promise";

import { fenceHungUp, type FenceConnection } from "../mysql/fence.ts";
import {
  DEFAULT_SELF_FENCE_THRESHOLD_MS,
  SELF_FENCE_CONFIRMATION_TTL_MS,
  SELF_FENCE_PROBE_INTERVAL_MS,
} from "../mysql/self-fence.ts";
import type { Logger } from "./log.ts";

export { DEFAULT_SELF_FENCE_THRESHOLD_MS };
/** How often the agent looks at its instance (and asks its peers while it is writable). */
export const SELF_FENCE_POLL_INTERVAL_MS = SELF_FENCE_PROBE_INTERVAL_MS;
/**
 * The passive trigger waits at least this long: one large transaction can take seconds to
 * reach a replica while the cluster is healthy; the active trigger covers a cut-off primary.
 */
export const ACK_WAIT_MIN_THRESHOLD_MS = 5_000;
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
  /** @@rpl_semi_sync_source_wait_for_replica_count (w, floor(n/2) as the controller sets it); 0 when unknown. */
  readonly waitForReplicaCount?: number | undefined;
  /** @@port (what replicas use as SOURCE_PORT); 0 when unknown. */
  readonly port?: number | undefined;
}

/**
 * What the peers said (active trigger). `armed`: since the instance became writable, w peers
 * confirmed at once at least one time (until then the active trigger is off: a new primary
 * whose peers' agents cannot answer — older agents, a blocked port — keeps only the passive
 * trigger instead of fencing in a loop with the controller). `lackingForMs`: how long fewer
 * than w confirmations have counted (0 while enough do).
 */
export interface PeerConfirmationState {
  readonly armed: boolean;
  readonly lackingForMs: number;
  readonly confirming: number;
  readonly needed: number;
}

export type SelfFenceDecision = { readonly fence: boolean; readonly reason: string };

/** Whether to fence now (pure). `thresholdMs` 0 disables self-fencing. */
export function decideSelfFence(obs: SelfFenceObservation, thresholdMs: number, peers?: PeerConfirmationState): SelfFenceDecision {
  if (thresholdMs <= 0) return { fence: false, reason: "self-fencing is disabled" };
  if (obs.superReadOnly) return { fence: false, reason: "the instance is read-only" };
  if (!obs.semiSyncSourceEnabled) return { fence: false, reason: "the instance is not a semi-sync source" };
  const waited = obs.longestAckWaitSeconds;
  const ackThresholdMs = Math.max(thresholdMs, ACK_WAIT_MIN_THRESHOLD_MS);
  if (waited !== null && waited * 1000 >= ackThresholdMs) {
    return { fence: true, reason: `a commit has waited ${waited} s for a semi-sync acknowledgement (threshold ${ackThresholdMs / 1000} s)` };
  }
  if (peers !== undefined && peers.needed > 0) {
    if (!peers.armed) return { fence: false, reason: `not armed: ${peers.needed} peers have not yet confirmed together since the instance became writable` };
    if (peers.lackingForMs >= thresholdMs) {
      return {
        fence: true,
        reason: `${peers.confirming} of the ${peers.needed} needed peers confirm replicating from this instance, for ${peers.lackingForMs} ms (threshold ${thresholdMs / 1000} s)`,
      };
    }
  }
  if (waited === null) return { fence: false, reason: "no commit waits for an acknowledgement" };
  return { fence: false, reason: `a commit has waited ${waited} s for an acknowledgement, below the threshold` };
}

/**
 * How long fewer than `needed` peers have counted as confirming at `now` (pure): a peer
 * counts until `ttlMs` after the sending of the last request it confirmed, so the count fell
 * below `needed` at the needed-th latest such end. 0 while enough count; `needed` ≤ 0 ⇒ 0.
 */
export function lackingForMs(lastConfirmedSentAt: readonly number[], needed: number, ttlMs: number, now: number): number {
  if (needed <= 0) return 0;
  const ends = lastConfirmedSentAt.map((t) => t + ttlMs).sort((a, b) => b - a);
  const end = ends[needed - 1];
  if (end === undefined) return Number.POSITIVE_INFINITY;
  return Math.max(0, now - end);
}

/** The ordinals an instance asks: 0..2w except its own (n = 2w+1, the controller's wait count floor(n/2)). */
export function peerOrdinals(own: number, waitForReplicaCount: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 2 * waitForReplicaCount + 1; i++) if (i !== own) out.push(i);
  return out;
}

/** Tracks the last confirmed request per peer during one writable period (monotonic ms). */
export class PeerConfirmations {
  readonly #last = new Map<number, number>();
  #armed = false;
  #needed = 0;

  /** A writable period ends (read-only, or no semi-sync source): forget everything. */
  reset(): void {
    this.#last.clear();
    this.#armed = false;
  }

  /** Peer `ordinal` confirmed the request sent at `sentAt`. */
  confirmed(ordinal: number, sentAt: number): void {
    this.#last.set(ordinal, Math.max(this.#last.get(ordinal) ?? Number.NEGATIVE_INFINITY, sentAt));
  }

  state(needed: number, now: number, ttlMs = SELF_FENCE_CONFIRMATION_TTL_MS): PeerConfirmationState {
    if (needed !== this.#needed) {
      this.#needed = needed;
      this.#armed = false;
    }
    const times = [...this.#last.values()];
    const confirming = times.filter((t) => t + ttlMs >= now).length;
    if (confirming >= needed) this.#armed = true;
    const lacking = lackingForMs(times, needed, ttlMs, now);
    return { armed: this.#armed, lackingForMs: Number.isFinite(lacking) ? lacking : 0, confirming, needed };
  }
}

/** The query behind SelfFenceObservation (needs PROCESS: run as moco-admin). */
export const SELF_FENCE_OBSERVE_QUERY =
  "SELECT @@super_read_only AS sro, @@port AS port, " +
  "(SELECT MAX(VARIABLE_VALUE) FROM performance_schema.global_variables WHERE VARIABLE_NAME IN ('rpl_semi_sync_source_enabled','rpl_semi_sync_master_enabled')) AS ss, " +
  "(SELECT MAX(VARIABLE_VALUE) FROM performance_schema.global_variables WHERE VARIABLE_NAME IN ('rpl_semi_sync_source_wait_for_replica_count','rpl_semi_sync_master_wait_for_slave_count')) AS wc, " +
  `(SELECT MAX(TIME) FROM performance_schema.processlist WHERE STATE LIKE '${ACK_WAIT_STATE_PATTERN}') AS w`;

function onOff(v: unknown): boolean {
  const s = String(v ?? "").toUpperCase();
  return s === "1" || s === "ON";
}

function count(v: unknown): number {
  const n = Number(v ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

export function parseSelfFenceObservation(row: Record<string, unknown> | undefined): SelfFenceObservation {
  if (row === undefined) throw new Error("no row for the self-fence observation");
  const w = row.w;
  return {
    superReadOnly: onOff(row.sro),
    semiSyncSourceEnabled: onOff(row.ss),
    longestAckWaitSeconds: w === null || w === undefined ? null : Number(w),
    waitForReplicaCount: count(row.wc),
    port: count(row.port),
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

/**
 * Asks peer `ordinal` whether it replicates from this instance (its mysqld listening on
 * `port`); resolves true only for an in-time answer that confirms. Never rejects.
 */
export type AskPeer = (ordinal: number, port: number, signal: AbortSignal) => Promise<boolean>;

export interface SelfFenceOptions {
  /** A new connection to the own mysqld as a user with PROCESS, SYSTEM_VARIABLES_ADMIN and CONNECTION_ADMIN (moco-admin over the socket). */
  readonly connect: () => Promise<Connection>;
  readonly thresholdMs: number;
  readonly intervalMs?: number | undefined;
  /** This instance's ordinal. */
  readonly ordinal: number;
  /** The active trigger's question to a peer; absent ⇒ passive trigger only. */
  readonly askPeer?: AskPeer | undefined;
  /** How long a confirmation counts after its request was sent (default SELF_FENCE_CONFIRMATION_TTL_MS). */
  readonly confirmationTtlMs?: number | undefined;
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
  private readonly peers = new PeerConfirmations();
  private readonly abort = new AbortController();
  /** The last reason logged for not being armed (logged once per writable period). */
  private unarmedLogged = false;

  constructor(opts: SelfFenceOptions) {
    this.opts = opts;
  }

  /** Asks every peer once (not awaited: answers land in `peers` as they come). */
  private askPeers(waitForReplicaCount: number, port: number): void {
    const ask = this.opts.askPeer;
    if (ask === undefined) return;
    for (const i of peerOrdinals(this.opts.ordinal, waitForReplicaCount)) {
      const sentAt = performance.now();
      void ask(i, port, this.abort.signal).then((ok) => {
        if (ok) this.peers.confirmed(i, sentAt);
      }, () => undefined);
    }
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
      const w = obs.waitForReplicaCount ?? 0;
      let peers: PeerConfirmationState | undefined;
      if (obs.superReadOnly || !obs.semiSyncSourceEnabled || w < 1 || this.opts.askPeer === undefined) {
        this.peers.reset();
        this.unarmedLogged = false;
      } else {
        peers = this.peers.state(w, performance.now(), this.opts.confirmationTtlMs);
        this.askPeers(w, obs.port ?? 0);
      }
      const decision = decideSelfFence(obs, this.opts.thresholdMs, peers);
      if (peers !== undefined && !peers.armed && !this.unarmedLogged) {
        this.unarmedLogged = true;
        this.opts.logger.info({ needed: w }, "self-fencing: writable, waiting for the peers' first confirmations before arming");
      }
      if (!decision.fence) return decision;
      this.opts.logger.warn({ waitedSeconds: obs.longestAckWaitSeconds, confirming: peers?.confirming, needed: peers?.needed, thresholdMs: this.opts.thresholdMs }, `self-fencing: ${decision.reason}`);
      try {
        await fenceHungUp(fc);
      } catch (err) {
        this.opts.metrics.failed();
        throw err;
      }
      this.peers.reset();
      this.opts.metrics.fenced();
      this.opts.logger.warn({ reason: decision.reason }, "self-fenced: offline_mode, client connections killed, semi-sync source off, super_read_only on; the controller makes the instance writable again if it is still the primary");
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
    this.abort.abort();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    this.conn?.destroy();
    this.conn = null;
  }
}
