// The pure half of the clustering engine (docs/clustering.md#gathering-status steps 5–8, docs/clustering.md#deciding-the-cluster-state, docs/clustering.md#operation-per-state, docs/clustering.md#status-written-by-a-pass,
// docs/clustering.md#procedures): from what observe saw to one operation, with no I/O. Act runs the operation.
import { formatGtidSet, gtidCount, gtidIsEmpty, gtidIsSubset, gtidSubtract, gtidUnion, formerPrimaryTail, hasErrantGtids } from "../mysql/gtid.ts";
import type { GtidSet } from "../mysql/gtid.ts";
import type {
  ClusterCondition,
  ClusterObservation,
  ClusterState,
  ConfigurePlan,
  ConfigureStep,
  FailoverChoice,
  InstanceStatus,
  MySQLClusterLike,
  ObservedCluster,
  Operation,
  PodView,
  StateDecision,
} from "./types.ts";
import { MYSQL_ADMIN_PORT, MYSQL_PORT, isIntermediate, podHostname, replicasOf } from "./cluster.ts";

// ---------------------------------------------------------------------------------
// Constants (docs/clustering.md#timing-constants)

/** rpl_semi_sync_source_timeout: 24 h, so the source never falls back to async. */
export const SEMI_SYNC_SOURCE_TIMEOUT_MS = 86_400_000;
/** WAIT_FOR_EXECUTED_GTID_SET timeout in switchover and failover. */
export const SWITCH_GTID_WAIT_SECONDS = 50;
/** Sleep after STOP REPLICA IO_THREAD and between kills. */
export const AFTER_STOP_IO_THREAD_MS = 100;
/** Default role-change settle time (env MOCO_ROLE_WAIT_DURATION overrides, read by act). */
export const DEFAULT_ROLE_CHANGE_WAIT_MS = 300;

/** The semi-sync wait count and quorum figure: floor(replicas / 2). */
export function semiSyncWaitCount(replicas: number): number {
  return Math.floor(replicas / 2);
}

// ---------------------------------------------------------------------------------
// Small readers of the cluster

function serverIDBaseOf(cluster: MySQLClusterLike): number {
  return cluster.spec?.serverIDBase ?? 0;
}

/** PodHostname of `ordinal` as this observation sees it: `podHostnames[ordinal]` when given, else `podHostname`. */
export function sourceHostOf(observation: ClusterObservation, ordinal: number): string {
  const given = observation.podHostnames?.[ordinal];
  return given !== undefined && given !== "" ? given : podHostname(observation.cluster, ordinal);
}

function isRestoring(cluster: MySQLClusterLike): boolean {
  const restoredTime = cluster.status?.restoredTime;
  return cluster.spec?.restore != null && (restoredTime == null || restoredTime === "");
}

function ready(pod: PodView | null | undefined): boolean {
  return pod?.ready === true;
}

function isEmptyGtidText(text: string): boolean {
  return text.trim() === "";
}

// ---------------------------------------------------------------------------------
// Assessment (docs/clustering.md#gathering-status steps 5–8)

/** Thrown when an observation cannot be assessed (wrong lengths, primary out of range). */
export class ObservationError extends Error {
  override name = "ObservationError";
}

/**
 * docs/clustering.md#gathering-status steps 5–8 on a raw observation: the primary's executed GTID set, the
 * replication-delay deletion guard, errant detection (done in TypeScript with the
 * semantics of GTID_SUBTRACT, ignoring the primary's own UUID), and the hang-up guard
 * that drops non-primary instances with semi-sync sessions waiting.
 */
