// Names, label sets, annotation keys and owner references shared by every builder
// (docs/objects.md#conventions, docs/api.md#derived-names), plus the small helpers that keep output stable.
import type { V1OwnerReference } from "@kubernetes/client-node";
import { API_VERSION, MYSQLCLUSTER_KIND } from "../../api/v1beta2/index.ts";
import type { MySQLCluster } from "../../api/v1beta2/index.ts";

// ---- label and annotation keys (docs/objects.md#label-sets, docs/objects.md#annotation-keys) ---------------------------

export const LABEL_APP_NAME = "app.kubernetes.io/name";
export const LABEL_APP_INSTANCE = "app.kubernetes.io/instance";
export const LABEL_APP_CREATED_BY = "app.kubernetes.io/created-by";
export const LABEL_INSTANCE_NAMESPACE = "app.kubernetes.io/instance-namespace";
export const LABEL_ROLE = "moco.cybozu.com/role";
export const ROLE_PRIMARY = "primary";
export const ROLE_REPLICA = "replica";
export const APP_NAME_MYSQL = "mysql";
export const APP_NAME_BACKUP = "mysql-backup";
export const CREATED_BY_MOCO = "moco";

export const ANNOTATION_SECRET_VERSION = "moco.cybozu.com/secret-version";
export const SECRET_VERSION = "1";
export const ANNOTATION_CLUSTERING_STOPPED = "moco.cybozu.com/clustering-stopped";
export const ANNOTATION_RECONCILIATION_STOPPED = "moco.cybozu.com/reconciliation-stopped";
export const ANNOTATION_FORCE_ROLLING_UPDATE = "moco.cybozu.com/force-rolling-update";
export const ANNOTATION_DEMOTE = "moco.cybozu.com/demote";
export const ANNOTATION_PREVENT_DELETE = "moco.cybozu.com/prevent-delete";

/** Label the StatefulSet controller puts on each Pod. */
export const LABEL_CONTROLLER_REVISION_HASH = "controller-revision-hash";

/** A cluster with the metadata every builder needs. */
export interface ClusterIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

/** name, namespace and uid of the cluster; throws when one is missing. */
export function clusterIdentity(cluster: MySQLCluster): ClusterIdentity {
  const name = cluster.metadata?.name;
  const namespace = cluster.metadata?.namespace;
  const uid = cluster.metadata?.uid;
  if (name === undefined || name === "") throw new Error("MySQLCluster has no metadata.name");
  if (namespace === undefined || namespace === "") throw new Error(`MySQLCluster ${name} has no metadata.namespace`);
  if (uid === undefined || uid === "") throw new Error(`MySQLCluster ${namespace}/${name} has no metadata.uid`);
  return { name, namespace, uid };
}

/** Only the exact value "true" counts for MOCO's boolean annotations. */
export function annotationIsTrue(annotations: Readonly<Record<string, string>> | undefined, key: string): boolean {
  return annotations?.[key] === "true";
}

// ---- derived names (docs/api.md#derived-names) ----------------------------------------------------

export const names = Object.freeze({
  /** StatefulSet, headless Service, ServiceAccount, PDB. */
  prefixed: (cluster: string): string => `moco-${cluster}`,
  pod: (cluster: string, ordinal: number): string => `moco-${cluster}-${ordinal}`,
  podFqdn: (cluster: string, namespace: string, ordinal: number): string =>
    `moco-${cluster}-${ordinal}.moco-${cluster}.${namespace}.svc`,
  primaryService: (cluster: string): string => `moco-${cluster}-primary`,
  replicaService: (cluster: string): string => `moco-${cluster}-replica`,
  userSecret: (cluster: string): string => `moco-${cluster}`,
  myCnfSecret: (cluster: string): string => `moco-my-cnf-${cluster}`,
  controllerSecret: (namespace: string, cluster: string): string => `mysql-${namespace}.${cluster}`,
  agentCertificate: (namespace: string, cluster: string): string => `moco-agent-${namespace}.${cluster}`,
  grpcSecret: (cluster: string): string => `moco-${cluster}-grpc`,
  /** Prefix of the my.cnf ConfigMaps, trailing dot included. */
  myCnfConfigMapPrefix: (cluster: string): string => `moco-${cluster}.`,
  /** Prefix of the slow-log ConfigMaps, trailing dot included (docs/objects.md#slow-log-configmap fixes upstream's). */
  slowLogConfigMapPrefix: (cluster: string): string => `moco-slow-log-agent-config-${cluster}.`,
  backup: (cluster: string): string => `moco-backup-${cluster}`,
  restore: (cluster: string): string => `moco-restore-${cluster}`,
  /** PVC of volume claim template `template` for Pod `ordinal`. */
  pvc: (template: string, cluster: string, ordinal: number): string => `${template}-moco-${cluster}-${ordinal}`,
});

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
