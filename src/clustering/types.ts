// Types shared by the three parts of the clustering engine (docs/clustering.md):
//
//   observe (I/O)  ──ClusterObservation──▶  assessObservation (pure, docs/clustering.md#gathering-status steps 5–8)
//                  ──ObservedCluster────▶  decideState / decideOperation (pure, docs/clustering.md#deciding-the-cluster-state, docs/clustering.md#operation-per-state)
//                  ──Operation──────────▶  act (I/O, docs/clustering.md#procedures)
//
// Nothing here imports Kubernetes or mysql2: the cluster is seen through the minimal
// structural interfaces below, which the API package's MySQLCluster type satisfies.

// ---------------------------------------------------------------------------------
// The MySQLCluster, as far as clustering reads it

// Every field is optional so that the API's (pre-defaulting) MySQLCluster type fits;
// the CRD defaults apply when a field is absent (replicas 1, serverIDBase 0 here).
export interface MySQLClusterSpecLike {
  readonly replicas?: number | undefined;
  readonly serverIDBase?: number | undefined;
  readonly offline?: boolean | undefined;
  /** Set ⇒ the cluster is an intermediate primary replicating from an external mysqld. */
  readonly replicationSourceSecretName?: string | null | undefined;
  /** Only its presence matters. */
  readonly restore?: object | null | undefined;
  /** 0 or absent disables the replication-delay deletion guard. */
  readonly maxDelaySecondsForPodDeletion?: number | undefined;
}

export interface MySQLClusterStatusLike {
  readonly currentPrimaryIndex?: number | undefined;
  readonly errantReplicaList?: readonly number[] | null | undefined;
  readonly cloned?: boolean | undefined;
  /** Only its presence matters. */
  readonly restoredTime?: string | Date | null | undefined;
  /** Read for PassAbandoned only (whether a True one must be cleared). */
  readonly conditions?: readonly { readonly type?: string; readonly status?: string }[] | null | undefined;
}

export interface MySQLClusterLike {
  readonly metadata?: { readonly name?: string | undefined; readonly namespace?: string | undefined } | undefined;
  readonly spec?: MySQLClusterSpecLike | undefined;
  readonly status?: MySQLClusterStatusLike | undefined;
}

// ---------------------------------------------------------------------------------
// One Pod, as far as clustering reads it

export type RoleLabel = "primary" | "replica";

export interface PodView {
  readonly name: string;
  /** The Pod's Ready condition is True. */
  readonly ready: boolean;
  /** metadata.deletionTimestamp is set. */
  readonly deleting: boolean;
  /** Annotation moco.cybozu.com/demote is exactly "true". */
  readonly demote: boolean;
  /** The moco.cybozu.com/demote annotation key exists (any value); switchover removes it. */
  readonly hasDemoteAnnotation?: boolean | undefined;
  /**
   * moco-ts: the Pod's controller-revision-hash is its StatefulSet's updateRevision (absent
   * when unknown). The switchover target prefers such instances (docs/clustering.md#switchover).
   */
  readonly updated?: boolean | undefined;
  /** The moco.cybozu.com/prevent-delete annotation key exists (any value). */
  readonly hasPreventDeleteAnnotation: boolean;
  /** Value of label moco.cybozu.com/role; "" or null when absent. */
  readonly roleLabel: string | null;
  /** status.podIP ("" or null when unassigned). */
  readonly ip: string | null;
  /**
   * moco-ts (issue #14): the kubelet reports the mysqld container as not running (its state
   * is waiting or terminated: crashed, in its restart back-off, not started yet); false while
   * it runs; undefined when unknown (no container status, or a harness without a kubelet).
   */
  readonly mysqldStopped?: boolean | undefined;
}

// ---------------------------------------------------------------------------------
// One mysqld, from the queries of docs/clustering.md#gathering-status (current variable names, docs/clustering.md#mysql-version-specifics)

/** A row of SHOW REPLICAS on the instance. */
export interface ReplicaHostRow {
  readonly serverId: number;
  readonly host: string;
  readonly port: number;
  readonly sourceId: number;
  readonly replicaUuid: string;
}

