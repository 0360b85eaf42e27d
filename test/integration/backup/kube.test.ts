// The jobs' Kubernetes side against a real kube-apiserver with the moco CRDs: the backup
// reads the MySQLCluster and its Pods, writes status.backup through the status subresource
// (warnings null and non-null both accepted), creates Events; the restore sets
// status.restoredTime. Real mysqld 9.7 and a real S3 server behind it.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { runBackup } from "../../../src/backup/backup.ts";
import { S3Bucket } from "../../../src/backup/bucket/s3.ts";
import { KubeClusterStore } from "../../../src/backup/kube.ts";
import { KubeClient } from "../../../src/k8s/client.ts";
import { runRestore } from "../../../src/backup/restore.ts";
import { startControlPlane, type ControlPlane } from "../../env/kube.ts";
import { startMysqlds, type MysqldSet } from "../../env/mysqld.ts";
import { repoRoot } from "../../env/procs.ts";
import { startS3, type S3Server } from "../../env/storage.ts";
import { ADMIN_PASSWORD, BACKUP_PASSWORD, createBackupUser, makeWorkDir, prepareRestoreTarget, testLogger } from "../../env/backup-harness.ts";
import { setTimeout as sleep } from "node:timers/promises";

const NS = "backup-kube";
let cp: ControlPlane;
let s3: S3Server;
let mysqlds: MysqldSet;
let work: ReturnType<typeof makeWorkDir>;
let bucket: S3Bucket;
let store: KubeClusterStore;
let core: k8s.CoreV1Api;
const log = testLogger();

