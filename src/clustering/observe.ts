// Gathering status (clustering.md §1.3): the cluster, its Pods, and every instance's
// status fetched in parallel over the admin port as moco-admin, with retries; the
// primary is fetched again 100 ms later. Produces the ClusterObservation that the pure
// part (decide.ts) assesses. An unreachable or half-broken instance is `null`; errors
// that fail the pass are thrown (the manager counts and logs them).
import { podHostname as defaultPodHostname, isIntermediate, replicasOf } from "./decide.ts";
import type { MocoPasswords } from "../mysql/users.ts";
import { SEMISYNC_NAMES } from "../mysql/users.ts";
import type { SemiSyncFamily, SemiSyncNames } from "../mysql/users.ts";
import type { ClusterPorts, ClusterTls, ClusteringLogger } from "./ports.ts";
import { silentLogger } from "./ports.ts";
import {
  ER_NO_SUCH_TABLE,
  NopError,
  PassConnections,
  bool,
  errnoOf,
  num,
  numOrNull,
  sleep,
  str,
} from "./sql.ts";
import type { SqlConnection, SqlTimeouts } from "./sql.ts";
import type {
  CloneState,
  ClusterObservation,
  InstanceStatus,
  MySQLClusterLike,
  PodView,
  ReplicaHostRow,
  ReplicaStatusRow,
  ReplicationSourceView,
} from "./types.ts";
import { MYSQL_ADMIN_PORT } from "./decide.ts";

export const DEFAULT_FETCH_ATTEMPTS = 3;
export const DEFAULT_FETCH_RETRY_GAP_MS = 3_000;
export const PRIMARY_RECHECK_DELAY_MS = 100;
/**
 * Connect timeout of the single try given to an instance the previous pass could not
 * reach at all (ObserveOptions.recentlyUnreachable).
 */
export const UNREACHABLE_PROBE_CONNECT_TIMEOUT_MS = 1_000;

// ---------------------------------------------------------------------------------
// Go durations (the MOCO_* environment overrides are Go durations)

const goUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration ("3s", "1m30s", "250ms", "0") into milliseconds; null if invalid. */
export function parseGoDuration(text: string | undefined): number | null {
  if (text === undefined) return null;
  const s = text.trim();
  if (s === "0") return 0;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) return null;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(m[1]) * (goUnits[m[2] ?? ""] ?? 0);
  }
  return total;
}

/** A duration from the environment variable `name`, or `fallback`. */
export function envDurationMs(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const v = parseGoDuration(env[name]);
  return v ?? fallback;
}

// ---------------------------------------------------------------------------------
// One instance (§1.3 "Instance status queries")

const ALL_SEMISYNC_VARIABLES = [
  SEMISYNC_NAMES.current.sourceEnabled,
  SEMISYNC_NAMES.current.sourceWaitForReplicaCount,
  SEMISYNC_NAMES.current.replicaEnabled,
  SEMISYNC_NAMES.legacy.sourceEnabled,
  SEMISYNC_NAMES.legacy.sourceWaitForReplicaCount,
  SEMISYNC_NAMES.legacy.replicaEnabled,
];

/**
 * The semi-sync family whose variables exist (a variable exists exactly while its plugin
 * is ACTIVE): "legacy" only when the legacy plugins are loaded and the current ones are not.
 */
export function familyFromVariableNames(names: readonly string[]): SemiSyncFamily {
  const set = new Set(names.map((n) => n.toLowerCase()));
  const current = set.has(SEMISYNC_NAMES.current.sourceEnabled) || set.has(SEMISYNC_NAMES.current.replicaEnabled);
  const legacy = set.has(SEMISYNC_NAMES.legacy.sourceEnabled) || set.has(SEMISYNC_NAMES.legacy.replicaEnabled);
  return legacy && !current ? "legacy" : "current";
}

