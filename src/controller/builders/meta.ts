// Names, label sets, annotation keys and owner references shared by every builder
// (docs/objects.md#conventions, docs/api.md#derived-names), plus the small helpers that keep output stable.
import type { V1OwnerReference } from "@kubernetes/client-node";
import { API_VERSION, MYSQLCLUSTER_KIND } from "../../api/v1beta2/index.ts";
import {
  APP_NAME_BACKUP,
  APP_NAME_MYSQL,
  CREATED_BY_MOCO,
  LABEL_APP_CREATED_BY,
  LABEL_APP_INSTANCE,
  LABEL_APP_NAME,
  LABEL_INSTANCE_NAMESPACE,
  type ClusterIdentity,
} from "../../shared/names.ts";
// The names, keys and paths are the CLI's and the agent's too: they live in src/shared/names.ts,
// re-exported here so the builders keep one import.
export * from "../../shared/names.ts";

// ---- label sets (docs/objects.md#label-sets) -------------------------------------------------

/** labelSet: the labels of every object in the cluster namespace. */
export function labelSet(clusterName: string): Record<string, string> {
  return sortedRecord({
    [LABEL_APP_NAME]: APP_NAME_MYSQL,
    [LABEL_APP_INSTANCE]: clusterName,
    [LABEL_APP_CREATED_BY]: CREATED_BY_MOCO,
  });
}

/** labelSet for objects in the controller namespace (adds the instance namespace). */
export function controllerNamespaceLabelSet(clusterName: string, clusterNamespace: string): Record<string, string> {
  return sortedRecord({ ...labelSet(clusterName), [LABEL_INSTANCE_NAMESPACE]: clusterNamespace });
}

/** jobLabelSet: backup/restore objects. */
export function jobLabelSet(clusterName: string): Record<string, string> {
  return sortedRecord({
    [LABEL_APP_NAME]: APP_NAME_BACKUP,
    [LABEL_APP_INSTANCE]: clusterName,
    [LABEL_APP_CREATED_BY]: CREATED_BY_MOCO,
  });
}

/** The single controller owner reference to the MySQLCluster (docs/objects.md#how-objects-are-written). */
export function clusterOwnerReference(id: ClusterIdentity): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: MYSQLCLUSTER_KIND,
    name: id.name,
    uid: id.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** True when `refs` holds a controller reference to this cluster (by uid). */
export function isControlledByCluster(
  refs: readonly { readonly kind?: string; readonly uid?: string; readonly controller?: boolean }[] | undefined,
  clusterUid: string,
): boolean {
  return (refs ?? []).some((r) => r.kind === MYSQLCLUSTER_KIND && r.uid === clusterUid && r.controller === true);
}

// ---- stable-output helpers --------------------------------------------------------

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A copy of `record` whose keys are inserted in sorted (code unit) order. */
export function sortedRecord<V>(record: Readonly<Record<string, V>>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const key of Object.keys(record).sort(byteOrder)) out[key] = record[key] as V;
  return out;
}

/** `base` overlaid with `forced` (forced wins), keys sorted. */
export function mergeLabels(
  base: Readonly<Record<string, string>> | undefined,
  forced: Readonly<Record<string, string>>,
): Record<string, string> {
  return sortedRecord({ ...(base ?? {}), ...forced });
}

/** A deep copy of JSON-like data. */
export function deepCopy<T>(value: T): T {
  return structuredClone(value);
}

/**
 * `value` with every object property whose value is `undefined` removed, recursively
 * (so a built object deep-equals its JSON round trip).
 */
export function dropUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => dropUndefined(v)) as T;
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) out[k] = dropUndefined(v);
    }
    return out as T;
  }
  return value;
}

/** Milliseconds since the epoch of a Kubernetes time that may be a Date or an RFC 3339 string. */
export function timeMillis(t: Date | string | undefined | null): number | undefined {
  if (t === undefined || t === null) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}