function cluster(name: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", metadata: { name, namespace: NS },
    spec: {
      replicas: 1,
      podTemplate: { spec: { containers: [{ name: "mysqld", image: "ghcr.io/cybozu-go/moco/mysql:8.4.8" }] } },
      volumeClaimTemplates: [{ metadata: { name: "mysql-data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
      ...extra,
    },
  };
}

async function readyPod(clusterName: string, ip: string): Promise<void> {
  const name = `moco-${clusterName}-0`;
  await core.createNamespacedPod({ namespace: NS, body: {
    metadata: { name, namespace: NS, labels: { "app.kubernetes.io/name": "mysql", "app.kubernetes.io/instance": clusterName, "app.kubernetes.io/created-by": "moco" } },
    spec: { automountServiceAccountToken: false, containers: [{ name: "mysqld", image: "mysql" }] },
  } });
  const pod = await core.readNamespacedPod({ namespace: NS, name });
  pod.status = { podIP: ip, podIPs: [{ ip }], phase: "Running", conditions: [{ type: "Ready", status: "True" }] };
  await core.replaceNamespacedPodStatus({ namespace: NS, name, body: pod });
}

before(async () => {
  [cp, s3, mysqlds] = await Promise.all([startControlPlane({ controllerManager: false }), startS3(), startMysqlds(2)]);
  await cp.kubectl(["apply", "--server-side", "-f", path.join(repoRoot, "deploy", "crds")]);
  for (let i = 0; ; i++) {
    try { await cp.kubectl(["get", "mysqlclusters", "-A"]); break; } catch (e) { if (i > 100) throw e; await sleep(300); }
  }
  await cp.kubectl(["create", "namespace", NS]);
  await cp.kubectl(["create", "serviceaccount", "default", "-n", NS]);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  store = new KubeClusterStore(new KubeClient(kc));
  bucket = new S3Bucket({ bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, usePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  work = makeWorkDir();
  const [src, dst] = mysqlds.instances;
  if (!src || !dst) throw new Error("need 2 instances");
  await createBackupUser(src);
  await prepareRestoreTarget(dst);
  const c = await src.connect();
  try {
    await c.query("CREATE DATABASE app");
    await c.query("CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(10))");
    await c.query("INSERT INTO app.t VALUES (1, 'a'), (2, 'b')");
  } finally { await c.end(); }
  await cp.kubectl(["apply", "--server-side", "-f", "-"], JSON.stringify(cluster("src")));
  await readyPod("src", src.host);
  await cp.kubectl(["apply", "--server-side", "-f", "-"], JSON.stringify(cluster("dst")));
  await readyPod("dst", dst.host);
});

after(async () => {
  await bucket?.close();
  await Promise.all([cp?.stop(), s3?.stop(), mysqlds?.stopAll()]);
  work?.cleanup();
});

test("backup writes status.backup through the status subresource and creates a BackupCreated Event", async () => {
  const first = await runBackup({ namespace: NS, name: "src", bucket, store, password: BACKUP_PASSWORD, threads: 2,
    workDir: work.workDir, tools: work.tools, log, progressIntervalMs: 0 });
  const c = await store.getCluster(NS, "src");
  const b = c.status?.backup;
  assert.ok(b);
  assert.equal(b.time, first.time);
  assert.match(b.time ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(b.sourceIndex, 0);
  assert.deepEqual(b.uuidSet, { "0": b.sourceUUID });
  assert.equal(b.dumpSize, first.dumpSize);
  assert.deepEqual(b.warnings, [], "an empty list, never null (issue 19)");
  assert.equal(b.gtidSet, first.gtidSet);
  const events = await core.listNamespacedEvent({ namespace: NS });
  const ev = events.items.find((e) => e.reason === "BackupCreated");
  assert.ok(ev, "BackupCreated event");
  assert.equal(ev.involvedObject.kind, "MySQLCluster");
  assert.equal(ev.involvedObject.name, "src");
  assert.equal(ev.type, "Normal");

  // A status with warnings, then one without (null again), both accepted by the API server.
  await store.updateBackupStatus(NS, "src", { ...b, warnings: ["w1"] });
  assert.deepEqual((await store.getCluster(NS, "src")).status?.backup?.warnings, ["w1"]);
  await store.updateBackupStatus(NS, "src", { ...b, warnings: null });
  assert.equal((await store.getCluster(NS, "src")).status?.backup?.warnings ?? null, null);
  // the status write keeps the rest of the object
  assert.equal((await store.getCluster(NS, "src")).spec?.replicas, 1);
});

test("restore sets status.restoredTime and creates a Restored Event", async () => {
  const c = await mysqlds.instances[0]?.connect();
  await c?.query("INSERT INTO app.t VALUES (3, 'c')");
  await c?.end();
  const last = (await store.getCluster(NS, "src")).status?.backup;
  const point = new Date(Date.parse(last?.time ?? ""));
  await runRestore({ bucket, store, sourceNamespace: NS, sourceName: "src", namespace: NS, name: "dst", restorePoint: point,
    password: ADMIN_PASSWORD, threads: 2, workDir: work.workDir, tools: work.tools, log, pollIntervalMs: 100, pollTries: 50,
    progressIntervalMs: 0 });
  const dst = await store.getCluster(NS, "dst");
  assert.match(dst.status?.restoredTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const events = await core.listNamespacedEvent({ namespace: NS });
  assert.ok(events.items.some((e) => e.reason === "Restored" && e.involvedObject.name === "dst"));
  const t = await mysqlds.instances[1]?.connect();
  try {
    const [rows] = await t!.query("SELECT id FROM app.t ORDER BY id");
    assert.deepEqual(rows, [{ id: 1 }, { id: 2 }]);
  } finally { await t?.end(); }
});

test("a restore point before any backup leaves restoredTime unset and records RestoreFailed", async () => {
  await cp.kubectl(["apply", "--server-side", "-f", "-"], JSON.stringify(cluster("dst2")));
  await assert.rejects(runRestore({ bucket, store, sourceNamespace: NS, sourceName: "src", namespace: NS, name: "dst2",
    restorePoint: new Date("2001-01-01T00:00:00Z"), password: ADMIN_PASSWORD, threads: 1, workDir: work.workDir, tools: work.tools,
    log, pollIntervalMs: 100, pollTries: 1 }), /before the first backup/);
  assert.equal((await store.getCluster(NS, "dst2")).status?.restoredTime, undefined);
  const events = await core.listNamespacedEvent({ namespace: NS });
  const ev = events.items.find((e) => e.reason === "RestoreFailed" && e.involvedObject.name === "dst2");
  assert.ok(ev);
  assert.equal(ev.type, "Warning");
  assert.match(ev.message ?? "", /before the first backup/);
});