export function assessObservation(observation: ClusterObservation): ObservedCluster {
  const { cluster } = observation;
  const n = replicasOf(cluster);
  if (!Number.isInteger(n) || n < 1) throw new ObservationError(`invalid spec.replicas ${String(n)}`);
  if (observation.pods.length !== n || observation.instances.length !== n) {
    throw new ObservationError(
      `observation has ${observation.pods.length} pods and ${observation.instances.length} instances for ${n} replicas`,
    );
  }
  const primaryIndex = cluster.status?.currentPrimaryIndex ?? 0;
  if (!Number.isInteger(primaryIndex) || primaryIndex < 0 || primaryIndex >= n) {
    throw new ObservationError(`status.currentPrimaryIndex ${primaryIndex} is out of range [0, ${n})`);
  }
  const primary = observation.instances[primaryIndex] ?? null;
  const executedGtid = primary?.gtidExecuted ?? "";

  // Step 6: replication-delay guard.
  const maxDelay = cluster.spec?.maxDelaySecondsForPodDeletion ?? 0;
  let preventPodDeletion = false;
  if (maxDelay > 0) {
    observation.instances.forEach((ist, i) => {
      if (i === primaryIndex || ist === null) return;
      const behind = ist.replicaStatus?.secondsBehindSource;
      if (behind != null && behind > maxDelay) preventPodDeletion = true;
    });
  }

  // Step 7: errant detection. moco-ts: an errant former primary's unacknowledged tail is noted.
  const errantReplicas: number[] = [];
  const formerPrimaryTails = new Map<number, string>();
  if (primary !== null && !isEmptyGtidText(executedGtid)) {
    observation.instances.forEach((ist, i) => {
      if (i === primaryIndex || ist === null) return;
      if (!hasErrantGtids(ist.gtidExecuted, executedGtid, primary.serverUuid)) return;
      errantReplicas.push(i);
      const tail = ist.serverUuid === "" ? null : formerPrimaryTail(ist.gtidExecuted, ist.serverUuid, executedGtid, primary.serverUuid);
      if (tail !== null) formerPrimaryTails.set(i, formatGtidSet(tail, { separator: "," }));
    });
  } else {
    errantReplicas.push(...(cluster.status?.errantReplicaList ?? []));
  }

  // Step 8: hang-up guard.
  const hungUpReplicas: number[] = [];
  const hungUpWritable: number[] = [];
  const instances = observation.instances.map((ist, i) => {
    if (i !== primaryIndex && ist !== null && ist.semiSyncSourceWaitSessions > 0) {
      hungUpReplicas.push(i);
      if (!ist.superReadOnly) hungUpWritable.push(i);
      return null;
    }
    return ist;
  });

  return {
    ...observation,
    instances,
    primaryIndex,
    executedGtid,
    errantReplicas,
    formerPrimaryTails,
    preventPodDeletion,
    hungUpReplicas,
    hungUpWritable,
  };
}

// ---------------------------------------------------------------------------------
// State (docs/clustering.md#deciding-the-cluster-state)

function isErrant(observed: ObservedCluster, i: number): boolean {
  return observed.errantReplicas.includes(i);
}

function countInCluster(observed: ObservedCluster, primary: InstanceStatus): number {
  const base = serverIDBaseOf(observed.cluster);
  const n = replicasOf(observed.cluster);
  return primary.replicaHosts.filter((r) => r.serverId >= base && r.serverId < base + n).length;
}

/** goodReplica(i) without the Pod readiness check. */
function isReplicatingFromPrimary(observed: ObservedCluster, i: number): boolean {
  const ist = observed.instances[i] ?? null;
  if (ist === null || isErrant(observed, i) || !ist.superReadOnly || ist.replicaStatus === null) return false;
  return ist.replicaStatus.sourceHost === sourceHostOf(observed, observed.primaryIndex);
}

function isGoodReplica(observed: ObservedCluster, i: number): boolean {
  return ready(observed.pods[i]) && isReplicatingFromPrimary(observed, i);
}

function isSurvivor(observed: ObservedCluster, i: number): boolean {
  const ist = observed.instances[i] ?? null;
  return ist !== null && ist.replicaStatus !== null && !isErrant(observed, i) && !isEmptyGtidText(ist.gtidExecuted);
}

