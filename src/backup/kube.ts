// What the jobs need from Kubernetes, behind a small interface: the MySQLCluster, its
// Pods, status writes (status subresource, read-modify-PUT with retry on conflict, never a
// merge patch) and Events. KubeClusterStore talks to the API server through the project's
// one client (src/k8s/client.ts, KubeClient); MemoryClusterStore backs unit and integration tests.
import { GROUP, MYSQLCLUSTER_KIND, VERSION } from "../api/v1beta2/index.ts";
import type { BackupStatus, MySQLCluster } from "../api/v1beta2/index.ts";
import { KubeClient } from "../k8s/client.ts";
import { isConflict, isNotFound } from "../k8s/errors.ts";
import { resources } from "../k8s/resource.ts";
import type { KubeObject } from "../k8s/types.ts";
import { names, podOrdinal } from "../shared/names.ts";
import { rfc3339 } from "../util/time.ts";

export interface PodInfo {
  name: string;
  /** Ordinal from the name suffix. */
  index: number;
  ready: boolean;
  ip: string;
}

export type EventType = "Normal" | "Warning";

export interface ClusterStore {
  getCluster(namespace: string, name: string): Promise<MySQLCluster>;
  /** Pods of the cluster (labels app.kubernetes.io/name=mysql, instance=<name>, created-by=moco). */
  listPods(namespace: string, name: string): Promise<PodInfo[]>;
  getPod(namespace: string, podName: string): Promise<PodInfo | undefined>;
  /** Sets status.backup (retry on conflict). */
  updateBackupStatus(namespace: string, name: string, status: BackupStatus): Promise<void>;
  /** Sets status.restoredTime (retry on conflict). */
  setRestoredTime(namespace: string, name: string, time: Date): Promise<void>;
  createEvent(cluster: MySQLCluster, type: EventType, reason: string, message: string): Promise<void>;
}

/** Ordinal of `moco-<cluster>-<i>`; throws on a bad name. */
function clusterPodOrdinal(podName: string, cluster: string): number {
  const ordinal = podOrdinal(podName);
  if (ordinal === undefined || podName !== names.pod(cluster, ordinal)) throw new Error(`bad pod name ${JSON.stringify(podName)} for cluster ${cluster}`);
  return ordinal;
}

interface Pod extends KubeObject {
  status?: { podIP?: string; conditions?: { type?: string; status?: string }[] };
}

