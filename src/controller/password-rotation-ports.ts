// The password rotator's ports in the controller (moco-ts addition; docs/password-rotation.md):
// the controller Secret over the API server, the instances by Pod IP, and the consumers
// read from the caches. `checkClusterConsumers` is the pure part: given the cluster's Pods,
// Jobs and user-namespace Secrets, which consumers use the new passwords.
import type { V1Job, V1Pod, V1Secret } from "@kubernetes/client-node";
import { EXPORTER_CONTAINER, type MySQLCluster } from "../api/v1beta2/index.ts";
import type { KubeClient } from "../k8s/client.ts";
import { resources } from "../k8s/resource.ts";
import type { MocoPasswords } from "../mysql/users.ts";
import { APP_NAME_BACKUP, LABEL_APP_INSTANCE, LABEL_APP_NAME, buildMyCnfSecret, clusterIdentity, names, passwordsFromSecret, type BuilderOptions } from "./builders/index.ts";
import { MYSQL_ADMIN_PORT, MYSQL_PORT } from "./builders/services.ts";
import type { ControllerCaches } from "./caches.ts";
import type { CertificateStore } from "./cert-store.ts";
import { clusterTlsSource } from "./tls.ts";
import type { ClusterTls, ClusterTlsSource } from "../clustering/ports.ts";
import type { MysqlClientTls } from "../mysql/tls.ts";
import { rotatedKeys, type ConsumerCheck, type RotationState } from "./password-rotation.ts";
import { SqlRotationInstances, type RotationConsumers, type RotationSecretStore } from "./password-rotator.ts";

export interface ClusterConsumersInput {
  readonly cluster: MySQLCluster;
  readonly state: RotationState;
  /** The new passwords (the controller Secret's, from Confirming on). */
  readonly passwords: MocoPasswords;
  readonly userSecret: V1Secret | undefined;
  readonly myCnfSecret: V1Secret | undefined;
  /** The cluster's Pods by ordinal (undefined: no Pod). */
  readonly pods: readonly (V1Pod | undefined)[];
  /** The Jobs of the namespace (backup and restore Jobs are picked by name). */
  readonly jobs: readonly V1Job[];
}

function startedAt(pod: V1Pod, container: string): number | null {
  const s = (pod.status?.containerStatuses ?? []).find((c) => c.name === container);
  const t = s?.state?.running?.startedAt;
  if (t === undefined || t === null) return null;
  return new Date(t as unknown as string).getTime();
}

const hasContainer = (pod: V1Pod, name: string): boolean => (pod.spec?.containers ?? []).some((c) => c.name === name);

/**
 * Which consumers outside SQL use the new passwords (pure):
 * - the user Secret `moco-<name>` and `moco-my-cnf-<name>` carry them (the reconciler writes both);
 * - when moco-exporter is rotated, each Pod's mysqld-exporter (mysqld_exporter 0.14 reads
 *   its my.cnf once, at start): the container started after the switch (the agents are
 *   confirmed by the rotator through SQL: password-rotator.ts);
 * - no backup or restore Job of the cluster that started before the switch is still running.
 */
export function checkClusterConsumers(input: ClusterConsumersInput): ConsumerCheck[] {
  const { cluster, state, passwords } = input;
  const id = clusterIdentity(cluster);
  const keys = rotatedKeys(state.users);
  const since = state.distributedAt === undefined ? Number.POSITIVE_INFINITY : new Date(state.distributedAt).getTime();
  const out: ConsumerCheck[] = [];

  let inUserSecret: MocoPasswords | undefined;
  try {
    inUserSecret = input.userSecret === undefined ? undefined : passwordsFromSecret(input.userSecret);
  } catch {
    inUserSecret = undefined;
  }
  out.push({
    name: `Secret ${names.userSecret(id.name)}`,
    confirmed: inUserSecret !== undefined && keys.every((k) => inUserSecret[k] === passwords[k]),
    reason: "not updated yet",
  });
  const wantMyCnf = buildMyCnfSecret(cluster, passwords).data ?? {};
  const haveMyCnf = input.myCnfSecret?.data ?? {};
  out.push({
    name: `Secret ${names.myCnfSecret(id.name)}`,
    confirmed: Object.entries(wantMyCnf).every(([k, v]) => haveMyCnf[k] === v),
    reason: "not updated yet",
  });

  input.pods.forEach((pod, ordinal) => {
    const podName = names.pod(id.name, ordinal);
    if (!state.users.includes("moco-exporter")) return;
    if (pod === undefined) {
      out.push({ name: `Pod ${podName}`, confirmed: false, reason: "the Pod does not exist" });
      return;
    }
    if (!hasContainer(pod, EXPORTER_CONTAINER)) return;
    const t = startedAt(pod, EXPORTER_CONTAINER);
    out.push({
      name: `container ${EXPORTER_CONTAINER} of Pod ${podName}`,
      confirmed: t !== null && t >= since,
      reason: "started before the new passwords (the agent has the kubelet restart it: /exporter-healthz)",
    });
  });

  // By name (the CronJob's Jobs, the restore Job), or by the job template's labels: a Job
  // made with `kubectl create job --from=cronjob/moco-backup-<name>` has any name.
  const prefixes = [`${names.backup(id.name)}-`, `${names.restore(id.name)}`];
  const ofCluster = (job: V1Job): boolean => {
    const labels = job.metadata?.labels ?? {};
    if (labels[LABEL_APP_NAME] === APP_NAME_BACKUP && labels[LABEL_APP_INSTANCE] === id.name) return true;
    const name = job.metadata?.name ?? "";
    return prefixes.some((p) => name.startsWith(p));
  };
  for (const job of input.jobs) {
    const name = job.metadata?.name ?? "";
    if (!ofCluster(job)) continue;
    if ((job.status?.active ?? 0) === 0) continue;
    const start = job.status?.startTime === undefined ? 0 : new Date(job.status.startTime as unknown as string).getTime();
    if (start < since) out.push({ name: `Job ${name}`, confirmed: false, reason: "started before the new passwords; waiting until it ends" });
  }
  return out.map((c) => (c.confirmed ? { name: c.name, confirmed: true } : c));
}