/** The row of SHOW REPLICA STATUS. */
export interface ReplicaStatusRow {
  readonly sourceHost: string;
  /** "Yes", "No" or "Connecting". */
  readonly replicaIORunning: string;
  readonly replicaSQLRunning: string;
  readonly retrievedGtidSet: string;
  readonly executedGtidSet: string;
  /** NULL when not replicating. */
  readonly secondsBehindSource: number | null;
  readonly lastIOErrno: number;
  readonly lastIOError: string;
  readonly lastSQLErrno: number;
  readonly lastSQLError: string;
}

/** performance_schema.clone_status state. */
export type CloneState = "Not Started" | "In Progress" | "Completed" | "Failed";

export interface InstanceStatus {
  readonly serverUuid: string;
  readonly gtidExecuted: string;
  readonly gtidPurged: string;
  readonly readOnly: boolean;
  readonly superReadOnly: boolean;
  /**
   * @@offline_mode (moco-ts): left ON by a fence that was interrupted before its end
   * (src/mysql/fence.ts); a primary with it is not in primary mode. Absent ⇒ OFF.
   */
  readonly offlineMode?: boolean | undefined;
  /** @@rpl_semi_sync_source_wait_for_replica_count. */
  readonly semiSyncSourceWaitForReplicaCount: number;
  /** @@rpl_semi_sync_source_enabled. */
  readonly semiSyncSourceEnabled: boolean;
  /** @@rpl_semi_sync_replica_enabled. */
  readonly semiSyncReplicaEnabled: boolean;
  /** Status Rpl_semi_sync_source_wait_sessions (0 when no row). */
  readonly semiSyncSourceWaitSessions: number;
  /** SHOW REPLICAS. */
  readonly replicaHosts: readonly ReplicaHostRow[];
  /** SHOW REPLICA STATUS; null when the instance is not a replica. */
  readonly replicaStatus: ReplicaStatusRow | null;
  /** null when performance_schema.clone_status has no row. */
  readonly cloneState: CloneState | null;
}

/** HOST and PORT of the replicationSourceSecretName Secret (no credentials). */
export type ReplicationSourceView =
  | { readonly ok: true; readonly host: string; readonly port: number }
  | { readonly ok: false; readonly error: string };

// ---------------------------------------------------------------------------------
// What observe hands to the pure part

export interface ClusterObservation {
  readonly cluster: MySQLClusterLike;
  /** By ordinal, length spec.replicas; null for a missing Pod (only when offline). */
  readonly pods: readonly (PodView | null)[];
  /**
   * By ordinal, length spec.replicas; null when absent (unreachable after retries, or
   * no Pod IP). The primary's entry is the re-fetched status of docs/clustering.md#gathering-status step 5.
   */
  readonly instances: readonly (InstanceStatus | null)[];
  /**
   * Only for intermediate clusters and only when observe read it: the source Secret's
   * HOST/PORT, used by configure. Absent ⇒ configure fails at the intermediate step.
   */
  readonly replicationSource?: ReplicationSourceView | undefined;
  /**
   * The host name replicas use as SOURCE_HOST for each ordinal ("PodHostname"), and that
   * `Source_Host` is compared with. Absent (or an entry missing/empty) ⇒
   * `moco-C-i.moco-C.NS.svc` as upstream. Tests and the sandbox, where Pod DNS names do
   * not resolve inside mysqld, pass the Pod IPs.
   */
  readonly podHostnames?: readonly string[] | undefined;
  /**
   * moco-ts (issue #14): ordinals that are down for everyone: every status try of this pass
   * was refused (ECONNREFUSED: nothing listens on the admin port) and the kubelet reports the
   * Pod's mysqld container as not running (`PodView.mysqldStopped`). Such a mysqld takes no
   * write, and starts again super_read_only (my.cnf): the failover guard need not wait for it
   * to fence itself.
   */
  readonly down?: readonly number[] | undefined;
}

