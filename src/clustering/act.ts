// Act (docs/clustering.md#operator-primitives, docs/clustering.md#procedures): runs the one Operation decided for a pass against the
// instances (mysql2, admin port, moco-admin), the Kubernetes side (through the ports)
// and the cloner. SQL is MySQL 8.4/9.7 syntax with the current semi-sync names (the
// legacy ones on instances whose legacy plugins are ACTIVE).
import { gtidIsEmpty, gtidSubtract, formatGtidSet } from "../mysql/gtid.ts";
import { replicationSslOptions } from "../mysql/tls.ts";
import type { ReplicationTls } from "../mysql/tls.ts";
import { fenceHungUp, killConnections, setSuperReadOnly } from "../mysql/fence.ts";
import type { MocoPasswords } from "../mysql/users.ts";
import {
  AFTER_STOP_IO_THREAD_MS,
  SWITCH_GTID_WAIT_SECONDS,
  chooseFailoverTarget,
  preventDeleteAnnotationChanges,
  sourceHostOf,
} from "./decide.ts";
import { failoverGuard, type OldPrimaryState } from "./fence-guard.ts";
import { DEFAULT_SELF_FENCE_TIMINGS, PROBED_AGES_QUERY, parseProbedAges, type SelfFenceTimings } from "../mysql/self-fence.ts";
import type { ClusterStatusUpdate } from "./decide.ts";
import { parsePort } from "./cluster.ts";
import { OLD_PRIMARY_LAST_TRY_MS, fetchInstanceStatus, semiSyncNamesOf } from "./instance.ts";
import type { ClusterMetricLabels, ClusterPorts, ClusterTls, ClusteringLogger, ClusteringMetrics } from "./ports.ts";
import { silentLogger } from "./ports.ts";
import { num, sleep, str } from "./sql.ts";
import type { PassConnections, SqlConnection } from "./sql.ts";
import type { ConfigureStep, InstanceStatus, ObservedCluster, Operation } from "./types.ts";
import { errorMessage } from "../util/errors.ts";

// ---------------------------------------------------------------------------------
// Timings (docs/clustering.md#timing-constants)

/**
 * Grace `SET GLOBAL super_read_only=1` gets in a switchover before the client connections
 * on the primary are killed (MOCO's order: read-only, kill, wait). It blocks behind every
 * open transaction and table lock; a writer that keeps one open held it for the whole
 * 10 s this used to be (issue 14: a 10.4 s write gap). Killing only ends transactions
 * that were not acknowledged (a commit either completes or is rolled back with the
 * session), so a short grace costs no acknowledged write.
 */
export const SWITCHOVER_READ_ONLY_WAIT_MS = 500;
export const KILL_SETTLE_MS = 100;
export const DEFAULT_CLONE_SETTLE_MS = 3_000;
export const CLONE_POLL_ATTEMPTS = 60;
export const CLONE_POLL_INTERVAL_MS = 1_000;

export interface ActOptions {
  /** docs/clustering.md#switchover step 1: grace before the kill (default SWITCHOVER_READ_ONLY_WAIT_MS, 0.5 s). */
  readonly switchoverReadOnlyWaitMs?: number | undefined;
  /** WAIT_FOR_EXECUTED_GTID_SET timeout in switchover/failover (default 50 s). */
  readonly switchGtidWaitSeconds?: number | undefined;
  /** Bound of each failover statement on a replica (default FAILOVER_REPLICA_STATEMENT_TIMEOUT_MS). */
  readonly replicaStatementTimeoutMs?: number | undefined;
  /** After STOP REPLICA IO_THREAD and between kills (default 100 ms). */
  readonly afterStopIOThreadMs?: number | undefined;
  /** Post-clone settle (default 3 s; env MOCO_CLONE_WAIT_DURATION). */
  readonly cloneSettleMs?: number | undefined;
  readonly clonePollAttempts?: number | undefined;
  readonly clonePollIntervalMs?: number | undefined;
  readonly logger?: ClusteringLogger | undefined;
  readonly metrics?: ClusteringMetrics | undefined;
  /** The pass's signal (deadline or worker stop). */
  readonly signal?: AbortSignal | undefined;
  /** The signal of clone requests: the worker's stop only (a clone has its own bound). */
  readonly cloneSignal?: AbortSignal | undefined;
  /**
   * The agents' self-fencing timings the failover guard relies on (default
   * DEFAULT_SELF_FENCE_TIMINGS, the agent's defaults; thresholdMs 0: agents without
   * self-fencing, no wait).
   */
  readonly selfFence?: SelfFenceTimings | undefined;
}

