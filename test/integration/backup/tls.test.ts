// Backup and restore Jobs over TLS (spec.tls, docs/tls.md) against real mysqld 9.7 with
// require_secure_transport=ON and a real S3 server: the jobs get the CA file the builders
// render (ConfigMap moco-<name>-ca mounted at MYSQL_TLS_CA_FILE), the restore connects with
// it (mysql2 sessions verify CA and Pod name; the binlog replay's `mysql` verifies the CA),
// the target sees only encrypted sessions of moco-admin, and a wrong CA, a wrong name or no
// TLS at all fail the restore before it touches the target.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2/promise";
import type { V1PodSpec } from "@kubernetes/client-node";

import { runBackup } from "../../../src/backup/backup.ts";
import { S3Bucket } from "../../../src/backup/bucket/s3.ts";
import { runRestore } from "../../../src/backup/restore.ts";
import type { MemoryClusterStore } from "../../../src/backup/kube.ts";
import type { BackupPolicy, MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { buildBackupCronJob, buildRestoreJob } from "../../../src/controller/builders/jobs.ts";
import { resolveBuilderOptions } from "../../../src/controller/builders/options.ts";
import { ENV_MYSQL_TLS_CA_FILE, buildCaConfigMap } from "../../../src/controller/builders/tls.ts";
import { createCertificateAuthority, type CertificateAuthority } from "../../../src/controller/certs.ts";
import { ER_SECURE_TRANSPORT_REQUIRED } from "../../../src/mysql/tls.ts";
import { startMysqlds, type MysqldInstance, type MysqldSet } from "../../env/mysqld.ts";
import { startS3, type S3Server } from "../../env/storage.ts";
import {
  ADMIN_PASSWORD, BACKUP_PASSWORD, clusterObject, createBackupUser, makeWorkDir, memoryStore, nextSecond, populate,
  prepareRestoreTarget, sleep, testLogger,
} from "../../env/backup-harness.ts";
import { instanceTlsFiles, tlsMyCnfLines } from "../tls-fixtures.ts";

const NS = "default"; // the namespace of instanceTlsFiles' names
const SRC = "src";
const DST = "dst";
/** A second cluster whose Pod has the target's IP: the certificate does not carry its name. */
const ALIAS = "alias";

/** root over the Unix socket (plaintext TCP is refused). */
function socketRoot(inst: MysqldInstance): Promise<mysql.Connection> {
  return mysql.createConnection({ socketPath: inst.socketPath, user: "root", password: "" });
}

const jobConfig = {
  serviceAccountName: "backup-owner",
  bucketConfig: { bucketName: "moco-backup", backendType: "s3" as const },
  workVolume: { emptyDir: {} },
};

/**
 * The CA file a job Pod sees, materialised under `root`: the file MYSQL_TLS_CA_FILE names,
 * with the content of the key of the ConfigMap mounted there (buildCaConfigMap). Returns
 * its host path (under the MySQL root filesystem, so the chrooted tools find it too).
 */
function jobCaFile(pod: V1PodSpec | undefined, cluster: MySQLCluster, caPem: string, root: string): string {
  const ct = pod?.containers[0];
  const file = ct?.env?.find((e) => e.name === ENV_MYSQL_TLS_CA_FILE)?.value;
  assert.ok(file, `the job has ${ENV_MYSQL_TLS_CA_FILE}`);
  const mount = ct?.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `a volume is mounted where ${file} is`);
  const cm = pod?.volumes?.find((v) => v.name === mount.name)?.configMap;
  const data = buildCaConfigMap(cluster, caPem);
  assert.equal(cm?.name, data.metadata?.name, "the mounted ConfigMap is moco-<name>-ca");
  const content = data.data?.[path.relative(mount.mountPath, file)];
  assert.ok(content, "the ConfigMap has the key MYSQL_TLS_CA_FILE names");
  const out = path.join(root, file);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, content);
  return out;
}