async function semiSyncVariables(conn: SqlConnection): Promise<{ family: SemiSyncFamily; values: Map<string, string> }> {
  const rows = await conn.query(
    `SELECT VARIABLE_NAME AS name, VARIABLE_VALUE AS value FROM performance_schema.global_variables WHERE VARIABLE_NAME IN (${ALL_SEMISYNC_VARIABLES.map(() => "?").join(",")})`,
    ALL_SEMISYNC_VARIABLES,
  );
  const values = new Map<string, string>();
  for (const r of rows) values.set(str(r.name).toLowerCase(), str(r.value));
  return { family: familyFromVariableNames([...values.keys()]), values };
}

/** The semi-sync variable names to use on this connection's instance (§1.12). */
export async function semiSyncNamesOf(conn: SqlConnection): Promise<SemiSyncNames> {
  return SEMISYNC_NAMES[(await semiSyncVariables(conn)).family];
}

const CLONE_STATES: readonly CloneState[] = ["Not Started", "In Progress", "Completed", "Failed"];

/** Runs the §1.3 queries on one instance. Throws on any error. */
export async function fetchInstanceStatus(conn: SqlConnection): Promise<InstanceStatus> {
  const [g] = await conn.query(
    "SELECT @@server_uuid AS uuid, @@gtid_executed AS executed, @@gtid_purged AS purged, @@read_only AS ro, @@super_read_only AS sro, @@offline_mode AS om",
  );
  if (g === undefined) throw new Error("no row for global variables");
  const { family, values } = await semiSyncVariables(conn);
  const names = SEMISYNC_NAMES[family];

  const statusRows = await conn.query(
    "SELECT VARIABLE_VALUE AS value FROM performance_schema.global_status WHERE VARIABLE_NAME=?",
    [names.sourceWaitSessionsStatus],
  );
  const waitSessions = statusRows.length === 0 ? 0 : num(statusRows[0]?.value);

  const replicaHosts: ReplicaHostRow[] = (await conn.query("SHOW REPLICAS")).map((r) => ({
    serverId: num(r.Server_Id),
    host: str(r.Host),
    port: num(r.Port),
    sourceId: num(r.Source_Id),
    replicaUuid: str(r.Replica_UUID),
  }));

  const rsRows = await conn.query("SHOW REPLICA STATUS");
  const rs = rsRows.find((r) => str(r.Channel_Name) === "") ?? rsRows[0];
  const replicaStatus: ReplicaStatusRow | null =
    rs === undefined
      ? null
      : {
          sourceHost: str(rs.Source_Host),
          replicaIORunning: str(rs.Replica_IO_Running),
          replicaSQLRunning: str(rs.Replica_SQL_Running),
          retrievedGtidSet: str(rs.Retrieved_Gtid_Set),
          executedGtidSet: str(rs.Executed_Gtid_Set),
          secondsBehindSource: numOrNull(rs.Seconds_Behind_Source),
          lastIOErrno: num(rs.Last_IO_Errno),
          lastIOError: str(rs.Last_IO_Error),
          lastSQLErrno: num(rs.Last_SQL_Errno),
          lastSQLError: str(rs.Last_SQL_Error),
        };

  let cloneState: CloneState | null = null;
  try {
    const rows = await conn.query("SELECT state FROM performance_schema.clone_status");
    const state = rows.length === 0 ? "" : str(rows[0]?.state);
    if (state !== "") {
      if (!(CLONE_STATES as readonly string[]).includes(state)) throw new Error(`unknown clone state ${state}`);
      cloneState = state as CloneState;
    }
  } catch (e) {
    // Without the clone plugin the table does not exist: no clone state.
    if (errnoOf(e) !== ER_NO_SUCH_TABLE) throw e;
  }

  return {
    serverUuid: str(g.uuid),
    gtidExecuted: str(g.executed),
    gtidPurged: str(g.purged),
    readOnly: bool(g.ro),
    superReadOnly: bool(g.sro),
    offlineMode: bool(g.om),
    semiSyncSourceWaitForReplicaCount: num(values.get(names.sourceWaitForReplicaCount)),
    semiSyncSourceEnabled: bool(values.get(names.sourceEnabled)),
    semiSyncReplicaEnabled: bool(values.get(names.replicaEnabled)),
    semiSyncSourceWaitSessions: waitSessions,
    replicaHosts,
    replicaStatus,
    cloneState,
  };
}

