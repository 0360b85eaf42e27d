// Constants and small pure readers of a cluster that every phase of the engine uses
// (observe, decide, act), so that no phase imports another one for them (docs/clustering.md).
import type { MySQLClusterLike } from "./types.ts";

export const MYSQL_PORT = 3306;
export const MYSQL_ADMIN_PORT = 33062;

export function clusterName(cluster: MySQLClusterLike): string {
  return cluster.metadata?.name ?? "";
}

/** spec.replicas (CRD default 1). */
export function replicasOf(cluster: MySQLClusterLike): number {
  return cluster.spec?.replicas ?? 1;
}

/** `moco-C-i.moco-C.NS.svc`. */
export function podHostname(cluster: MySQLClusterLike, ordinal: number): string {
  const name = clusterName(cluster);
  return `moco-${name}-${ordinal}.moco-${name}.${cluster.metadata?.namespace ?? ""}.svc`;
}

/** `spec.replicationSourceSecretName` is set (an empty string counts as unset). */
export function isIntermediate(cluster: MySQLClusterLike): boolean {
  const name = cluster.spec?.replicationSourceSecretName;
  return typeof name === "string" && name !== "";
}

/** A positive 32-bit integer, else null. */
export function parsePort(text: string): number | null {
  if (!/^\d+$/.test(text.trim())) return null;
  const n = Number(text.trim());
  return n > 0 && n <= 2_147_483_647 ? n : null;
}
