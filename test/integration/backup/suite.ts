// The backend-independent backup/restore suite: every object store runs exactly this.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { runBackup } from "../../../src/backup/backup.ts";
import type { Bucket } from "../../../src/backup/bucket/types.ts";
import { BucketError } from "../../../src/backup/bucket/types.ts";
import type { BinlogManifest, DumpManifest } from "../../../src/backup/dump/format.ts";
import { backupDir, formatBackupTime } from "../../../src/backup/keys.ts";
import type { MemoryClusterStore } from "../../../src/backup/kube.ts";
import { runRestore } from "../../../src/backup/restore.ts";
import type { BackupStatus } from "../../../src/api/v1beta2/index.ts";
import { gtidIntersect, gtidIsEmpty } from "../../../src/mysql/gtid.ts";
import { startMysqlds, type MysqldSet } from "../../env/mysqld.ts";
import {
  ADMIN_PASSWORD, BACKUP_PASSWORD, clusterObject, contentHashes, createBackupUser, makeWorkDir, memoryStore,
  nextSecond, objectInventory, populate, prepareRestoreTarget, sleep, testLogger, untarObject,
} from "../../env/backup-harness.ts";

export interface BackendFixture {
  bucket: Bucket;
  /** A bucket object for a bucket that does not exist. */
  missingBucket: () => Bucket;
  /** The same bucket with a refused credential (undefined when the emulator does not check credentials). */
  wrongCredential?: () => Bucket;
  stop: () => Promise<void>;
}

export interface SuiteOptions {
  bigRows?: number;
  /** Extra restores (exact dump time, schema/users filters). */
  extended?: boolean;
}

const NS = "prod";
const SRC = "src";