/** A ClusterObservation after docs/clustering.md#gathering-status steps 5–8 (assessObservation). */
export interface ObservedCluster extends ClusterObservation {
  readonly primaryIndex: number;
  /** The primary's gtid_executed; "" when the primary is absent or empty. */
  readonly executedGtid: string;
  /** Errant ordinals (replaces status.errantReplicaList). */
  readonly errantReplicas: readonly number[];
  /** docs/clustering.md#gathering-status step 6. */
  readonly preventPodDeletion: boolean;
  /** Non-primary ordinals dropped by the hang-up guard (docs/clustering.md#gathering-status step 8). */
  readonly hungUpReplicas: readonly number[];
  /**
   * Hung-up ordinals that are writable (super_read_only OFF): an old primary back from a
   * partition, its sessions still waiting for semi-sync acknowledgements (moco-ts: fenced).
   */
  readonly hungUpWritable?: readonly number[];
  /** Instance statuses after the hang-up guard. */
  readonly instances: readonly (InstanceStatus | null)[];
  /**
   * Errant ordinals whose errant set is a former primary's unacknowledged tail
   * (formerPrimaryTail in src/mysql/gtid.ts), with that set ("," between UUIDs): the
   * configure plan re-clones them (docs/clustering.md "Errant former primary").
   */
  readonly formerPrimaryTails?: ReadonlyMap<number, string>;
}

// ---------------------------------------------------------------------------------
// Decisions

export const CLUSTER_STATES = [
  "Offline",
  "Cloning",
  "Restoring",
  "Healthy",
  "Degraded",
  "Failed",
  "Lost",
  "Incomplete",
] as const;
export type ClusterState = (typeof CLUSTER_STATES)[number];

export interface StateDecision {
  readonly state: ClusterState;
  readonly primaryIndex: number;
  /** Switch candidates (goodReplica while evaluating rows 4 and 5), ascending. */
  readonly candidates: readonly number[];
  /** The switchover target: the lowest candidate whose Pod is `updated`, else the lowest candidate, or null. */
  readonly candidate: number | null;
  /** Candidates exist and the primary Pod is being deleted or demoted. */
  readonly needSwitch: boolean;
  readonly lostData: boolean;
  /** Replicas on the primary's SHOW REPLICAS with a server_id of this cluster (0 without primary status). */
  readonly inCluster: number;
  readonly primaryModeOK: boolean;
  /** Ordinals passing goodReplica (all non-primary ordinals checked). */
  readonly goodReplicas: readonly number[];
  /** Ordinals passing survivor. */
  readonly survivors: readonly number[];
}

/** Where a replica replicates from; the password is resolved by act, never carried here. */
export interface ReplicationSourceRef {
  readonly host: string;
  readonly port: number;
  /** "moco-repl" (password REPLICATION_PASSWORD) or the external source Secret's USER/PASSWORD. */
  readonly credentials: "moco-repl" | "replicationSourceSecret";
}

/**
 * One step of a configure plan (docs/clustering.md#configure). Act runs steps in order and stops the pass at the
 * first error (a `fail` step is an error).
 */