export interface ActContext {
  readonly ports: ClusterPorts;
  readonly observed: ObservedCluster;
  readonly conns: PassConnections;
  readonly passwords: MocoPasswords;
  readonly options?: ActOptions | undefined;
  /** The cluster's TLS settings (docs/tls.md); absent or null ⇒ plaintext replication. */
  readonly tls?: ClusterTls | null | undefined;
}

export interface ActResult {
  readonly redo: boolean;
}

/** An operation failed; the message is safe to show (no secrets). */
export class ActError extends Error {
  override name = "ActError";
}

function metricLabels(ctx: ActContext): ClusterMetricLabels {
  return { name: ctx.ports.key.name, namespace: ctx.ports.key.namespace };
}

function logger(ctx: ActContext): ClusteringLogger {
  return ctx.options?.logger ?? silentLogger;
}

// ---------------------------------------------------------------------------------
// Primitives (docs/clustering.md#operator-primitives). Each takes one admin connection. setSuperReadOnly, killConnections and
// fenceHungUp live in src/mysql/fence.ts (the agent's self-fencing uses them too).
export { SUPER_READ_ONLY_TIMEOUT_MS, fenceHungUp, killConnections, setSuperReadOnly } from "../mysql/fence.ts";

/**
 * setReadOnly(false): STOP REPLICA; RESET REPLICA; read_only=0 (clears super_read_only too);
 * then offline_mode=OFF (moco-ts: a fence interrupted before its end leaves it ON).
 */
export async function makeWritable(conn: SqlConnection): Promise<void> {
  await conn.exec("STOP REPLICA");
  await conn.exec("RESET REPLICA");
  await conn.exec("SET GLOBAL read_only=0");
  await conn.exec("SET GLOBAL offline_mode=OFF");
}

export async function stopReplicaIOThread(conn: SqlConnection): Promise<void> {
  await conn.exec("STOP REPLICA IO_THREAD");
}

export async function startReplicaIOThread(conn: SqlConnection): Promise<void> {
  await conn.exec("START REPLICA IO_THREAD");
}

/**
 * Bound of each failover statement on a replica (STOP REPLICA IO_THREAD, the re-read of its
 * status, the read of its probe records) instead of the 60 s read timeout: measured on
 * MySQL 9.7 (docs/clustering.md "Failover"), STOP REPLICA IO_THREAD returns within 5–310 ms
 * with its source idle, streaming, frozen or SIGSTOPped, and after one 2 s round of the
 * server's stop loop when the IO thread is still connecting; a replica that does not answer
 * within 10 s fails the failover pass at once, and the watch's re-nudge starts the next.
 */
export const FAILOVER_REPLICA_STATEMENT_TIMEOUT_MS = 10_000;

/**
 * Failover step 1: STOP REPLICA IO_THREAD on every one of `ordinals` at once, each statement
 * bounded by `timeoutMs`; returns when each one returned (performance.now()). Throws when
 * any replica could not be stopped (the failover needs every one stopped).
 */
export async function stopReplicaIOThreads(conns: PassConnections, ordinals: readonly number[], timeoutMs: number): Promise<Map<number, number>> {
  const stoppedAt = new Map<number, number>();
  await Promise.all(ordinals.map(async (i) => {
    await conns.with(i, (conn) => conn.bounded(timeoutMs, stopReplicaIOThread));
    stoppedAt.set(i, performance.now());
  }));
  return stoppedAt;
}

/** WAIT_FOR_EXECUTED_GTID_SET(gtid, timeout); 1 ⇒ timeout error. A timeout below 1 s is refused (never unbounded). */
export async function waitForGtid(conn: SqlConnection, gtid: string, timeoutSeconds: number): Promise<void> {
  if (!(timeoutSeconds >= 1)) throw new ActError(`WAIT_FOR_EXECUTED_GTID_SET needs a timeout, got ${timeoutSeconds} s`);
  const rows = await conn.query("SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r", [gtid, timeoutSeconds], {
    timeoutMs: (timeoutSeconds + 10) * 1000,
  });
  if (num(rows[0]?.r) !== 0) throw new ActError(`timed out waiting for GTID set after ${timeoutSeconds} s`);
}

