// Gathering status (docs/clustering.md#gathering-status): the cluster, its Pods, and every instance's
// status fetched in parallel over the admin port as moco-admin, with retries; the
// primary is fetched again 100 ms later. Produces the ClusterObservation that the pure
// part (decide.ts) assesses. An unreachable or half-broken instance is `null`; errors
// that fail the pass are thrown (the manager counts and logs them).
import { MYSQL_ADMIN_PORT, podHostname as defaultPodHostname, isIntermediate, parsePort, replicasOf } from "./cluster.ts";
import { UNREACHABLE_PROBE_CONNECT_TIMEOUT_MS, fetchInstanceStatus } from "./instance.ts";
import type { MocoPasswords } from "../mysql/users.ts";
import type { ClusterPorts, ClusterTls, ClusteringLogger } from "./ports.ts";
import { silentLogger } from "./ports.ts";
import { NopError, PassConnections, sleep } from "./sql.ts";
import type { SqlConnection, SqlTimeouts } from "./sql.ts";
import type { ClusterObservation, InstanceStatus, MySQLClusterLike, PodView, ReplicationSourceView } from "./types.ts";
import { tryParseGoDuration } from "../util/duration.ts";
import { podOrdinal } from "../util/pod-name.ts";
import { errorMessage } from "../util/errors.ts";

export const DEFAULT_FETCH_ATTEMPTS = 3;
export const DEFAULT_FETCH_RETRY_GAP_MS = 3_000;
export const PRIMARY_RECHECK_DELAY_MS = 100;
export { UNREACHABLE_PROBE_CONNECT_TIMEOUT_MS } from "./instance.ts";

// ---------------------------------------------------------------------------------
// Go durations (the MOCO_* environment overrides are Go durations)

/** A duration from the environment variable `name`, or `fallback` when unset, invalid or negative. */
export function envDurationMs(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const text = env[name];
  if (text === undefined) return fallback;
  const ms = tryParseGoDuration(text.trim());
  return ms !== undefined && ms >= 0 ? ms : fallback;
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
  /**
   * moco-ts (issue #14): asked while every try so far was refused (ECONNREFUSED) and none is
   * in flight, between tries (every DOWN_POLL_MS) and after the last: true (the kubelet
   * reports the mysqld container not running) ends the tries at once, the outcome `down`.
   */
  readonly isStopped?: (() => boolean | Promise<boolean>) | undefined;
  /**
   * moco-ts (issue #14): true once the liveness watch has reported the instance silent since
   * the pass started (looked at every DOWN_POLL_MS while no try has won): the hedged tries
   * end (those in flight are closed when they end) and the instance gets the single short
   * try a pass started by that report would give it (`abandonTryMs`: connect and each
   * statement bounded): its status, or unreachable.
   */
  readonly abandonWhen?: (() => boolean) | undefined;
  /** The bound of that short try (default UNREACHABLE_PROBE_CONNECT_TIMEOUT_MS). */
  readonly abandonTryMs?: number | undefined;
  /** Bound of each status statement of a try (default: the connection's read timeout). */
  readonly statementTimeoutMs?: number | undefined;
}

/** How often a refused instance's Pod is looked at between two tries (isStopped). */
export const DOWN_POLL_MS = 100;

/** Why a status fetch gave no status. `down`: every try refused and the kubelet reports mysqld not running. */
export type FetchOutcome =
  | { readonly status: InstanceStatus }
  | { readonly status: null; readonly unreachable: boolean; readonly down?: boolean | undefined };

/** A connect refused: nothing listens on the port (as against no answer, or an error answer). */
export function isRefused(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === "ECONNREFUSED";
}

