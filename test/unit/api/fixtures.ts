// Valid objects the API tests start from.
import type { BackupPolicy, MySQLCluster } from "../../../src/api/v1beta2/index.ts";

export function validCluster(): MySQLCluster {
  return {
    apiVersion: "moco.cybozu.com/v1beta2",
    kind: "MySQLCluster",
    metadata: { name: "test", namespace: "default" },
    spec: {
      replicas: 3,
      serverIDBase: 100,
      podTemplate: {
        spec: {
          containers: [
            {
              name: "mysqld",
              image: "ghcr.io/cybozu-go/moco/mysql:8.4.8",
              ports: [{ name: "app", containerPort: 8080 }],
            },
          ],
          volumes: [{ name: "extra", emptyDir: {} }],
          initContainers: [{ name: "setup", image: "busybox" }],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "mysql-data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        },
      ],
    },
  };
}

export function validBackupPolicy(): BackupPolicy {
  return {
    apiVersion: "moco.cybozu.com/v1beta2",
    kind: "BackupPolicy",
    metadata: { name: "daily", namespace: "default" },
    spec: {
      schedule: "@daily",
      jobConfig: {
        serviceAccountName: "backup-owner",
        bucketConfig: { bucketName: "moco", endpointURL: "http://minio.default.svc:9000", usePathStyle: true },
        workVolume: { emptyDir: {} },
      },
    },
  };
}

/** A status shape some writer stores, and who writes it. */
export interface StatusShape {
  name: string;
  status: Record<string, unknown> | undefined;
}

const condition = (type: string, status: string) => ({
  type, status, reason: type, message: `${type} is ${status}`, lastTransitionTime: "2026-01-02T03:04:05Z", observedGeneration: 1,
});

/** moco-ts's status.backup as the backup job writes it (docs/backup.md). */
export function backupStatus(warnings: string[] | null | undefined): Record<string, unknown> {
  const b: Record<string, unknown> = {
    time: "2026-01-02T03:04:05Z", elapsed: "12.5s", sourceIndex: 1, sourceUUID: "3e11fa47-71ca-11e1-9e33-c80aa9429562",
    uuidSet: { "0": "3e11fa47-71ca-11e1-9e33-c80aa9429560", "1": "3e11fa47-71ca-11e1-9e33-c80aa9429562" },
    binlogFilename: "binlog.000003", gtidSet: "3e11fa47-71ca-11e1-9e33-c80aa9429560:1-42",
    dumpSize: 123456, binlogSize: 0, workDirUsage: 654321,
  };
  if (warnings !== undefined) b["warnings"] = warnings;
  return b;
}

/**
 * Every status shape that the controller (reconciler, clustering loop), the backup job
 * and the restore job write, or that MOCO leaves behind for a switching user, with
 * empty, null and missing lists. Each is accepted by the CRD schema on the status
 * subresource; none may block a metadata change (issue 19).
 */
export function statusShapes(): StatusShape[] {
  return [
    { name: "no status", status: undefined },
    { name: "currentPrimaryIndex only (lists missing)", status: { currentPrimaryIndex: 0 } },
    { name: "reconciler conditions and reconcileInfo", status: {
      currentPrimaryIndex: 0,
      conditions: [condition("StatefulSetReady", "False"), condition("ReconcileSuccess", "True"), condition("ReconciliationActive", "True")],
      reconcileInfo: { generation: 1, reconcileVersion: 1 },
    } },
    { name: "clustering loop, empty errant list", status: {
      currentPrimaryIndex: 2, conditions: [condition("Available", "True"), condition("Healthy", "True")],
      syncedReplicas: 3, errantReplicas: 0, errantReplicaList: [],
    } },
    { name: "clustering loop, errant replica", status: {
      currentPrimaryIndex: 0, conditions: [condition("Healthy", "False")], syncedReplicas: 2, errantReplicas: 1, errantReplicaList: [1],
    } },
    { name: "null lists (pruned by the API server)", status: { currentPrimaryIndex: 0, conditions: null, errantReplicaList: null } },
    { name: "empty conditions", status: { currentPrimaryIndex: 0, conditions: [] } },
    { name: "backup, warnings []", status: { currentPrimaryIndex: 0, backup: backupStatus([]) } },
    { name: "backup, warnings null (moco-ts before issue 19, MOCO)", status: { currentPrimaryIndex: 0, backup: backupStatus(null) } },
    { name: "backup with warnings", status: { currentPrimaryIndex: 0, backup: backupStatus(["backup from the primary: no replica was ready"]) } },
    { name: "backup without uuidSet", status: { currentPrimaryIndex: 0, backup: (() => { const b = backupStatus([]); delete b["uuidSet"]; return b; })() } },
    { name: "MOCO's zero backup (time and warnings null)", status: {
      currentPrimaryIndex: 0,
      backup: { time: null, elapsed: "0s", sourceIndex: 0, sourceUUID: "", binlogFilename: "", gtidSet: "", dumpSize: 0, binlogSize: 0, workDirUsage: 0, warnings: null },
    } },
    { name: "restored (restore job)", status: { currentPrimaryIndex: 0, restoredTime: "2026-01-02T03:04:05Z", backup: backupStatus(null) } },
    { name: "cloned from a donor", status: { currentPrimaryIndex: 0, cloned: true, errantReplicaList: [] } },
  ];
}