function podInfo(p: Pod, cluster: string): PodInfo {
  const name = p.metadata?.name ?? "";
  const ready = (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
  return { name, index: clusterPodOrdinal(name, cluster), ready, ip: p.status?.podIP ?? "" };
}

export class KubeClusterStore implements ClusterStore {
  readonly #client: KubeClient;
  readonly #component: string;

  /** `client` defaults to the in-cluster service account (else $KUBECONFIG / ~/.kube/config). */
  constructor(client?: KubeClient, component = "moco-backup") {
    this.#client = client ?? KubeClient.fromDefault({ userAgent: component });
    this.#component = component;
  }

  getCluster(namespace: string, name: string): Promise<MySQLCluster> {
    return this.#client.get<MySQLCluster>(resources.mysqlClusters, name, namespace);
  }

  async listPods(namespace: string, name: string): Promise<PodInfo[]> {
    const list = await this.#client.list<Pod>(resources.pods, {
      namespace,
      labelSelector: `app.kubernetes.io/name=mysql,app.kubernetes.io/instance=${name},app.kubernetes.io/created-by=moco`,
    });
    return list.items.map((p) => podInfo(p, name)).sort((a, b) => a.index - b.index);
  }

  async getPod(namespace: string, podName: string): Promise<PodInfo | undefined> {
    try {
      const p = await this.#client.get<Pod>(resources.pods, podName, namespace);
      const cluster = podName.replace(/^moco-/, "").replace(/-\d+$/, "");
      return podInfo(p, cluster);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async #updateStatus(namespace: string, name: string, mutate: (c: MySQLCluster) => void): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const cluster = await this.getCluster(namespace, name);
      mutate(cluster);
      try {
        await this.#client.update(resources.mysqlClusters, cluster, { subresource: "status" });
        return;
      } catch (e) {
        if (!isConflict(e) || attempt >= 10) throw e;
      }
    }
  }

  updateBackupStatus(namespace: string, name: string, status: BackupStatus): Promise<void> {
    return this.#updateStatus(namespace, name, (c) => {
      c.status = { currentPrimaryIndex: 0, ...(c.status ?? {}), backup: status };
    });
  }

  setRestoredTime(namespace: string, name: string, time: Date): Promise<void> {
    return this.#updateStatus(namespace, name, (c) => {
      c.status = { currentPrimaryIndex: 0, ...(c.status ?? {}), restoredTime: rfc3339(time) };
    });
  }

  async createEvent(cluster: MySQLCluster, type: EventType, reason: string, message: string): Promise<void> {
    const ns = cluster.metadata?.namespace ?? "";
    const name = cluster.metadata?.name ?? "";
    const now = new Date();
    const nanos = BigInt(now.getTime()) * 1_000_000n + BigInt(process.hrtime.bigint() % 1_000_000n);
    await this.#client.create(resources.events, {
      apiVersion: "v1", kind: "Event",
      metadata: { name: `${name}.${nanos.toString(16)}`, namespace: ns },
      involvedObject: {
        apiVersion: `${GROUP}/${VERSION}`, kind: MYSQLCLUSTER_KIND, name, namespace: ns,
        ...(cluster.metadata?.uid ? { uid: cluster.metadata.uid } : {}),
        ...(cluster.metadata?.resourceVersion ? { resourceVersion: cluster.metadata.resourceVersion } : {}),
      },
      reason, message, type, count: 1, firstTimestamp: rfc3339(now), lastTimestamp: rfc3339(now),
      source: { component: this.#component },
    } as KubeObject);
  }
}

export interface RecordedEvent { namespace: string; name: string; type: EventType; reason: string; message: string }

/** In-memory store for tests: clusters and Pods set by the test, status writes recorded. */
export class MemoryClusterStore implements ClusterStore {
  readonly clusters = new Map<string, MySQLCluster>();
  readonly pods = new Map<string, PodInfo[]>();
  readonly events: RecordedEvent[] = [];

  setCluster(c: MySQLCluster): void {
    this.clusters.set(`${c.metadata?.namespace}/${c.metadata?.name}`, structuredClone(c));
  }

  setPods(namespace: string, name: string, pods: PodInfo[]): void {
    this.pods.set(`${namespace}/${name}`, pods.map((p) => ({ ...p })));
  }

  async getCluster(namespace: string, name: string): Promise<MySQLCluster> {
    const c = this.clusters.get(`${namespace}/${name}`);
    if (!c) throw Object.assign(new Error(`mysqlclusters "${name}" not found`), { code: 404 });
    return structuredClone(c);
  }

  async listPods(namespace: string, name: string): Promise<PodInfo[]> {
    return (this.pods.get(`${namespace}/${name}`) ?? []).map((p) => ({ ...p }));
  }

  async getPod(namespace: string, podName: string): Promise<PodInfo | undefined> {
    for (const [k, list] of this.pods) {
      if (!k.startsWith(`${namespace}/`)) continue;
      const p = list.find((x) => x.name === podName);
      if (p) return { ...p };
    }
    return undefined;
  }

  async updateBackupStatus(namespace: string, name: string, status: BackupStatus): Promise<void> {
    const c = await this.getCluster(namespace, name);
    c.status = { currentPrimaryIndex: 0, ...(c.status ?? {}), backup: structuredClone(status) };
    this.setCluster(c);
  }

  async setRestoredTime(namespace: string, name: string, time: Date): Promise<void> {
    const c = await this.getCluster(namespace, name);
    c.status = { currentPrimaryIndex: 0, ...(c.status ?? {}), restoredTime: rfc3339(time) };
    this.setCluster(c);
  }

  async createEvent(cluster: MySQLCluster, type: EventType, reason: string, message: string): Promise<void> {
    this.events.push({ namespace: cluster.metadata?.namespace ?? "", name: cluster.metadata?.name ?? "", type, reason, message });
  }
}