export interface ControllerRotationDeps {
  readonly client: KubeClient;
  readonly caches: ControllerCaches;
  readonly options: BuilderOptions;
  /** The CA of the controller-issued mysqld certificates (spec.tls). */
  readonly certs: CertificateStore;
}

/** The controller Secret `<sys>/mysql-<ns>.<name>`, read fresh and replaced with its resourceVersion. */
export function controllerSecretStore(d: ControllerRotationDeps, cluster: MySQLCluster): RotationSecretStore {
  const id = clusterIdentity(cluster);
  const name = names.controllerSecret(id.namespace, id.name);
  return {
    read: () => d.client.get<V1Secret>(resources.secrets, name, d.options.controllerNamespace),
    replace: (next) => d.client.update<V1Secret>(resources.secrets, next),
  };
}

function podsOf(d: ControllerRotationDeps, cluster: MySQLCluster): (V1Pod | undefined)[] {
  const id = clusterIdentity(cluster);
  const n = cluster.spec?.replicas ?? 1;
  return Array.from({ length: n }, (_, i) => d.caches.pods.get(names.pod(id.name, i), id.namespace));
}

/**
 * How the rotator verifies instance `ordinal` (undefined: plaintext, without spec.tls or to a
 * Pod that does not mount the certificate yet), from the engine's TLS source, read once:
 * the rotator is built for each pass, and a user-named Secret's CA is an API read.
 */
export function rotationTls(source: ClusterTlsSource, cluster: MySQLCluster): (ordinal: number) => Promise<MysqlClientTls | undefined> {
  let tls: Promise<ClusterTls | null> | undefined;
  return async (ordinal) => {
    const t = await (tls ??= source.get(cluster));
    return t === null || !(t.instanceHasTls?.(ordinal) ?? true) ? undefined : { ca: t.ca, serverName: t.serverName(ordinal) };
  };
}

/**
 * The instances by Pod IP (the engine's addressing), primary from status.currentPrimaryIndex;
 * with spec.tls, verified as the clustering engine does (controller/tls.ts: the CA, the Pod's
 * DNS name; plaintext only to a Pod that does not mount the certificate yet).
 */
export function controllerRotationInstances(d: ControllerRotationDeps, cluster: MySQLCluster): SqlRotationInstances {
  const id = clusterIdentity(cluster);
  const tlsSource = clusterTlsSource({
    client: d.client, certs: d.certs, sourceHostMode: "dns",
    pod: (name, ordinal) => d.caches.pods.get(names.pod(name, ordinal), id.namespace),
  });
  return new SqlRotationInstances({
    tls: rotationTls(tlsSource, cluster),
    topology: async () => {
      const fresh = d.caches.clusters.get(id.name, id.namespace) ?? cluster;
      const n = fresh.spec?.replicas ?? 1;
      return { ordinals: Array.from({ length: n }, (_, i) => i), primary: fresh.status?.currentPrimaryIndex ?? -1 };
    },
    address: async (i) => {
      const ip = d.caches.pods.get(names.pod(id.name, i), id.namespace)?.status?.podIP;
      return ip === undefined || ip === "" ? null : ip;
    },
    port: MYSQL_PORT,
    adminPort: MYSQL_ADMIN_PORT,
  });
}

/** The consumers from the caches (user-namespace Secrets, Pods, Jobs). */
export function controllerRotationConsumers(d: ControllerRotationDeps, cluster: MySQLCluster): RotationConsumers {
  const id = clusterIdentity(cluster);
  return {
    confirm: async (state, passwords) => checkClusterConsumers({
      cluster,
      state,
      passwords,
      userSecret: d.caches.secrets.get(names.userSecret(id.name), id.namespace),
      myCnfSecret: d.caches.secrets.get(names.myCnfSecret(id.name), id.namespace),
      pods: podsOf(d, cluster),
      jobs: d.caches.jobs.list({ namespace: id.namespace }),
    }),
  };
}
