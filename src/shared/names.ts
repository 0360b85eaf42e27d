// Names, label and annotation keys and Pod paths of a MySQLCluster's objects: the contract
// the controller writes and the CLI and agent read (docs/objects.md). Neutral
// ground: the controller's builders re-export these, the CLI imports them from here, so the
// CLI never depends on controller internals. Pure: no I/O, no Kubernetes client.
import type { MySQLCluster } from "../api/v1beta2/index.ts";

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

export { podOrdinal } from "../util/pod-name.ts";

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

// ---- paths inside the mysqld Pod ---------------------------------------------------

export const PATH_TMP = "/tmp";
export const PATH_RUN = "/run";
export const PATH_VAR_LOG = "/var/log/mysql";
export const PATH_MYSQL_CONF = "/etc/mysql";
export const PATH_MYSQL_CONF_D = "/etc/mysql-conf.d";
export const PATH_MY_CNF_SECRET = "/mysql-credentials";
export const PATH_MYSQL_DATA = "/var/lib/mysql";
export const PATH_GRPC_CERT = "/grpc-cert";
export const PATH_FLUENT_BIT_CONFIG = "/fluent-bit/etc";

/**
 * The agent's answer to the `mysqld-exporter` container's liveness probe (moco-ts addition,
 * docs/password-rotation.md#the-exporter): 503 while the exporter started before its my.cnf
 * last changed, so the kubelet restarts that container alone.
 */
export const EXPORTER_HEALTH_PATH = "/exporter-healthz";

// ---- TLS (moco-ts addition, docs/tls.md) -----------------------------------------

export const tlsNames = Object.freeze({
  /** The Secret the controller issues (when spec.tls.secretName is absent). */
  issuedSecret: (cluster: string): string => `moco-${cluster}-mysql-tls`,
  /** The ConfigMap with the CA for applications. */
  caConfigMap: (cluster: string): string => `moco-${cluster}-ca`,
});

/** Whether the cluster uses TLS (spec.tls present). */
export function tlsEnabled(cluster: MySQLCluster): boolean {
  return cluster.spec?.tls !== undefined && cluster.spec.tls !== null;
}

/** The Secret mounted as mysqld's certificate, or undefined without spec.tls. */
export function mysqlTlsSecretName(cluster: MySQLCluster): string | undefined {
  if (!tlsEnabled(cluster)) return undefined;
  const given = cluster.spec?.tls?.secretName;
  return given !== undefined && given !== "" ? given : tlsNames.issuedSecret(clusterIdentity(cluster).name);
}
