// The StatefulSet partition controller's pure decisions (docs/objects.md#partition-controller steps 2-5).
import type { MySQLCluster } from "../../api/v1beta2/index.ts";
import { podOrdinal } from "../../shared/names.ts";
import {
  ANNOTATION_CLUSTERING_STOPPED,
  ANNOTATION_DEMOTE,
  ANNOTATION_FORCE_ROLLING_UPDATE,
  ANNOTATION_RECONCILIATION_STOPPED,
  LABEL_CONTROLLER_REVISION_HASH,
  annotationIsTrue,
  timeMillis,
} from "./meta.ts";

/** minReadySeconds of the availability check. */
export const PARTITION_MIN_READY_SECONDS = 5;
export const PARTITION_REQUEUE_NOT_OBSERVED_MS = 10_000;
export const PARTITION_REQUEUE_NOT_READY_MS = 30_000;
export const PARTITION_REQUEUE_AFTER_UPDATE_MS = 10_000;
/**
 * Requeue while a planned switchover is pending (moco-ts): the switch itself requeues at
 * once (the MySQLCluster's status and the Pod's annotation are watched); this is the net.
 */
export const PARTITION_REQUEUE_SWITCHOVER_MS = 5_000;

/** What the partition decisions read of the StatefulSet. */
export interface PartitionStatefulSetView {
  readonly metadata?: { readonly generation?: number; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec?: {
    readonly replicas?: number;
    readonly updateStrategy?: { readonly rollingUpdate?: { readonly partition?: number | null } | null };
  };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly updatedReplicas?: number;
    readonly updateRevision?: string;
  };
}

/** What the partition decisions read of a Pod. */
export interface PartitionPodView {
  readonly metadata?: {
    readonly name?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: Date | string | null;
  };
  readonly status?: {
    readonly conditions?: readonly {
      readonly type?: string;
      readonly status?: string;
      readonly lastTransitionTime?: Date | string | null;
    }[];
    readonly initContainerStatuses?: readonly { readonly ready?: boolean }[];
    readonly containerStatuses?: readonly { readonly ready?: boolean }[];
  };
}

export interface RolloutReadiness {
  readonly ready: boolean;
  readonly reason: string;
  /**
   * Not ready only because a Pod has been Ready for less than minReadySeconds: the ms
   * until it is available (no event marks that moment; moco-ts requeues then instead of
   * after PARTITION_REQUEUE_NOT_READY_MS).
   */
  readonly retryAfterMs?: number;
}

/** Margin after the moment a Pod becomes available, before the requeue. */
export const PARTITION_AVAILABLE_MARGIN_MS = 200;

function readyCondition(pod: PartitionPodView) {
  return pod.status?.conditions?.find((c) => c.type === "Ready");
}

export function isPodReady(pod: PartitionPodView): boolean {
  return readyCondition(pod)?.status === "True";
}

/** podutil.IsPodAvailable: Ready, and Ready since more than minReadySeconds before `now`. */
export function isPodAvailable(pod: PartitionPodView, minReadySeconds: number, now: Date): boolean {
  const c = readyCondition(pod);
  if (c?.status !== "True") return false;
  if (minReadySeconds === 0) return true;
  const since = timeMillis(c.lastTransitionTime);
  return since !== undefined && since + minReadySeconds * 1000 < now.getTime();
}

function isHealthy(cluster: MySQLCluster): boolean {
  return cluster.status?.conditions?.some((c) => c.type === "Healthy" && c.status === "True") ?? false;
}

/**
 * The readiness check before the next partition step (docs/objects.md#partition-controller step 4).
 * `pods` are the Pods matching the StatefulSet selector.
 */
