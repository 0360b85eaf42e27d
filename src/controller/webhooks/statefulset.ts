// The StatefulSet mutating webhook's logic (docs/objects.md#statefulset-mutating-webhook): keeps the rolling-update
// partition at spec.replicas so the partition controller can walk it down one Pod at
// a time, except when the cluster forces a plain rolling update.
import { isDeepStrictEqual } from "node:util";
import type { V1StatefulSet } from "@kubernetes/client-node";
import type { JsonOf } from "../../api/v1beta2/index.ts";
import { GROUP, MYSQLCLUSTER_KIND } from "../../api/v1beta2/index.ts";

export type StatefulSet = JsonOf<V1StatefulSet>;

export const FORCE_ROLLING_UPDATE_ANNOTATION = "moco.cybozu.com/force-rolling-update";

function isOwnedByMySQLCluster(sts: StatefulSet): boolean {
  const refs = sts.metadata?.ownerReferences;
  if (!Array.isArray(refs) || refs.length !== 1) return false;
  const ref = refs[0];
  if (ref === undefined || ref.kind !== MYSQLCLUSTER_KIND || typeof ref.apiVersion !== "string") return false;
  return ref.apiVersion.split("/")[0] === GROUP;
}

function partitionOf(sts: StatefulSet | undefined): number | undefined {
  const p = sts?.spec?.updateStrategy?.rollingUpdate?.partition;
  return typeof p === "number" ? p : undefined;
}

/**
 * Returns the mutated copy of `sts` (`old` is the stored object on UPDATE, undefined on
 * CREATE). Objects not owned by exactly one MySQLCluster are returned unchanged.
 */
export function mutateStatefulSet(sts: StatefulSet, old: StatefulSet | undefined): StatefulSet {
  const out = structuredClone(sts);
  if (!isOwnedByMySQLCluster(out) || typeof out.spec !== "object" || out.spec === null) return out;
  const spec = out.spec;
  spec.updateStrategy ??= {};
  const strategy = spec.updateStrategy;

  if (out.metadata?.annotations?.[FORCE_ROLLING_UPDATE_ANNOTATION] === "true") {
    delete strategy.rollingUpdate;
    return out;
  }
  const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
  if (strategy.rollingUpdate === undefined || strategy.rollingUpdate === null || partitionOf(out) === undefined) {
    strategy.rollingUpdate = { ...(strategy.rollingUpdate ?? {}), partition: replicas };
    return out;
  }
  if (old === undefined) return out;

  // UPDATE: keep a partition change only when it is the only change in spec.
  const newWithOldStrategy = { ...sts.spec, updateStrategy: old.spec?.updateStrategy };
  const onlyPartitionChanged =
    partitionOf(sts) !== partitionOf(old) && isDeepStrictEqual(stripUndefined(newWithOldStrategy), stripUndefined(old.spec));
  if (!onlyPartitionChanged) strategy.rollingUpdate = { ...strategy.rollingUpdate, partition: replicas };
  return out;
}

function stripUndefined(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}
