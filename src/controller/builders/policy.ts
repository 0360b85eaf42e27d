// ServiceAccount and PodDisruptionBudget (docs/objects.md#serviceaccount-and-poddisruptionbudget).
import type { V1PodDisruptionBudget, V1ServiceAccount } from "@kubernetes/client-node";
import type { MySQLCluster } from "../../api/v1beta2/index.ts";
import { clusterIdentity, clusterOwnerReference, labelSet, names } from "./meta.ts";

/** ServiceAccount `moco-<name>` of the mysqld Pods (bound to no role). */
export function buildServiceAccount(cluster: MySQLCluster): V1ServiceAccount {
  const id = clusterIdentity(cluster);
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: {
      name: names.prefixed(id.name),
      namespace: id.namespace,
      labels: labelSet(id.name),
      ownerReferences: [clusterOwnerReference(id)],
    },
  };
}

/** What decidePdb reads of the backup CronJob `moco-backup-<name>`. */
export interface BackupCronJobActivity {
  readonly status?: { readonly active?: readonly unknown[] | null } | null;
}

export type PdbDecision =
  | { readonly action: "delete"; readonly reason: string }
  | { readonly action: "apply"; readonly maxUnavailable: number; readonly backupRunning: boolean };

/**
 * PDB `moco-<name>`: deleted when offline or replicas < 3; otherwise applied with
 * maxUnavailable = floor(replicas / 2), or 0 while the backup CronJob has active Jobs.
 */
export function decidePdb(cluster: MySQLCluster, backupCronJob: BackupCronJobActivity | undefined): PdbDecision {
  const replicas = cluster.spec?.replicas ?? 1;
  if (cluster.spec?.offline === true) return { action: "delete", reason: "the cluster is offline" };
  if (replicas < 3) return { action: "delete", reason: `replicas ${replicas} < 3` };
  const backupRunning = (backupCronJob?.status?.active ?? []).length > 0;
  return { action: "apply", maxUnavailable: backupRunning ? 0 : Math.floor(replicas / 2), backupRunning };
}

/** The PDB object for an "apply" decision. */
export function buildPodDisruptionBudget(cluster: MySQLCluster, maxUnavailable: number): V1PodDisruptionBudget {
  const id = clusterIdentity(cluster);
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name: names.prefixed(id.name),
      namespace: id.namespace,
      labels: labelSet(id.name),
      ownerReferences: [clusterOwnerReference(id)],
    },
    spec: { maxUnavailable, selector: { matchLabels: labelSet(id.name) } },
  };
}