/** configurePrimary(n): semi-sync source with `n` acks, AFTER_SYNC, a 24 h timeout. */
export async function configureSemiSyncSource(conn: SqlConnection, waitForReplicaCount: number, timeoutMs: number): Promise<void> {
  const names = await semiSyncNamesOf(conn);
  await conn.exec(`SET GLOBAL ${names.sourceTimeout}=?`, [timeoutMs]);
  await conn.exec(`SET GLOBAL ${names.sourceWaitForReplicaCount}=?`, [waitForReplicaCount]);
  const waitPoint = names.sourceEnabled.replace(/_enabled$/, "_wait_point");
  await conn.exec(`SET GLOBAL ${waitPoint}='AFTER_SYNC'`);
  await conn.exec(`SET GLOBAL ${names.sourceEnabled}=ON`);
}

export interface ReplicationSourceConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Never logged. */
  readonly password: string;
  /** SOURCE_SSL=1 with verification (moco-ts addition); absent ⇒ SOURCE_SSL=0. */
  readonly tls?: ReplicationTls | undefined;
}

/** configureReplica(source, semisync) with CHANGE REPLICATION SOURCE TO (8.0.23+, 8.4, 9.x). */
export async function configureReplica(conn: SqlConnection, source: ReplicationSourceConfig, semiSync: boolean): Promise<void> {
  const [v] = await conn.query("SELECT SUBSTRING_INDEX(VERSION(), '.', 2) AS v");
  const major = Number(str(v?.v).split(".")[0]);
  if (!Number.isInteger(major) || major < 8) {
    throw new ActError(`unsupported MySQL version ${str(v?.v)}`);
  }
  const names = await semiSyncNamesOf(conn);
  await conn.exec("STOP REPLICA");
  const ssl = replicationSslOptions(source.tls);
  await conn.exec(
    `CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PORT=?, SOURCE_USER=?, SOURCE_PASSWORD=?, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, ${ssl.sql}`,
    [source.host, source.port, source.user, source.password, ...ssl.params],
    { secrets: [source.password] },
  );
  await conn.exec(`SET GLOBAL ${names.replicaEnabled}=?`, [semiSync ? "ON" : "OFF"]);
  await conn.exec(`SET GLOBAL ${names.sourceEnabled}=OFF`);
  await conn.exec("START REPLICA");
}

// ---------------------------------------------------------------------------------
// Status written by a pass (docs/clustering.md#status-written-by-a-pass, docs/clustering.md#deletion-guard-for-replication-delay)

/** Writes the pass's status fields, then maintains the prevent-delete annotation. */
export async function writeStatusAndGuards(
  ports: ClusterPorts,
  observed: ObservedCluster,
  update: ClusterStatusUpdate,
): Promise<void> {
  await ports.status.writeStatus(update);
  const { add, remove } = preventDeleteAnnotationChanges(observed);
  for (const i of add) {
    const pod = observed.pods[i];
    if (pod != null) await ports.pods.setPreventDelete(pod.name);
  }
  for (const i of remove) {
    const pod = observed.pods[i];
    if (pod != null) await ports.pods.removePreventDelete(pod.name);
  }
}

// ---------------------------------------------------------------------------------
// Operations

async function emit(ctx: ActContext, type: "Normal" | "Warning", reason: Parameters<ClusterPorts["events"]["emit"]>[1], msg: string): Promise<void> {
  try {
    await ctx.ports.events.emit(type, reason, msg);
  } catch (e) {
    logger(ctx).warn({ reason, error: errorMessage(e) }, "failed to emit an event");
  }
}

function podName(ctx: ActContext, i: number): string {
  const pod = ctx.observed.pods[i] ?? null;
  if (pod === null) throw new ActError(`pod of instance ${i} is missing`);
  return pod.name;
}

