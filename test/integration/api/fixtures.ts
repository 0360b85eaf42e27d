// Valid MySQLCluster and BackupPolicy manifests the integration tests start from.
import type { Json } from "./harness.ts";

export function clusterManifest(name: string, namespace: string, spec: Json = {}): Json {
  return {
    apiVersion: "moco.cybozu.com/v1beta2",
    kind: "MySQLCluster",
    metadata: { name, namespace },
    spec: {
      replicas: 3,
      podTemplate: {
        spec: {
          containers: [
            { name: "mysqld", image: "ghcr.io/cybozu-go/moco/mysql:8.4.8", ports: [{ name: "app", containerPort: 8080 }] },
          ],
          initContainers: [{ name: "setup", image: "busybox" }],
          volumes: [{ name: "extra", emptyDir: {} }],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "mysql-data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        },
      ],
      ...spec,
    },
  };
}

export function restoreSpec(): Json {
  return {
    sourceName: "source",
    sourceNamespace: "backup",
    restorePoint: "2025-01-15T03:00:00Z",
    jobConfig: {
      serviceAccountName: "restore-owner",
      bucketConfig: { bucketName: "moco-backups" },
      workVolume: { emptyDir: {} },
    },
  };
}

export function policyManifest(name: string, namespace: string, spec: Json = {}): Json {
  return {
    apiVersion: "moco.cybozu.com/v1beta2",
    kind: "BackupPolicy",
    metadata: { name, namespace },
    spec: {
      schedule: "@daily",
      jobConfig: {
        serviceAccountName: "backup-owner",
        bucketConfig: { bucketName: "moco", endpointURL: "http://minio.default.svc:9000", usePathStyle: true },
        workVolume: { emptyDir: {} },
      },
      ...spec,
    },
  };
}

/** Walks (and creates) nested objects along `path`; array indices are numbers. */
export function at(obj: Json, path: (string | number)[]): Json {
  let cur: unknown = obj;
  for (const key of path) {
    const container = cur as Record<string | number, unknown>;
    container[key] ??= {};
    cur = container[key];
  }
  return cur as Json;
}

export function spec(obj: Json): Json {
  return at(obj, ["spec"]);
}
export function podSpec(obj: Json): Json {
  return at(obj, ["spec", "podTemplate", "spec"]);
}
export function containers(obj: Json): Json[] {
  return podSpec(obj)["containers"] as Json[];
}
export function mysqld(obj: Json): Json {
  return containers(obj).find((c) => c["name"] === "mysqld") as Json;
}
export function templates(obj: Json): Json[] {
  return spec(obj)["volumeClaimTemplates"] as Json[];
}
export function jobConfig(obj: Json): Json {
  return at(obj, ["spec", "jobConfig"]);
}
