// TLS objects of a MySQLCluster with `spec.tls` (moco-ts addition, docs/tls.md): the
// server certificate Secret (issued by the controller's CA unless spec.tls.secretName
// names the user's own), its volume in the mysqld and agent containers, the my.cnf keys,
// and the ConfigMap `moco-<name>-ca` that hands applications the CA.
import type { V1ConfigMap, V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { MySQLCluster } from "../../api/v1beta2/index.ts";
import { MYSQL_TLS_DIR, mysqldTlsMyCnf, mysqlServerDnsNames } from "../../mysql/tls.ts";
import { clusterIdentity, clusterOwnerReference, labelSet, mysqlTlsSecretName, tlsEnabled, tlsNames } from "./meta.ts";

export const VOLUME_MYSQL_TLS = "mysql-tls";
/** Environment variable telling the agent where the certificate is mounted. */
export const ENV_MYSQL_TLS_DIR = "MYSQL_TLS_DIR";
/** Key of the CA in ConfigMap `moco-<name>-ca` (and in the TLS Secrets). */
export const CA_CONFIGMAP_KEY = "ca.crt";
/** Mode of the files, as the other Secret volumes (VOLUME_DEFAULT_MODE): readable by mysqld's user. */
const TLS_VOLUME_MODE = 0o644;

/** True when the controller issues the certificate (spec.tls without secretName). */
export function tlsIssuedByController(cluster: MySQLCluster): boolean {
  const name = mysqlTlsSecretName(cluster);
  return name !== undefined && name === tlsNames.issuedSecret(clusterIdentity(cluster).name);
}

/** The names the issued certificate carries (Pods, headless/primary/replica Services, localhost). */
export function mysqlTlsDnsNames(cluster: MySQLCluster): string[] {
  const id = clusterIdentity(cluster);
  return mysqlServerDnsNames(id.name, id.namespace, cluster.spec?.replicas ?? 1);
}

/** `[mysqld]` keys forced into my.cnf; {} without spec.tls (the text stays MOCO's). */
export function tlsMyCnfKeys(cluster: MySQLCluster): Record<string, string> {
  if (!tlsEnabled(cluster)) return {};
  return mysqldTlsMyCnf({ dir: MYSQL_TLS_DIR, requireSecureTransport: cluster.spec?.tls?.requireSecureTransport === true });
}

/** The Pod volume of the certificate Secret, or undefined without spec.tls. */
export function buildTlsVolume(cluster: MySQLCluster): V1Volume | undefined {
  const secretName = mysqlTlsSecretName(cluster);
  if (secretName === undefined) return undefined;
  return { name: VOLUME_MYSQL_TLS, secret: { secretName, defaultMode: TLS_VOLUME_MODE } };
}

export function tlsVolumeMount(): V1VolumeMount {
  return { name: VOLUME_MYSQL_TLS, mountPath: MYSQL_TLS_DIR, readOnly: true };
}

/** Where backup/restore Jobs mount ConfigMap moco-<name>-ca, and the variable naming the file. */
export const VOLUME_MYSQL_TLS_CA = "mysql-tls-ca";
export const JOB_TLS_CA_DIR = "/etc/mysql-tls-ca";
export const ENV_MYSQL_TLS_CA_FILE = "MYSQL_TLS_CA_FILE";

export function buildJobTlsVolume(cluster: string): V1Volume {
  return { name: VOLUME_MYSQL_TLS_CA, configMap: { name: tlsNames.caConfigMap(cluster), defaultMode: TLS_VOLUME_MODE } };
}

export function jobTlsVolumeMount(): V1VolumeMount {
  return { name: VOLUME_MYSQL_TLS_CA, mountPath: JOB_TLS_CA_DIR, readOnly: true };
}

export function jobTlsEnv(): V1EnvVar {
  return { name: ENV_MYSQL_TLS_CA_FILE, value: `${JOB_TLS_CA_DIR}/${CA_CONFIGMAP_KEY}` };
}

export function tlsAgentEnv(): V1EnvVar {
  return { name: ENV_MYSQL_TLS_DIR, value: MYSQL_TLS_DIR };
}

/** ConfigMap `moco-<name>-ca` (key ca.crt): the CA applications verify mysqld against. */
export function buildCaConfigMap(cluster: MySQLCluster, caPem: string): V1ConfigMap {
  const id = clusterIdentity(cluster);
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: tlsNames.caConfigMap(id.name),
      namespace: id.namespace,
      labels: labelSet(id.name),
      ownerReferences: [clusterOwnerReference(id)],
    },
    data: { [CA_CONFIGMAP_KEY]: caPem },
  };
}