function nonPrimaryOrdinals(observed: ObservedCluster): number[] {
  const out: number[] = [];
  for (let i = 0; i < replicasOf(observed.cluster); i++) if (i !== observed.primaryIndex) out.push(i);
  return out;
}

/** lostData: the primary's executed set is empty while a present replica has data. */
export function hasLostData(observed: ObservedCluster): boolean {
  if (!isEmptyGtidText(observed.executedGtid)) return false;
  return nonPrimaryOrdinals(observed).some((i) => {
    const ist = observed.instances[i] ?? null;
    return ist !== null && !isEmptyGtidText(ist.gtidExecuted);
  });
}

/** What orders the switchover candidates (moco-ts; upstream takes the lowest ordinal). */
export interface SwitchRank {
  /** Its SQL thread applies (a stopped one never catches up: the writes would stop until someone starts it). */
  readonly applying: boolean;
  /** Its Pod runs the StatefulSet's update revision (a rolling update does not restart it again). */
  readonly updated: boolean;
  /** Transactions received and not yet applied (the switchover waits for them). */
  readonly pending: bigint;
  readonly ordinal: number;
}

export function switchRank(observed: ObservedCluster, i: number): SwitchRank {
  const rs = observed.instances[i]?.replicaStatus ?? null;
  let pending = 0n;
  if (rs !== null) {
    try { pending = gtidCount(gtidSubtract(rs.retrievedGtidSet, rs.executedGtidSet)); } catch { pending = 0n; }
  }
  return { applying: rs?.replicaSQLRunning === "Yes", updated: observed.pods[i]?.updated === true, pending, ordinal: i };
}

/**
 * Switchover candidates, best first: one whose SQL thread applies, then one on the update
 * revision, then the fewest transactions still to apply, then the lowest ordinal. The safety
 * rules are the candidates' (good replicas); this only picks among them.
 */
export function compareSwitchCandidates(a: SwitchRank, b: SwitchRank): number {
  if (a.applying !== b.applying) return a.applying ? -1 : 1;
  if (a.updated !== b.updated) return a.updated ? -1 : 1;
  if (a.pending !== b.pending) return a.pending < b.pending ? -1 : 1;
  return a.ordinal - b.ordinal;
}

/**
 * The cluster state (docs/clustering.md#deciding-the-cluster-state): the first matching row wins. Candidates are collected the way
 * upstream does, while rows 4 (Healthy) and 5 (Degraded) are evaluated.
 */
export function decideState(observed: ObservedCluster): StateDecision {
  const { cluster } = observed;
  const n = replicasOf(cluster);
  const half = semiSyncWaitCount(n);
  const p = observed.primaryIndex;
  const primary = observed.instances[p] ?? null;
  const intermediate = isIntermediate(cluster);
  const lostData = hasLostData(observed);
  const inCluster = primary === null ? 0 : countInCluster(observed, primary);
  const primaryModeOK = primary !== null && (intermediate ? primary.superReadOnly : !primary.readOnly && primary.offlineMode !== true);
  const others = nonPrimaryOrdinals(observed);
  const goodReplicas = others.filter((i) => isGoodReplica(observed, i));
  const survivors = others.filter((i) => isSurvivor(observed, i));
  const candidateSet = new Set<number>();

  const isCloning = (): boolean => {
    if (!intermediate || cluster.status?.cloned === true) return false;
    if (primary === null) return true;
    if (primary.cloneState !== null && primary.cloneState !== "Completed") return true;
    return primary.cloneState === null && isEmptyGtidText(primary.gtidExecuted);
  };

  const isHealthy = (): boolean => {
    if (!observed.pods.every((pod) => ready(pod))) return false;
    for (const i of others) {
      if (!isReplicatingFromPrimary(observed, i)) return false;
      candidateSet.add(i);
    }
    return primary !== null && inCluster === n - 1 && primaryModeOK;
  };

  const isDegraded = (): boolean => {
    if (!ready(observed.pods[p]) || lostData || primary === null || !primaryModeOK || inCluster < half) return false;
    let good = 0;
    for (const i of others) {
      if (!isGoodReplica(observed, i)) continue;
      good++;
      candidateSet.add(i);
    }
    return good >= half && good !== n - 1;
  };

  const primaryGone = primary === null || lostData;
  let state: ClusterState;
  if (cluster.spec?.offline === true) state = "Offline";
  else if (isCloning()) state = "Cloning";
  else if (isRestoring(cluster)) state = "Restoring";
  else if (isHealthy()) state = "Healthy";
  else if (isDegraded()) state = "Degraded";
  else if (primaryGone && survivors.length > half) state = "Failed";
  else if (primaryGone) state = "Lost";
  else state = "Incomplete";

  const candidates = [...candidateSet].sort((a, b) => a - b);
  const primaryPod = observed.pods[p] ?? null;
  const candidate = [...candidates].sort((a, b) => compareSwitchCandidates(switchRank(observed, a), switchRank(observed, b)))[0] ?? null;
  const needSwitch = candidate !== null && primaryPod !== null && (primaryPod.deleting || primaryPod.demote);
  return {
    state,
    primaryIndex: p,
    candidates,
    candidate,
    needSwitch,
    lostData,
    inCluster,
    primaryModeOK,
    goodReplicas,
    survivors,
  };
}

