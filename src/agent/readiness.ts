// /healthz and /readyz (docs/agent.md#probes): what is queried, and the pure decision.
import { gtidIsSubset } from "../mysql/gtid.ts";
import { ACTIVE_PLUGINS_QUERY, SEMISYNC_NAMES, semiSyncFamily } from "../mysql/users.ts";
import { queryRows, type Queryable } from "../mysql/query.ts";

/** A query result or the (redacted) message of its error. */
export type Observed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export interface ReplicaThreads {
  readonly ioRunning: string;
  readonly sqlRunning: string;
  readonly lastIoErrno: number;
  readonly lastSqlErrno: number;
  readonly retrievedGtidSet: string;
  readonly executedGtidSet: string;
  /** Source_Host / Source_Port (absent in observations that do not need them). */
  readonly sourceHost?: string;
  readonly sourcePort?: number;
}

export interface ReadinessGlobals {
  readonly readOnly: boolean;
  readonly superReadOnly: boolean;
}

export interface ReplicationTiming {
  /** MAX(LAST_QUEUED_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP) as epoch seconds; 0 = zero timestamp / none. */
  readonly queuedEpochSeconds: number;
  /** MAX(LAST_APPLIED_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP) as epoch seconds; 0 = zero timestamp / none. */
  readonly appliedEpochSeconds: number;
  /** Status variable Uptime, seconds. */
  readonly uptimeSeconds: number;
}

/** Everything /readyz looks at, in the order of docs/agent.md#probes. */
export interface ReadinessObservation {
  /** performance_schema.clone_status STATE; null when the table has no row. */
  readonly cloneState: Observed<string | null>;
  readonly globals: Observed<ReadinessGlobals>;
  /** SHOW REPLICA STATUS; null when it returns no row. */
  readonly replica: Observed<ReplicaThreads | null>;
  readonly timing: Observed<ReplicationTiming>;
  /**
   * @@gtid_executed of the replica's source, read through its own connection (moco-ts);
   * absent when not read — only a replica with nothing queued since mysqld started asks.
   */
  readonly sourceGtidExecuted?: Observed<string>;
}

export interface ReadinessOptions {
  /** 0 disables the delay check. */
  readonly maxDelayMs: number;
  readonly transactionQueueingWaitMs: number;
}

/** What to do with moco_instance_replication_delay_seconds. */
export type DelayGaugeAction = { readonly kind: "keep" } | { readonly kind: "unregister" } | { readonly kind: "set"; readonly seconds: number };

export interface ProbeDecision {
  /** 200 ready, 503 not ready, 500 could not tell. */
  readonly status: 200 | 500 | 503;
  readonly reason: string;
  readonly delayGauge: DelayGaugeAction;
}

const keep: DelayGaugeAction = { kind: "keep" };

