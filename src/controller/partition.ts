// The StatefulSet partition controller (docs/objects.md#partition-controller) and the Pod watcher (docs/objects.md#runtime-pod-metadata-and-deletion-protection).
import type { V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { MYSQLD_CONTAINER, type MySQLCluster } from "../api/v1beta2/index.ts";
import type { KubeClient } from "../k8s/client.ts";
import type { EventRecorder } from "../k8s/events.ts";
import type { WorkResult } from "../k8s/queue.ts";
import { resources } from "../k8s/resource.ts";
import type { ControllerMetrics } from "../metrics/index.ts";
import { ANNOTATION_DEMOTE, PARTITION_REQUEUE_AFTER_UPDATE_MS, decidePartitionUpdate, isPodReady, type PartitionDecision } from "./builders/index.ts";
import type { ControllerCaches } from "./caches.ts";
import { mysqldStopped } from "./clustering-adapter.ts";
import type { ClusteringControl } from "./mysqlcluster.ts";

interface OwnerRef { kind?: string; name?: string; controller?: boolean; apiVersion?: string }

export function controllerOf(obj: { metadata?: { ownerReferences?: object[] } } | undefined, kind: string): string | undefined {
  const refs = (obj?.metadata?.ownerReferences ?? []) as OwnerRef[];
  return refs.find((r) => r.controller === true && r.kind === kind)?.name;
}

/** A global token bucket: one token per interval, burst 1 (interval 0 = unlimited). */
export class PartitionRateLimiter {
  readonly intervalMs: number;
  #last = Number.NEGATIVE_INFINITY;
  constructor(intervalMs: number) { this.intervalMs = intervalMs; }
  /** 0 when a token was taken, else the ms until one is available. */
  take(now: number): number {
    if (this.intervalMs <= 0) return 0;
    const wait = this.#last + this.intervalMs - now;
    if (wait > 0) return wait;
    this.#last = now;
    return 0;
  }
}

export interface PartitionDeps {
  readonly client: KubeClient;
  readonly caches: ControllerCaches;
  readonly metrics: ControllerMetrics;
  readonly events: EventRecorder;
  readonly limiter: PartitionRateLimiter;
  readonly logger: Logger;
}

/** Reconciles `namespace/<statefulset name>`. */
export async function reconcilePartition(d: PartitionDeps, key: string): Promise<WorkResult> {
  const i = key.indexOf("/");
  const ns = key.slice(0, i);
  const stsName = key.slice(i + 1);
  const sts = d.caches.statefulSets.get(stsName, ns);
  if (sts === undefined) return;
  const clusterName = controllerOf(sts, "MySQLCluster");
  if (clusterName === undefined) throw new Error(`StatefulSet ${key} has no MySQLCluster owner`);
  const cluster: MySQLCluster | undefined = d.caches.clusters.get(clusterName, ns);
  if (cluster === undefined) throw new Error(`MySQLCluster ${ns}/${clusterName} of StatefulSet ${key} not found`);
  const labels = { name: clusterName, namespace: ns };
  d.metrics.setGauge("moco_cluster_current_replicas", labels, sts.status?.currentReplicas ?? 0);
  d.metrics.setGauge("moco_cluster_updated_replicas", labels, sts.status?.updatedReplicas ?? 0);
  const selector = Object.entries(sts.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
  const pods = d.caches.pods.list({ namespace: ns, labelSelector: selector }).filter((p) => controllerOf(p, "StatefulSet") === stsName);
  const now = new Date();
  const decision = decidePartitionUpdate(cluster, sts as Parameters<typeof decidePartitionUpdate>[1], pods as Parameters<typeof decidePartitionUpdate>[2], now);
  if (decision.kind === "none") return;
  if (decision.kind === "requeue") return { requeueAfterMs: decision.afterMs };
  if (decision.kind === "switchover") {
    if (!decision.requested) await requestPlannedSwitchover(d, cluster, decision);
    return { requeueAfterMs: decision.afterMs };
  }
  const wait = d.limiter.take(now.getTime());
  if (wait > 0) {
    d.metrics.partitionUpdateRetries.inc({ namespace: ns });
    return { requeueAfterMs: wait };
  }
  await d.client.patch<V1StatefulSet>(resources.statefulSets, stsName, ns, "merge", { spec: { updateStrategy: { rollingUpdate: { partition: decision.to } } } });
  d.metrics.setGauge("moco_cluster_last_partition_updated", labels, now.getTime() / 1000);
  d.logger.info({ namespace: ns, name: clusterName, statefulset: stsName, from: decision.from, to: decision.to }, "updated partition");
  d.events.event(
    { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: stsName, namespace: ns, uid: sts.metadata?.uid } },
    "Normal",
    "PartitionUpdate",
    `Updated partition from ${decision.from} to ${decision.to}`,
  );
  return { requeueAfterMs: PARTITION_REQUEUE_AFTER_UPDATE_MS };
}

/**
 * Primary last (docs/objects.md#partition-controller step 5): annotates the primary's Pod
 * with `demote: "true"` — what `kubectl moco switchover` does — and records the Event
 * `PlannedSwitchOver` on the MySQLCluster. The clustering manager switches over (to an
 * updated replica: the engine prefers them) and removes the annotation.
 */
async function requestPlannedSwitchover(d: PartitionDeps, cluster: MySQLCluster, decision: Extract<PartitionDecision, { kind: "switchover" }>): Promise<void> {
  const ns = cluster.metadata?.namespace ?? "";
  const name = cluster.metadata?.name ?? "";
  await d.client.patch<V1Pod>(resources.pods, decision.pod, ns, "merge", { metadata: { annotations: { [ANNOTATION_DEMOTE]: "true" } } });
  const message = `Rolling update: switching over from instance ${decision.primary} before its Pod is recreated ` +
    `(updated replicas: ${decision.updatedReplicas.join(", ")}); the partition stays at ${decision.partition} until the primary moved`;
  d.logger.info({ namespace: ns, name, primary: decision.primary, updatedReplicas: decision.updatedReplicas, partition: decision.partition }, "planned switchover");
  d.events.event({ apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", metadata: { name, namespace: ns, uid: cluster.metadata?.uid } }, "Normal", "PlannedSwitchOver", message);
}

/** The mysqld container's `started` (true once its startup probe passed). */
function mysqldStarted(pod: V1Pod): boolean {
  return pod.status?.containerStatuses?.find((c) => c.name === MYSQLD_CONTAINER)?.started === true;
}

/**
 * The Pod watcher (docs/objects.md#runtime-pod-metadata-and-deletion-protection): a mysqld Pod with a deletionTimestamp or `demote: "true"`,
 * controlled by a StatefulSet controlled by a MySQLCluster, nudges that cluster's
 * running clustering manager (never starts one). So does a Pod whose readiness or IP
 * changed (`old` is the Pod before an update): the pass that makes a restarted instance a
 * replica again, or notices one that stopped answering, starts at once instead of at the
 * next --check-interval tick (issue 14). So does the mysqld container's `started` flag
 * turning true (its startup probe passed: mysqld answers through the agent): a new or
 * restarted instance is configured then — its Pod is not Ready before that, so no
 * readiness change would come. So does the mysqld container leaving the running state (the
 * kubelet saw it exit: a crashed primary is failed over by that pass). Returns the cluster key it nudged.
 */
export function podNudge(caches: ControllerCaches, clustering: ClusteringControl, pod: V1Pod, old?: V1Pod): string | undefined {
  const deleting = pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
  const demote = pod.metadata?.annotations?.[ANNOTATION_DEMOTE] === "true";
  const readiness = old !== undefined && (isPodReady(old) !== isPodReady(pod) || (old.status?.podIP ?? "") !== (pod.status?.podIP ?? ""));
  const started = old !== undefined && !mysqldStarted(old) && mysqldStarted(pod);
  // The kubelet saw mysqld exit (issue 14): the pass that fails a primary over starts now.
  const stopped = old !== undefined && mysqldStopped(old) !== true && mysqldStopped(pod) === true;
  if (!deleting && !demote && !readiness && !started && !stopped) return undefined;
  const ns = pod.metadata?.namespace ?? "";
  const stsName = controllerOf(pod, "StatefulSet");
  if (stsName === undefined) return undefined;
  const clusterName = controllerOf(caches.statefulSets.get(stsName, ns), "MySQLCluster");
  if (clusterName === undefined) return undefined;
  clustering.updateNoStart({ namespace: ns, name: clusterName }, deleting ? "pod-deletion" : demote ? "pod-demote" : readiness ? "pod-readiness" : started ? "pod-started" : "pod-mysqld-stopped");
  return `${ns}/${clusterName}`;
}
