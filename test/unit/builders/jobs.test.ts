import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  buildBackupCronJob,
  buildBackupRole,
  buildBackupRoleBinding,
  buildPodDisruptionBudget,
  buildRestoreJob,
  buildRestoreRole,
  buildRestoreRoleBinding,
  bucketFlags,
  decidePdb,
  jobResources,
  needsRestoreJob,
  restorePointArg,
} from "../../../src/controller/builders/index.ts";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { LABELS, OWNER, backupPolicy, cluster, options, spec } from "./fixtures.ts";

const JOB_LABELS = {
  "app.kubernetes.io/created-by": "moco",
  "app.kubernetes.io/instance": "test",
  "app.kubernetes.io/name": "mysql-backup",
};

describe("PDB", () => {
  const cases: [string, MySQLCluster, boolean, ReturnType<typeof decidePdb>["action"], number | undefined][] = [
    ["1 instance → delete", cluster(1), false, "delete", undefined],
    ["3 instances → 1", cluster(3), false, "apply", 1],
    ["5 instances → 2", cluster(5), false, "apply", 2],
    ["offline 3 → delete", cluster(3, (c) => (spec(c).offline = true)), false, "delete", undefined],
    ["3 with a running backup → 0", cluster(3), true, "apply", 0],
    ["5 with a running backup → 0", cluster(5), true, "apply", 0],
    ["1 with a running backup → delete", cluster(1), true, "delete", undefined],
  ];
  for (const [name, c, running, action, max] of cases) {
    it(name, () => {
      const d = decidePdb(c, running ? { status: { active: [{ name: "job" }] } } : { status: { active: [] } });
      assert.equal(d.action, action);
      if (d.action === "apply") assert.equal(d.maxUnavailable, max);
    });
  }
  it("no CronJob means no backup running", () => {
    assert.deepEqual(decidePdb(cluster(3), undefined), { action: "apply", maxUnavailable: 1, backupRunning: false });
  });
  it("object", () => {
    assert.deepEqual(buildPodDisruptionBudget(cluster(5), 2), {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: "moco-test", namespace: "ns", labels: LABELS, ownerReferences: [OWNER] },
      spec: { maxUnavailable: 2, selector: { matchLabels: LABELS } },
    });
  });
});

describe("bucket flags", () => {
  const cases: [string, Parameters<typeof bucketFlags>[0], string[]][] = [
    ["bucket only (backendType defaulted)", { bucketName: "b" }, ["--backend-type=s3"]],
    [
      "all, in order",
      { bucketName: "b", region: "r", endpointURL: "http://e", usePathStyle: true, backendType: "gcs", caCert: "/ca.pem" },
      ["--region=r", "--endpoint=http://e", "--use-path-style", "--backend-type=gcs", "--ca-cert=/ca.pem"],
    ],
    ["empty strings skipped", { bucketName: "b", region: "", endpointURL: "", caCert: "", usePathStyle: false }, ["--backend-type=s3"]],
  ];
  for (const [name, bc, want] of cases) it(name, () => assert.deepEqual(bucketFlags(bc), want));
});

describe("job resources", () => {
  it("requests from cpu/memory, limits from maxCpu/maxMemory; null means none; absent = CRD default", () => {
    const base = backupPolicy().spec.jobConfig;
    assert.deepEqual(jobResources(base), { requests: { cpu: "4", memory: "4Gi" } });
    assert.deepEqual(jobResources({ ...base, cpu: undefined, memory: undefined }), { requests: { cpu: "4", memory: "4Gi" } });
    assert.deepEqual(jobResources({ ...base, cpu: null, memory: null }), undefined);
    assert.deepEqual(jobResources({ ...base, cpu: "500m", memory: null, maxCpu: 2, maxMemory: "8Gi" }), {
      limits: { cpu: "2", memory: "8Gi" },
      requests: { cpu: "500m" },
    });
  });
});