export type ConfigureStep =
  | { readonly kind: "removeRoleLabel"; readonly instance: number }
  | { readonly kind: "sleep"; readonly ms: number; readonly reason: "roleChange" | "afterStopIOThread" }
  | { readonly kind: "killConnections"; readonly instance: number }
  | { readonly kind: "setSuperReadOnly"; readonly instance: number }
  /**
   * moco-ts: a writable instance with commits waiting for semi-sync acknowledgements (an old
   * primary back from a partition): offline_mode, kill, semi-sync source off, super_read_only.
   */
  | { readonly kind: "fenceHungUp"; readonly instance: number }
  | { readonly kind: "stopReplicaIOThread"; readonly instance: number }
  /** WAIT_FOR_EXECUTED_GTID_SET(gtid, timeoutSeconds); always bounded (≥ 1 s). */
  | { readonly kind: "waitForGtid"; readonly instance: number; readonly gtid: string; readonly timeoutSeconds: number }
  /** rpl_semi_sync_source_timeout, _wait_for_replica_count, _enabled=ON. */
  | {
      readonly kind: "configureSemiSyncSource";
      readonly instance: number;
      readonly waitForReplicaCount: number;
      readonly timeoutMs: number;
    }
  /** STOP REPLICA; CHANGE REPLICATION SOURCE TO …; semi-sync replica on/off; source off; START REPLICA. */
  | {
      readonly kind: "configureReplication";
      readonly instance: number;
      readonly source: ReplicationSourceRef;
      readonly semiSync: boolean;
    }
  /**
   * Agent Clone on `instance` from the primary (donor moco-clone-donor, init user
   * moco-admin), then the post-clone settle/poll. `donorHost` null ⇒ the primary Pod has
   * no IP: act fails the pass.
   */
  | {
      readonly kind: "cloneFromPrimary";
      readonly instance: number;
      readonly donorHost: string | null;
      readonly donorPort: number;
      /**
       * moco-ts: the recipient is an errant former primary and these are its errant GTIDs
       * (its unacknowledged tail), which the clone throws away; the agent clones into its
       * non-empty data only when this set names transactions it executed with its own server_uuid.
       */
      readonly discardErrant?: string;
    }
  /**
   * After a clone: GTID_SUBTRACT(primaryPurgedGtid, <instance's gtid_executed as re-read
   * after the clone>) must be empty, else fail with the docs/clustering.md#configure message.
   */
  | { readonly kind: "checkPurgedGtids"; readonly instance: number; readonly primaryPurgedGtid: string }
  | { readonly kind: "setRoleLabel"; readonly instance: number; readonly role: RoleLabel }
  /** setReadOnly(false) on the primary and event Writable. */
  | { readonly kind: "makeWritable"; readonly instance: number }
  | { readonly kind: "fail"; readonly message: string };

export interface ConfigurePlan {
  readonly steps: readonly ConfigureStep[];
  /** True when a step that requests a new pass at once is planned (docs/clustering.md#configure `redo`). */
  readonly redo: boolean;
}

export type FailoverChoice =
  | { readonly ok: true; readonly target: number; readonly waitForGtid: string }
  | { readonly ok: false; readonly error: string };

export type Operation =
  /** Offline, Restoring, Lost, or Healthy with nothing to do. */
  | { readonly kind: "none"; readonly state: ClusterState; readonly reason: string }
  /** Cloning while the primary is missing or a clone is running. */
  | { readonly kind: "wait"; readonly state: "Cloning"; readonly reason: string }
  /** Cloning: clone the primary from the external donor (docs/clustering.md#initial-clone-from-an-external-donor). */
  | { readonly kind: "initialClone"; readonly state: "Cloning"; readonly instance: number }
  /** Healthy/Degraded with needSwitch (docs/clustering.md#switchover). */
  | {
      readonly kind: "switchover";
      readonly state: "Healthy" | "Degraded";
      readonly from: number;
      readonly to: number;
      /** Whether the old primary Pod carries the demote key (to remove after the switch). */
      readonly removeDemoteAnnotation: boolean;
    }
  /**
   * Failed (docs/clustering.md#failover). Act stops the IO thread on `stopReplicaIOThreadOn`, sleeps 100 ms,
   * re-reads `recheck`, then calls chooseFailoverTarget on the fresh statuses.
   * `expected` is that choice on the statuses observed now.
   */
  | {
      readonly kind: "failover";
      readonly state: "Failed";
      readonly from: number;
      readonly stopReplicaIOThreadOn: readonly number[];
      readonly recheck: readonly number[];
      readonly expected: FailoverChoice;
    }
  | { readonly kind: "configure"; readonly state: "Degraded" | "Incomplete"; readonly plan: ConfigurePlan };

/** A status condition as docs/clustering.md#status-written-by-a-pass writes it. */
export interface ClusterCondition {
  /** PassAbandoned (moco-ts): True while the last pass was abandoned at its deadline. */
  readonly type: "Initialized" | "Available" | "Healthy" | "ClusteringActive" | "PassAbandoned";
  readonly status: "True" | "False";
  readonly reason: string;
  readonly message: string;
}