// ---------------------------------------------------------------------------------
// Operation (docs/clustering.md#operation-per-state)

export interface DecideOptions {
  /** Role-change settle time (docs/clustering.md#configure step 2); act reads MOCO_ROLE_WAIT_DURATION. */
  readonly roleChangeWaitMs?: number;
  /**
   * moco-ts: re-clone an errant former primary whose errant transactions are its own
   * unacknowledged tail (docs/clustering.md "Errant former primary"); default true
   * (`--reclone-errant-former-primary=false` keeps MOCO's behaviour: it stays errant).
   */
  readonly recloneErrantFormerPrimary?: boolean;
}

/** The one operation for this pass (docs/clustering.md#operation-per-state). */
export function decideOperation(
  observed: ObservedCluster,
  decision: StateDecision = decideState(observed),
  options: DecideOptions = {},
): Operation {
  const p = observed.primaryIndex;
  const { state } = decision;
  switch (state) {
    case "Offline":
      return { kind: "none", state, reason: "the cluster is offline" };
    case "Restoring":
      return { kind: "none", state, reason: "the restore job owns the instances" };
    case "Lost":
      return { kind: "none", state, reason: "too few instances with data; restore from a backup" };
    case "Cloning": {
      const primary = observed.instances[p] ?? null;
      if (primary === null) return { kind: "wait", state, reason: "the status of the primary is missing" };
      if (primary.cloneState !== null && primary.cloneState !== "Failed") {
        return { kind: "wait", state, reason: `clone state is ${primary.cloneState}` };
      }
      return { kind: "initialClone", state, instance: p };
    }
    case "Healthy":
    case "Degraded": {
      if (decision.needSwitch && decision.candidate !== null && !observed.preventPodDeletion) {
        const pod = observed.pods[p] ?? null;
        return {
          kind: "switchover",
          state,
          from: p,
          to: decision.candidate,
          removeDemoteAnnotation: pod !== null && (pod.hasDemoteAnnotation ?? pod.demote),
        };
      }
      if (state === "Healthy") {
        return {
          kind: "none",
          state,
          reason: decision.needSwitch ? "switchover held back: replicas are delayed (prevent-delete)" : "healthy",
        };
      }
      return { kind: "configure", state, plan: planConfigure(observed, options) };
    }
    case "Failed": {
      const stopReplicaIOThreadOn = nonPrimaryOrdinals(observed).filter((i) => observed.instances[i] != null);
      const recheck = stopReplicaIOThreadOn.filter((i) => !isErrant(observed, i));
      return {
        kind: "failover",
        state,
        from: p,
        stopReplicaIOThreadOn,
        recheck,
        expected: chooseFailoverTarget(observed.instances, recheck),
      };
    }
    case "Incomplete":
      return { kind: "configure", state, plan: planConfigure(observed, options) };
  }
}