export interface FetchOptions {
  /** Tries in all (default 3). */
  readonly attempts?: number | undefined;
  /** Time between the starts of two tries (default 3 s; env MOCO_CHECK_INTERVAL). */
  readonly retryGapMs?: number | undefined;
  /** Connect timeout of each try (default: the pass's). */
  readonly connectTimeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly logger?: ClusteringLogger | undefined;
}

/** Why a status fetch gave no status. */
export type FetchOutcome =
  | { readonly status: InstanceStatus }
  | { readonly status: null; readonly unreachable: boolean };

/**
 * §1.3 step 4 for one ordinal: up to `attempts` tries, each on its own new connection,
 * started `retryGapMs` apart without waiting for the previous one to fail (a try that
 * hangs until its connect or read timeout, as against an unresponsive or partitioned
 * instance, no longer delays the next); the first status wins and its connection becomes
 * the pass's cached one. `unreachable` after every try failed; not when the instance has
 * no address (NopError). Never throws.
 */
export async function fetchInstanceStatusHedged(
  conns: PassConnections,
  ordinal: number,
  options: FetchOptions = {},
): Promise<FetchOutcome> {
  const attempts = Math.max(1, options.attempts ?? DEFAULT_FETCH_ATTEMPTS);
  const gap = options.retryGapMs ?? DEFAULT_FETCH_RETRY_GAP_MS;
  const log = options.logger ?? silentLogger;
  let winner: InstanceStatus | null = null;
  let nop = false;
  let done = false;
  let resolveWin = (): void => undefined;
  const won = new Promise<void>((resolve) => {
    resolveWin = resolve;
  });
  const attempt = async (i: number): Promise<void> => {
    let conn: SqlConnection | undefined;
    try {
      conn = await conns.open(ordinal, options.connectTimeoutMs);
      const status = await fetchInstanceStatus(conn);
      if (done) {
        await conn.close();
        return;
      }
      done = true;
      await conns.adopt(ordinal, conn);
      winner = status;
      resolveWin();
    } catch (e) {
      await conn?.close().catch(() => undefined);
      if (e instanceof NopError) {
        nop = true;
        done = true;
        resolveWin();
        return;
      }
      log.debug(
        { instance: ordinal, attempt: i, error: e instanceof Error ? e.message : String(e) },
        "failed to get the instance status",
      );
    }
  };
  const tries: Promise<void>[] = [];
  const schedule = (async () => {
    for (let i = 1; i <= attempts && !done; i++) {
      if (i > 1) {
        // The gap counts from the previous start; a win ends the wait early.
        const slept = await Promise.race([
          sleep(gap, options.signal).then(() => true, () => false),
          won.then(() => false),
        ]);
        if (!slept || done) break;
      }
      if (options.signal?.aborted === true) break;
      tries.push(attempt(i));
    }
  })();
  await schedule;
  await Promise.race([won, Promise.all(tries)]);
  if (winner !== null) return { status: winner };
  // No status: every scheduled try has failed (or the instance has no address).
  await Promise.all(tries);
  return winner !== null ? { status: winner } : { status: null, unreachable: !nop };
}

/** The status of `ordinal` or null (fetchInstanceStatusHedged without the reason). */
export async function fetchInstanceStatusWithRetry(
  conns: PassConnections,
  ordinal: number,
  options: FetchOptions = {},
): Promise<InstanceStatus | null> {
  return (await fetchInstanceStatusHedged(conns, ordinal, options)).status;
}