describe("backup CronJob", () => {
  it("full object from the BackupPolicy", () => {
    const p = backupPolicy((x) => {
      x.spec.timeZone = "Asia/Tokyo";
      x.spec.startingDeadlineSeconds = 60;
      x.spec.concurrencyPolicy = "Forbid";
      x.spec.successfulJobsHistoryLimit = 2;
      x.spec.failedJobsHistoryLimit = 3;
      x.spec.activeDeadlineSeconds = 3600;
      x.spec.backoffLimit = 1;
      x.spec.jobConfig.env = [{ name: "AWS_REGION", value: "x" }];
      x.spec.jobConfig.envFrom = [{ configMapRef: { name: "bucket" } }];
      x.spec.jobConfig.volumes = [{ name: "ca", secret: { secretName: "ca" } }];
      x.spec.jobConfig.volumeMounts = [{ name: "ca", mountPath: "/ca" }];
      x.spec.jobConfig.threads = 8;
      x.spec.jobConfig.maxMemory = "8Gi";
    });
    assert.deepEqual(buildBackupCronJob(cluster(), p, options()), {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "moco-backup-test", namespace: "ns", labels: JOB_LABELS, ownerReferences: [OWNER] },
      spec: {
        schedule: "@daily",
        timeZone: "Asia/Tokyo",
        startingDeadlineSeconds: 60,
        concurrencyPolicy: "Forbid",
        successfulJobsHistoryLimit: 2,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels: JOB_LABELS },
          spec: {
            activeDeadlineSeconds: 3600,
            backoffLimit: 1,
            template: {
              metadata: { labels: JOB_LABELS },
              spec: {
                restartPolicy: "Never",
                serviceAccountName: "backup-owner",
                affinity: {
                  podAntiAffinity: {
                    preferredDuringSchedulingIgnoredDuringExecution: [
                      {
                        weight: 100,
                        podAffinityTerm: {
                          topologyKey: "kubernetes.io/hostname",
                          labelSelector: {
                            matchExpressions: [
                              { key: "app.kubernetes.io/name", operator: "In", values: ["mysql-backup"] },
                              { key: "app.kubernetes.io/created-by", operator: "In", values: ["moco"] },
                            ],
                          },
                        },
                      },
                    ],
                  },
                },
                volumes: [
                  { name: "work", emptyDir: {} },
                  { name: "ca", secret: { secretName: "ca" } },
                ],
                securityContext: { fsGroup: 10000, fsGroupChangePolicy: "OnRootMismatch" },
                containers: [
                  {
                    name: "backup",
                    image: "backup:1",
                    command: ["moco-backup"],
                    args: [
                      "backup",
                      "--threads=8",
                      "--endpoint=http://minio:9000",
                      "--use-path-style",
                      "--backend-type=s3",
                      "moco",
                      "ns",
                      "test",
                    ],
                    env: [
                      { name: "MYSQL_PASSWORD", valueFrom: { secretKeyRef: { name: "moco-test", key: "BACKUP_PASSWORD" } } },
                      { name: "AWS_REGION", value: "x" },
                    ],
                    envFrom: [{ configMapRef: { name: "bucket" } }],
                    volumeMounts: [
                      { name: "work", mountPath: "/work" },
                      { name: "ca", mountPath: "/ca" },
                    ],
                    securityContext: { readOnlyRootFilesystem: true, runAsUser: 10000, runAsGroup: 10000 },
                    resources: { limits: { memory: "8Gi" }, requests: { cpu: "4", memory: "4Gi" } },
                  },
                ],
              },
            },
          },
        },
      },
    });
  });

  it("optional fields absent when unset or null; user affinity; no default security; no resources in tests", () => {
    const p = backupPolicy((x) => {
      x.spec.timeZone = null;
      x.spec.backoffLimit = null;
      x.spec.jobConfig.affinity = { nodeAffinity: {} };
      delete x.spec.concurrencyPolicy;
    });
    const cj = buildBackupCronJob(cluster(), p, options({ disableDefaultSecurityContext: true, omitJobResources: true }));
    assert.equal(cj.spec?.concurrencyPolicy, "Allow");
    assert.ok(!("timeZone" in (cj.spec ?? {})));
    assert.ok(!("startingDeadlineSeconds" in (cj.spec ?? {})));
    assert.ok(!("backoffLimit" in (cj.spec?.jobTemplate.spec ?? {})));
    const pod = cj.spec?.jobTemplate.spec?.template.spec;
    assert.deepEqual(pod?.affinity, { nodeAffinity: {} });
    assert.deepEqual(pod?.securityContext, { fsGroupChangePolicy: "OnRootMismatch" });
    assert.deepEqual(pod?.containers[0]?.securityContext, { readOnlyRootFilesystem: true });
    assert.ok(!("resources" in (pod?.containers[0] ?? {})));
    assert.ok(!("envFrom" in (pod?.containers[0] ?? {})));
  });

  it("Role and RoleBinding", () => {
    assert.deepEqual(buildBackupRole(cluster()), {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "moco-backup-test", namespace: "ns", labels: JOB_LABELS, ownerReferences: [OWNER] },
      rules: [
        {
          apiGroups: ["moco.cybozu.com"],
          resources: ["mysqlclusters", "mysqlclusters/status"],
          verbs: ["get", "update"],
          resourceNames: ["test"],
        },
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["events"], verbs: ["create", "update", "patch"] },
      ],
    });
    assert.deepEqual(buildBackupRoleBinding(cluster(), backupPolicy()), {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "moco-backup-test", namespace: "ns", labels: JOB_LABELS, ownerReferences: [OWNER] },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "moco-backup-test" },
      subjects: [{ kind: "ServiceAccount", name: "backup-owner", namespace: "ns" }],
    });
  });

  it("deterministic", () => {
    const p = backupPolicy();
    assert.equal(JSON.stringify(buildBackupCronJob(cluster(), p, options())), JSON.stringify(buildBackupCronJob(cluster(), p, options())));
  });
});

