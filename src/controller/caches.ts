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
import type { KubeObject } from "../k8s/types.ts";
import { FIELD_MANAGER } from "./apply.ts";

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

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

// What the caches keep (client-go's SetTransform). The readers are the reconciler, the
// partition controller, the Pod watcher and the clustering adapter; test/unit/controller/
// cache-transform.test.ts runs them on stripped and on full objects and wants the same answers.

/**
 * MySQLClusters and BackupPolicies: without metadata.managedFields (nothing reads them, and a
 * status PUT built from the cached cluster that carries no managedFields leaves the server's
 * as they are; a partial list would replace them). Annotations are kept: the status PUT
 * sends them back.
 */
export function stripManagedFields<T extends KubeObject>(o: T): T {
  if (o.metadata?.managedFields !== undefined) delete o.metadata.managedFields;
  return o;
}

/**
 * Objects the controller writes by server-side apply and never PUTs from the cache: only
 * moco-controller's managedFields entries (apply-if-changed compares the fields it owns) and
 * no kubectl last-applied annotation (a copy of the whole object).
 */
export function stripForOwnedCache<T extends KubeObject>(o: T): T {
  const md = o.metadata;
  if (md === undefined) return o;
  if (md.managedFields !== undefined) {
    const mine = md.managedFields.filter((e) => e.manager === FIELD_MANAGER);
    if (mine.length === 0) delete md.managedFields; else md.managedFields = mine;
  }
  if (md.annotations !== undefined && LAST_APPLIED in md.annotations) {
    const { [LAST_APPLIED]: _dropped, ...rest } = md.annotations;
    md.annotations = rest;
  }
  return o;
}

/**
 * mysqld Pods: metadata without managedFields, status as it is, and of the spec only the
 * node and hostname, and the names of the volumes and containers (the controller patches
 * Pods, never PUTs them; it reads whether a Pod mounts the TLS certificate, controller/tls.ts
 * podMountsTls, and whether it has the mysqld-exporter container, password-rotation-ports.ts).
 */
export function stripPod(p: V1Pod): V1Pod {
  stripForOwnedCache(p);
  if (p.metadata?.managedFields !== undefined) delete p.metadata.managedFields;
  const spec = p.spec;
  if (spec !== undefined) {
    const kept: Record<string, unknown> = {};
    for (const k of ["nodeName", "hostname", "subdomain"] as const) if (spec[k] !== undefined) kept[k] = spec[k];
    if (spec.volumes !== undefined) kept.volumes = spec.volumes.map((v) => ({ name: v.name }));
    kept.containers = (spec.containers ?? []).map((c) => ({ name: c.name }));
    p.spec = kept as unknown as V1Pod["spec"];
  }
  return p;
}

export function createCaches(client: KubeClient, opts: CacheOptions): ControllerCaches {
  const base = { resyncPeriodMs: opts.resyncPeriodMs ?? 10 * 3600_000, logger: opts.logger, ...(opts.namespace === undefined ? {} : { namespace: opts.namespace }) };
  const owned = { ...base, labelSelector: OWNED_SELECTOR, transform: stripForOwnedCache };
  return {
    clusters: new Informer<MySQLCluster>(client, resources.mysqlClusters, { ...base, transform: stripManagedFields }),
    backupPolicies: new Informer<BackupPolicy>(client, resources.backupPolicies, { ...base, transform: stripManagedFields }),
    statefulSets: new Informer<V1StatefulSet>(client, resources.statefulSets, owned),
    services: new Informer<V1Service>(client, resources.services, owned),
    // The controller Secret lives in the controller namespace: watch all namespaces.
    secrets: new Informer<V1Secret>(client, resources.secrets, { ...owned, namespace: undefined }),
    serviceAccounts: new Informer<V1ServiceAccount>(client, resources.serviceAccounts, owned),
    // Unfiltered (the user's my.cnf ConfigMap has no label of ours); never PUT from the cache.
    configMaps: new Informer<V1ConfigMap>(client, resources.configMaps, { ...base, transform: stripForOwnedCache }),
    pdbs: new Informer<V1PodDisruptionBudget>(client, resources.podDisruptionBudgets, owned),
    cronJobs: new Informer<V1CronJob>(client, resources.cronJobs, owned),
    jobs: new Informer<V1Job>(client, resources.jobs, owned),
    roles: new Informer<V1Role>(client, resources.roles, owned),
    roleBindings: new Informer<V1RoleBinding>(client, resources.roleBindings, owned),
    pods: new Informer<V1Pod>(client, resources.pods, { ...base, labelSelector: MYSQL_POD_SELECTOR, transform: stripPod }),
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