// ---------------------------------------------------------------------------------
// The cluster (§1.3 procedure)

export class ObserveError extends Error {
  override name = "ObserveError";
}

/** The ordinal of a Pod from the last `-` field of its name; null when unparsable. */
export function ordinalOfPodName(name: string): number | null {
  const field = name.slice(name.lastIndexOf("-") + 1);
  if (!/^\d+$/.test(field)) return null;
  const n = Number(field);
  return Number.isSafeInteger(n) ? n : null;
}

/** Places Pods at their ordinals (§1.3 step 3). */
export function placePods(cluster: MySQLClusterLike, pods: readonly PodView[]): (PodView | null)[] {
  const n = replicasOf(cluster);
  if (cluster.spec?.offline !== true && pods.length !== n) {
    throw new ObserveError(`too few pods; only ${pods.length} pods exist (want ${n})`);
  }
  const placed: (PodView | null)[] = Array.from({ length: n }, () => null);
  for (const pod of pods) {
    const ordinal = ordinalOfPodName(pod.name);
    if (ordinal === null) throw new ObserveError(`bad pod name: ${pod.name}`);
    if (ordinal >= n) throw new ObserveError(`index out of range: ${pod.name} (${n} replicas)`);
    placed[ordinal] = pod;
  }
  return placed;
}

export interface ObserveOptions extends SqlTimeouts {
  readonly fetchAttempts?: number | undefined;
  readonly fetchRetryGapMs?: number | undefined;
  readonly primaryRecheckDelayMs?: number | undefined;
  /**
   * Ordinals every try of the previous pass failed to reach (the manager's short-lived
   * memo), so a pass after a failover does not wait out the timeouts of a partitioned
   * instance again: the current primary among them gets a single try with connect timeout
   * `unreachableProbeConnectTimeoutMs` instead of `fetchAttempts`; any other is not tried
   * this pass (absent, as its failed try would make it; the pass after tries it again).
   */
  readonly recentlyUnreachable?: ReadonlySet<number> | undefined;
  /** Default UNREACHABLE_PROBE_CONNECT_TIMEOUT_MS. */
  readonly unreachableProbeConnectTimeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly logger?: ClusteringLogger | undefined;
}

export interface Observed {
  readonly observation: ClusterObservation;
  readonly passwords: MocoPasswords;
  /** The pass's admin connections; the caller closes them (closeAll) at the end of the pass. */
  readonly conns: PassConnections;
  /** The cluster's TLS settings (null: plaintext). */
  readonly tls: ClusterTls | null;
  /** Ordinals with an address whose every status try failed this pass. */
  readonly unreachable: readonly number[];
}