/** Polls the status of `i` until it answers (after a clone restarted mysqld). */
async function pollAfterClone(ctx: ActContext, i: number): Promise<InstanceStatus> {
  const o = ctx.options ?? {};
  await ctx.conns.discard(i);
  await sleep(o.cloneSettleMs ?? DEFAULT_CLONE_SETTLE_MS, o.signal);
  const attempts = o.clonePollAttempts ?? CLONE_POLL_ATTEMPTS;
  let last: unknown;
  for (let k = 0; k < attempts; k++) {
    try {
      return await ctx.conns.with(i, (conn) => fetchInstanceStatus(conn));
    } catch (e) {
      last = e;
      await ctx.conns.discard(i).catch(() => undefined);
      await sleep(o.clonePollIntervalMs ?? CLONE_POLL_INTERVAL_MS, o.signal);
    }
  }
  throw new ActError(`instance ${i} did not answer after the clone: ${errorMessage(last)}`);
}

/** Runs `op` (docs/clustering.md#operation-per-state). Throws on failure (the pass errors; the next pass retries). */
export async function runOperation(ctx: ActContext, op: Operation): Promise<ActResult> {
  switch (op.kind) {
    case "none":
    case "wait":
      return { redo: false };
    case "initialClone":
      return runInitialClone(ctx, op.instance);
    case "switchover":
      return runSwitchover(ctx, op);
    case "failover":
      return runFailover(ctx, op);
    case "configure":
      return runConfigure(ctx, op.plan.steps, op.plan.redo);
  }
}

// Initial clone (docs/clustering.md#initial-clone-from-an-external-donor)
async function runInitialClone(ctx: ActContext, p: number): Promise<ActResult> {
  const cluster = ctx.observed.cluster;
  const secretName = cluster.spec?.replicationSourceSecretName ?? "";
  try {
    const secret = await ctx.ports.replicationSource.read(secretName);
    const keys = ["HOST", "PORT", "USER", "PASSWORD", "INIT_USER", "INIT_PASSWORD"] as const;
    for (const k of keys) {
      if (secret[k] === undefined) throw new ActError(`secret ${secretName} has no ${k}`);
    }
    const port = parsePort(secret.PORT ?? "");
    if (port === null) throw new ActError(`secret ${secretName} has an invalid PORT`);
    const pod = ctx.observed.pods[p] ?? null;
    const startupWaitSeconds = (cluster.spec as { readonly startupWaitSeconds?: number } | undefined)?.startupWaitSeconds;
    await ctx.ports.cloner.clone({
      ordinal: p,
      podName: pod?.name ?? "",
      podIp: pod?.ip ?? "",
      podHostname: sourceHostOf(ctx.observed, p),
      donorHost: secret.HOST ?? "",
      donorPort: port,
      donorUser: secret.USER ?? "",
      donorPassword: secret.PASSWORD ?? "",
      initUser: secret.INIT_USER ?? "",
      initPassword: secret.INIT_PASSWORD ?? "",
      bootTimeoutSeconds: startupWaitSeconds,
      signal: ctx.options?.cloneSignal ?? ctx.options?.signal,
    });
  } catch (e) {
    await emit(ctx, "Warning", "InitCloneFailed", `Clone from an external mysqld failed: ${errorMessage(e)}`);
    throw new ActError(`clone from the external mysqld failed: ${errorMessage(e)}`);
  }
  await emit(ctx, "Normal", "InitCloned", "Clone from an external mysqld succeeded");
  await pollAfterClone(ctx, p);
  return { redo: true };
}