/** The /readyz verdict for one observation (docs/agent.md#probes, steps 1–9). Pure. */
export function decideReadiness(obs: ReadinessObservation, opts: ReadinessOptions): ProbeDecision {
  if (!obs.cloneState.ok) return { status: 500, reason: `failed to get clone status: ${obs.cloneState.error}`, delayGauge: keep };
  if (obs.cloneState.value !== null && obs.cloneState.value !== "Completed") {
    return { status: 503, reason: `clone is in progress (state ${obs.cloneState.value})`, delayGauge: keep };
  }
  if (!obs.globals.ok) return { status: 500, reason: `failed to get global variables: ${obs.globals.error}`, delayGauge: keep };
  if (!obs.globals.value.readOnly) return { status: 200, reason: "writable primary", delayGauge: { kind: "unregister" } };

  if (!obs.replica.ok) return { status: 500, reason: `failed to get replica status: ${obs.replica.error}`, delayGauge: keep };
  const replica = obs.replica.value;
  if (replica === null) return { status: 500, reason: "read-only and not replicating (no replica status)", delayGauge: keep };
  if (replica.ioRunning !== "Yes" || replica.sqlRunning !== "Yes") {
    return { status: 503, reason: `replication threads are not running (IO ${replica.ioRunning}, SQL ${replica.sqlRunning})`, delayGauge: keep };
  }
  if (replica.lastIoErrno !== 0 || replica.lastSqlErrno !== 0) {
    return { status: 503, reason: `replication error (IO errno ${replica.lastIoErrno}, SQL errno ${replica.lastSqlErrno})`, delayGauge: keep };
  }

  if (!obs.timing.ok) return { status: 500, reason: `failed to get replication timestamps: ${obs.timing.error}`, delayGauge: keep };
  const t = obs.timing.value;
  const queuedZero = t.queuedEpochSeconds <= 0;
  // Divergence: a replica that has applied everything it retrieved has no delay, even
  // when START REPLICA reset the applier's timestamp to zero (upstream then computes
  // `queued - 0` and stays unready until the next transaction arrives).
  const lagSeconds = queuedZero || caughtUp(replica) ? 0 : t.queuedEpochSeconds - Math.max(0, t.appliedEpochSeconds);
  const delayGauge: DelayGaugeAction = queuedZero ? { kind: "unregister" } : { kind: "set", seconds: lagSeconds };

  if (opts.maxDelayMs === 0) return { status: 200, reason: "replicating (delay check disabled)", delayGauge };
  if (queuedZero && t.uptimeSeconds * 1000 < opts.transactionQueueingWaitMs) {
    // Divergence (moco-ts): nothing queued since mysqld started is no delay when the
    // replica has executed every transaction its source has (the source's @@gtid_executed,
    // read now, is a subset of the replica's) and everything it retrieved. Upstream waits
    // out --transaction-queueing-wait of uptime (1 min) instead, unready all that time for
    // every new, cloned or restarted replica of a primary without writes.
    const src = obs.sourceGtidExecuted;
    if (src?.ok === true && caughtUp(replica) && hasAllOf(replica.executedGtidSet, src.value)) {
      return { status: 200, reason: "caught up: nothing queued since start, every transaction of the source executed", delayGauge };
    }
    const why = src === undefined ? "" : src.ok ? " (the source has transactions not executed here)" : ` (source not checked: ${src.error})`;
    return { status: 503, reason: `no transaction queued yet${why}`, delayGauge };
  }
  if (lagSeconds * 1000 >= opts.maxDelayMs) {
    return { status: 503, reason: `replication delay ${lagSeconds.toFixed(3)} s reaches --max-delay`, delayGauge };
  }
  return { status: 200, reason: "replicating", delayGauge };
}

/**
 * Where to read @@gtid_executed for the caught-up check of step 8: the source of a
 * running replica that has queued nothing since mysqld started and is younger than
 * --transaction-queueing-wait, whose retrieved transactions are all executed; undefined
 * when the decision does not depend on it.
 */
export function sourceToCheck(obs: ReadinessObservation, opts: ReadinessOptions): { host: string; port: number } | undefined {
  if (opts.maxDelayMs === 0 || !obs.cloneState.ok || obs.cloneState.value !== null && obs.cloneState.value !== "Completed") return undefined;
  if (!obs.globals.ok || !obs.globals.value.readOnly || !obs.replica.ok || obs.replica.value === null || !obs.timing.ok) return undefined;
  const r = obs.replica.value;
  const t = obs.timing.value;
  if (r.ioRunning !== "Yes" || r.sqlRunning !== "Yes" || r.lastIoErrno !== 0 || r.lastSqlErrno !== 0) return undefined;
  if (t.queuedEpochSeconds > 0 || t.uptimeSeconds * 1000 >= opts.transactionQueueingWaitMs || !caughtUp(r)) return undefined;
  if (r.sourceHost === undefined || r.sourceHost === "" || r.sourcePort === undefined || r.sourcePort <= 0) return undefined;
  return { host: r.sourceHost, port: r.sourcePort };
}

function hasAllOf(executed: string, source: string): boolean {
  try {
    return gtidIsSubset(source, executed);
  } catch {
    return false;
  }
}