function restoringCluster(mutate: (c: MySQLCluster) => void = () => {}): MySQLCluster {
  return cluster(3, (c) => {
    spec(c).restore = {
      sourceName: "src",
      sourceNamespace: "src-ns",
      restorePoint: "2024-03-04T14:05:06+09:00",
      jobConfig: {
        serviceAccountName: "restorer",
        threads: 2,
        cpu: 4,
        memory: "4Gi",
        bucketConfig: { bucketName: "$(BUCKET)", region: "us-east-1", backendType: "s3" },
        workVolume: { emptyDir: {} },
      },
    };
    mutate(c);
  });
}

describe("restore Job", () => {
  it("restore point in UTC YYYYMMDD-hhmmss", () => {
    assert.equal(restorePointArg("2024-03-04T14:05:06+09:00"), "20240304-050506");
    assert.equal(restorePointArg("2024-12-31T23:59:59Z"), "20241231-235959");
    assert.throws(() => restorePointArg("nope"), /restorePoint/);
  });

  it("needsRestoreJob: restore set and restoredTime unset", () => {
    assert.equal(needsRestoreJob(cluster()), false);
    assert.equal(needsRestoreJob(restoringCluster()), true);
    assert.equal(needsRestoreJob(restoringCluster((c) => (c.status = { currentPrimaryIndex: 0, restoredTime: "2024-01-01T00:00:00Z" }))), false);
  });

  it("full object", () => {
    assert.deepEqual(buildRestoreJob(restoringCluster(), options()), {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "moco-restore-test", namespace: "ns", labels: JOB_LABELS, ownerReferences: [OWNER] },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: JOB_LABELS },
          spec: {
            restartPolicy: "Never",
            serviceAccountName: "restorer",
            volumes: [{ name: "work", emptyDir: {} }],
            securityContext: { fsGroup: 10000, fsGroupChangePolicy: "OnRootMismatch" },
            containers: [
              {
                name: "restore",
                image: "backup:1",
                command: ["moco-backup"],
                args: [
                  "restore",
                  "--threads=2",
                  "--region=us-east-1",
                  "--backend-type=s3",
                  "$(BUCKET)",
                  "src-ns",
                  "src",
                  "ns",
                  "test",
                  "20240304-050506",
                  "",
                  "",
                ],
                env: [{ name: "MYSQL_PASSWORD", valueFrom: { secretKeyRef: { name: "moco-test", key: "ADMIN_PASSWORD" } } }],
                volumeMounts: [{ name: "work", mountPath: "/work" }],
                securityContext: { readOnlyRootFilesystem: true, runAsUser: 10000, runAsGroup: 10000 },
                resources: { requests: { cpu: "4", memory: "4Gi" } },
              },
            ],
          },
        },
      },
    });
  });

  it("schema/users passed; affinity honoured when set (moco-ts)", () => {
    const c = restoringCluster((x) => {
      const r = spec(x).restore;
      assert.ok(r, "the fixture has spec.restore");
      r.schema = "db1";
      r.users = "a@%,b";
      r.jobConfig.affinity = { nodeAffinity: {} };
    });
    const job = buildRestoreJob(c, options());
    assert.deepEqual(job.spec?.template.spec?.containers[0]?.args?.slice(-3), ["20240304-050506", "db1", "a@%,b"]);
    assert.deepEqual(job.spec?.template.spec?.affinity, { nodeAffinity: {} });
  });

  it("Role and RoleBinding", () => {
    assert.deepEqual(buildRestoreRole(restoringCluster()).rules, [
      { apiGroups: ["moco.cybozu.com"], resources: ["mysqlclusters", "mysqlclusters/status"], verbs: ["get", "update"], resourceNames: ["test"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create"] },
    ]);
    assert.equal(buildRestoreRole(restoringCluster()).metadata?.name, "moco-restore-test");
    const rb = buildRestoreRoleBinding(restoringCluster());
    assert.deepEqual(rb.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "moco-restore-test" });
    assert.deepEqual(rb.subjects, [{ kind: "ServiceAccount", name: "restorer", namespace: "ns" }]);
    assert.throws(() => buildRestoreRoleBinding(cluster()), /restore/);
  });
});