// ---------------------------------------------------------------------------------
// Failover target (docs/clustering.md#failover)

/**
 * The top runner among `candidates` (docs/clustering.md#failover step 3), on statuses re-read after every IO
 * thread was stopped. For each candidate with a replica status, S = Retrieved ∪ Executed
 * (of SHOW REPLICA STATUS). Walking ordinals in ascending order: empty S is skipped;
 * S ⊆ best keeps best (ties go to the lower ordinal); best ⊆ S replaces it; otherwise the
 * sets are incomparable ("errant transactions").
 */
export function chooseFailoverTarget(
  statuses: readonly (InstanceStatus | null)[],
  candidates: readonly number[],
): FailoverChoice {
  let best = -1;
  let bestSet: GtidSet | null = null;
  let bestText = "";
  for (const i of [...candidates].sort((a, b) => a - b)) {
    const rs = statuses[i]?.replicaStatus ?? null;
    if (rs === null) continue;
    const set = isEmptyGtidText(rs.retrievedGtidSet)
      ? gtidUnion(rs.executedGtidSet, "")
      : gtidUnion(rs.retrievedGtidSet, rs.executedGtidSet);
    if (gtidIsEmpty(set)) continue;
    if (bestSet === null) {
      best = i;
      bestSet = set;
      bestText = formatGtidSet(set, { separator: "," });
      continue;
    }
    if (gtidIsSubset(set, bestSet)) continue;
    if (gtidIsSubset(bestSet, set)) {
      best = i;
      bestSet = set;
      bestText = formatGtidSet(set, { separator: "," });
      continue;
    }
    return {
      ok: false,
      error: `errant transactions: instance ${i} has ${formatGtidSet(set, { separator: "," })}, instance ${best} has ${bestText}`,
    };
  }
  const chosen = statuses[best]?.replicaStatus ?? null;
  if (best < 0 || chosen === null) return { ok: false, error: "no top runner: no replica has retrieved or executed any transaction" };
  return { ok: true, target: best, waitForGtid: chosen.retrievedGtidSet };
}

// ---------------------------------------------------------------------------------
// Configure (docs/clustering.md#configure)

const REDO_STEPS: ReadonlySet<ConfigureStep["kind"]> = new Set<ConfigureStep["kind"]>([
  "setSuperReadOnly",
  "fenceHungUp",
  "stopReplicaIOThread",
  "waitForGtid",
  "configureSemiSyncSource",
  "configureReplication",
  "cloneFromPrimary",
  "makeWritable",
]);

