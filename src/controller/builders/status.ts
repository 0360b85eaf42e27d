// Pure status computations of the reconciler (docs/objects.md#status-written-by-the-controller, docs/objects.md#stopping-clustering-and-reconciliation; docs/api.md#conditions).
import { timeMillis } from "./meta.ts";
import { rfc3339 } from "../../util/time.ts";

export type ConditionStatus = "True" | "False" | "Unknown";

/** A metav1.Condition in JSON form. */
export interface StatusCondition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime?: string;
}

export const CONDITION_STATEFULSET_READY = "StatefulSetReady";
export const CONDITION_RECONCILE_SUCCESS = "ReconcileSuccess";
export const CONDITION_RECONCILIATION_ACTIVE = "ReconciliationActive";
export const CONDITION_CLUSTERING_ACTIVE = "ClusteringActive";
export const CONDITION_AVAILABLE = "Available";
export const CONDITION_HEALTHY = "Healthy";
/** The reconciler version moco-ts writes to `status.reconcileInfo.reconcileVersion`. */
export const RECONCILE_VERSION = 1;

/** What isStatefulSetReady reads. */
export interface StatefulSetReadinessView {
  readonly metadata?: { readonly generation?: number };
  readonly spec?: { readonly replicas?: number | null };
  readonly status?: {
    readonly availableReplicas?: number;
    readonly currentRevision?: string;
    readonly updateRevision?: string;
    readonly observedGeneration?: number;
  };
}

/**
 * True iff `spec.replicas` is set, `status.availableReplicas == spec.replicas`,
 * `currentRevision == updateRevision` and `generation == observedGeneration`.
 */
export function isStatefulSetReady(sts: StatefulSetReadinessView): boolean {
  const replicas = sts.spec?.replicas;
  if (replicas === undefined || replicas === null) return false;
  const st = sts.status;
  return (
    (st?.availableReplicas ?? 0) === replicas &&
    (st?.currentRevision ?? "") === (st?.updateRevision ?? "") &&
    (sts.metadata?.generation ?? 0) === (st?.observedGeneration ?? 0)
  );
}

/** How getting the StatefulSet went. */
export type StatefulSetLookup =
  | { readonly kind: "found"; readonly statefulSet: StatefulSetReadinessView }
  | { readonly kind: "notFound" }
  | { readonly kind: "error"; readonly message: string };

/** Condition StatefulSetReady (observedGeneration = the cluster's generation). */
export function statefulSetReadyCondition(lookup: StatefulSetLookup, clusterGeneration: number): StatusCondition {
  const base = { type: CONDITION_STATEFULSET_READY, observedGeneration: clusterGeneration };
  switch (lookup.kind) {
    case "notFound":
      return { ...base, status: "False", reason: "StatefulSetNotFound", message: "StatefulSet not found" };
    case "error":
      return {
        ...base,
        status: "False",
        reason: "FaildToGetStatefulSet",
        message: `failed to get StatefulSet: ${lookup.message}`,
      };
    case "found":
      return isStatefulSetReady(lookup.statefulSet)
        ? { ...base, status: "True", reason: "StatefulSetReady", message: "StatefulSet is ready" }
        : { ...base, status: "False", reason: "StatefulSetNotReady", message: "StatefulSet is not ready" };
  }
}

/** Condition ReconcileSuccess (observedGeneration = the cluster's generation). */
export function reconcileSuccessCondition(error: string | undefined, clusterGeneration: number): StatusCondition {
  return error === undefined
    ? {
        type: CONDITION_RECONCILE_SUCCESS,
        status: "True",
        reason: "ReconcileSuccess",
        message: "reconcile succeeded",
        observedGeneration: clusterGeneration,
      }
    : {
        type: CONDITION_RECONCILE_SUCCESS,
        status: "False",
        reason: "ReconcileFailed",
        message: `reconcile failed: ${error}`,
        observedGeneration: clusterGeneration,
      };
}

/** Condition ReconciliationActive. */
export function reconciliationActiveCondition(active: boolean): StatusCondition {
  return active
    ? { type: CONDITION_RECONCILIATION_ACTIVE, status: "True", reason: "ReconciliationActive", message: "reconciliation is active" }
    : {
        type: CONDITION_RECONCILIATION_ACTIVE,
        status: "False",
        reason: "ReconciliationInactive",
        message: "reconciliation is stopped",
      };
}

/**
 * meta.SetStatusCondition: replaces the condition of the same type (lastTransitionTime
 * kept unless the status changes, then `now`), or appends it. Returns a new list.
 */
export function setStatusCondition(
  conditions: readonly StatusCondition[] | undefined,
  next: StatusCondition,
  now: Date,
): StatusCondition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const existing = i < 0 ? undefined : list[i];
  const lastTransitionTime =
    existing !== undefined && existing.status === next.status && existing.lastTransitionTime !== undefined
      ? existing.lastTransitionTime
      : (next.lastTransitionTime ?? rfc3339(now));
  const merged: StatusCondition = { ...next, lastTransitionTime };
  if (i < 0) list.push(merged);
  else list[i] = merged;
  return list;
}

/**
 * Clustering stopped (docs/objects.md#clustering-stop): unless ClusteringActive is already False,
 * Available and Healthy become Unknown (reason/message kept) and ClusteringActive False.
 * Returns undefined when nothing changes.
 */
export function clusteringStoppedConditions(
  conditions: readonly StatusCondition[] | undefined,
  now: Date,
): StatusCondition[] | undefined {
  const list = conditions ?? [];
  if (list.some((c) => c.type === CONDITION_CLUSTERING_ACTIVE && c.status === "False")) return undefined;
  let out = [...list];
  for (const type of [CONDITION_AVAILABLE, CONDITION_HEALTHY]) {
    const c = out.find((x) => x.type === type);
    out = setStatusCondition(out, { type, status: "Unknown", reason: c?.reason ?? type, message: c?.message ?? "" }, now);
  }
  return setStatusCondition(
    out,
    { type: CONDITION_CLUSTERING_ACTIVE, status: "False", reason: "ClusteringInactive", message: "clustering is stopped" },
    now,
  );
}

/** Whether two condition lists are equal ignoring order (so an unchanged status is not written). */
export function conditionsEqual(a: readonly StatusCondition[] | undefined, b: readonly StatusCondition[] | undefined): boolean {
  const x = [...(a ?? [])].sort((p, q) => (p.type < q.type ? -1 : 1));
  const y = [...(b ?? [])].sort((p, q) => (p.type < q.type ? -1 : 1));
  if (x.length !== y.length) return false;
  return x.every((c, i) => {
    const d = y[i] as StatusCondition;
    return (
      c.type === d.type &&
      c.status === d.status &&
      c.reason === d.reason &&
      c.message === d.message &&
      (c.observedGeneration ?? 0) === (d.observedGeneration ?? 0) &&
      timeMillis(c.lastTransitionTime) === timeMillis(d.lastTransitionTime)
    );
  });
}