// Switchover (docs/clustering.md#switchover)
async function runSwitchover(ctx: ActContext, op: Extract<Operation, { kind: "switchover" }>): Promise<ActResult> {
  const o = ctx.options ?? {};
  const log = logger(ctx);
  const { from, to } = op;
  try {
    // 1. super_read_only on the primary, on its own connection: it may block behind writes.
    const roConn = await ctx.conns.extra(from);
    let settled = false;
    const pending = setSuperReadOnly(roConn).finally(() => {
      settled = true;
    });
    const outcome = await Promise.race([
      pending.then(
        () => "done" as const,
        (e: unknown) => e,
      ),
      sleep(o.switchoverReadOnlyWaitMs ?? SWITCHOVER_READ_ONLY_WAIT_MS, o.signal).then(() => "timeout" as const),
    ]);
    if (outcome !== "done" && outcome !== "timeout") {
      await ctx.conns.with(from, killConnections).catch(() => undefined);
      throw outcome;
    }
    if (outcome === "timeout" && !settled) {
      log.info({ instance: from }, "super_read_only is blocked; killing connections on the primary");
      await ctx.conns.with(from, killConnections);
      await pending;
    }
    await roConn.close();

    // 2. Kill again after a moment: clients that raced the switch.
    await sleep(KILL_SETTLE_MS, o.signal);
    await ctx.conns.with(from, killConnections);

    // 3. The candidate catches up with everything the old primary executed.
    const primary = await ctx.conns.with(from, (conn) => fetchInstanceStatus(conn));
    if (!primary.superReadOnly) throw new ActError(`instance ${from} is still writable`);
    await ctx.conns.with(to, (conn) =>
      waitForGtid(conn, primary.gtidExecuted, o.switchGtidWaitSeconds ?? SWITCH_GTID_WAIT_SECONDS),
    );

    // 4–6.
    await ctx.ports.status.setCurrentPrimaryIndex(to);
    o.metrics?.incCounter("moco_cluster_switchover_total", metricLabels(ctx));
    if (op.removeDemoteAnnotation) await ctx.ports.pods.removeDemoteAnnotation(podName(ctx, from));
  } catch (e) {
    await emit(ctx, "Warning", "SwitchOverFailed", `The primary could not be changed: ${errorMessage(e)}`);
    throw new ActError(`switchover from ${from} to ${to} failed: ${errorMessage(e)}`);
  }
  await emit(ctx, "Normal", "SwitchOver", `The primary was changed to instance ${to} due to a switchover`);
  log.info({ from, to }, "switchover done");
  return { redo: true };
}

interface ProbedAge {
  /** Age of the replica's record of its last confirmed probe of the old primary, as read. */
  readonly ageMs: number;
  /** When the read returned (the age is at least ageMs + time since). */
  readonly readAt: number;
}

/**
 * The replicas' records of their last confirmed probe of `from` (src/mysql/self-fence.ts),
 * read once a probe timeout has passed since each IO thread was stopped: every confirmation
 * the old primary can count is then on record (a replica writes it before it answers, and an
 * answer later than the timeout does not count). A replica not read: no record (unknown).
 */
async function readProbedAges(ctx: ActContext, from: number, stoppedAt: ReadonlyMap<number, number>, probeTimeoutMs: number, boundMs: number): Promise<Map<number, ProbedAge>> {
  const out = new Map<number, ProbedAge>();
  if (stoppedAt.size === 0) return out;
  const readFrom = Math.max(...stoppedAt.values()) + probeTimeoutMs;
  await sleep(Math.max(0, readFrom - performance.now()), ctx.options?.signal);
  await Promise.all([...stoppedAt.keys()].map(async (i) => {
    try {
      const ages = parseProbedAges(await ctx.conns.with(i, (conn) => conn.bounded(boundMs, (c) => c.query(PROBED_AGES_QUERY))));
      const age = ages.get(from);
      if (age !== undefined) out.set(i, { ageMs: age, readAt: performance.now() });
    } catch (e) {
      logger(ctx).debug({ instance: i, error: errorMessage(e) }, "failover guard: no probe record");
    }
  }));
  return out;
}

// Failover (docs/clustering.md#failover)
/**
 * Whether instance `from` answers a status read now, on a new connection: connect timeout
 * `ms`, every statement bounded by `ms`, the whole bounded by 2 × `ms` (a primary that
 * accepts the connection and then hangs does not answer).
 */
async function oldPrimaryAnswers(ctx: ActContext, from: number, ms: number): Promise<boolean> {
  let conn: SqlConnection | undefined;
  const attempt = (async () => {
    conn = await ctx.conns.open(from, ms);
    await conn.bounded(ms, fetchInstanceStatus);
    return true;
  })().catch(() => false);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 2 * ms);
  });
  try {
    return await Promise.race([attempt, late]);
  } finally {
    clearTimeout(timer);
    void attempt.then(() => conn?.close());
  }
}