/**
 * docs/clustering.md#gathering-status step 4 for one ordinal: up to `attempts` tries, each on its own new connection,
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
  let inFlight = 0;
  let failed = 0;
  let refused = 0;
  /** Every try so far ended refused (none in flight) and the kubelet says mysqld is not running. */
  const downNow = async (): Promise<boolean> =>
    options.isStopped !== undefined && !done && inFlight === 0 && failed > 0 && refused === failed && await options.isStopped();
  let resolveWin = (): void => undefined;
  const won = new Promise<void>((resolve) => {
    resolveWin = resolve;
  });
  const attempt = async (i: number): Promise<void> => {
    let conn: SqlConnection | undefined;
    log.debug({ instance: ordinal, attempt: i }, "trying the instance status");
    const started = performance.now();
    inFlight++;
    try {
      conn = await conns.open(ordinal, options.connectTimeoutMs);
      const connectedMs = Math.round(performance.now() - started);
      const bound = options.statementTimeoutMs;
      const status = bound === undefined ? await fetchInstanceStatus(conn) : await conn.bounded(bound, fetchInstanceStatus);
      log.debug({ instance: ordinal, attempt: i, connectedMs, ms: Math.round(performance.now() - started) }, "got the instance status");
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
      failed++;
      if (isRefused(e)) refused++;
      log.debug(
        { instance: ordinal, attempt: i, error: errorMessage(e) },
        "failed to get the instance status",
      );
    } finally {
      inFlight--;
    }
  };
  const tries: Promise<void>[] = [];
  let down = false;
  // The watch's report during the pass (abandonWhen), looked at every DOWN_POLL_MS until a try wins.
  let abandoned = false;
  let ended = false;
  const abandon = options.abandonWhen === undefined ? new Promise<void>(() => undefined) : (async () => {
    while (!done && !abandoned && !ended) {
      if (options.abandonWhen?.() === true) {
        abandoned = true;
        return;
      }
      await sleep(DOWN_POLL_MS, options.signal).catch(() => undefined);
      if (options.signal?.aborted === true) await new Promise<void>(() => undefined);
    }
    await new Promise<void>(() => undefined);
  })();
  const schedule = (async () => {
    for (let i = 1; i <= attempts && !done && !down; i++) {
      if (i > 1) {
        // The gap counts from the previous start; a win ends the wait early; so does a
        // refused instance whose Pod says mysqld is not running (looked at every DOWN_POLL_MS).
        const until = performance.now() + gap;
        let slept = true;
        while (slept && !done) {
          const left = until - performance.now();
          if (left <= 0) break;
          slept = await Promise.race([
            sleep(options.isStopped === undefined ? left : Math.min(left, DOWN_POLL_MS), options.signal).then(() => true, () => false),
            won.then(() => false),
            abandon.then(() => false),
          ]);
          if (slept && await downNow()) down = true;
          if (down) break;
        }
        if (!slept || done || down || abandoned) break;
      }
      if (options.signal?.aborted === true) break;
      tries.push(attempt(i));
    }
  })();
  try {
    await schedule;
    await Promise.race([won, Promise.all(tries), abandon]);
    if (winner !== null) return { status: winner };
    if (abandoned) {
      done = true;
      log.info({ instance: ordinal, tries: tries.length }, "the liveness watch reported the instance silent during the pass: its tries end; one short try");
      const ms = options.abandonTryMs ?? UNREACHABLE_PROBE_CONNECT_TIMEOUT_MS;
      let conn: SqlConnection | undefined;
      try {
        conn = await conns.open(ordinal, ms);
        const status = await conn.bounded(ms, fetchInstanceStatus);
        await conns.adopt(ordinal, conn);
        return { status };
      } catch (e) {
        await conn?.close().catch(() => undefined);
        log.debug({ instance: ordinal, error: errorMessage(e) }, "the short try failed");
        return { status: null, unreachable: true };
      }
    }
    // No status: every scheduled try has failed (or the instance has no address).
    await Promise.all(tries);
    if (winner !== null) return { status: winner };
    if (!down && !nop) down = await downNow();
    if (down) log.info({ instance: ordinal, tries: failed }, "connections refused and the kubelet reports mysqld not running: down");
    return { status: null, unreachable: !nop, ...(down ? { down } : {}) };
  } finally {
    ended = true;
  }
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
// The cluster (docs/clustering.md#gathering-status procedure)

export class ObserveError extends Error {
  override name = "ObserveError";
}

