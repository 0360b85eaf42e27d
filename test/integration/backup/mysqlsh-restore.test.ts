// A MOCO backup directory in a real S3 server (versitygw): dump.tar holding the genuine
// MySQL Shell 8.0.21 dump (entries in lexical order, as MOCO's tar walk writes them) and a
// binlog.tar.zst of binlog files only (MOCO writes no manifest), made by a real mysqld 9.7.
// The restore job restores it into another mysqld 9.7 to a point in time with the same
// inputs a MOCO user puts in spec.restore (source namespace/name, restore point).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { putArchive } from "../../../src/backup/archive.ts";
import { S3Bucket } from "../../../src/backup/bucket/s3.ts";
import { backupDir } from "../../../src/backup/keys.ts";
import type { MemoryClusterStore } from "../../../src/backup/kube.ts";
import { runRestore } from "../../../src/backup/restore.ts";
import { startMysqlds, type MysqldInstance, type MysqldSet } from "../../env/mysqld.ts";
import { startS3, type S3Server } from "../../env/storage.ts";
import { ADMIN_PASSWORD, clusterObject, makeWorkDir, memoryStore, prepareRestoreTarget, testLogger } from "../../env/backup-harness.ts";
import { expectedTables, exportedTable, extractFixture, writeBinlogsAroundPoint } from "../../env/mysqlsh-fixture.ts";

const NS = "prod";
let s3: S3Server;
let bucket: S3Bucket;
let mysqlds: MysqldSet;
let work: ReturnType<typeof makeWorkDir>;
let store: MemoryClusterStore;
let root: string;
const log = testLogger();

const inst = (i: number): MysqldInstance => {
  const x = mysqlds.instances[i];
  if (!x) throw new Error(`no instance ${i}`);
  return x;
};

before(async () => {
  s3 = await startS3();
  bucket = new S3Bucket({
    bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, usePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, partSize: 5 * 1024 * 1024,
  });
  mysqlds = await startMysqlds(2, { mycnf: "local_infile=0" });
  work = makeWorkDir();
  store = memoryStore();
  store.setCluster(clusterObject(NS, "dst"));
  store.setPods(NS, "dst", [{ name: "moco-dst-0", index: 0, ready: true, ip: inst(1).host }]);
  await prepareRestoreTarget(inst(1));
  root = path.join(work.workDir, "..", "moco-bucket");
  extractFixture(root, "dump");
});

after(async () => {
  await mysqlds?.stopAll();
  work?.cleanup();
  await bucket?.close();
  await s3?.stop();
});

/** Uploads `root/dump` as `<dir>dump.tar` (entries in lexical order, as MOCO's walk of the directory). */
async function uploadDump(dir: string): Promise<void> {
  const entries = fs.readdirSync(path.join(root, "dump")).sort().map((f) => `dump/${f}`);
  await putArchive({ bucket, key: `${dir}dump.tar`, root, entries, compression: "none", log });
}

async function targetState(): Promise<{ localInfile: number; superReadOnly: number; schemas: number }> {
  const c = await inst(1).connect();
  try {
    const [[r]] = (await c.query({ sql: "SELECT @@GLOBAL.local_infile, @@GLOBAL.super_read_only, (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql','sys','information_schema','performance_schema'))", rowsAsArray: true })) as unknown as [[unknown[]]];
    return { localInfile: Number(r[0]), superReadOnly: Number(r[1]), schemas: Number(r[2]) };
  } finally {
    await c.end();
  }
}

test("MOCO backup in S3 with an unknown MySQL Shell dump format: refused, the target untouched", async () => {
  const time = new Date(Math.floor(Date.now() / 1000) * 1000 - 120_000);
  const dir = backupDir(NS, "bad", time);
  const metaFile = path.join(root, "dump", "@.json");
  const meta = fs.readFileSync(metaFile, "utf8");
  fs.writeFileSync(metaFile, meta.replace(/"version": "1\.0\.0"/, '"version": "3.1.0"'));
  try { await uploadDump(dir); } finally { fs.writeFileSync(metaFile, meta); }
  store.setCluster(clusterObject(NS, "dst"));
  store.events.length = 0;
  const before = await targetState();
  await assert.rejects(runRestore({
    bucket, store, sourceNamespace: NS, sourceName: "bad", namespace: NS, name: "dst", restorePoint: time,
    password: ADMIN_PASSWORD, threads: 2, workDir: work.workDir, tools: work.tools, log, pollIntervalMs: 100, pollTries: 50, progressIntervalMs: 0,
  }), /MySQL Shell dump format 3\.1\.0 is not supported/);
  assert.deepEqual(store.events.map((e) => e.reason), ["RestoreFailed"]);
  assert.deepEqual(await targetState(), before);
  assert.deepEqual(before, { localInfile: 0, superReadOnly: 1, schemas: 0 });
});

test("MOCO backup directory (MySQL Shell dump + binlog.tar.zst) in S3 → new cluster at a point in time", async () => {
  const src = inst(0);
  const c = await src.connect();
  let restorePoint: Date;
  const dir = backupDir(NS, "src", new Date(Date.now() - 60_000));
  try {
    // The source holds the dump's table (created out of the binlog), then writes after the dump.
    const written = await writeBinlogsAroundPoint(c);
    restorePoint = written.restorePoint;
    fs.mkdirSync(path.join(root, "binlog"), { recursive: true });
    const files = fs.readdirSync(src.dataDir).filter((f) => /^binlog\.\d+$/.test(f) && f >= written.firstBinlog).sort();
    for (const f of files) fs.copyFileSync(path.join(src.dataDir, f), path.join(root, "binlog", f));
    await putArchive({ bucket, key: `${dir}binlog.tar.zst`, root, entries: files.map((f) => `binlog/${f}`), compression: "zstd", log });
  } finally {
    await c.end();
  }
  await uploadDump(dir);
  assert.deepEqual((await bucket.list(`moco/${NS}/src/`)).sort(), [`${dir}binlog.tar.zst`, `${dir}dump.tar`]);

  store.setCluster(clusterObject(NS, "dst"));
  store.events.length = 0;
  await runRestore({
    bucket, store, sourceNamespace: NS, sourceName: "src", namespace: NS, name: "dst", restorePoint,
    password: ADMIN_PASSWORD, threads: 3, workDir: work.workDir, tools: work.tools, log, pollIntervalMs: 100, pollTries: 50, progressIntervalMs: 0,
  });
  assert.deepEqual(store.events.map((e) => e.reason), ["Restored"]);
  assert.ok((await store.getCluster(NS, "dst")).status?.restoredTime, "status.restoredTime set");
  assert.deepEqual(await targetState(), { localInfile: 0, superReadOnly: 1, schemas: 8 });

  const t = await inst(1).connect();
  try {
    const [rows] = await t.query({ sql: "SELECT a, b FROM crazy_names_db.table2 WHERE b = 'point' ORDER BY a", rowsAsArray: true });
    assert.deepEqual(rows, [["before", "point"]], "the binlog replayed up to the restore point, not past it");
    for (const e of expectedTables(path.join(root, "dump"))) {
      const got = await exportedTable(t, e);
      const extra = e.schema === "crazy_names_db" && e.table === "table2" ? 1 : 0;
      assert.equal(got.rows, e.rows + extra, `${e.schema}.${e.table}: rows`);
      if (extra === 0) assert.equal(got.checksum, e.checksum, `${e.schema}.${e.table}: checksum`);
    }
  } finally {
    await t.end();
  }
});