describe("backup and restore Jobs over TLS with require_secure_transport", () => {
  let s3: S3Server;
  let bucket: S3Bucket;
  let set: MysqldSet;
  let src: MysqldInstance;
  let dst: MysqldInstance;
  let ca: CertificateAuthority;
  let work: ReturnType<typeof makeWorkDir>;
  let store: MemoryClusterStore;
  let backupCa: string;
  let restoreCa: string;
  let jobRoot: string;
  let restorePoint: Date;
  const log = testLogger();

  before(async () => {
    ca = await createCertificateAuthority();
    s3 = await startS3();
    bucket = new S3Bucket({
      bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, usePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    set = await startMysqlds(2, {
      mycnf: `binlog_expire_logs_seconds=0\nlocal_infile=0\n${tlsMyCnfLines(true)}`,
      files: (i, host) => instanceTlsFiles(ca, i === 0 ? SRC : DST, 1, host),
    });
    [src, dst] = set.instances as [MysqldInstance, MysqldInstance];
    work = makeWorkDir();
    jobRoot = fs.realpathSync(path.join(work.workDir, ".."));
    store = memoryStore();
    store.setCluster(clusterObject(NS, SRC));
    store.setPods(NS, SRC, [{ name: `moco-${SRC}-0`, index: 0, ready: true, ip: src.host }]);
    for (const name of [DST, ALIAS]) {
      store.setCluster(clusterObject(NS, name));
      store.setPods(NS, name, [{ name: `moco-${name}-0`, index: 0, ready: true, ip: dst.host }]);
    }
    await createBackupUser({ connect: () => socketRoot(src) });
    await prepareRestoreTarget({ connect: () => socketRoot(dst) });
    const c = await socketRoot(src);
    try { await populate(c, 2000); } finally { await c.end(); }

    // The CA files exactly as the builders hand them to the jobs.
    const tls = { requireSecureTransport: true };
    const source = clusterObject(NS, SRC, { tls });
    const policy = { apiVersion: "moco.cybozu.com/v1beta2", kind: "BackupPolicy", metadata: { name: "p", namespace: NS }, spec: { schedule: "@daily", jobConfig } } as BackupPolicy;
    backupCa = jobCaFile(buildBackupCronJob(source, policy, resolveBuilderOptions()).spec?.jobTemplate.spec?.template.spec, source, ca.cert, path.join(jobRoot, "backup-pod"));
    const target = clusterObject(NS, DST, { tls, restore: { sourceName: SRC, sourceNamespace: NS, restorePoint: new Date().toISOString(), jobConfig } });
    restoreCa = jobCaFile(buildRestoreJob(target, resolveBuilderOptions()).spec?.template.spec, target, ca.cert, path.join(jobRoot, "restore-pod"));
  });

  after(async () => {
    await set?.stopAll();
    work?.cleanup();
    await bucket?.close();
    await s3?.stop();
  });

  const backup = () => runBackup({
    namespace: NS, name: SRC, bucket, store, password: BACKUP_PASSWORD, threads: 2, workDir: work.workDir, tools: work.tools, log,
    progressIntervalMs: 0, tlsCaFile: backupCa,
  });
  const restore = (name: string, tlsCaFile: string | undefined, pollTries = 50) => runRestore({
    bucket, store, sourceNamespace: NS, sourceName: SRC, namespace: NS, name, restorePoint, password: ADMIN_PASSWORD, threads: 2,
    workDir: work.workDir, tools: work.tools, log, pollIntervalMs: 100, pollTries, progressIntervalMs: 0, tlsCaFile,
  });

  it("both instances refuse plaintext clients", async () => {
    for (const [inst, user, password] of [[src, "moco-backup", BACKUP_PASSWORD], [dst, "moco-admin", ADMIN_PASSWORD]] as const) {
      await assert.rejects(
        mysql.createConnection({ host: inst.host, port: inst.port, user, password, connectTimeout: 5000 }),
        (e: { errno?: number }) => e.errno === ER_SECURE_TRANSPORT_REQUIRED,
      );
    }
  });

  it("a full and an incremental backup (mysqlbinlog over TLS) with the CronJob's CA file", async () => {
    const first = await backup();
    assert.notEqual(first.gtidSet, "");
    const c = await socketRoot(src);
    try {
      await c.query("INSERT INTO db1.pitr VALUES (2, 'after-backup-1')");
      await c.query("FLUSH BINARY LOGS");
      await c.query("INSERT INTO db1.pitr VALUES (3, 'before-restore-point')");
      restorePoint = await nextSecond();
      await sleep(1100);
      await c.query("INSERT INTO db1.pitr VALUES (4, 'after-restore-point')");
      await sleep(1000);
    } finally { await c.end(); }
    const second = await backup();
    assert.ok(second.binlogSize > 0, "the binlogs since the first backup were fetched");
  });

  it("a restore without TLS, with another CA or for a name the certificate lacks fails before touching the target", async () => {
    const otherCa = await createCertificateAuthority();
    const wrongCa = path.join(jobRoot, "wrong-ca.crt");
    fs.writeFileSync(wrongCa, otherCa.cert);
    const cases = [
      { what: "no TLS", name: DST, caFile: undefined, message: /insecure transport are prohibited/ },
      { what: "another CA", name: DST, caFile: wrongCa, message: /self.signed|unable to verify|certificate/i },
      { what: "a name not in the certificate", name: ALIAS, caFile: restoreCa, message: /altnames|does not match/i },
    ];
    for (const c of cases) {
      await assert.rejects(restore(c.name, c.caFile, 2), (e: Error) => /restore target not ready/.test(e.message) && c.message.test(e.message), c.what);
      assert.equal((await store.getCluster(NS, c.name)).status?.restoredTime, undefined, c.what);
      assert.equal(store.events.at(-1)?.reason, "RestoreFailed", c.what);
    }
    const d = await socketRoot(dst);
    try {
      const [r] = await d.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'db1'");
      assert.deepEqual(r, [], "nothing was loaded");
    } finally { await d.end(); }
  });

  it("the restore Job's CA file: point-in-time restore with every moco-admin session encrypted, as the target sees it", async () => {
    // Sample the target's moco-admin sessions while the restore runs.
    const seen = new Map<string, { type: string; cipher: string; program: string }>();
    let sampling = true;
    const watcher = await socketRoot(dst);
    const sampler = (async () => {
      while (sampling) {
        const [rows] = await watcher.query(`SELECT t.THREAD_ID AS id, t.CONNECTION_TYPE AS type, s.VARIABLE_VALUE AS cipher, a.ATTR_VALUE AS program
          FROM performance_schema.threads t LEFT JOIN performance_schema.status_by_thread s
            ON s.THREAD_ID = t.THREAD_ID AND s.VARIABLE_NAME = 'Ssl_cipher'
          LEFT JOIN performance_schema.session_connect_attrs a ON a.PROCESSLIST_ID = t.PROCESSLIST_ID AND a.ATTR_NAME = 'program_name'
          WHERE t.PROCESSLIST_USER = 'moco-admin'`);
        for (const r of rows as { id: string | number; type: string | null; cipher: string | null; program: string | null }[]) {
          seen.set(String(r.id), { type: r.type ?? "", cipher: r.cipher ?? "", program: r.program ?? "no program_name (mysql2)" });
        }
        await sleep(20);
      }
    })();
    try {
      await restore(DST, restoreCa);
    } finally {
      sampling = false;
      await sampler;
      await watcher.end();
    }
    assert.ok((await store.getCluster(NS, DST)).status?.restoredTime, "restoredTime set");
    assert.equal(store.events.at(-1)?.reason, "Restored");
    const d = await socketRoot(dst);
    try {
      const [rows] = await d.query("SELECT id, label FROM db1.pitr ORDER BY id");
      assert.deepEqual(rows, [{ id: 1, label: "in-dump" }, { id: 2, label: "after-backup-1" }, { id: 3, label: "before-restore-point" }],
        "the dump and the binlogs up to the restore point (replayed by mysql over TLS)");
      const [[n]] = await d.query("SELECT COUNT(*) AS n FROM db1.big") as unknown as [{ n: number }[]];
      assert.equal(Number(n?.n), 2000);
    } finally { await d.end(); }
    assert.ok(seen.size >= 1, "the restore's sessions were sampled");
    for (const [id, s] of seen) {
      assert.equal(s.type, "SSL/TLS", `moco-admin session ${id}`);
      assert.notEqual(s.cipher, "", `moco-admin session ${id} has an Ssl_cipher`);
    }
    const distinct = (f: (s: { cipher: string; program: string }) => string) => [...new Set([...seen.values()].map(f))].sort().join(", ");
    console.log(`# restore over TLS: ${seen.size} moco-admin sessions sampled on the target (clients: ${distinct((s) => s.program)}), all SSL/TLS (${distinct((s) => s.cipher)})`);
  });
});