/** Places Pods at their ordinals (docs/clustering.md#gathering-status step 3). */
export function placePods(cluster: MySQLClusterLike, pods: readonly PodView[]): (PodView | null)[] {
  const n = replicasOf(cluster);
  if (cluster.spec?.offline !== true && pods.length !== n) {
    throw new ObserveError(`too few pods; only ${pods.length} pods exist (want ${n})`);
  }
  const placed: (PodView | null)[] = Array.from({ length: n }, () => null);
  for (const pod of pods) {
    const ordinal = podOrdinal(pod.name);
    if (ordinal === undefined) throw new ObserveError(`bad pod name: ${pod.name}`);
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
  /**
   * moco-ts (issue #14): whether the liveness watch has reported `ordinal` silent since this
   * pass started (the worker's live view): the current primary's tries then end at once
   * (FetchOptions.abandonWhen), and its re-fetch is bounded like a short try.
   */
  readonly silentNow?: ((ordinal: number) => boolean) | undefined;
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

/**
 * How a pass tries `ordinal` (every instance is tried in parallel): `full` (fetchAttempts
 * hedged tries) unless it is in `recentlyUnreachable` (the previous pass failed every try,
 * or the liveness watch saw the primary silent): then `short` (one try, connect timeout
 * UNREACHABLE_PROBE_CONNECT_TIMEOUT_MS) for the current primary, `skip` for any other (it
 * is absent, as its failed tries would make it).
 */
export function fetchPlanFor(ordinal: number, primaryIndex: number, recentlyUnreachable: ReadonlySet<number> | undefined): "full" | "short" | "skip" {
  if (recentlyUnreachable?.has(ordinal) !== true) return "full";
  return ordinal === primaryIndex ? "short" : "skip";
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
    return { ok: false, error: `failed to read secret ${secretName}: ${errorMessage(e)}` };
  }
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
 * docs/clustering.md#gathering-status steps 1–5 (and the source Secret's HOST/PORT for intermediate clusters). Returns
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
    const shortMs = options.unreachableProbeConnectTimeoutMs ?? UNREACHABLE_PROBE_CONNECT_TIMEOUT_MS;
    // A silent primary's single try: its connect and each of its statements bounded (a
    // connection that stops answering after the handshake no longer costs the read timeout).
    const probeOptions: FetchOptions = { ...fetchOptions, attempts: 1, connectTimeoutMs: shortMs, statementTimeoutMs: shortMs };
    const primaryIndex = cluster.status?.currentPrimaryIndex ?? 0;
    const silentNow = options.silentNow;
    const abandonWhen = (i: number) => (i === primaryIndex && silentNow !== undefined ? { abandonWhen: () => silentNow(i), abandonTryMs: shortMs } : {});
    // The kubelet's latest word on each mysqld container (the Pod cache, read again while
    // tries are refused: a crash noticed during the pass ends its tries).
    const isStopped = (i: number) => async (): Promise<boolean> =>
      (await ports.source.listPods()).find((p) => podOrdinal(p.name) === i)?.mysqldStopped === true;
    const outcomes = await Promise.all(
      Array.from({ length: n }, (_, i): Promise<FetchOutcome> => {
        switch (fetchPlanFor(i, primaryIndex, options.recentlyUnreachable)) {
          case "full":
            return fetchInstanceStatusHedged(conns, i, { ...fetchOptions, isStopped: isStopped(i), ...abandonWhen(i) });
          case "short":
            return fetchInstanceStatusHedged(conns, i, { ...probeOptions, isStopped: isStopped(i) });
          case "skip":
            return Promise.resolve({ status: null, unreachable: false });
        }
      }),
    );
    const instances = outcomes.map((o) => o.status);
    const unreachable = outcomes.flatMap((o, i) => (o.status === null && o.unreachable ? [i] : []));
    const silentPrimary = fetchPlanFor(primaryIndex, primaryIndex, options.recentlyUnreachable) === "short";
    const down = outcomes.flatMap((o, i) => (o.status === null && o.down === true ? [i] : []));
    if (primaryIndex >= 0 && primaryIndex < n && instances[primaryIndex] != null) {
      await sleep(options.primaryRecheckDelayMs ?? PRIMARY_RECHECK_DELAY_MS, options.signal);
      // moco-ts: a primary the watch saw silent (before or during the pass) gets a bounded
      // re-fetch, and a failed one makes it unreachable, as its try would have (issue #14: an
      // inbound partition let the try through and then hung the re-fetch for the 60 s read
      // timeout); any other failed re-fetch fails the pass (upstream).
      const silent = silentPrimary || silentNow?.(primaryIndex) === true;
      try {
        instances[primaryIndex] = await conns.with(primaryIndex, (conn) => (silent ? conn.bounded(shortMs, fetchInstanceStatus) : fetchInstanceStatus(conn)));
      } catch (e) {
        if (!silent) {
          throw new ObserveError(
            `failed to re-fetch the status of the primary ${primaryIndex}: ${errorMessage(e)}`,
          );
        }
        logger.info({ instance: primaryIndex, error: errorMessage(e) }, "the re-fetch of a primary the liveness watch saw silent failed: unreachable");
        instances[primaryIndex] = null;
        unreachable.push(primaryIndex);
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
      ...(down.length === 0 ? {} : { down }),
    };
    return { observation, passwords, conns, tls, unreachable };
  } catch (e) {
    await conns.closeAll();
    throw e;
  }
}