/** The ordered configure plan for Incomplete and Degraded (docs/clustering.md#configure). */
export function planConfigure(observed: ObservedCluster, options: DecideOptions = {}): ConfigurePlan {
  const steps: ConfigureStep[] = [];
  const done = (): ConfigurePlan => ({ steps, redo: steps.some((s) => REDO_STEPS.has(s.kind)) });
  const { cluster } = observed;
  const n = replicasOf(cluster);
  const p = observed.primaryIndex;
  const intermediate = isIntermediate(cluster);
  const primaryHost = sourceHostOf(observed, p);

  // 1. Role labels, removal.
  const unlabelled: number[] = [];
  observed.pods.forEach((pod, i) => {
    if (pod === null) return;
    const role = pod.roleLabel ?? "";
    if (role === "") {
      unlabelled.push(i);
      return;
    }
    if (i === p && role === "primary") return;
    if (i !== p && !isErrant(observed, i) && role === "replica") return;
    unlabelled.push(i);
    steps.push({ kind: "removeRoleLabel", instance: i });
  });

  // 2. Kill connections on alive instances whose role changed.
  const alive = unlabelled.filter((i) => observed.instances[i] != null && !isErrant(observed, i));
  if (alive.length > 0) {
    steps.push({ kind: "sleep", ms: options.roleChangeWaitMs ?? DEFAULT_ROLE_CHANGE_WAIT_MS, reason: "roleChange" });
    for (const i of alive) steps.push({ kind: "killConnections", instance: i });
  }

  // 2b. Fencing (moco-ts): a reachable non-primary instance that is writable becomes
  // super_read_only before anything else, also one the rest of the plan leaves alone: errant, or
  // dropped by the hang-up guard (an old primary back from a partition, still writable, its
  // commits waiting for semi-sync acknowledgements that never come: fenceHungUp).
  const hungUp = new Set<number>(observed.hungUpWritable ?? []);
  const fence = new Set<number>(hungUp);
  for (const i of observed.errantReplicas) {
    if (i !== p && observed.instances[i] != null && !observed.instances[i]!.superReadOnly) fence.add(i);
  }
  for (const i of [...fence].sort((a, b) => a - b)) {
    if (hungUp.has(i)) {
      steps.push({ kind: "fenceHungUp", instance: i });
      continue;
    }
    steps.push({ kind: "killConnections", instance: i });
    steps.push({ kind: "setSuperReadOnly", instance: i });
  }

  // 3. The primary.
  const primary = observed.instances[p] ?? null;
  if (primary === null) {
    steps.push({ kind: "fail", message: `the status of the primary instance ${p} is missing` });
    return done();
  }
  if (intermediate) {
    if (!primary.superReadOnly) steps.push({ kind: "setSuperReadOnly", instance: p });
    const source = observed.replicationSource;
    if (source === undefined) {
      steps.push({ kind: "fail", message: `secret ${cluster.spec?.replicationSourceSecretName ?? ""} was not read` });
      return done();
    }
    if (!source.ok) {
      steps.push({ kind: "fail", message: source.error });
      return done();
    }
    const rs = primary.replicaStatus;
    if (rs === null || rs.replicaIORunning !== "Yes" || rs.sourceHost !== source.host) {
      steps.push({
        kind: "configureReplication",
        instance: p,
        source: { host: source.host, port: source.port, credentials: "replicationSourceSecret" },
        semiSync: false,
      });
    }
  } else {
    const rs = primary.replicaStatus;
    if (rs !== null && rs.replicaIORunning === "Yes") {
      steps.push({ kind: "stopReplicaIOThread", instance: p });
      steps.push({ kind: "sleep", ms: AFTER_STOP_IO_THREAD_MS, reason: "afterStopIOThread" });
    }
    if (rs !== null && !isEmptyGtidText(rs.retrievedGtidSet)) {
      steps.push({ kind: "waitForGtid", instance: p, gtid: rs.retrievedGtidSet, timeoutSeconds: SWITCH_GTID_WAIT_SECONDS });
    }
    const waitFor = semiSyncWaitCount(n);
    if (n > 1 && (!primary.semiSyncSourceEnabled || primary.semiSyncSourceWaitForReplicaCount !== waitFor)) {
      steps.push({
        kind: "configureSemiSyncSource",
        instance: p,
        waitForReplicaCount: waitFor,
        timeoutMs: SEMI_SYNC_SOURCE_TIMEOUT_MS,
      });
    }
  }

  // 4. Replicas.
  const semiSync = !intermediate;
  const replicaSource = { host: primaryHost, port: MYSQL_PORT, credentials: "moco-repl" } as const;
  /** moco-ts: errant former primaries to clone over their unacknowledged tail, last in the plan. */
  const reclones: { instance: number; discardErrant: string }[] = [];
  const cloneSteps = (i: number, discardErrant?: string): ConfigureStep[] => {
    const ip = observed.pods[p]?.ip ?? "";
    const donorHost = ip === "0.0.0.0" ? primaryHost : ip === "" ? null : ip;
    return [
      { kind: "cloneFromPrimary", instance: i, donorHost, donorPort: MYSQL_ADMIN_PORT, ...(discardErrant === undefined ? {} : { discardErrant }) },
      ...(isEmptyGtidText(primary.gtidPurged) ? [] : [{ kind: "checkPurgedGtids", instance: i, primaryPurgedGtid: primary.gtidPurged } as const]),
    ];
  };
  for (const i of nonPrimaryOrdinals(observed)) {
    const ist = observed.instances[i] ?? null;
    if (ist === null) continue;
    const rs = ist.replicaStatus;
    if (isErrant(observed, i)) {
      if (rs !== null && rs.replicaIORunning === "Yes") steps.push({ kind: "stopReplicaIOThread", instance: i });
      const discardErrant = options.recloneErrantFormerPrimary === false || intermediate ? undefined : observed.formerPrimaryTails?.get(i);
      if (discardErrant !== undefined) reclones.push({ instance: i, discardErrant });
      continue;
    }
    if (!ist.superReadOnly) {
      steps.push({ kind: "killConnections", instance: i });
      steps.push({ kind: "setSuperReadOnly", instance: i });
    }
    const cloned = isEmptyGtidText(ist.gtidExecuted) && !isEmptyGtidText(observed.executedGtid) && rs === null;
    if (cloned) {
      steps.push(...cloneSteps(i));
    } else {
      const missing = gtidSubtract(primary.gtidPurged, ist.gtidExecuted);
      if (!gtidIsEmpty(missing)) {
        steps.push({
          kind: "fail",
          message: `new primary ${p} does not have binlog containing transactions ${formatGtidSet(missing, { separator: "," })} required for instance ${i}`,
        });
        return done();
      }
    }
    if (
      cloned ||
      rs === null ||
      rs.replicaIORunning !== "Yes" ||
      rs.sourceHost !== primaryHost ||
      ist.semiSyncReplicaEnabled !== semiSync
    ) {
      steps.push({
        kind: "configureReplication",
        instance: i,
        source: replicaSource,
        semiSync,
      });
    }
  }

  // 6. A normal primary becomes writable (moco-ts: before step 5's labels). moco-ts: only when enough replicas were
  // reached to acknowledge its commits (semi-sync); a primary that fenced itself because no
  // replica acknowledged (docs/clustering.md "Self-fencing") stays fenced while its replicas
  // cannot be reached, instead of being made writable to hang its clients' commits again.
  // This holds for every open, a new cluster's first included: the reached, non-errant
  // replicas counted here are pointed at the primary earlier in this plan (configureReplication
  // starts their IO threads), so at least w replicate from it when it opens, which is what its
  // agent's active self-fencing asks its peers (docs/clustering.md "Self-fencing", arming).
  const ackers = nonPrimaryOrdinals(observed).filter((i) => observed.instances[i] != null && !isErrant(observed, i)).length;
  if (!intermediate && (primary.readOnly || primary.offlineMode === true) && ackers >= semiSyncWaitCount(n)) {
    steps.push({ kind: "makeWritable", instance: p });
  }

  // 5. Role labels, addition. moco-ts: after the primary is writable (upstream labels first):
  // the label patches (API round trips) no longer delay the first write after a switchover
  // or failover (issue #14); a client routed by the label finds the primary writable.
  for (const i of alive) steps.push({ kind: "setRoleLabel", instance: i, role: i === p ? "primary" : "replica" });

  // 7. moco-ts: an errant former primary whose errant transactions are its own unacknowledged
  // tail (docs/clustering.md "Errant former primary") is cloned from the primary over that
  // tail, pointed at it and labelled a replica, after everything above: a clone takes a while
  // and may fail, and neither must hold the primary's writes or the labels back.
  for (const { instance: i, discardErrant } of reclones) {
    steps.push(...cloneSteps(i, discardErrant));
    steps.push({ kind: "configureReplication", instance: i, source: replicaSource, semiSync });
    steps.push({ kind: "setRoleLabel", instance: i, role: "replica" });
  }

  return done();
}

