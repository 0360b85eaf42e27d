// The small interfaces the clustering engine (observe, act, manager) depends on. The
// controller implements them over the Kubernetes API and the agent's HTTPS+JSON API; the
// integration tests implement them in memory over real mysqld processes. Nothing in
// src/clustering imports a Kubernetes client.
import type { ReplicationTls } from "../mysql/tls.ts";
import type { MocoPasswords } from "../mysql/users.ts";
import type { ClusterCondition, MySQLClusterLike, PodView, RoleLabel } from "./types.ts";

/** `namespace/name` of a MySQLCluster. */
export interface ClusterKey {
  readonly namespace: string;
  readonly name: string;
}

export function clusterKeyString(key: ClusterKey): string {
  return `${key.namespace}/${key.name}`;
}

/** Reads the cluster and its Pods (docs/clustering.md#gathering-status steps 1 and 3). */
export interface ClusterSource {
  /** An uncached read of the MySQLCluster; null when it does not exist (the pass is skipped). */
  getCluster(): Promise<MySQLClusterLike | null>;
  /**
   * The Pods labelled `app.kubernetes.io/name=mysql`, `app.kubernetes.io/instance=C`, in any
   * order. observe places each at the ordinal parsed from the last `-` field of its name.
   */
  listPods(): Promise<readonly PodView[]>;
}

/** The status fields one pass writes (docs/clustering.md#status-written-by-a-pass), currentPrimaryIndex excluded. */
export interface ClusterStatusWrite {
  readonly syncedReplicas: number;
  readonly errantReplicaList: readonly number[];
  readonly errantReplicas: number;
  /** true ⇒ set status.cloned = true; undefined ⇒ leave it. */
  readonly cloned: true | undefined;
  /** Standard condition semantics: lastTransitionTime moves only when status changes. */
  readonly conditions: readonly ClusterCondition[];
}

/** Writes MySQLCluster status. Both calls must be idempotent and retry update conflicts. */
export interface StatusSink {
  /** Re-read the cluster, apply the fields, write only when something changed. */
  writeStatus(update: ClusterStatusWrite): Promise<void>;
  /** Switchover/failover: status.currentPrimaryIndex = index. */
  setCurrentPrimaryIndex(index: number): Promise<void>;
}

/** Label and annotation changes on the cluster's Pods (merge patches by Pod name). */
export interface PodLabeler {
  setRoleLabel(podName: string, role: RoleLabel): Promise<void>;
  removeRoleLabel(podName: string): Promise<void>;
  /** Removes the `moco.cybozu.com/demote` key. */
  removeDemoteAnnotation(podName: string): Promise<void>;
  /** Adds `moco.cybozu.com/prevent-delete: "true"`. */
  setPreventDelete(podName: string): Promise<void>;
  /** Removes the `moco.cybozu.com/prevent-delete` key. */
  removePreventDelete(podName: string): Promise<void>;
}

export type EventType = "Normal" | "Warning";

/** Event reasons the manager emits (docs/clustering.md#events). */
export type ClusteringEventReason =
  | "InitCloned"
  | "InitCloneFailed"
  | "SwitchOver"
  | "SwitchOverFailed"
  | "FailOver"
  | "FailOverFailed"
  /** moco-ts: the old primary answered again right before a failover; nothing was changed. */
  | "FailOverAbandoned"
  | "Cloned"
  | "CloneFailed"
  /** moco-ts: an errant former primary is cloned over its unacknowledged transactions. */
  | "ReinitializingErrantFormerPrimary"
  | "Writable"
  /** moco-ts: a pass outlived its deadline and was abandoned (every statement interrupted). */
  | "PassAbandoned";

/** Events on the MySQLCluster (source `moco-controller`). Messages never carry passwords. */
export interface EventSink {
  emit(type: EventType, reason: ClusteringEventReason, message: string): Promise<void> | void;
}

/** The passwords of Secret `moco-C`. Implementations fail when `moco.cybozu.com/secret-version` is not "1". */
export interface Credentials {
  getPasswords(): Promise<MocoPasswords>;
}

/** The Secret named by `spec.replicationSourceSecretName` (same namespace), raw. */
export interface ReplicationSourceSecret {
  readonly HOST?: string | undefined;
  readonly PORT?: string | undefined;
  readonly USER?: string | undefined;
  readonly PASSWORD?: string | undefined;
  readonly INIT_USER?: string | undefined;
  readonly INIT_PASSWORD?: string | undefined;
}

export interface ReplicationSourceReader {
  /** Throws when the Secret cannot be read (missing, forbidden). */
  read(secretName: string): Promise<ReplicationSourceSecret>;
}

