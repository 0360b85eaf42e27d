// The controller's side of spec.tls (moco-ts addition, docs/tls.md): where the CA of a
// cluster's mysqld certificates comes from, and the clustering engine's TLS port.
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import type { MySQLCluster } from "../api/v1beta2/index.ts";
import type { ClusterTls, ClusterTlsSource } from "../clustering/ports.ts";
import type { MySQLClusterLike } from "../clustering/types.ts";
import type { KubeClient } from "../k8s/client.ts";
import { isNotFound } from "../k8s/errors.ts";
import { resources } from "../k8s/resource.ts";
import { MYSQL_TLS_DIR, TLS_CA_FILE } from "../mysql/tls.ts";
import { unb64 } from "./certs.ts";
import type { CertificateStore } from "./cert-store.ts";
import { VOLUME_MYSQL_TLS, mysqlTlsSecretName, names, tlsEnabled, tlsIssuedByController } from "./builders/index.ts";

/** The Pod was made from a template with spec.tls (it mounts the certificate). */
export function podMountsTls(pod: V1Pod | undefined): boolean {
  return (pod?.spec?.volumes ?? []).some((v) => v.name === VOLUME_MYSQL_TLS);
}

/** A user-named TLS Secret that cannot be used; the message names the field. */
export class TlsSecretError extends Error {
  override name = "TlsSecretError";
}

/** ca.crt of the user's Secret `spec.tls.secretName`. */
export async function readUserTlsCa(client: KubeClient, namespace: string, secretName: string, signal?: AbortSignal): Promise<string> {
  let secret: V1Secret;
  try {
    secret = await client.get<V1Secret>(resources.secrets, secretName, namespace, signal);
  } catch (e) {
    if (isNotFound(e)) throw new TlsSecretError(`spec.tls.secretName: Secret ${namespace}/${secretName} not found`);
    throw e;
  }
  const missing = ["ca.crt", "tls.crt", "tls.key"].filter((k) => unb64(secret.data?.[k]) === "");
  if (missing.length > 0) throw new TlsSecretError(`spec.tls.secretName: Secret ${namespace}/${secretName} lacks ${missing.join(", ")}`);
  return unb64(secret.data?.["ca.crt"]);
}

/**
 * The engine's TLS port: the controller's CA (or the user's Secret's ca.crt), each
 * instance verified as `moco-<name>-<i>.moco-<name>.<ns>.svc`, replicas verify their
 * source's name when SOURCE_HOST is that DNS name ("dns" mode; with Pod IPs as
 * SOURCE_HOST only the CA is verified).
 */
export function clusterTlsSource(d: {
  readonly client: KubeClient;
  readonly certs: CertificateStore;
  readonly sourceHostMode: "dns" | "pod-ip";
  readonly signal?: AbortSignal | undefined;
  /** The cluster's Pod `moco-<name>-<ordinal>`, if it exists (the informer's cache). */
  readonly pod: (cluster: string, ordinal: number) => V1Pod | undefined;
}): ClusterTlsSource {
  return {
    async get(like: MySQLClusterLike): Promise<ClusterTls | null> {
      const cluster = like as unknown as MySQLCluster;
      if (!tlsEnabled(cluster)) return null;
      const name = cluster.metadata?.name ?? "";
      const ns = cluster.metadata?.namespace ?? "";
      const ca = tlsIssuedByController(cluster)
        ? (await d.certs.ca()).bundle
        : await readUserTlsCa(d.client, ns, mysqlTlsSecretName(cluster) ?? "", d.signal);
      return {
        ca,
        serverName: (ordinal: number) => names.podFqdn(name, ns, ordinal),
        replication: { caFile: `${MYSQL_TLS_DIR}/${TLS_CA_FILE}`, verifyServerName: d.sourceHostMode === "dns" },
        instanceHasTls: (ordinal: number) => podMountsTls(d.pod(name, ordinal)),
      };
    },
  };
}