/** Every retrieved transaction is executed (false when a set does not parse). */
export function caughtUp(replica: Pick<ReplicaThreads, "retrievedGtidSet" | "executedGtidSet">): boolean {
  try {
    return gtidIsSubset(replica.retrievedGtidSet, replica.executedGtidSet);
  } catch {
    return false;
  }
}

async function observe<T>(fn: () => Promise<T>, describeError: (err: unknown) => string): Promise<Observed<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

function toNumber(v: unknown): number {
  if (v === null || v === undefined) return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

function toBool(v: unknown): boolean {
  return v === 1 || v === "1" || v === true || v === "ON";
}

/**
 * Runs the /readyz queries on the agent's connection. The semi-sync wait count is read
 * under the name of the ACTIVE family (current names, legacy on upstream-initialized
 * instances) as upstream does; its value is not used.
 */
export async function observeReadiness(db: Queryable, describeError: (err: unknown) => string, timeoutMs?: number): Promise<ReadinessObservation> {
  const cloneState = await observe(async () => {
    const rows = await queryRows(db, "SELECT STATE AS state FROM performance_schema.clone_status", [], timeoutMs);
    const state = rows[0]?.state;
    return state === undefined || state === null ? null : String(state);
  }, describeError);
  const globals = await observe(async () => {
    const plugins = await queryRows(db, ACTIVE_PLUGINS_QUERY.sql, [], timeoutMs);
    const names = SEMISYNC_NAMES[semiSyncFamily(plugins.map((r) => String(r.name)))];
    const rows = await queryRows(
      db,
      `SELECT @@read_only AS ro, @@super_read_only AS sro, @@${names.sourceWaitForReplicaCount} AS wait_count, @@clone_valid_donor_list AS donors`,
      [],
      timeoutMs,
    );
    const row = rows[0];
    if (row === undefined) throw new Error("no row");
    return { readOnly: toBool(row.ro), superReadOnly: toBool(row.sro) };
  }, describeError);
  const replica = await observe(async () => {
    const rows = await queryRows(db, "SHOW REPLICA STATUS", [], timeoutMs);
    const row = rows[0];
    if (row === undefined) return null;
    return {
      ioRunning: String(row.Replica_IO_Running ?? ""),
      sqlRunning: String(row.Replica_SQL_Running ?? ""),
      lastIoErrno: toNumber(row.Last_IO_Errno),
      lastSqlErrno: toNumber(row.Last_SQL_Errno),
      retrievedGtidSet: String(row.Retrieved_Gtid_Set ?? ""),
      executedGtidSet: String(row.Executed_Gtid_Set ?? ""),
      sourceHost: String(row.Source_Host ?? ""),
      sourcePort: toNumber(row.Source_Port),
    };
  }, describeError);
  const timing = await observe(async () => {
    const q = await queryRows(
      db,
      "SELECT UNIX_TIMESTAMP(MAX(LAST_QUEUED_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP)) AS ts FROM performance_schema.replication_connection_status",
      [],
      timeoutMs,
    );
    const a = await queryRows(
      db,
      "SELECT UNIX_TIMESTAMP(MAX(LAST_APPLIED_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP)) AS ts FROM performance_schema.replication_applier_status_by_worker",
      [],
      timeoutMs,
    );
    const u = await queryRows(db, "SELECT VARIABLE_VALUE AS v FROM performance_schema.global_status WHERE VARIABLE_NAME='Uptime'", [], timeoutMs);
    return { queuedEpochSeconds: toNumber(q[0]?.ts), appliedEpochSeconds: toNumber(a[0]?.ts), uptimeSeconds: toNumber(u[0]?.v) };
  }, describeError);
  return { cloneState, globals, replica, timing };
}

/** /healthz: mysqld answers `SELECT VERSION()`. */
export async function checkHealth(db: Queryable, timeoutMs?: number): Promise<void> {
  await queryRows(db, "SELECT VERSION() AS v", [], timeoutMs);
}