async function runFailover(ctx: ActContext, op: Extract<Operation, { kind: "failover" }>): Promise<ActResult> {
  const o = ctx.options ?? {};
  const log = logger(ctx);
  let target: number;
  try {
    // 0. (moco-ts) The old primary gets one more short try, while the IO threads stop: a
    // failover decided while the controller could not reach it (a cut between the controller
    // and the Pods that has healed since) is abandoned when it answers now. The next pass
    // observes again; its configure restarts the IO threads.
    const answers = oldPrimaryAnswers(ctx, op.from, OLD_PRIMARY_LAST_TRY_MS);
    // 1. Starve the old primary of semi-sync acks (and of its agent's confirmations).
    const bound = o.replicaStatementTimeoutMs ?? FAILOVER_REPLICA_STATEMENT_TIMEOUT_MS;
    const stoppedAt = await stopReplicaIOThreads(ctx.conns, op.stopReplicaIOThreadOn, bound);
    if (await answers) {
      // Started again at once (best effort; the next pass's configure does it otherwise):
      // the old primary's agent fences it once its peers stop confirming for its threshold
      // (2 s), and the writes would then stop until that pass made it writable again
      // (15 s in the fault campaign under load).
      const restarted = await Promise.all([...stoppedAt.keys()].map((i) =>
        ctx.conns.with(i, (conn) => conn.bounded(bound, startReplicaIOThread)).then(() => i, () => undefined)));
      log.info({ from: op.from, ioRestarted: restarted.filter((i) => i !== undefined) }, "failover abandoned: the old primary answers again");
      await emit(ctx, "Normal", "FailOverAbandoned", `The primary (instance ${op.from}) answers again; the failover was not done`);
      return { redo: true };
    }
    // 2. Re-read the candidates.
    await sleep(o.afterStopIOThreadMs ?? AFTER_STOP_IO_THREAD_MS, o.signal);
    const fresh: (InstanceStatus | null)[] = ctx.observed.instances.map(() => null);
    await Promise.all(
      op.recheck.map(async (i) => {
        fresh[i] = await ctx.conns.with(i, (conn) => conn.bounded(bound, fetchInstanceStatus));
      }),
    );
    // 3. The top runner on the fresh statuses.
    const choice = chooseFailoverTarget(fresh, op.recheck);
    if (!choice.ok) throw new ActError(choice.error);
    target = choice.target;
    log.info({ from: op.from, target, expected: op.expected.ok ? op.expected.target : null }, "failover target chosen");
    // 4. Apply its relay log.
    await ctx.conns.with(target, (conn) =>
      waitForGtid(conn, choice.waitForGtid, o.switchGtidWaitSeconds ?? SWITCH_GTID_WAIT_SECONDS),
    );
    // 4b. moco-ts guard (docs/clustering.md "Self-fencing"): the old primary, unreachable, may
    // still be writable; its agent fences it once its peers stop confirming. Wait until that
    // must have happened, before the new primary is named (a controller that stops here
    // leaves the old index, and the next failover stops the IO threads again).
    const old = ctx.observed.instances[op.from] ?? null;
    const timings = o.selfFence ?? DEFAULT_SELF_FENCE_TIMINGS;
    const oldState: OldPrimaryState = old !== null && old.superReadOnly ? "read-only" : ctx.observed.down?.includes(op.from) === true ? "down" : "unknown";
    const probed = timings.thresholdMs > 0 && oldState === "unknown" ? await readProbedAges(ctx, op.from, stoppedAt, timings.probeTimeoutMs, bound) : new Map<number, ProbedAge>();
    const now = performance.now();
    const guard = failoverGuard(
      ctx.observed.instances.length,
      ctx.observed.instances.flatMap((_, i) => {
        if (i === op.from) return [];
        const at = stoppedAt.get(i);
        const rec = probed.get(i);
        return [{
          reached: at !== undefined,
          ioStoppedAgeMs: at === undefined ? undefined : now - at,
          probedAgeMs: rec === undefined ? undefined : rec.ageMs + (now - rec.readAt),
        }];
      }),
      timings,
      oldState,
    );
    if (oldState === "down") log.info({ from: op.from, target }, `failover guard: no wait (${guard.reason})`);
    if (guard.waitMs > 0) {
      log.info({ from: op.from, target, waitMs: guard.waitMs, silentMs: Math.round(guard.silentMs) }, `failover guard: waiting until the old primary has fenced itself (${guard.reason})`);
      await sleep(guard.waitMs, o.signal);
    }
    // 5.
    await ctx.ports.status.setCurrentPrimaryIndex(target);
    o.metrics?.incCounter("moco_cluster_failover_total", metricLabels(ctx));
  } catch (e) {
    await emit(ctx, "Warning", "FailOverFailed", `The primary could not be changed: ${errorMessage(e)}`);
    throw new ActError(`failover from ${op.from} failed: ${errorMessage(e)}`);
  }
  await emit(ctx, "Normal", "FailOver", `The primary was changed to instance ${target} due to a failover`);
  return { redo: true };
}

