// The clustering engine's ports (src/clustering/ports.ts) over the Kubernetes API, the
// agents' HTTPS clone API and the controller's metrics.
import { isDeepStrictEqual } from "node:util";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { MYSQLD_CONTAINER, type MySQLCluster } from "../api/v1beta2/index.ts";
import { cloneFromDonor } from "../shared/clone-client.ts";
import type { CloneRequest as AgentCloneRequest } from "../shared/clone-api.ts";

import type { CloneRequest, ClusterPorts, ClusterStatusWrite, ClusteringLogger, ClusteringMetrics, ClusterKey, InstanceAddressing } from "../clustering/ports.ts";
import type { MySQLClusterLike, PodView, RoleLabel } from "../clustering/types.ts";
import type { KubeClient } from "../k8s/client.ts";
import { isConflict, isNotFound } from "../k8s/errors.ts";
import type { EventRecorder } from "../k8s/events.ts";
import { resources } from "../k8s/resource.ts";
import type { KubeObject } from "../k8s/types.ts";
import type { ControllerMetrics } from "../metrics/index.ts";
import {
  ANNOTATION_DEMOTE,
  ANNOTATION_PREVENT_DELETE,
  LABEL_APP_INSTANCE,
  LABEL_APP_NAME,
  LABEL_ROLE,
  APP_NAME_MYSQL,
  AGENT_PORT,
  names,
  passwordsFromSecret,
  isPodOnRevision,
  setStatusCondition,
  type StatusCondition,
} from "./builders/index.ts";
import type { ControllerCaches } from "./caches.ts";
import type { CertificateStore } from "./cert-store.ts";
import { noteRefusedStatusWrite } from "./status-write.ts";
import { clusterTlsSource } from "./tls.ts";
import { rfc3339 } from "../util/time.ts";

/**
 * Bound of one clone request to an agent: the copy of the donor's data plus the
 * recipient's restart (the agent's boot timeout is 10 min by default).
 */
export const CLONE_REQUEST_TIMEOUT_MS = 60 * 60 * 1000;

/** The agent's request body for a clone the engine asks for (boot timeout only when given). */
export function cloneRequestFor(req: CloneRequest): AgentCloneRequest {
  return {
    host: req.donorHost,
    port: req.donorPort,
    user: req.donorUser,
    password: req.donorPassword,
    init_user: req.initUser,
    init_password: req.initPassword,
    ...(req.bootTimeoutSeconds === undefined ? {} : { boot_timeout_seconds: req.bootTimeoutSeconds }),
    ...(req.verifyDonorTls === true ? { verify_donor_tls: true } : {}),
    ...(req.discardErrantGtids === undefined ? {} : { discard_errant_gtids: req.discardErrantGtids }),
  };
}

export interface AdapterDeps {
  readonly client: KubeClient;
  readonly caches: ControllerCaches;
  readonly metrics: ControllerMetrics;
  readonly events: EventRecorder;
  readonly certs: CertificateStore;
  readonly logger: Logger;
  /** How replicas name their source: the Pod DNS name (default, as upstream) or the Pod IP. */
  readonly sourceHostMode?: "dns" | "pod-ip";
  /** Port of the agent's clone API (default 9080). */
  readonly agentPort?: number;
  /**
   * The leadership's signal: every API request and clone request of the engine ends when
   * it aborts, so nothing of this leader's lands after another leader started.
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A Pod as the engine sees it; `updateRevision` is its StatefulSet's status.updateRevision
 * (`updated` is left out when it is unknown).
 */
export function podView(pod: V1Pod, updateRevision?: string): PodView {
  const ann = pod.metadata?.annotations ?? {};
  const ready = (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
  const stopped = mysqldStopped(pod);
  return {
    name: pod.metadata?.name ?? "",
    ready,
    deleting: pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
    demote: ann[ANNOTATION_DEMOTE] === "true",
    hasDemoteAnnotation: ANNOTATION_DEMOTE in ann,
    ...(updateRevision === undefined || updateRevision === "" ? {} : { updated: isPodOnRevision(pod, updateRevision) }),
    hasPreventDeleteAnnotation: ANNOTATION_PREVENT_DELETE in ann,
    roleLabel: pod.metadata?.labels?.[LABEL_ROLE] ?? null,
    ip: pod.status?.podIP ?? null,
    ...(stopped === undefined ? {} : { mysqldStopped: stopped }),
  };
}

/** `v` as the API server would return it: JSON values only (undefined members dropped). */
export function jsonValue(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? null)) as unknown;
}

