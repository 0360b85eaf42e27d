// Builders for clustering test observations: cluster `ns/test`, serverIDBase 10,
// replica rows pointing at the primary's Pod hostname unless told otherwise.
import type {
  ClusterObservation,
  InstanceStatus,
  MySQLClusterLike,
  PodView,
  ReplicaStatusRow,
  ReplicationSourceView,
} from "../../../src/clustering/types.ts";

export const U0 = "00000000-0000-0000-0000-000000000000";
export const U1 = "11111111-1111-1111-1111-111111111111";
export const U2 = "22222222-2222-2222-2222-222222222222";
export const U3 = "33333333-3333-3333-3333-333333333333";
export const U4 = "44444444-4444-4444-4444-444444444444";
/** server_uuid of instance i. */
export const UUIDS = [U0, U1, U2, U3, U4] as const;
export const SERVER_ID_BASE = 10;

export function host(i: number): string {
  return `moco-test-${i}.moco-test.ns.svc`;
}

export interface ClusterOptions {
  replicas: number;
  primary?: number;
  intermediate?: boolean;
  cloned?: boolean;
  restore?: boolean;
  restoredTime?: string;
  offline?: boolean;
  errantReplicaList?: number[];
  maxDelaySecondsForPodDeletion?: number;
}

export function cluster(o: ClusterOptions): MySQLClusterLike {
  return {
    metadata: { name: "test", namespace: "ns" },
    spec: {
      replicas: o.replicas,
      serverIDBase: SERVER_ID_BASE,
      offline: o.offline ?? false,
      replicationSourceSecretName: o.intermediate === true ? "source" : null,
      restore: o.restore === true ? { sourceName: "src", sourceNamespace: "ns" } : null,
      maxDelaySecondsForPodDeletion: o.maxDelaySecondsForPodDeletion ?? 0,
    },
    status: {
      currentPrimaryIndex: o.primary ?? 0,
      errantReplicaList: o.errantReplicaList ?? [],
      cloned: o.cloned ?? false,
      restoredTime: o.restoredTime ?? null,
    },
  };
}

export function pod(i: number, o: Partial<PodView> = {}): PodView {
  return {
    name: `moco-test-${i}`,
    ready: true,
    deleting: false,
    demote: false,
    hasPreventDeleteAnnotation: false,
    roleLabel: null,
    ip: `10.0.0.${i + 1}`,
    ...o,
  };
}

export function replicaRow(o: Partial<ReplicaStatusRow> = {}): ReplicaStatusRow {
  return {
    sourceHost: host(0),
    replicaIORunning: "Yes",
    replicaSQLRunning: "Yes",
    retrievedGtidSet: "",
    executedGtidSet: "",
    secondsBehindSource: 0,
    lastIOErrno: 0,
    lastIOError: "",
    lastSQLErrno: 0,
    lastSQLError: "",
    ...o,
  };
}

export function instance(i: number, o: Partial<InstanceStatus> = {}): InstanceStatus {
  return {
    serverUuid: UUIDS[i] ?? U0,
    gtidExecuted: "",
    gtidPurged: "",
    readOnly: true,
    superReadOnly: true,
    semiSyncSourceWaitForReplicaCount: 1,
    semiSyncSourceEnabled: false,
    semiSyncReplicaEnabled: false,
    semiSyncSourceWaitSessions: 0,
    replicaHosts: [],
    replicaStatus: null,
    cloneState: null,
    ...o,
  };
}

/** A writable semi-sync primary at ordinal `i` that lists `replicaServerIds` in SHOW REPLICAS. */
export function primaryInstance(i: number, replicaServerIds: number[], o: Partial<InstanceStatus> = {}): InstanceStatus {
  return instance(i, {
    gtidExecuted: `${UUIDS[i] ?? U0}:1-5`,
    readOnly: false,
    superReadOnly: false,
    semiSyncSourceEnabled: replicaServerIds.length > 0,
    semiSyncSourceWaitForReplicaCount: 1,
    replicaHosts: replicaServerIds.map((serverId) => ({
      serverId,
      host: `10.0.0.${serverId}`,
      port: 3306,
      sourceId: SERVER_ID_BASE + i,
      replicaUuid: "",
    })),
    ...o,
  });
}

/** A read-only semi-sync replica of `primary`, caught up with `gtid`. */
export function replicaInstance(i: number, primary = 0, gtid = `${U0}:1-5`, o: Partial<InstanceStatus> = {}): InstanceStatus {
  return instance(i, {
    gtidExecuted: gtid,
    semiSyncReplicaEnabled: true,
    replicaStatus: replicaRow({ sourceHost: host(primary), retrievedGtidSet: gtid, executedGtidSet: gtid }),
    ...o,
  });
}

export function observation(
  c: MySQLClusterLike,
  pods: (PodView | null)[],
  instances: (InstanceStatus | null)[],
  replicationSource?: ReplicationSourceView,
): ClusterObservation {
  return replicationSource === undefined ? { cluster: c, pods, instances } : { cluster: c, pods, instances, replicationSource };
}

/** A healthy n-instance cluster with primary `p` (pods labelled, semi-sync configured). */
export function healthyObservation(n: number, p = 0, clusterOptions: Partial<ClusterOptions> = {}): ClusterObservation {
  const c = cluster({ replicas: n, primary: p, ...clusterOptions });
  const ids: number[] = [];
  for (let i = 0; i < n; i++) if (i !== p) ids.push(SERVER_ID_BASE + i);
  const gtid = `${UUIDS[p] ?? U0}:1-5`;
  const pods: PodView[] = [];
  const instances: InstanceStatus[] = [];
  for (let i = 0; i < n; i++) {
    pods.push(pod(i, { roleLabel: i === p ? "primary" : "replica" }));
    instances.push(
      i === p
        ? primaryInstance(i, ids, { semiSyncSourceWaitForReplicaCount: Math.floor(n / 2) })
        : replicaInstance(i, p, gtid),
    );
  }
  return observation(c, pods, instances);
}
