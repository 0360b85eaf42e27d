// Clusters and options the builder tests start from.
import type { BackupPolicy, MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { resolveBuilderOptions } from "../../../src/controller/builders/index.ts";
import type { BuilderOptions } from "../../../src/controller/builders/index.ts";

export const UID = "11111111-2222-3333-4444-555555555555";
export const INIT_SCRIPT = "set -eu\necho init \"$@\"\n";

export function options(overrides: Partial<BuilderOptions> = {}): BuilderOptions {
  return resolveBuilderOptions({
    controllerNamespace: "moco-system",
    agentImage: "agent:1",
    backupImage: "backup:1",
    fluentBitImage: "fluent-bit:1",
    exporterImage: "exporter:1",
    initScript: INIT_SCRIPT,
    ...overrides,
  });
}

/** A cluster as the API server stores it (CRD defaults applied). */
export function cluster(replicas = 3, mutate: (c: MySQLCluster) => void = () => {}): MySQLCluster {
  const c: MySQLCluster = {
    apiVersion: "moco.cybozu.com/v1beta2",
    kind: "MySQLCluster",
    metadata: { name: "test", namespace: "ns", uid: UID, generation: 1 },
    spec: {
      replicas,
      serverIDBase: 100,
      maxDelaySeconds: 60,
      maxDelaySecondsForPodDeletion: 0,
      startupWaitSeconds: 3600,
      initializeTimezoneData: false,
      podTemplate: {
        spec: {
          containers: [
            {
              name: "mysqld",
              image: "mysql:9.7",
              resources: { requests: { memory: "1000Mi" } },
            },
          ],
        },
      },
      volumeClaimTemplates: [
        { metadata: { name: "mysql-data" }, spec: { resources: { requests: { storage: "1Gi" } } } },
      ],
    },
  };
  mutate(c);
  return c;
}

export function spec(c: MySQLCluster): NonNullable<MySQLCluster["spec"]> {
  if (c.spec === undefined) throw new Error("no spec");
  return c.spec;
}

export function backupPolicy(mutate: (p: BackupPolicy) => void = () => {}): BackupPolicy {
  const p: BackupPolicy = {
    apiVersion: "moco.cybozu.com/v1beta2",
    kind: "BackupPolicy",
    metadata: { name: "daily", namespace: "ns" },
    spec: {
      schedule: "@daily",
      concurrencyPolicy: "Allow",
      jobConfig: {
        serviceAccountName: "backup-owner",
        threads: 4,
        cpu: 4,
        memory: "4Gi",
        bucketConfig: { bucketName: "moco", endpointURL: "http://minio:9000", usePathStyle: true, backendType: "s3" },
        workVolume: { emptyDir: {} },
      },
    },
  };
  mutate(p);
  return p;
}

export const OWNER = Object.freeze({
  apiVersion: "moco.cybozu.com/v1beta2",
  kind: "MySQLCluster",
  name: "test",
  uid: UID,
  controller: true,
  blockOwnerDeletion: true,
});

export const LABELS = Object.freeze({
  "app.kubernetes.io/created-by": "moco",
  "app.kubernetes.io/instance": "test",
  "app.kubernetes.io/name": "mysql",
});