/**
 * PodView.mysqldStopped: the kubelet holds the mysqld container down — waiting to start it
 * again (CrashLoopBackOff, or a container that cannot be created or run), not merely
 * restarting it after one exit; undefined when it reports no state for it. A crash the
 * kubelet restarts at once (state `terminated`, then `running` again) is not "stopped": the
 * primary comes back as primary, instead of being failed over and coming back errant with the
 * commit that was waiting for its acknowledgement (the lead's review of issue #14's down rule).
 */
export function mysqldStopped(pod: V1Pod): boolean | undefined {
  const state = pod.status?.containerStatuses?.find((c) => c.name === MYSQLD_CONTAINER)?.state;
  if (state === undefined) return undefined;
  const reason = state.waiting?.reason ?? "";
  return state.running == null && state.waiting != null && reason !== "ContainerCreating" && reason !== "PodInitializing";
}

/** ClusteringMetrics over the controller's registry. */
export function clusteringMetrics(m: ControllerMetrics): ClusteringMetrics {
  return {
    incCounter: (name, labels, value) => m.incCounter(name, labels, value),
    setGauge: (name, labels, value) => m.setGauge(name, labels, value),
    observe: (name, labels, value) => m.observe(name, labels, value),
    deleteCluster: (labels) => m.deleteManagerSeries(labels),
  };
}

/** A pino logger seen as the engine's logger. */
export function clusteringLogger(log: Logger): ClusteringLogger {
  return log as unknown as ClusteringLogger;
}