/** One clone request to the agent (HTTPS + JSON, docs/agent.md#clone-api). Holds secrets: never log it. */
export interface CloneRequest {
  /** The recipient. */
  readonly ordinal: number;
  readonly podName: string;
  /** The recipient Pod's IP (the agent is dialled there). */
  readonly podIp: string;
  /** Used as TLS authority for the agent. */
  readonly podHostname: string;
  readonly donorHost: string;
  readonly donorPort: number;
  readonly donorUser: string;
  readonly donorPassword: string;
  readonly initUser: string;
  readonly initPassword: string;
  /** Absent ⇒ the agent's default (10 min). */
  readonly bootTimeoutSeconds?: number | undefined;
  /** Clone over TLS, the donor verified against the recipient's CA (spec.tls, docs/tls.md). */
  readonly verifyDonorTls?: boolean | undefined;
  /**
   * The recipient is an errant former primary and these are its errant GTIDs, which the
   * clone discards (docs/clustering.md "Errant former primary"); absent ⇒ the recipient must be empty.
   */
  readonly discardErrantGtids?: string | undefined;
  /** Aborts the request (the pass ends); the cloner also bounds it by its own timeout. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Clones an instance from a donor and returns once the recipient runs again on the cloned
 * data with this cluster's users (the agent's post-clone initialisation). Throws on failure.
 */
export interface Cloner {
  clone(request: CloneRequest): Promise<void>;
}

/** How the engine reaches mysqld and what replicas use as SOURCE_HOST. */
export interface InstanceAddressing {
  /**
   * SOURCE_HOST for `ordinal` ("PodHostname"). Default: `moco-C-i.moco-C.NS.svc`. The
   * sandbox and tests, where Pod DNS names do not resolve inside mysqld, return the Pod IP.
   */
  podHostname?(cluster: MySQLClusterLike, ordinal: number, pod: PodView | null): string;
  /** Where the admin connection goes. Default: the Pod IP (null ⇒ the instance is absent). */
  adminAddress?(cluster: MySQLClusterLike, ordinal: number, pod: PodView | null): string | null;
}

/** Labels of every per-cluster metric series. */
export interface ClusterMetricLabels {
  readonly name: string;
  readonly namespace: string;
}

/**
 * Metrics hooks, by full Prometheus name (`moco_cluster_checks_total`, …, see
 * docs/controller.md#metrics). The controller wires prom-client behind it.
 */
export interface ClusteringMetrics {
  incCounter(name: string, labels: ClusterMetricLabels, value?: number): void;
  setGauge(name: string, labels: ClusterMetricLabels, value: number): void;
  observe(name: string, labels: ClusterMetricLabels, value: number): void;
  /** Delete every series of this cluster (manager stop). */
  deleteCluster(labels: ClusterMetricLabels): void;
}

/** pino-compatible subset. Callers never pass passwords in `obj`. */
export interface ClusteringLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: object): ClusteringLogger;
}

export const silentLogger: ClusteringLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Everything one cluster's worker needs. */
export interface ClusterPorts {
  readonly key: ClusterKey;
  readonly source: ClusterSource;
  readonly status: StatusSink;
  readonly pods: PodLabeler;
  readonly events: EventSink;
  readonly credentials: Credentials;
  readonly cloner: Cloner;
  readonly replicationSource: ReplicationSourceReader;
  readonly addressing?: InstanceAddressing | undefined;
  /** TLS of the cluster's MySQL connections (moco-ts addition, docs/tls.md); absent ⇒ plaintext. */
  readonly tls?: ClusterTlsSource | undefined;
}

/** The TLS settings of one cluster's connections. */
export interface ClusterTls {
  /** The CA (PEM) the admin connections verify every instance against. */
  readonly ca: string;
  /** The name instance `ordinal`'s certificate carries, verified on the admin connection. */
  serverName(ordinal: number): string;
  /** SOURCE_SSL options of the replicas' channel to the primary. */
  readonly replication: ReplicationTls;
  /**
   * Whether instance `ordinal` already serves the certificate (its Pod mounts it): while
   * spec.tls is being turned on, Pods not yet restarted are reached in plaintext, as
   * before. Decided from the Pod spec, never from what the network answers. Absent ⇒ all.
   */
  instanceHasTls?(ordinal: number): boolean;
}

export interface ClusterTlsSource {
  /** null ⇒ the cluster does not use TLS (spec.tls absent). Throws when the CA cannot be read. */
  get(cluster: MySQLClusterLike): Promise<ClusterTls | null>;
}