// ---------------------------------------------------------------------------------
// Status (docs/clustering.md#status-written-by-a-pass) and deletion guard (docs/clustering.md#deletion-guard-for-replication-delay)

/** Initialized / Available / Healthy / ClusteringActive for a state (docs/clustering.md#status-written-by-a-pass). */
export function conditionsForState(state: ClusterState): ClusterCondition[] {
  const initialized = state !== "Cloning" && state !== "Restoring";
  const available = state === "Healthy" || state === "Degraded";
  const healthy = state === "Healthy";
  const message = `the current state is ${state}`;
  const status = (b: boolean) => (b ? ("True" as const) : ("False" as const));
  return [
    { type: "Initialized", status: status(initialized), reason: state, message },
    { type: "Available", status: status(available), reason: state, message },
    { type: "Healthy", status: status(healthy), reason: state, message },
    { type: "ClusteringActive", status: "True", reason: "ClusteringActive", message: "clustering is active" },
  ];
}

export interface ClusterStatusUpdate {
  /** Pods (primary included) whose Ready condition is True. */
  readonly syncedReplicas: number;
  readonly errantReplicaList: readonly number[];
  readonly errantReplicas: number;
  /** true ⇒ set status.cloned = true; undefined ⇒ leave it (it is never reset). */
  readonly cloned: true | undefined;
  readonly conditions: readonly ClusterCondition[];
}