// Configure (docs/clustering.md#configure)
async function runConfigure(ctx: ActContext, steps: readonly ConfigureStep[], redo: boolean): Promise<ActResult> {
  const o = ctx.options ?? {};
  const log = logger(ctx);
  const { observed } = ctx;
  const afterClone = new Map<number, InstanceStatus>();
  const runStep = async (step: ConfigureStep): Promise<void> => {
    log.debug({ step: step.kind, instance: "instance" in step ? step.instance : undefined }, "configure step");
    switch (step.kind) {
      case "removeRoleLabel":
        await ctx.ports.pods.removeRoleLabel(podName(ctx, step.instance));
        break;
      case "setRoleLabel":
        await ctx.ports.pods.setRoleLabel(podName(ctx, step.instance), step.role);
        break;
      case "sleep":
        await sleep(step.ms, o.signal);
        break;
      case "killConnections":
        await ctx.conns.with(step.instance, killConnections);
        break;
      case "setSuperReadOnly":
        await ctx.conns.with(step.instance, setSuperReadOnly);
        break;
      case "fenceHungUp":
        await ctx.conns.with(step.instance, fenceHungUp);
        break;
      case "stopReplicaIOThread":
        await ctx.conns.with(step.instance, stopReplicaIOThread);
        break;
      case "waitForGtid":
        await ctx.conns.with(step.instance, (conn) => waitForGtid(conn, step.gtid, step.timeoutSeconds));
        break;
      case "configureSemiSyncSource":
        await ctx.conns.with(step.instance, (conn) =>
          configureSemiSyncSource(conn, step.waitForReplicaCount, step.timeoutMs),
        );
        break;
      case "configureReplication": {
        const source = await replicationSourceConfig(ctx, step.source, step.instance);
        await ctx.conns.with(step.instance, (conn) => configureReplica(conn, source, step.semiSync));
        break;
      }
      case "cloneFromPrimary":
        afterClone.set(step.instance, await cloneFromPrimary(ctx, step));
        break;
      case "checkPurgedGtids": {
        const status =
          afterClone.get(step.instance) ?? (await ctx.conns.with(step.instance, (conn) => fetchInstanceStatus(conn)));
        const missing = gtidSubtract(step.primaryPurgedGtid, status.gtidExecuted);
        if (!gtidIsEmpty(missing)) {
          throw new ActError(
            `new primary ${observed.primaryIndex} does not have binlog containing transactions ${formatGtidSet(missing, { separator: "," })} required for instance ${step.instance}`,
          );
        }
        break;
      }
      case "makeWritable":
        await ctx.conns.with(step.instance, makeWritable);
        await emit(ctx, "Normal", "Writable", "The primary became writable");
        break;
      case "fail":
        throw new ActError(step.message);
    }
  };
  for (const group of parallelGroups(steps)) {
    if (group.length === 1) {
      await runStep(group[0]!);
      continue;
    }
    // Independent steps of one kind on different instances run at once (issue #14: the API
    // round trips of the label patches, and each replica's re-pointing, no longer add up
    // before the primary becomes writable); the first failure fails the pass once all ended.
    const results = await Promise.allSettled(group.map(runStep));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }
  return { redo };
}

/** Step kinds whose consecutive steps on distinct instances are independent of each other. */
const PARALLEL_STEPS: ReadonlySet<ConfigureStep["kind"]> = new Set<ConfigureStep["kind"]>(["removeRoleLabel", "setRoleLabel", "killConnections", "configureReplication"]);

