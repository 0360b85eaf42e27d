// The informers (watch caches) the controllers share. Owned objects are watched by the
// label every one of them carries (`app.kubernetes.io/created-by=moco`); ConfigMaps are
// watched unfiltered because the user ConfigMap named in `spec.mysqlConfigMapName` has
// no label of ours; mysqld Pods by `app.kubernetes.io/name=mysql,created-by=moco`.
import type {
  V1ConfigMap,
  V1CronJob,
  V1Job,
  V1Pod,
  V1PodDisruptionBudget,
  V1Role,
  V1RoleBinding,
  V1Secret,
  V1Service,
  V1ServiceAccount,
  V1StatefulSet,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { BackupPolicy, MySQLCluster } from "../api/v1beta2/index.ts";
import type { KubeClient } from "../k8s/client.ts";
import { Informer } from "../k8s/informer.ts";
import { resources } from "../k8s/resource.ts";

export const OWNED_SELECTOR = "app.kubernetes.io/created-by=moco";
export const MYSQL_POD_SELECTOR = "app.kubernetes.io/name=mysql,app.kubernetes.io/created-by=moco";

export interface ControllerCaches {
  readonly clusters: Informer<MySQLCluster>;
  readonly backupPolicies: Informer<BackupPolicy>;
  readonly statefulSets: Informer<V1StatefulSet>;
  readonly services: Informer<V1Service>;
  readonly secrets: Informer<V1Secret>;
  readonly serviceAccounts: Informer<V1ServiceAccount>;
  readonly configMaps: Informer<V1ConfigMap>;
  readonly pdbs: Informer<V1PodDisruptionBudget>;
  readonly cronJobs: Informer<V1CronJob>;
  readonly jobs: Informer<V1Job>;
  readonly roles: Informer<V1Role>;
  readonly roleBindings: Informer<V1RoleBinding>;
  readonly pods: Informer<V1Pod>;
}

export interface CacheOptions {
  /** Informer resync (observability: 10 h like controller-runtime's default). */
  readonly resyncPeriodMs?: number;
  /** Only this namespace (tests); default all. */
  readonly namespace?: string;
  readonly logger: Logger;
}

export function createCaches(client: KubeClient, opts: CacheOptions): ControllerCaches {
  const base = { resyncPeriodMs: opts.resyncPeriodMs ?? 10 * 3600_000, logger: opts.logger, ...(opts.namespace === undefined ? {} : { namespace: opts.namespace }) };
  const owned = { ...base, labelSelector: OWNED_SELECTOR };
  return {
    clusters: new Informer<MySQLCluster>(client, resources.mysqlClusters, base),
    backupPolicies: new Informer<BackupPolicy>(client, resources.backupPolicies, base),
    statefulSets: new Informer<V1StatefulSet>(client, resources.statefulSets, owned),
    services: new Informer<V1Service>(client, resources.services, owned),
    // The controller Secret lives in the controller namespace: watch all namespaces.
    secrets: new Informer<V1Secret>(client, resources.secrets, { ...owned, namespace: undefined }),
    serviceAccounts: new Informer<V1ServiceAccount>(client, resources.serviceAccounts, owned),
    configMaps: new Informer<V1ConfigMap>(client, resources.configMaps, base),
    pdbs: new Informer<V1PodDisruptionBudget>(client, resources.podDisruptionBudgets, owned),
    cronJobs: new Informer<V1CronJob>(client, resources.cronJobs, owned),
    jobs: new Informer<V1Job>(client, resources.jobs, owned),
    roles: new Informer<V1Role>(client, resources.roles, owned),
    roleBindings: new Informer<V1RoleBinding>(client, resources.roleBindings, owned),
    pods: new Informer<V1Pod>(client, resources.pods, { ...base, labelSelector: MYSQL_POD_SELECTOR }),
  };
}

export function allInformers(c: ControllerCaches): Informer[] {
  return Object.values(c) as Informer[];
}

export async function startCaches(c: ControllerCaches, signal?: AbortSignal): Promise<void> {
  for (const i of allInformers(c)) i.start();
  await Promise.all(allInformers(c).map((i) => i.waitForSync(signal)));
}

export async function stopCaches(c: ControllerCaches): Promise<void> {
  await Promise.all(allInformers(c).map((i) => i.stop()));
}