export function isRolloutReady(
  sts: PartitionStatefulSetView,
  pods: readonly PartitionPodView[],
  cluster: MySQLCluster,
  now: Date,
): RolloutReadiness {
  const replicas = sts.spec?.replicas ?? 1;
  if (replicas === (sts.status?.updatedReplicas ?? 0)) return { ready: true, reason: "all replicas updated" };
  const sorted = [...pods].sort((a, b) => ((a.metadata?.name ?? "") < (b.metadata?.name ?? "") ? -1 : 1));
  if (sorted.length !== replicas) return { ready: false, reason: `${sorted.length} Pods for ${replicas} replicas` };
  const partition = sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  const target = partition - 1;
  if (target < 0) return { ready: false, reason: "no Pod left to update" };
  const targetPod = sorted.find((p) => podOrdinal(p.metadata?.name ?? "") === target);
  if (targetPod === undefined) return { ready: false, reason: `Pod with ordinal ${target} not found` };
  const updateRevision = sts.status?.updateRevision ?? "";
  if (targetPod.metadata?.labels?.[LABEL_CONTROLLER_REVISION_HASH] === updateRevision) {
    return { ready: true, reason: `Pod ${target} already has the update revision` };
  }
  if (isPodReady(targetPod) && !isHealthy(cluster)) {
    return { ready: false, reason: "the cluster is not Healthy" };
  }
  for (const pod of sorted) {
    if (pod === targetPod) continue;
    const name = pod.metadata?.name ?? "";
    const ordinal = podOrdinal(pod.metadata?.name ?? "") ?? -1;
    if (ordinal >= partition && pod.metadata?.labels?.[LABEL_CONTROLLER_REVISION_HASH] !== updateRevision) {
      return { ready: false, reason: `Pod ${name} is not updated yet` };
    }
    if (timeMillis(pod.metadata?.deletionTimestamp) !== undefined) return { ready: false, reason: `Pod ${name} is being deleted` };
    if (!isPodAvailable(pod, PARTITION_MIN_READY_SECONDS, now)) {
      const since = isPodReady(pod) ? timeMillis(readyCondition(pod)?.lastTransitionTime) : undefined;
      const reason = `Pod ${name} is not available`;
      if (since === undefined) return { ready: false, reason };
      return { ready: false, reason, retryAfterMs: Math.max(0, since + PARTITION_MIN_READY_SECONDS * 1000 - now.getTime()) + PARTITION_AVAILABLE_MARGIN_MS };
    }
    if ((pod.status?.initContainerStatuses ?? []).some((s) => s.ready !== true)) {
      return { ready: false, reason: `Pod ${name} has an init container that is not ready` };
    }
    if ((pod.status?.containerStatuses ?? []).some((s) => s.ready !== true)) {
      return { ready: false, reason: `Pod ${name} has a container that is not ready` };
    }
  }
  return { ready: true, reason: "every other Pod is ready" };
}

export type PartitionDecision =
  | { readonly kind: "requeue"; readonly afterMs: number; readonly reason: string }
  | { readonly kind: "none"; readonly reason: string }
  | { readonly kind: "decrement"; readonly from: number; readonly to: number }
  | {
      /**
       * moco-ts: the next step would recreate the primary's Pod while an updated replica
       * can take over: ask for a switchover first (annotate `pod` with `demote: "true"`
       * unless `requested`), requeue, lower the partition once the primary moved.
       */
      readonly kind: "switchover";
      readonly partition: number;
      readonly primary: number;
      readonly pod: string;
      /** The updated replicas that can take over (ordinals, ascending). */
      readonly updatedReplicas: readonly number[];
      /** The primary's Pod already carries `demote: "true"`. */
      readonly requested: boolean;
      readonly afterMs: number;
    };

/** The Pod runs its StatefulSet's update revision (`updateRevision`, "" when unknown: false). */
export function isPodOnRevision(pod: PartitionPodView, updateRevision: string): boolean {
  return updateRevision !== "" && pod.metadata?.labels?.[LABEL_CONTROLLER_REVISION_HASH] === updateRevision;
}

/**
 * Primary last (moco-ts, docs/objects.md#partition-controller step 5): when lowering the
 * partition would recreate the Pod of the current primary, the updated replicas (Pods on
 * the StatefulSet's update revision, available, not deleting, every container ready) that
 * can take the primary role first; empty when the step should go as upstream: the target
 * Pod is not the primary or already updated, the cluster is not Healthy, clustering or
 * reconciliation is stopped, or no updated replica is available (1 instance; the primary
 * at the highest ordinal).
 */