/** Builds the ports of one cluster. */
export function clusterPorts(d: AdapterDeps, key: ClusterKey): ClusterPorts {
  const { client, caches } = d;
  const ns = key.namespace;
  const log = d.logger.child({ namespace: key.namespace, name: key.name });

  // The object of this cluster's last uncached read or status write. A status write starts
  // from it instead of a GET of its own (the pass read the cluster when it started): its
  // resourceVersion guards the write, and a conflict re-reads (bench/controller-scale.ts:
  // the GET before each write was ~4 of the ~25 API requests of a new cluster).
  let lastRead: MySQLCluster | null = null;
  const getFresh = async (): Promise<MySQLCluster | null> => {
    // The informer already holds the version of the last read or write: nothing changed since
    // that this pass would see (its own writes come back as lastRead), so no GET. A pass
    // nudged by something else than the cluster (Pods, the StatefulSet's status, a retry, the
    // interval) no longer reads it again (bench/controller-scale.ts BENCH_AUDIT: ~3 GETs
    // per new cluster at N = 1000).
    const cachedVersion = caches.clusters.get(key.name, ns)?.metadata?.resourceVersion;
    if (lastRead !== null && cachedVersion !== undefined && cachedVersion === lastRead.metadata?.resourceVersion) return structuredClone(lastRead);
    try {
      lastRead = await client.get<MySQLCluster>(resources.mysqlClusters, key.name, ns, d.signal);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      lastRead = null;
    }
    return lastRead === null ? null : structuredClone(lastRead);
  };

  /** Mutate the last read object, write the status only when changed; a conflict re-reads. */
  const updateStatus = async (mutate: (c: MySQLCluster) => boolean): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const fresh = attempt === 0 && lastRead !== null ? structuredClone(lastRead) : await getFresh();
      if (fresh === null) return;
      const before = jsonValue(fresh.status ?? {});
      const changed = mutate(fresh);
      // status.currentPrimaryIndex is required by the CRD schema (a Go int without omitempty).
      if (fresh.status !== undefined) fresh.status.currentPrimaryIndex ??= 0;
      if (changed) d.metrics.setBackupMetrics(key, fresh.status?.backup);
      // Compared as values, not as JSON text: the API server returns a custom resource's keys
      // in sorted order and the mutation appends keys in its own, so a text comparison saw a
      // change on every pass and wrote the status (and woke the reconciler) each time
      // (bench/controller-scale.ts BENCH_AUDIT: ~6.5 status writes per new cluster).
      if (!changed || isDeepStrictEqual(jsonValue(fresh.status ?? {}), before)) {
        d.metrics.setBackupMetrics(key, fresh.status?.backup);
        return;
      }
      try {
        lastRead = await client.update(resources.mysqlClusters, fresh as KubeObject & MySQLCluster, { subresource: "status", signal: d.signal });
        return;
      } catch (e) {
        if (isConflict(e) && attempt < 10) continue;
        noteRefusedStatusWrite(e, "clustering", d.metrics, log);
        throw e;
      }
    }
  };

  const patchPod = async (podName: string, metadata: Record<string, unknown>): Promise<void> => {
    await client.patch(resources.pods, podName, ns, "merge", { metadata }, { signal: d.signal });
  };

  const addressing: InstanceAddressing | undefined = d.sourceHostMode === "pod-ip"
    ? { podHostname: (_c: MySQLClusterLike, ordinal: number, pod: PodView | null) => pod?.ip || names.podFqdn(key.name, ns, ordinal) }
    : undefined;

  return {
    key,
    addressing,
    tls: clusterTlsSource({
      client, certs: d.certs, sourceHostMode: d.sourceHostMode ?? "dns", signal: d.signal,
      pod: (cluster, ordinal) => caches.pods.get(names.pod(cluster, ordinal), ns),
    }),
    source: {
      getCluster: getFresh as () => Promise<MySQLClusterLike | null>,
      async listPods() {
        const pods = caches.pods.list({ namespace: ns, labelSelector: `${LABEL_APP_NAME}=${APP_NAME_MYSQL},${LABEL_APP_INSTANCE}=${key.name}` });
        const updateRevision = caches.statefulSets.get(names.prefixed(key.name), ns)?.status?.updateRevision;
        return pods.map((p) => podView(p, updateRevision));
      },
    },
    status: {
      async writeStatus(update: ClusterStatusWrite) {
        await updateStatus((c) => {
          const st = (c.status ??= {} as NonNullable<MySQLCluster["status"]>);
          const now = new Date();
          let conds = (st.conditions ?? []) as StatusCondition[];
          for (const cond of update.conditions) conds = setStatusCondition(conds, { ...cond, lastTransitionTime: rfc3339(now) }, now);
          st.conditions = conds as NonNullable<typeof st.conditions>;
          st.syncedReplicas = update.syncedReplicas;
          st.errantReplicaList = [...update.errantReplicaList];
          st.errantReplicas = update.errantReplicas;
          if (update.cloned === true) st.cloned = true;
          return true;
        });
      },
      async setCurrentPrimaryIndex(index: number) {
        await updateStatus((c) => {
          const st = (c.status ??= {} as NonNullable<MySQLCluster["status"]>);
          st.currentPrimaryIndex = index;
          return true;
        });
      },
    },
    pods: {
      setRoleLabel: (pod: string, role: RoleLabel) => patchPod(pod, { labels: { [LABEL_ROLE]: role } }),
      removeRoleLabel: (pod: string) => patchPod(pod, { labels: { [LABEL_ROLE]: null } }),
      removeDemoteAnnotation: (pod: string) => patchPod(pod, { annotations: { [ANNOTATION_DEMOTE]: null } }),
      setPreventDelete: (pod: string) => patchPod(pod, { annotations: { [ANNOTATION_PREVENT_DELETE]: "true" } }),
      removePreventDelete: (pod: string) => patchPod(pod, { annotations: { [ANNOTATION_PREVENT_DELETE]: null } }),
    },
    events: {
      emit(type, reason, message) {
        const c = caches.clusters.get(key.name, ns);
        d.events.event({ apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", metadata: { name: key.name, namespace: ns, uid: c?.metadata?.uid } }, type, reason, message);
      },
    },
    credentials: {
      async getPasswords() {
        const name = names.userSecret(key.name);
        let s: V1Secret | undefined = caches.secrets.get(name, ns);
        s ??= await client.get<V1Secret>(resources.secrets, name, ns, d.signal);
        return passwordsFromSecret(s);
      },
    },
    replicationSource: {
      async read(secretName: string) {
        const s = await client.get<V1Secret>(resources.secrets, secretName, ns, d.signal);
        const dec = (k: string) => (s.data?.[k] === undefined ? (s.stringData?.[k] ?? undefined) : Buffer.from(s.data[k] ?? "", "base64").toString("utf8"));
        return { HOST: dec("HOST"), PORT: dec("PORT"), USER: dec("USER"), PASSWORD: dec("PASSWORD"), INIT_USER: dec("INIT_USER"), INIT_PASSWORD: dec("INIT_PASSWORD") };
      },
    },
    cloner: {
      async clone(req) {
        const tls = await d.certs.clientTls();
        const host = req.podIp.includes(":") ? `[${req.podIp}]` : req.podIp;
        log.info({ ordinal: req.ordinal, pod: req.podName, donor: req.donorHost }, "asking the agent to clone");
        await cloneFromDonor(`https://${host}:${d.agentPort ?? AGENT_PORT}`, tls, cloneRequestFor(req), {
          serverName: names.podFqdn(key.name, ns, req.ordinal),
          // Ends with the pass (leadership lost, pass deadline) and never outlives its bound.
          signal: AbortSignal.any([req.signal, d.signal, AbortSignal.timeout(CLONE_REQUEST_TIMEOUT_MS)].filter((x) => x !== undefined)),
        });
      },
    },
  };
}
