// The MySQLCluster reconciler (docs/objects.md#the-reconcile-loop): level-triggered and idempotent. Every pass
// re-derives the desired objects from the cluster (pure builders) and writes only what
// differs: server-side apply (field manager moco-controller, force) skipped when the
// fields it owns are already equal; the documented exceptions (controller Secret
// created once, the issued agent TLS Secret create-or-update, PVC updates, StatefulSet orphan-delete and
// re-create, restore Job created once) use plain writes.
import { randomBytes } from "node:crypto";
import type {
  V1ConfigMap,
  V1CronJob,
  V1Job,
  V1PersistentVolumeClaim,
  V1Secret,
  V1StatefulSet,
  V1StorageClass,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { MYSQLCLUSTER_FINALIZER, type MySQLCluster } from "../api/v1beta2/index.ts";
import { buildInitScript } from "../shared/init-script.ts";
import type { KubeClient } from "../k8s/client.ts";
import { isConflict, isNotFound } from "../k8s/errors.ts";
import { errorMessage } from "../util/errors.ts";
import type { EventRecorder } from "../k8s/events.ts";
import { resources, type ResourceDescriptor } from "../k8s/resource.ts";
import type { KubeObject } from "../k8s/types.ts";
import type { WorkResult } from "../k8s/queue.ts";
import type { ControllerMetrics } from "../metrics/index.ts";
import {
  ANNOTATION_CLUSTERING_STOPPED,
  ANNOTATION_RECONCILIATION_STOPPED,
  CONDITION_CLUSTERING_ACTIVE,
  CONDITION_RECONCILIATION_ACTIVE,
  RECONCILE_VERSION,
  annotationIsTrue,
  buildBackupCronJob,
  buildCaConfigMap,
  buildBackupRole,
  buildBackupRoleBinding,
  buildControllerSecret,
  buildHeadlessService,
  buildMyCnfConfigMap,
  buildMyCnfSecret,
  buildPodDisruptionBudget,
  buildPrimaryService,
  buildReplicaService,
  buildRestoreJob,
  buildRestoreRole,
  buildRestoreRoleBinding,
  buildServiceAccount,
  buildSlowLogConfigMap,
  buildStatefulSet,
  buildUserSecret,
  clusterIdentity,
  clusterOwnerReference,
  clusteringStoppedConditions,
  conditionsEqual,
  decidePdb,
  generatePasswords,
  isStatefulSetUpdating,
  labelSet,
  mergeLabels,
  mysqlTlsDnsNames,
  mysqlTlsSecretName,
  names,
  needsRestoreJob,
  needsStatefulSetRecreation,
  passwordsFromSecret,
  planPvcMetadataSync,
  planPvcResize,
  reconcileSuccessCondition,
  reconciliationActiveCondition,
  tlsEnabled,
  tlsIssuedByController,
  tlsNames,
  resolveBuilderOptions,
  selectConfigMapsToPrune,
  selectResizeTargets,
  selectSlowLogConfigMapsToDelete,
  setStatusCondition,
  statefulSetReadyCondition,
  type BuilderOptions,
  type StatefulSetLookup,
  type StatusCondition,
} from "./builders/index.ts";
import { agentDnsNames } from "./certs.ts";
import { TlsSecretError, readUserTlsCa } from "./tls.ts";
import type { CertificateStore } from "./cert-store.ts";
import type { ControllerCaches } from "./caches.ts";
import { applyAsController, extractOwned } from "./apply.ts";
import { noteRefusedStatusWrite } from "./status-write.ts";
import type { MocoPasswords } from "../mysql/users.ts";
import {
  ROTATION_COMPLETED_ANNOTATION,
  ROTATION_STATE_ANNOTATION,
  RotationInputError,
  rotationRequestOf,
  type RotationState,
} from "./password-rotation.ts";
import { PasswordRotator } from "./password-rotator.ts";
import { controllerRotationConsumers, controllerRotationInstances, controllerSecretStore } from "./password-rotation-ports.ts";
import { setTimeout as sleep } from "node:timers/promises";

/** Requeue interval while a password rotation is in progress. */
const ROTATION_REQUEUE_MS = 5_000;

/** What the reconciler needs of the clustering manager (src/clustering/manager.ts fits). */
export interface ClusteringControl {
  update(key: { namespace: string; name: string }, origin: string): void;
  updateNoStart(key: { namespace: string; name: string }, origin: string): void;
  stop(key: { namespace: string; name: string }): Promise<void>;
  pause(key: { namespace: string; name: string }): Promise<void>;
  has(key: { namespace: string; name: string }): boolean;
}

export interface ReconcilerDeps {
  readonly client: KubeClient;
  readonly caches: ControllerCaches;
  readonly options: BuilderOptions;
  readonly metrics: ControllerMetrics;
  readonly events: EventRecorder;
  readonly clustering: ClusteringControl;
  readonly certs: CertificateStore;
  readonly logger: Logger;
}

/** Counts of writes (tests assert "no write when nothing changed"). */
export interface WriteStats {
  applies: number;
  creates: number;
  updates: number;
  deletes: number;
  statusWrites: number;
}

type StatusLike = Partial<NonNullable<MySQLCluster["status"]>>;

/** An error a user can fix; becomes the ReconcileSuccess message and a Warning event. */
class ReconcileError extends Error {
  override name = "ReconcileError";
}

/**
 * Runs the tasks concurrently and waits for all of them; then throws the first failure (in
 * the tasks' order), so that no write of this reconcile is still in flight when it fails.
 */
export async function allOrFirstError(tasks: readonly (() => Promise<unknown>)[]): Promise<void> {
  const results = await Promise.allSettled(tasks.map((t) => t()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
}

/** The cluster as an Event's involvedObject (no resourceVersion, so repeats aggregate). */
function clusterEventTarget(c: MySQLCluster): KubeObject {
  return {
    apiVersion: "moco.cybozu.com/v1beta2",
    kind: "MySQLCluster",
    metadata: { name: c.metadata?.name ?? "", namespace: c.metadata?.namespace ?? "", uid: c.metadata?.uid },
  };
}

function reconcileId(): string {
  return `reconcile-${randomBytes(4).toString("hex")}`;
}

export class MySQLClusterReconciler {
  readonly #d: ReconcilerDeps;
  readonly stats: WriteStats = { applies: 0, creates: 0, updates: 0, deletes: 0, statusWrites: 0 };
  readonly #scripts = new Map<string, string>();

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  /** One reconcile of `namespace/name`. Throws to be retried with back-off. */
  async reconcile(key: string): Promise<WorkResult> {
    const i = key.indexOf("/");
    const ns = key.slice(0, i);
    const name = key.slice(i + 1);
    const log = this.#d.logger.child({ namespace: ns, name, reconcileID: reconcileId() });
    const ckey = { namespace: ns, name };
    const labels = { name, namespace: ns };
    const cluster = this.#d.caches.clusters.get(name, ns);
    if (cluster === undefined) {
      await this.#d.clustering.stop(ckey);
      return;
    }
    if (cluster.metadata?.deletionTimestamp !== undefined && cluster.metadata.deletionTimestamp !== null) {
      await this.#finalize(cluster, log);
      return;
    }
    if (!(cluster.metadata?.finalizers ?? []).includes(MYSQLCLUSTER_FINALIZER)) {
      await this.#addFinalizer(cluster);
      log.info({}, "added the finalizer");
    }
    const clusteringStopped = annotationIsTrue(cluster.metadata?.annotations, ANNOTATION_CLUSTERING_STOPPED);
    if (annotationIsTrue(cluster.metadata?.annotations, ANNOTATION_RECONCILIATION_STOPPED)) {
      // docs/objects.md#reconciliation-stop: no object writes; clustering continues (or stays stopped).
      const nudge = await this.#handleClustering(cluster, clusteringStopped, log);
      try {
        await this.#writeStatus(cluster, (status) => {
          let conds = status.conditions as StatusCondition[] | undefined;
          if (clusteringStopped) conds = clusteringStoppedConditions(conds, new Date()) ?? conds;
          conds = setStatusCondition(conds, reconciliationActiveCondition(false), new Date());
          return { ...status, conditions: conds as StatusLike["conditions"] };
        }, log);
      } finally {
        nudge();
      }
      this.#d.metrics.setGauge("moco_cluster_reconciliation_stopped", labels, 1);
      return;
    }

    let failure: unknown;
    let sts: V1StatefulSet | undefined;
    let controllerSecret: V1Secret | undefined;
    try {
      ({ sts, controllerSecret } = await this.#reconcileObjects(cluster, log));
    } catch (e) {
      failure = e;
    }
    let rotating = false;
    let nudge = (): void => undefined;
    if (failure === undefined) {
      nudge = await this.#handleClustering(cluster, clusteringStopped, log);
      rotating = await this.#rotatePasswords(cluster, controllerSecret, log);
    }
    // docs/objects.md#status-written-by-the-controller (deferred, also after an error).
    const generation = cluster.metadata?.generation ?? 0;
    const lookup: StatefulSetLookup = sts === undefined
      ? (failure === undefined ? { kind: "notFound" } : this.#stsLookup(cluster))
      : { kind: "found", statefulSet: sts };
    const message = failure === undefined ? undefined : errorMessage(failure);
    try {
      await this.#writeStatus(cluster, (status) => {
        const now = new Date();
        let conds = status.conditions as StatusCondition[] | undefined;
        if (failure === undefined && clusteringStopped) conds = clusteringStoppedConditions(conds, now) ?? conds;
        conds = setStatusCondition(conds, statefulSetReadyCondition(lookup, generation), now);
        conds = setStatusCondition(conds, reconcileSuccessCondition(message, generation), now);
        conds = setStatusCondition(conds, reconciliationActiveCondition(true), now);
        return { ...status, conditions: conds as StatusLike["conditions"], reconcileInfo: { generation, reconcileVersion: RECONCILE_VERSION } };
      }, log);
    } finally {
      nudge();
    }
    this.#d.metrics.setGauge("moco_cluster_reconciliation_stopped", labels, 0);
    if (failure !== undefined) {
      log.error({ err: message }, "reconcile failed");
      // Identical messages are coalesced by the recorder (count grows), so retries do not flood.
      this.#d.events.event(clusterEventTarget(cluster), "Warning", "ReconcileFailed", message ?? "");
      throw failure;
    }
    return rotating ? { requeueAfterMs: ROTATION_REQUEUE_MS } : undefined;
  }

  // ---- password rotation (moco-ts addition, docs/password-rotation.md) ----------------

  /**
   * One pass of the password rotator. Problems become Warning Events and a requeue, never
   * a failed reconcile (the objects are fine). Returns true while a rotation is in progress.
   */
  async #rotatePasswords(cluster: MySQLCluster, controllerSecret: V1Secret | undefined, log: Logger): Promise<boolean> {
    const target = clusterEventTarget(cluster);
    let request;
    try {
      request = rotationRequestOf(cluster.metadata?.annotations);
    } catch (e) {
      this.#d.events.event(target, "Warning", "PasswordRotationRefused", errorMessage(e));
      request = null;
    }
    // Idle by the cache, or by the controller Secret this pass created (not cached yet): no
    // API call when no rotation is in progress and no new request.
    const id = clusterIdentity(cluster);
    const cached = this.#d.caches.secrets.get(names.controllerSecret(id.namespace, id.name), this.#d.options.controllerNamespace) ?? controllerSecret;
    const ann = cached?.metadata?.annotations ?? {};
    if (cached !== undefined && ann[ROTATION_STATE_ANNOTATION] === undefined && (request === null || request.id === ann[ROTATION_COMPLETED_ANNOTATION])) return false;
    const d = { client: this.#d.client, caches: this.#d.caches, options: this.#d.options, certs: this.#d.certs };
    const rotator = new PasswordRotator(controllerSecretStore(d, cluster), controllerRotationInstances(d, cluster), controllerRotationConsumers(d, cluster));
    try {
      const r = await rotator.pass(request);
      const describe = (s: RotationState | null) => (s === null ? "" : ` ${s.id} (${s.users.join(", ")})`);
      switch (r.step.kind) {
        case "idle":
          return false;
        case "start":
          log.info({ rotation: r.state?.id }, "password rotation started");
          this.#d.events.event(target, "Normal", "PasswordRotationStarted", `password rotation${describe(r.state)}: new passwords stored, setting them with RETAIN CURRENT PASSWORD`);
          break;
        case "distribute":
          log.info({ rotation: r.state?.id }, "password rotation: the Secrets hold the new passwords");
          this.#d.events.event(target, "Normal", "PasswordRotationDistributed", `password rotation${describe(r.state)}: every instance accepts the new passwords; the Secrets now hold them`);
          break;
        case "wait":
          this.#d.events.event(target, "Normal", "PasswordRotationWaiting", `password rotation${describe(r.state)}: ${r.step.reason}`);
          break;
        case "confirm":
          if (r.step.waitingFor.length > 0) {
            const list = r.step.waitingFor.map((c) => `${c.name}${c.reason === undefined ? "" : `: ${c.reason}`}`).join("; ");
            this.#d.events.event(target, "Normal", "PasswordRotationWaiting", `password rotation${describe(r.state)}: old passwords kept until: ${list}`);
          }
          break;
        case "retain":
        case "discard":
        case "finish":
          break;
        default: {
          const never: never = r.step;
          throw new Error(`unknown rotation step ${JSON.stringify(never)}`);
        }
      }
      if (r.completed !== undefined) {
        log.info({ rotation: r.completed }, "password rotation completed");
        this.#d.events.event(target, "Normal", "PasswordRotationCompleted", `password rotation ${r.completed} completed: old passwords discarded`);
        return false;
      }
      return true;
    } catch (e) {
      // SQL errors carry no statement parameters (src/clustering/sql.ts); Secret errors name keys only.
      const message = errorMessage(e);
      log.warn({ err: message }, "password rotation pass failed");
      this.#d.events.event(target, "Warning", e instanceof RotationInputError ? "PasswordRotationRefused" : "PasswordRotationFailed", message);
      return true;
    }
  }

  #stsLookup(cluster: MySQLCluster): StatefulSetLookup {
    const id = clusterIdentity(cluster);
    const s = this.#d.caches.statefulSets.get(names.prefixed(id.name), id.namespace);
    return s === undefined ? { kind: "notFound" } : { kind: "found", statefulSet: s };
  }

  // ---- finalizer (docs/objects.md#order-of-one-reconcile steps 1-2) ------------------------------------------------

  async #addFinalizer(cluster: MySQLCluster): Promise<void> {
    const id = clusterIdentity(cluster);
    await this.#d.client.patch(resources.mysqlClusters, id.name, id.namespace, "merge", {
      metadata: { finalizers: [...(cluster.metadata?.finalizers ?? []), MYSQLCLUSTER_FINALIZER], resourceVersion: cluster.metadata?.resourceVersion },
    });
    this.stats.updates++;
  }

  async #finalize(cluster: MySQLCluster, log: Logger): Promise<void> {
    const finalizers = cluster.metadata?.finalizers ?? [];
    if (!finalizers.includes(MYSQLCLUSTER_FINALIZER)) return;
    const id = clusterIdentity(cluster);
    log.info({}, "finalizing");
    await this.#d.clustering.stop({ namespace: id.namespace, name: id.name });
    await this.#deleteIgnoringNotFound(resources.secrets, names.controllerSecret(id.namespace, id.name), this.#d.options.controllerNamespace);
    this.#d.metrics.deleteFinalizerSeries({ name: id.name, namespace: id.namespace });
    await this.#d.client.patch(resources.mysqlClusters, id.name, id.namespace, "merge", {
      metadata: { finalizers: finalizers.filter((f) => f !== MYSQLCLUSTER_FINALIZER), resourceVersion: cluster.metadata?.resourceVersion },
    });
    this.stats.updates++;
    log.info({}, "removed the finalizer");
  }

  // ---- clustering (docs/objects.md#order-of-one-reconcile step 5, docs/objects.md#clustering-stop) ----------------------------------------------

  /**
   * Pauses a stopped cluster's clustering now; otherwise returns the nudge of its manager, which
   * the caller runs after its status write: a pass nudged before could read the cluster while
   * the reconciler's write was in flight, and one of the two writes then met a conflict
   * (re-read and written again; 19 conflicts in the audited N = 1000 run before the change).
   */
  async #handleClustering(cluster: MySQLCluster, stopped: boolean, log: Logger): Promise<() => void> {
    const id = clusterIdentity(cluster);
    const key = { namespace: id.namespace, name: id.name };
    const labels = { name: id.name, namespace: id.namespace };
    if (stopped) {
      const inactive = (cluster.status?.conditions ?? []).some((c) => c.type === CONDITION_CLUSTERING_ACTIVE && c.status === "False");
      if (!inactive || this.#d.clustering.has(key)) {
        await this.#d.clustering.pause(key);
        log.info({}, "clustering is stopped");
      }
      this.#d.metrics.setGauge("moco_cluster_clustering_stopped", labels, 1);
      return () => undefined;
    }
    this.#d.metrics.setGauge("moco_cluster_clustering_stopped", labels, 0);
    return () => this.#d.clustering.update(key, reconcileId());
  }

  // ---- status (docs/objects.md#status-written-by-the-controller) ----------------------------------------------------------------

  async #writeStatus(
    cached: MySQLCluster,
    mutate: (status: StatusLike) => StatusLike,
    log: Logger,
  ): Promise<void> {
    const same = (a: StatusLike | undefined, b: StatusLike | undefined) =>
      conditionsEqual(a?.conditions as StatusCondition[] | undefined, b?.conditions as StatusCondition[] | undefined) &&
      (a?.reconcileInfo?.generation ?? 0) === (b?.reconcileInfo?.generation ?? 0) &&
      (a?.reconcileInfo?.reconcileVersion ?? 0) === (b?.reconcileInfo?.reconcileVersion ?? 0);
    // Nothing to write according to the cache: done.
    if (same(cached.status, mutate(structuredClone(cached.status ?? {})))) return;
    const id = clusterIdentity(cached);
    for (let attempt = 0; ; attempt++) {
      // The first attempt writes over the cached object (its resourceVersion guards against
      // lost updates); a conflict re-reads the cluster.
      let fresh: MySQLCluster = cached;
      if (attempt > 0) {
        try {
          fresh = await this.#d.client.get<MySQLCluster>(resources.mysqlClusters, id.name, id.namespace);
        } catch (e) {
          if (isNotFound(e)) return;
          throw e;
        }
      }
      if (fresh.metadata?.uid !== id.uid) return;
      // status.currentPrimaryIndex is required by the CRD schema (a Go int without omitempty).
      const next = { currentPrimaryIndex: 0, ...mutate(structuredClone(fresh.status ?? {})) };
      if (same(fresh.status, next)) return;
      try {
        await this.#d.client.update(resources.mysqlClusters, { ...fresh, status: next } as KubeObject & MySQLCluster, { subresource: "status" });
        this.stats.statusWrites++;
        return;
      } catch (e) {
        if (isConflict(e) && attempt < 5) continue;
        if (isNotFound(e)) return;
        noteRefusedStatusWrite(e, "reconciler", this.#d.metrics, log);
        log.warn({ err: errorMessage(e) }, "failed to update status");
        throw e;
      }
    }
  }

  // ---- objects (docs/objects.md#order-of-one-reconcile step 4) ----------------------------------------------------------

  #builderOptions(cluster: MySQLCluster, userConf: Readonly<Record<string, string>> | undefined): BuilderOptions {
    const spec = cluster.spec;
    const lctnRaw = userConf?.["lower_case_table_names"] ?? userConf?.["lower-case-table-names"];
    let lctn: 0 | 1 | 2 | undefined;
    if (lctnRaw !== undefined) {
      const n = Number(lctnRaw.trim());
      if (n !== 0 && n !== 1 && n !== 2) throw new ReconcileError(`lower_case_table_names must be 0, 1 or 2, got ${JSON.stringify(lctnRaw)}`);
      lctn = n;
    }
    const scriptKey = `${spec?.serverIDBase ?? 0}/${spec?.initializeTimezoneData === true}/${spec?.agentUseLocalhost === true}/${lctn ?? ""}`;
    let script = this.#scripts.get(scriptKey);
    if (script === undefined) {
      script = buildInitScript({
        serverIdBase: spec?.serverIDBase ?? 0,
        initTimezones: spec?.initializeTimezoneData === true,
        mysqldLocalhost: spec?.agentUseLocalhost === true,
        ...(lctn === undefined ? {} : { lowerCaseTableNames: lctn }),
      });
      if (this.#scripts.size > 1000) this.#scripts.clear();
      this.#scripts.set(scriptKey, script);
    }
    return resolveBuilderOptions({ ...this.#d.options, initScript: script });
  }

  async #apply<T extends KubeObject>(r: ResourceDescriptor, desired: T, live: T | undefined): Promise<T> {
    const res = await applyAsController(this.#d.client, r, desired, live);
    if (res.applied) this.stats.applies++;
    return res.object;
  }

  async #deleteIgnoringNotFound(r: ResourceDescriptor, name: string, namespace: string, opts: { propagationPolicy?: "Orphan" | "Background" | "Foreground" } = {}): Promise<boolean> {
    try {
      await this.#d.client.delete(r, name, namespace, opts);
      this.stats.deletes++;
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async #reconcileObjects(cluster: MySQLCluster, log: Logger): Promise<{ sts: V1StatefulSet; controllerSecret: V1Secret }> {
    const id = clusterIdentity(cluster);
    const c = this.#d.caches;
    const ns = id.namespace;

    // The user's my.cnf (docs/objects.md#mycnf-configmap) and the options built from it: read
    // and checked before any write.
    const userConf = await this.#userConfigMap(cluster);
    const options = this.#builderOptions(cluster, userConf);

    // Secrets (docs/objects.md#secrets-and-certificates): the controller Secret first (the
    // passwords), then every object the StatefulSet's Pods refer to, written concurrently (one
    // round trip instead of ~10 in a row, at 44–205 ms each in the audited N = 1000 run of
    // bench/controller-scale.ts: 8 workers made a few clusters per second at best). The
    // StatefulSet is written only when all of them were.
    const { passwords, secret: controllerSecret } = await this.#controllerPasswords(cluster);
    await allOrFirstError([
      () => this.#apply(resources.secrets, buildUserSecret(cluster, passwords), c.secrets.get(names.userSecret(id.name), ns)),
      () => this.#apply(resources.secrets, buildMyCnfSecret(cluster, passwords), c.secrets.get(names.myCnfSecret(id.name), ns)),
      // The agent's TLS Secret moco-<name>-grpc, issued from the controller's CA (docs/objects.md#agent-certificate;
      // upstream has cert-manager issue it and copies the Secret).
      () => this.#reconcileIssuedSecret(cluster, names.grpcSecret(id.name), agentDnsNames(id.name, id.namespace)),
      // mysqld's server certificate and the CA ConfigMap (moco-ts addition, docs/tls.md).
      () => this.#reconcileTls(cluster),
      // my.cnf ConfigMap (docs/objects.md#mycnf-configmap).
      async () => {
        const mycnf = buildMyCnfConfigMap(cluster, userConf);
        await this.#apply(resources.configMaps, mycnf.configMap, c.configMaps.get(mycnf.name, ns));
        await this.#pruneConfigMaps(cluster, names.myCnfConfigMapPrefix(id.name), mycnf.name);
      },
      // Slow-log ConfigMap (docs/objects.md#slow-log-configmap).
      async () => {
        const slow = buildSlowLogConfigMap(cluster);
        if (slow === undefined) {
          for (const n of selectSlowLogConfigMapsToDelete(c.configMaps.list({ namespace: ns }), { clusterName: id.name, clusterUid: id.uid })) {
            await this.#deleteIgnoringNotFound(resources.configMaps, n, ns);
          }
        } else {
          await this.#apply(resources.configMaps, slow.configMap, c.configMaps.get(slow.name, ns));
          await this.#pruneConfigMaps(cluster, names.slowLogConfigMapPrefix(id.name), slow.name);
        }
      },
      // ServiceAccount (docs/objects.md#serviceaccount-and-poddisruptionbudget), Services (docs/objects.md#services).
      () => this.#apply(resources.serviceAccounts, buildServiceAccount(cluster), c.serviceAccounts.get(names.prefixed(id.name), ns)),
      () => this.#apply(resources.services, buildHeadlessService(cluster), c.services.get(names.prefixed(id.name), ns)),
      () => this.#apply(resources.services, buildPrimaryService(cluster), c.services.get(names.primaryService(id.name), ns)),
      () => this.#apply(resources.services, buildReplicaService(cluster), c.services.get(names.replicaService(id.name), ns)),
    ]);

    // PVCs (docs/objects.md#pvc-sync-and-expansion), then the StatefulSet (docs/objects.md#statefulset).
    const liveSts = c.statefulSets.get(names.prefixed(id.name), ns);
    if (liveSts !== undefined) await this.#reconcilePvcs(cluster, liveSts, log);
    const sts = await this.#reconcileStatefulSet(cluster, liveSts, userConf, options, log);

    // PDB (docs/objects.md#serviceaccount-and-poddisruptionbudget).
    const pdbName = names.prefixed(id.name);
    const decision = decidePdb(cluster, c.cronJobs.get(names.backup(id.name), ns));
    if (decision.action === "delete") {
      if (c.pdbs.get(pdbName, ns) !== undefined) await this.#deleteIgnoringNotFound(resources.podDisruptionBudgets, pdbName, ns);
    } else {
      await this.#apply(resources.podDisruptionBudgets, buildPodDisruptionBudget(cluster, decision.maxUnavailable), c.pdbs.get(pdbName, ns));
    }

    // Backup CronJob + RBAC (docs/objects.md#backup-cronjob-and-rbac).
    await this.#reconcileBackup(cluster, options);
    // Restore Job + RBAC (docs/objects.md#restore-job-and-rbac).
    await this.#reconcileRestore(cluster, options);
    return { sts, controllerSecret };
  }

  async #controllerPasswords(cluster: MySQLCluster): Promise<{ passwords: MocoPasswords; secret: V1Secret }> {
    const id = clusterIdentity(cluster);
    const sys = this.#d.options.controllerNamespace;
    const name = names.controllerSecret(id.namespace, id.name);
    // Not in the (synced) cache: create it; an existing one (a cache lagging behind) answers
    // 409 and is read. No GET first: for a new cluster it was one more request, always a 404.
    let secret: V1Secret | undefined = this.#d.caches.secrets.get(name, sys);
    if (secret === undefined) {
      const desired = buildControllerSecret(cluster, generatePasswords(), this.#d.options);
      try {
        secret = await this.#d.client.create<V1Secret>(resources.secrets, desired);
        this.stats.creates++;
      } catch (e) {
        if (!(typeof e === "object" && e !== null && (e as { statusCode?: number }).statusCode === 409)) throw e;
        secret = await this.#d.client.get<V1Secret>(resources.secrets, name, sys);
      }
    }
    try {
      return { passwords: passwordsFromSecret(secret), secret };
    } catch (e) {
      throw new ReconcileError(errorMessage(e));
    }
  }

  /** `spec.tls`: the issued certificate Secret (unless spec.tls.secretName) and ConfigMap moco-<name>-ca. */
  async #reconcileTls(cluster: MySQLCluster): Promise<void> {
    if (!tlsEnabled(cluster)) return;
    const id = clusterIdentity(cluster);
    let caPem: string;
    if (tlsIssuedByController(cluster)) {
      await this.#reconcileIssuedSecret(cluster, tlsNames.issuedSecret(id.name), mysqlTlsDnsNames(cluster));
      caPem = (await this.#d.certs.ca()).bundle;
    } else {
      try {
        caPem = await readUserTlsCa(this.#d.client, id.namespace, mysqlTlsSecretName(cluster) ?? "");
      } catch (e) {
        if (e instanceof TlsSecretError) throw new ReconcileError(e.message);
        throw e;
      }
    }
    const cm = buildCaConfigMap(cluster, caPem);
    await this.#apply(resources.configMaps, cm, this.#d.caches.configMaps.get(tlsNames.caConfigMap(id.name), id.namespace));
  }

  /** A Secret (ca.crt, tls.crt, tls.key) holding a server certificate for `dnsNames` from the controller's CA, renewed near expiry. */
  async #reconcileIssuedSecret(cluster: MySQLCluster, name: string, dnsNames: readonly string[]): Promise<void> {
    const id = clusterIdentity(cluster);
    const existing = this.#d.caches.secrets.get(name, id.namespace);
    const data = await this.#d.certs.agentSecretData(dnsNames, existing);
    const wantLabels = mergeLabels(existing?.metadata?.labels, labelSet(id.name));
    const owner = clusterOwnerReference(id);
    const ownerOk = (existing?.metadata?.ownerReferences ?? []).some((r) => r.uid === id.uid && r.controller === true);
    const labelsOk = JSON.stringify(mergeLabels(existing?.metadata?.labels, {})) === JSON.stringify(wantLabels);
    if (existing !== undefined && data === undefined && ownerOk && labelsOk) return;
    if (existing === undefined) {
      const secret: V1Secret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace: id.namespace, labels: wantLabels, ownerReferences: [owner] },
        data: data ?? {},
      };
      try {
        await this.#d.client.create(resources.secrets, secret);
        this.stats.creates++;
        return;
      } catch (e) {
        if (!(typeof e === "object" && e !== null && (e as { statusCode?: number }).statusCode === 409)) throw e;
        // Cache lag: fall through to an update of the fresh object.
      }
    }
    const fresh = await this.#d.client.get<V1Secret>(resources.secrets, name, id.namespace);
    const freshData = await this.#d.certs.agentSecretData(dnsNames, fresh);
    const refs = (fresh.metadata?.ownerReferences ?? []).filter((r) => r.uid !== id.uid);
    await this.#d.client.update(resources.secrets, {
      ...fresh,
      metadata: { ...fresh.metadata, labels: mergeLabels(fresh.metadata?.labels, labelSet(id.name)), ownerReferences: [...refs, owner] },
      data: freshData ?? fresh.data ?? {},
    });
    this.stats.updates++;
  }

  async #userConfigMap(cluster: MySQLCluster): Promise<Readonly<Record<string, string>> | undefined> {
    const cmName = cluster.spec?.mysqlConfigMapName;
    if (cmName === undefined || cmName === null || cmName === "") return undefined;
    const ns = clusterIdentity(cluster).namespace;
    let cm: V1ConfigMap | undefined = this.#d.caches.configMaps.get(cmName, ns);
    if (cm === undefined) {
      try {
        cm = await this.#d.client.get<V1ConfigMap>(resources.configMaps, cmName, ns);
      } catch (e) {
        if (isNotFound(e)) throw new ReconcileError(`ConfigMap ${ns}/${cmName} (spec.mysqlConfigMapName) not found`);
        throw e;
      }
    }
    return cm.data ?? {};
  }

  async #pruneConfigMaps(cluster: MySQLCluster, prefix: string, currentName: string): Promise<void> {
    const id = clusterIdentity(cluster);
    const items = this.#d.caches.configMaps.list({ namespace: id.namespace });
    const prune = selectConfigMapsToPrune(items, { prefix, currentName, clusterUid: id.uid, historyLimit: this.#d.options.configMapHistoryLimit });
    for (const n of prune) await this.#deleteIgnoringNotFound(resources.configMaps, n, id.namespace);
  }

  async #reconcilePvcs(cluster: MySQLCluster, sts: V1StatefulSet, log: Logger): Promise<void> {
    const id = clusterIdentity(cluster);
    const labels = { name: id.name, namespace: id.namespace };
    const o = this.#d.options;
    const selector = Object.entries(sts.spec?.selector?.matchLabels ?? labelSet(id.name)).map(([k, v]) => `${k}=${v}`).join(",");
    let pvcs: V1PersistentVolumeClaim[] | undefined;
    const listPvcs = async () => (pvcs ??= (await this.#d.client.list<V1PersistentVolumeClaim>(resources.persistentVolumeClaims, { namespace: id.namespace, labelSelector: selector })).items);
    try {
      if (o.pvcSyncLabelKeys.length > 0 || o.pvcSyncAnnotationKeys.length > 0) {
        for (const u of planPvcMetadataSync(cluster, await listPvcs(), o.pvcSyncLabelKeys, o.pvcSyncAnnotationKeys)) {
          const fresh = await this.#d.client.get<V1PersistentVolumeClaim>(resources.persistentVolumeClaims, u.name, id.namespace);
          await this.#d.client.update(resources.persistentVolumeClaims, { ...fresh, metadata: { ...fresh.metadata, labels: u.labels, annotations: u.annotations } });
          this.stats.updates++;
          log.info({ pvc: u.name }, "synced PVC labels/annotations");
        }
      }
      if (isStatefulSetUpdating(sts)) return;
      const targets = selectResizeTargets(cluster, sts);
      if (targets.length === 0) return;
      const classes = (await this.#d.client.list<V1StorageClass>(resources.storageClasses)).items;
      const plan = planPvcResize(id.name, targets, sts.spec?.replicas ?? 0, await listPvcs(), classes);
      for (const s of plan.skipped) log.info({ pvc: s.pvc, reason: s.reason }, "PVC not resized");
      for (const l of plan.larger) {
        log.warn({ pvc: l.pvc, current: String(l.current), desired: String(l.desired) }, "PVC is larger than its template; skipped");
        this.#d.metrics.incCounter("moco_cluster_volume_resized_errors_total", labels);
        this.#d.events.event(clusterEventTarget(cluster), "Warning", "VolumeResizeSkipped",
          `PVC ${l.pvc} (${String(l.current)}) is larger than the volume claim template (${String(l.desired)}); not shrunk`);
      }
      for (const r of plan.resize) {
        const fresh = await this.#d.client.get<V1PersistentVolumeClaim>(resources.persistentVolumeClaims, r.pvc, id.namespace);
        const spec = structuredClone(fresh.spec ?? {});
        spec.resources = { ...(spec.resources ?? {}), requests: { ...(spec.resources?.requests ?? {}), storage: String(r.storage) } };
        await this.#d.client.update(resources.persistentVolumeClaims, { ...fresh, spec });
        this.stats.updates++;
        log.info({ pvc: r.pvc, storage: String(r.storage) }, "resized PVC");
      }
      if (plan.resize.length > 0) this.#d.metrics.incCounter("moco_cluster_volume_resized_total", labels);
    } catch (e) {
      this.#d.metrics.incCounter("moco_cluster_volume_resized_errors_total", labels);
      throw e;
    }
  }

  async #reconcileStatefulSet(
    cluster: MySQLCluster,
    live: V1StatefulSet | undefined,
    userConf: Readonly<Record<string, string>> | undefined,
    options: BuilderOptions,
    log: Logger,
  ): Promise<V1StatefulSet> {
    const id = clusterIdentity(cluster);
    const labels = { name: id.name, namespace: id.namespace };
    const liveManaged = extractOwned(live);
    const desired = buildStatefulSet(cluster, { userMyCnf: userConf, live: liveManaged }, options);
    if (live === undefined || !needsStatefulSetRecreation(desired, liveManaged)) {
      return this.#apply(resources.statefulSets, desired, live);
    }
    // docs/objects.md#apply-and-re-creation: volumeClaimTemplates changed → orphan-delete, wait until gone, re-create.
    log.info({}, "re-creating the StatefulSet (volumeClaimTemplates changed)");
    try {
      await this.#deleteIgnoringNotFound(resources.statefulSets, desired.metadata?.name ?? "", id.namespace, { propagationPolicy: "Orphan" });
      const deadline = Date.now() + 5_000;
      for (;;) {
        try {
          const s = await this.#d.client.get<V1StatefulSet>(resources.statefulSets, desired.metadata?.name ?? "", id.namespace);
          if (s.metadata?.uid !== live.metadata?.uid) break;
        } catch (e) {
          if (isNotFound(e)) break;
          throw e;
        }
        if (Date.now() > deadline) throw new Error("the StatefulSet was not deleted within 5s");
        await sleep(500);
      }
      const created = await this.#apply(resources.statefulSets, desired, undefined);
      this.#d.metrics.incCounter("moco_cluster_statefulset_recreate_total", labels);
      return created;
    } catch (e) {
      this.#d.metrics.incCounter("moco_cluster_statefulset_recreate_errors_total", labels);
      throw e;
    }
  }

  async #reconcileBackup(cluster: MySQLCluster, options: BuilderOptions): Promise<void> {
    const id = clusterIdentity(cluster);
    const c = this.#d.caches;
    const n = names.backup(id.name);
    const policyName = cluster.spec?.backupPolicyName;
    if (policyName === undefined || policyName === null || policyName === "") {
      if (c.cronJobs.get(n, id.namespace) !== undefined) await this.#deleteIgnoringNotFound(resources.cronJobs, n, id.namespace);
      if (c.roles.get(n, id.namespace) !== undefined) await this.#deleteIgnoringNotFound(resources.roles, n, id.namespace);
      if (c.roleBindings.get(n, id.namespace) !== undefined) await this.#deleteIgnoringNotFound(resources.roleBindings, n, id.namespace);
      return;
    }
    const policy = c.backupPolicies.get(policyName, id.namespace);
    if (policy === undefined) throw new ReconcileError(`BackupPolicy ${id.namespace}/${policyName} (spec.backupPolicyName) not found`);
    await this.#apply<V1CronJob>(resources.cronJobs, buildBackupCronJob(cluster, policy, options), c.cronJobs.get(n, id.namespace));
    await this.#apply(resources.roles, buildBackupRole(cluster), c.roles.get(n, id.namespace));
    await this.#apply(resources.roleBindings, buildBackupRoleBinding(cluster, policy), c.roleBindings.get(n, id.namespace));
  }

  async #reconcileRestore(cluster: MySQLCluster, options: BuilderOptions): Promise<void> {
    if (!needsRestoreJob(cluster)) return;
    const id = clusterIdentity(cluster);
    const c = this.#d.caches;
    const n = names.restore(id.name);
    await this.#apply(resources.roles, buildRestoreRole(cluster), c.roles.get(n, id.namespace));
    await this.#apply(resources.roleBindings, buildRestoreRoleBinding(cluster), c.roleBindings.get(n, id.namespace));
    if (c.jobs.get(n, id.namespace) !== undefined) return;
    try {
      await this.#d.client.create<V1Job>(resources.jobs, buildRestoreJob(cluster, options));
      this.stats.creates++;
    } catch (e) {
      if (!(typeof e === "object" && e !== null && (e as { statusCode?: number }).statusCode === 409)) throw e;
    }
  }
}

export { CONDITION_RECONCILIATION_ACTIVE };
