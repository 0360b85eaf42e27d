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