/** The status fields a pass writes (docs/clustering.md#status-written-by-a-pass), except currentPrimaryIndex. */
export function clusterStatusUpdate(observed: ObservedCluster, state: ClusterState, previousPassAbandoned?: string): ClusterStatusUpdate {
  const abandoned = passAbandonedCondition(observed.cluster, previousPassAbandoned);
  return {
    syncedReplicas: observed.pods.filter((pod) => ready(pod)).length,
    errantReplicaList: [...observed.errantReplicas],
    errantReplicas: observed.errantReplicas.length,
    cloned: isIntermediate(observed.cluster) && state !== "Cloning" ? true : undefined,
    conditions: abandoned === undefined ? conditionsForState(state) : [...conditionsForState(state), abandoned],
  };
}

/**
 * The PassAbandoned condition a pass writes (moco-ts): True with the report when the
 * previous pass was abandoned at its deadline; False once a pass follows one that was not,
 * while the cluster still shows True; nothing otherwise (clusters that never had an
 * abandoned pass carry no such condition).
 */
export function passAbandonedCondition(cluster: MySQLClusterLike, previousPassAbandoned: string | undefined): ClusterCondition | undefined {
  if (previousPassAbandoned !== undefined) {
    return { type: "PassAbandoned", status: "True", reason: "PassDeadlineExceeded", message: previousPassAbandoned };
  }
  const shown = (cluster.status?.conditions ?? []).some((c) => c.type === "PassAbandoned" && c.status === "True");
  return shown ? { type: "PassAbandoned", status: "False", reason: "PassCompleted", message: "the last pass finished within its deadline" } : undefined;
}

/**
 * Changes to the moco.cybozu.com/prevent-delete annotation (docs/clustering.md#deletion-guard-for-replication-delay): add it to the
 * primary Pod when deletion must be prevented and it is absent; otherwise remove it
 * from every Pod that has it. Missing Pods are skipped.
 */
export function preventDeleteAnnotationChanges(observed: ObservedCluster): { add: number[]; remove: number[] } {
  if (observed.preventPodDeletion) {
    const pod = observed.pods[observed.primaryIndex] ?? null;
    return { add: pod !== null && !pod.hasPreventDeleteAnnotation ? [observed.primaryIndex] : [], remove: [] };
  }
  const remove: number[] = [];
  observed.pods.forEach((pod, i) => {
    if (pod !== null && pod.hasPreventDeleteAnnotation) remove.push(i);
  });
  return { add: [], remove };
}