export function primaryLastTargets(
  cluster: MySQLCluster,
  sts: PartitionStatefulSetView,
  pods: readonly PartitionPodView[],
  now: Date,
): number[] {
  const partition = sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  const target = partition - 1;
  if (target < 0 || cluster.status?.currentPrimaryIndex !== target) return [];
  const annotations = cluster.metadata?.annotations ?? undefined;
  if (annotationIsTrue(annotations, ANNOTATION_CLUSTERING_STOPPED) || annotationIsTrue(annotations, ANNOTATION_RECONCILIATION_STOPPED)) return [];
  if (!isHealthy(cluster)) return [];
  const updateRevision = sts.status?.updateRevision ?? "";
  const primaryPod = pods.find((p) => podOrdinal(p.metadata?.name ?? "") === target);
  if (primaryPod === undefined || isPodOnRevision(primaryPod, updateRevision)) return [];
  const out: number[] = [];
  for (const pod of pods) {
    const ordinal = podOrdinal(pod.metadata?.name ?? "");
    if (ordinal === undefined || ordinal === target || !isPodOnRevision(pod, updateRevision)) continue;
    if (timeMillis(pod.metadata?.deletionTimestamp) !== undefined || !isPodAvailable(pod, PARTITION_MIN_READY_SECONDS, now)) continue;
    if ((pod.status?.containerStatuses ?? []).some((s) => s.ready !== true)) continue;
    out.push(ordinal);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Steps 2-4 of docs/objects.md#partition-controller: requeue in 10 s while generations are not observed;
 * nothing to do when forced, unpartitioned or at partition 0; requeue in 30 s when not
 * ready — or, when only a Pod's minReadySeconds is still running, just after it ends
 * (moco-ts: upstream waits the 30 s) —; when the step would recreate the primary's Pod
 * and an updated replica can take over, a switchover first (moco-ts, primaryLastTargets);
 * else decrement (the caller applies the rate limit of step 6, patches, emits
 * the event and requeues in 10 s).
 */
export function decidePartitionUpdate(
  cluster: MySQLCluster,
  sts: PartitionStatefulSetView,
  pods: readonly PartitionPodView[],
  now: Date,
): PartitionDecision {
  if ((cluster.metadata?.generation ?? 0) !== (cluster.status?.reconcileInfo?.generation ?? 0)) {
    return { kind: "requeue", afterMs: PARTITION_REQUEUE_NOT_OBSERVED_MS, reason: "cluster generation not reconciled" };
  }
  if ((sts.metadata?.generation ?? 0) !== (sts.status?.observedGeneration ?? 0)) {
    return { kind: "requeue", afterMs: PARTITION_REQUEUE_NOT_OBSERVED_MS, reason: "StatefulSet generation not observed" };
  }
  if (annotationIsTrue(sts.metadata?.annotations, ANNOTATION_FORCE_ROLLING_UPDATE)) {
    return { kind: "none", reason: "forced rolling update" };
  }
  const partition = sts.spec?.updateStrategy?.rollingUpdate?.partition;
  if (partition === undefined || partition === null) return { kind: "none", reason: "no partition" };
  if (partition === 0) return { kind: "none", reason: "partition is 0" };
  const readiness = isRolloutReady(sts, pods, cluster, now);
  if (!readiness.ready) {
    const afterMs = Math.min(PARTITION_REQUEUE_NOT_READY_MS, readiness.retryAfterMs ?? PARTITION_REQUEUE_NOT_READY_MS);
    return { kind: "requeue", afterMs, reason: readiness.reason };
  }
  const updatedReplicas = primaryLastTargets(cluster, sts, pods, now);
  if (updatedReplicas.length > 0) {
    const primary = partition - 1;
    const pod = pods.find((p) => podOrdinal(p.metadata?.name ?? "") === primary);
    return {
      kind: "switchover",
      partition,
      primary,
      pod: pod?.metadata?.name ?? "",
      updatedReplicas,
      requested: annotationIsTrue(pod?.metadata?.annotations, ANNOTATION_DEMOTE),
      afterMs: PARTITION_REQUEUE_SWITCHOVER_MS,
    };
  }
  return { kind: "decrement", from: partition, to: partition - 1 };
}