export function backupSuite(name: string, start: () => Promise<BackendFixture>, opts: SuiteOptions = {}): void {
  let fx: BackendFixture;
  let mysqlds: MysqldSet;
  let work: ReturnType<typeof makeWorkDir>;
  let store: MemoryClusterStore;
  const log = testLogger();
  const bigRows = opts.bigRows ?? 200_000;
  let first: BackupStatus;
  let second: BackupStatus;
  let restorePoint: Date;
  let hashesAtBackup: Record<string, string>;
  const targetCount = opts.extended ? 4 : 2;

  const backup = () => runBackup({
    namespace: NS, name: SRC, bucket: fx.bucket, store, password: BACKUP_PASSWORD, threads: 3,
    workDir: work.workDir, tools: work.tools, log, chunkRows: 40_000, progressIntervalMs: 0,
  });
  const restore = (target: number, point: Date, extra: { schema?: string; users?: { user: string; host?: string }[] } = {}) => {
    const dst = `dst${target}`;
    return runRestore({
      bucket: fx.bucket, store, sourceNamespace: NS, sourceName: SRC, namespace: NS, name: dst, restorePoint: point,
      password: ADMIN_PASSWORD, threads: 3, workDir: work.workDir, tools: work.tools, log, pollIntervalMs: 100, pollTries: 50,
      progressIntervalMs: 0, ...extra,
    });
  };

  before(async () => {
    fx = await start();
    mysqlds = await startMysqlds(1 + targetCount, { mycnf: "binlog_expire_logs_seconds=0\nlocal_infile=0" });
    work = makeWorkDir();
    store = memoryStore();
    const [src, ...targets] = mysqlds.instances;
    if (!src) throw new Error("no source");
    store.setCluster(clusterObject(NS, SRC));
    store.setPods(NS, SRC, [{ name: `moco-${SRC}-0`, index: 0, ready: true, ip: src.host }]);
    for (const [i, t] of targets.entries()) {
      store.setCluster(clusterObject(NS, `dst${i + 1}`));
      store.setPods(NS, `dst${i + 1}`, [{ name: `moco-dst${i + 1}-0`, index: 0, ready: true, ip: t.host }]);
      await prepareRestoreTarget(t);
    }
    await createBackupUser(src);
    const c = await src.connect();
    try { await populate(c, bigRows); } finally { await c.end(); }
  });

  after(async () => {
    await mysqlds?.stopAll();
    work?.cleanup();
    await fx?.stop();
  });

  const src = () => mysqlds.instances[0] as NonNullable<MysqldSet["instances"][0]>;
  const tgt = (i: number) => mysqlds.instances[i] as NonNullable<MysqldSet["instances"][0]>;

  test(`${name}: full backup records status and uploads dump.tar (schema first, chunked data, manifest last) as MOCO names it`, async () => {
    const c = await src().connect();
    try { hashesAtBackup = await contentHashes(c, ["db1", "odd name-2"]); } finally { await c.end(); }
    first = await backup();
    assert.equal(first.sourceIndex, 0);
    assert.match(first.sourceUUID, /^[0-9a-f-]{36}$/);
    assert.deepEqual(first.uuidSet, { "0": first.sourceUUID });
    assert.match(first.binlogFilename, /^binlog\.\d{6}$/);
    assert.notEqual(first.gtidSet, "");
    assert.ok(first.dumpSize > 0);
    assert.equal(first.binlogSize, 0);
    assert.ok(first.workDirUsage > 0);
    assert.deepEqual(first.warnings, []);
    const stored = (await store.getCluster(NS, SRC)).status?.backup;
    assert.deepEqual(stored, first);
    assert.deepEqual(store.events.map((e) => e.reason), ["BackupCreated"]);
    const dir = backupDir(NS, SRC, new Date(Date.parse(first.time as string)));
    assert.deepEqual(await fx.bucket.list(dir), [`${dir}dump.tar`], "one object per backup directory, as MOCO");
    const local = path.join(work.workDir, "..", "untar-dump");
    const entries = await untarObject(fx.bucket, `${dir}dump.tar`, local, false);
    assert.equal(entries[0], "dump/schema.json", "the schema document heads the archive");
    assert.equal(entries.at(-1), "dump/manifest.json", "the manifest ends it");
    assert.ok(entries.every((e) => e.startsWith("dump/")), "everything under dump/");
    let tarBytes = 0;
    for await (const b of await fx.bucket.get(`${dir}dump.tar`)) tarBytes += (b as Buffer).length;
    assert.equal(first.dumpSize, tarBytes, "dumpSize is the size of dump.tar");
    const m = JSON.parse(fs.readFileSync(path.join(local, "dump", "manifest.json"), "utf8")) as DumpManifest;
    const big = m.tables.find((t) => t.schema === "db1" && t.name === "big");
    assert.ok(big && big.chunks.length >= 4, `big table split into ${big?.chunks.length} chunks`);
    assert.equal(big.rows, bigRows);
    assert.equal(m.gtidExecuted, first.gtidSet);
    for (const t of m.tables) for (const ch of t.chunks) assert.ok(entries.includes(`dump/${ch.key}`), `chunk ${ch.key} archived`);
    assert.equal(entries.length, 2 + m.totals.chunks);
    fs.rmSync(local, { recursive: true, force: true });
    assert.equal(m.tables.find((t) => t.name === "special")?.columns.some((col) => col.name === "gen" || col.name === "vgen"), false);
  });

  test(`${name}: an incremental backup uploads only the binlogs written since the first one`, async () => {
    const s = src();
    const c = await s.connect();
    try {
      await c.query("INSERT INTO db1.pitr VALUES (2, 'after-backup-1')");
      await c.query("FLUSH BINARY LOGS");
      await c.query("INSERT INTO db1.pitr VALUES (3, 'before-restore-point')");
      await c.query("UPDATE db1.big SET s = 'updated' WHERE id = 7");
      restorePoint = await nextSecond();
      await sleep(1100);
      await c.query("INSERT INTO db1.pitr VALUES (4, 'after-restore-point')");
      await c.query("DELETE FROM db1.big WHERE id = 8");
      await sleep(1000);
    } finally { await c.end(); }
    second = await backup();
    assert.ok(second.binlogSize > 0, "binlogSize > 0");
    assert.deepEqual(second.warnings, []);
    const dir1 = backupDir(NS, SRC, new Date(Date.parse(first.time as string)));
    const local = path.join(work.workDir, "..", "decode");
    const entries = await untarObject(fx.bucket, `${dir1}binlog.tar.zst`, local, true);
    assert.equal(entries[0], "binlog/manifest.json");
    assert.ok(entries.slice(1).every((e) => /^binlog\/binlog\.\d{6}$/.test(e)), `only binlog files besides the manifest: ${entries.join(", ")}`);
    const bm = JSON.parse(fs.readFileSync(path.join(local, "binlog", "manifest.json"), "utf8")) as BinlogManifest;
    assert.deepEqual(entries.slice(1), bm.files.map((f) => `binlog/${f.name}`));
    assert.equal(bm.startFile, first.binlogFilename);
    assert.equal(bm.excludeGtids, first.gtidSet);
    assert.ok(bm.files.length >= 2, "FLUSH BINARY LOGS made a second file");
    // Decode the archived binlogs: no transaction of the first dump is in them.
    const gtids: string[] = [];
    for (const f of bm.files) {
      const { execFileSync } = await import("node:child_process");
      const text = execFileSync(work.tools.mysqlbinlog[0] as string, ["mysqlbinlog", f.name], { cwd: path.join(local, "binlog"), maxBuffer: 1 << 28 }).toString();
      for (const m of text.matchAll(/GTID_NEXT= '([^']+)'/g)) if (m[1] !== "AUTOMATIC") gtids.push(m[1] as string);
    }
    assert.ok(gtids.length >= 4, `found ${gtids.length} GTIDs in the archive`);
    assert.ok(gtidIsEmpty(gtidIntersect(gtids.join(","), first.gtidSet)), "no GTID of the first dump in the binlog archive");
    assert.deepEqual(store.events.map((e) => e.reason), ["BackupCreated", "BackupCreated"]);
  });

  test(`${name}: point-in-time restore replays binlogs up to exactly the restore point`, async () => {
    await restore(1, restorePoint);
    const restored = (await store.getCluster(NS, "dst1")).status?.restoredTime;
    assert.ok(restored, "restoredTime set");
    assert.equal(store.events.at(-1)?.reason, "Restored");
    const c = await tgt(1).connect();
    const sc = await src().connect();
    try {
      const [rows] = await c.query("SELECT id, label FROM db1.pitr ORDER BY id");
      assert.deepEqual(rows, [
        { id: 1, label: "in-dump" }, { id: 2, label: "after-backup-1" }, { id: 3, label: "before-restore-point" },
      ]);
      const [[u]] = await c.query("SELECT s FROM db1.big WHERE id = 7") as unknown as [{ s: string }[]];
      assert.equal(u?.s, "updated");
      const [[d]] = await c.query("SELECT COUNT(*) AS n FROM db1.big WHERE id = 8") as unknown as [{ n: number }[]];
      assert.equal(d?.n, 1, "the delete after the restore point is not replayed");
      // Tables untouched after the first backup are identical to the source.
      const h = await contentHashes(c, ["db1", "odd name-2"]);
      for (const [k, v] of Object.entries(hashesAtBackup)) {
        if (["db1.pitr", "db1.big", "db1.audit"].includes(k)) continue;
        assert.equal(h[k], v, `content of ${k}`);
      }
      assert.deepEqual(await objectInventory(c), await objectInventory(sc));
      const [[ro]] = await c.query("SELECT @@super_read_only AS r, @@local_infile AS l") as unknown as [{ r: number; l: number }[]];
      assert.deepEqual(ro, { r: 1, l: 0 });
      const [grants] = await c.query("SHOW GRANTS FOR 'app'@'%'");
      assert.ok(JSON.stringify(grants).includes("app_role"), "role grant restored");
      const [[gt]] = await c.query("SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed) AS ok", [first.gtidSet]) as unknown as [{ ok: number }[]];
      assert.equal(gt?.ok, 1, "the dump's GTIDs are executed on the target");
      // the view on the big table works
      const [[n]] = await c.query("SELECT n FROM db1.a_view_of_view") as unknown as [{ n: number }[]];
      assert.equal(n?.n, 10);
    } finally {
      await c.end();
      await sc.end();
    }
  });

  test(`${name}: a restore point before the first backup fails clearly and changes nothing`, async () => {
    const before = new Date(Date.parse(first.time as string) - 3600_000);
    await assert.rejects(restore(2, before), /before the first backup/);
    assert.equal((await store.getCluster(NS, "dst2")).status?.restoredTime, undefined);
    assert.equal(store.events.at(-1)?.reason, "RestoreFailed");
    assert.match(store.events.at(-1)?.message ?? "", /before the first backup/);
    const c = await tgt(2).connect();
    try {
      const [r] = await c.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'db1'");
      assert.deepEqual(r, []);
    } finally { await c.end(); }
  });

  test(`${name}: a restore point after the last backup (no binlog covers it) fails clearly`, async () => {
    const later = new Date(Date.parse(second.time as string) + 3600_000);
    await assert.rejects(restore(2, later), /not covered/);
    assert.equal((await store.getCluster(NS, "dst2")).status?.restoredTime, undefined);
  });

  test(`${name}: a missing bucket and a refused credential fail the backup with a clear message`, async () => {
    const missing = fx.missingBucket();
    await assert.rejects(runBackup({
      namespace: NS, name: SRC, bucket: missing, store, password: BACKUP_PASSWORD, threads: 1, workDir: work.workDir,
      tools: work.tools, log,
    }), (e: unknown) => e instanceof BucketError && e.code === "NoSuchBucket" && /does not exist/.test(e.message));
    await missing.close();
    if (fx.wrongCredential) {
      const wrong = fx.wrongCredential();
      await assert.rejects(runBackup({
        namespace: NS, name: SRC, bucket: wrong, store, password: BACKUP_PASSWORD, threads: 1, workDir: work.workDir,
        tools: work.tools, log,
      }), (e: unknown) => e instanceof BucketError && e.code === "AccessDenied" && /denied/.test(e.message));
      await wrong.close();
    }
    assert.deepEqual((await store.getCluster(NS, SRC)).status?.backup, second, "status unchanged by failed backups");
  });

  if (opts.extended) {
    test(`${name}: a restore point equal to a dump time restores that dump without replay`, async () => {
      await restore(2, new Date(Date.parse(second.time as string)));
      const c = await tgt(2).connect();
      try {
        const [rows] = await c.query("SELECT id FROM db1.pitr ORDER BY id");
        assert.deepEqual((rows as { id: number }[]).map((r) => r.id), [1, 2, 3, 4]);
      } finally { await c.end(); }
    });

    test(`${name}: schema and users filters restore only that schema and those accounts`, async () => {
      await restore(3, restorePoint, { schema: "odd name-2", users: [{ user: "other" }] });
      const c = await tgt(3).connect();
      try {
        const [s] = await c.query("SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('db1', 'odd name-2')");
        assert.deepEqual(s, [{ s: "odd name-2" }]);
        const [u] = await c.query("SELECT User AS u FROM mysql.user WHERE User IN ('app', 'app_role', 'other')");
        assert.deepEqual(u, [{ u: "other" }]);
        const [[v]] = await c.query("SELECT HEX(v) AS h FROM `odd name-2`.`tbl.with/odd` WHERE id = 1") as unknown as [{ h: string }[]];
        assert.equal(v?.h, "636166E9", "latin1 bytes preserved");
      } finally { await c.end(); }
    });

    test(`${name}: the bucket holds MOCO's keys: dump.tar per backup, binlog.tar.zst under the previous one`, async () => {
      const keys = await fx.bucket.list(`moco/${NS}/${SRC}/`);
      const d1 = formatBackupTime(new Date(Date.parse(first.time as string)));
      const d2 = formatBackupTime(new Date(Date.parse(second.time as string)));
      assert.deepEqual(keys, [
        `moco/${NS}/${SRC}/${d1}/binlog.tar.zst`, `moco/${NS}/${SRC}/${d1}/dump.tar`, `moco/${NS}/${SRC}/${d2}/dump.tar`,
      ]);
    });
  }
}