/** HOST/PORT of the external source Secret (no credentials) for configure. */
export async function readReplicationSourceView(ports: ClusterPorts, secretName: string): Promise<ReplicationSourceView> {
  try {
    const secret = await ports.replicationSource.read(secretName);
    const host = secret.HOST ?? "";
    const portText = secret.PORT ?? "";
    if (host === "") return { ok: false, error: `secret ${secretName} has no HOST` };
    const port = parsePort(portText);
    if (port === null) return { ok: false, error: `secret ${secretName} has an invalid PORT` };
    return { ok: true, host, port };
  } catch (e) {
    return { ok: false, error: `failed to read secret ${secretName}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** A positive 32-bit integer, else null. */
export function parsePort(text: string): number | null {
  if (!/^\d+$/.test(text.trim())) return null;
  const n = Number(text.trim());
  return n > 0 && n <= 2_147_483_647 ? n : null;
}

/** Where replicas point for ordinal i, and where the admin connection goes. */
export function addressingOf(ports: ClusterPorts): {
  podHostname(cluster: MySQLClusterLike, ordinal: number, pod: PodView | null): string;
  adminAddress(cluster: MySQLClusterLike, ordinal: number, pod: PodView | null): string | null;
} {
  const a = ports.addressing;
  return {
    podHostname: (cluster, ordinal, pod) => a?.podHostname?.(cluster, ordinal, pod) ?? defaultPodHostname(cluster, ordinal),
    adminAddress: (cluster, ordinal, pod) => {
      if (a?.adminAddress !== undefined) return a.adminAddress(cluster, ordinal, pod);
      const ip = pod?.ip ?? "";
      return ip === "" ? null : ip;
    },
  };
}

/**
 * §1.3 steps 1–5 (and the source Secret's HOST/PORT for intermediate clusters). Returns
 * null when the MySQLCluster does not exist. Throws when the pass must fail.
 */
export async function observeCluster(ports: ClusterPorts, options: ObserveOptions = {}): Promise<Observed | null> {
  const logger = options.logger ?? silentLogger;
  const cluster = await ports.source.getCluster();
  if (cluster === null) return null;
  const passwords = await ports.credentials.getPasswords();
  const pods = placePods(cluster, await ports.source.listPods());
  const n = replicasOf(cluster);
  const addressing = addressingOf(ports);
  const adminHosts = pods.map((pod, i) => addressing.adminAddress(cluster, i, pod));
  const tls = ports.tls === undefined ? null : await ports.tls.get(cluster);
  const conns = new PassConnections(
    (i) => ({ host: adminHosts[i] ?? null, port: MYSQL_ADMIN_PORT, serverName: tls !== null && (tls.instanceHasTls?.(i) ?? true) ? tls.serverName(i) : undefined }),
    { user: "moco-admin", password: passwords.ADMIN_PASSWORD },
    options,
    tls ?? undefined,
  );
  try {
    const fetchOptions: FetchOptions = {
      attempts: options.fetchAttempts,
      retryGapMs: options.fetchRetryGapMs,
      signal: options.signal,
      logger,
    };
    const probeOptions: FetchOptions = {
      ...fetchOptions,
      attempts: 1,
      connectTimeoutMs: options.unreachableProbeConnectTimeoutMs ?? UNREACHABLE_PROBE_CONNECT_TIMEOUT_MS,
    };
    const primaryIndex = cluster.status?.currentPrimaryIndex ?? 0;
    const outcomes = await Promise.all(
      Array.from({ length: n }, (_, i): Promise<FetchOutcome> => {
        if (options.recentlyUnreachable?.has(i) !== true) return fetchInstanceStatusHedged(conns, i, fetchOptions);
        if (i === primaryIndex) return fetchInstanceStatusHedged(conns, i, probeOptions);
        return Promise.resolve({ status: null, unreachable: false });
      }),
    );
    const instances = outcomes.map((o) => o.status);
    const unreachable = outcomes.flatMap((o, i) => (o.status === null && o.unreachable ? [i] : []));
    if (primaryIndex >= 0 && primaryIndex < n && instances[primaryIndex] != null) {
      await sleep(options.primaryRecheckDelayMs ?? PRIMARY_RECHECK_DELAY_MS, options.signal);
      try {
        instances[primaryIndex] = await conns.with(primaryIndex, (conn) => fetchInstanceStatus(conn));
      } catch (e) {
        throw new ObserveError(
          `failed to re-fetch the status of the primary ${primaryIndex}: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
    let replicationSource: ReplicationSourceView | undefined;
    if (isIntermediate(cluster)) {
      replicationSource = await readReplicationSourceView(ports, cluster.spec?.replicationSourceSecretName ?? "");
    }
    const podHostnames = pods.map((pod, i) => addressing.podHostname(cluster, i, pod));
    const observation: ClusterObservation = {
      cluster,
      pods,
      instances,
      podHostnames,
      ...(replicationSource === undefined ? {} : { replicationSource }),
    };
    return { observation, passwords, conns, tls, unreachable };
  } catch (e) {
    await conns.closeAll();
    throw e;
  }
}