/**
 * The configure plan in the order it runs: runs of consecutive PARALLEL_STEPS steps of one
 * kind on distinct instances form one group (run at once); every other step is a group of
 * its own. Pure.
 */
export function parallelGroups(steps: readonly ConfigureStep[]): ConfigureStep[][] {
  const out: ConfigureStep[][] = [];
  for (const step of steps) {
    const last = out.at(-1);
    const head = last?.[0];
    if (
      last !== undefined && head !== undefined && head.kind === step.kind && PARALLEL_STEPS.has(step.kind) &&
      "instance" in step && !last.some((s) => "instance" in s && s.instance === step.instance)
    ) {
      last.push(step);
    } else {
      out.push([step]);
    }
  }
  return out;
}

/**
 * Whether instance `i` reaches the primary over TLS (replication, clone): the cluster uses
 * TLS and both ends mount the certificate (`i` reads the CA file, the primary serves it).
 */
export function reachesPrimaryOverTls(tls: ClusterTls | null | undefined, i: number, primary: number): boolean {
  if (tls == null) return false;
  const has = (o: number): boolean => tls.instanceHasTls?.(o) ?? true;
  return has(i) && has(primary);
}

function tlsWithPrimary(ctx: ActContext, i: number): boolean {
  return reachesPrimaryOverTls(ctx.tls, i, ctx.observed.primaryIndex);
}

async function replicationSourceConfig(
  ctx: ActContext,
  ref: Extract<ConfigureStep, { kind: "configureReplication" }>["source"],
  replica: number,
): Promise<ReplicationSourceConfig> {
  if (ref.credentials === "moco-repl") {
    const tls = tlsWithPrimary(ctx, replica) ? ctx.tls?.replication : undefined;
    return { host: ref.host, port: ref.port, user: "moco-repl", password: ctx.passwords.REPLICATION_PASSWORD, ...(tls == null ? {} : { tls }) };
  }
  const secretName = ctx.observed.cluster.spec?.replicationSourceSecretName ?? "";
  const secret = await ctx.ports.replicationSource.read(secretName);
  if (secret.USER === undefined || secret.PASSWORD === undefined) {
    throw new ActError(`secret ${secretName} has no USER or PASSWORD`);
  }
  return { host: ref.host, port: ref.port, user: secret.USER, password: secret.PASSWORD };
}

async function cloneFromPrimary(
  ctx: ActContext,
  step: Extract<ConfigureStep, { kind: "cloneFromPrimary" }>,
): Promise<InstanceStatus> {
  const i = step.instance;
  try {
    if (step.donorHost === null) throw new ActError(`the primary ${ctx.observed.primaryIndex} has no Pod IP`);
    const pod = ctx.observed.pods[i] ?? null;
    if (step.discardErrant !== undefined) {
      // docs/clustering.md "Errant former primary": the set named is gone with the clone.
      await emit(ctx, "Warning", "ReinitializingErrantFormerPrimary",
        `Instance ${i} was a primary and has transactions no client was told committed (${step.discardErrant}); cloning it from the primary ${ctx.observed.primaryIndex}, which discards them`);
    }
    await ctx.conns.discard(i);
    await ctx.ports.cloner.clone({
      ordinal: i,
      podName: pod?.name ?? "",
      podIp: pod?.ip ?? "",
      podHostname: sourceHostOf(ctx.observed, i),
      donorHost: step.donorHost,
      donorPort: step.donorPort,
      donorUser: "moco-clone-donor",
      donorPassword: ctx.passwords.CLONE_DONOR_PASSWORD,
      initUser: "moco-admin",
      initPassword: ctx.passwords.ADMIN_PASSWORD,
      verifyDonorTls: tlsWithPrimary(ctx, i),
      ...(step.discardErrant === undefined ? {} : { discardErrantGtids: step.discardErrant }),
      signal: ctx.options?.cloneSignal ?? ctx.options?.signal,
    });
  } catch (e) {
    await emit(ctx, "Warning", "CloneFailed", `Clone from the primary failed for instance ${i}: ${errorMessage(e)}`);
    throw new ActError(`clone from the primary failed for instance ${i}: ${errorMessage(e)}`);
  }
  await emit(ctx, "Normal", "Cloned", `Clone from the primary succeeded for instance ${i}`);
  return pollAfterClone(ctx, i);
}
