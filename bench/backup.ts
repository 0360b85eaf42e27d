// Benchmark (not a test): moco-ts backup/restore throughput against `mysqldump | gzip` and
// `gunzip | mysql`, on real mysqld 9.7 and a real S3 server (versitygw), in one run.
//
//   node bench/backup.ts                       # ~1 GiB of table data (default)
//   BENCH_MB=200 BENCH_THREADS=2 node bench/backup.ts
//
// Both sides upload to / download from the same bucket so the comparison includes the
// object store; the baseline dump is `mysqldump --single-transaction` piped through gzip.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { runBackup } from "../src/backup/backup.ts";
import { S3Bucket } from "../src/backup/bucket/s3.ts";
import { runRestore } from "../src/backup/restore.ts";
import { writeClientDefaults } from "../src/backup/tools.ts";
import { startMysqlds } from "../test/env/mysqld.ts";
import { startS3 } from "../test/env/storage.ts";
import {
  ADMIN_PASSWORD, BACKUP_PASSWORD, clusterObject, contentHashes, createBackupUser, makeWorkDir, memoryStore,
  prepareRestoreTarget, silentOr,
} from "./harness-link.ts";

const MB = Number(process.env["BENCH_MB"] ?? 1024);
const THREADS = Number(process.env["BENCH_THREADS"] ?? 4);
const TABLES = 4;
const ROW_BYTES = 220; // approximate on-disk payload per row of the generated tables
const rowsPerTable = Math.ceil((MB * 1024 * 1024) / ROW_BYTES / TABLES);

const mycnf = ["innodb_buffer_pool_size=512M", "innodb_flush_log_at_trx_commit=2", "sync_binlog=0",
  "innodb_redo_log_capacity=512M", "local_infile=0"].join("\n");

function sh(cmd: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn("bash", ["-o", "pipefail", "-c", cmd], { stdio: ["ignore", "ignore", "pipe"], env });
    let err = "";
    p.stderr.on("data", (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
    p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd.slice(0, 80)}… exited ${code}: ${err}`))));
  });
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  process.stderr.write(`  ${label}: ${(ms / 1000).toFixed(1)} s\n`);
  return { ms, value };
}

const mibps = (bytes: number, ms: number) => (bytes / 1048576 / (ms / 1000)).toFixed(1);

async function main(): Promise<void> {
  process.stderr.write(`bench: ${MB} MiB target (${TABLES} tables × ${rowsPerTable} rows), threads=${THREADS}\n`);
  const [s3, set] = await Promise.all([startS3(), startMysqlds(3, { mycnf })]);
  const work = makeWorkDir();
  const [src, dstMoco, dstBase] = set.instances;
  if (!src || !dstMoco || !dstBase) throw new Error("need 3 instances");
  const bucket = new S3Bucket({ bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, usePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, partSize: 16 * 1024 * 1024 });
  try {
    await createBackupUser(src);
    await prepareRestoreTarget(dstMoco);
    // --- data
    const gen = await timed("generate data", async () => {
      const c = await src.connect();
      try {
        await c.query("CREATE DATABASE bench");
        await c.query("USE bench");
        await c.query("SET SESSION cte_max_recursion_depth = 100000000");
        for (let t = 0; t < TABLES; t++) {
          await c.query(`CREATE TABLE bench.t${t} (id BIGINT PRIMARY KEY, a VARCHAR(64), b VARCHAR(96), c DOUBLE, d DATETIME,
            e INT, f VARBINARY(48), KEY (e))`);
          const step = 200_000;
          for (let lo = 0; lo < rowsPerTable; lo += step) {
            const hi = Math.min(rowsPerTable, lo + step);
            await c.query(`INSERT INTO bench.t${t}
              WITH RECURSIVE s(i) AS (SELECT ${lo + 1} UNION ALL SELECT i + 1 FROM s WHERE i < ${hi})
              SELECT i, SHA2(i, 256), CONCAT('name-', i, '-', SHA2(i * 7, 224)), i / 3, TIMESTAMPADD(SECOND, i, '2020-01-01'),
                i % 1000, UNHEX(SHA2(i, 384)) FROM s`);
          }
          await c.query(`ANALYZE TABLE bench.t${t}`);
        }
        const [[r]] = await c.query("SELECT SUM(DATA_LENGTH) AS d FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'bench'") as unknown as [{ d: string }[]];
        return Number(r?.d ?? 0);
      } finally { await c.end(); }
    });
    const dataBytes = gen.value;
    process.stderr.write(`  InnoDB data: ${(dataBytes / 1048576).toFixed(0)} MiB\n`);

    // --- moco-ts backup
    const store = memoryStore();
    store.setCluster(clusterObject("bench", "src"));
    store.setPods("bench", "src", [{ name: "moco-src-0", index: 0, ready: true, ip: src.host }]);
    store.setCluster(clusterObject("bench", "dst"));
    store.setPods("bench", "dst", [{ name: "moco-dst-0", index: 0, ready: true, ip: dstMoco.host }]);
    const log = silentOr();
    const mocoBackup = await timed("moco-ts backup (dump + upload)", () => runBackup({
      namespace: "bench", name: "src", bucket, store, password: BACKUP_PASSWORD, threads: THREADS, workDir: work.workDir,
      tools: work.tools, log, progressIntervalMs: 0,
    }));
    // --- moco-ts restore
    const mocoRestore = await timed("moco-ts restore (download + load)", () => runRestore({
      bucket, store, sourceNamespace: "bench", sourceName: "src", namespace: "bench", name: "dst",
      restorePoint: new Date(Date.parse(mocoBackup.value.time as string)), password: ADMIN_PASSWORD, threads: THREADS,
      workDir: work.workDir, tools: work.tools, log, pollIntervalMs: 200, pollTries: 50, progressIntervalMs: 0,
    }));

    // --- baseline: mysqldump | gzip, upload; download, gunzip | mysql
    const base = path.join(work.workDir, "baseline");
    fs.mkdirSync(base, { recursive: true });
    writeClientDefaults(base, src.rootPassword);
    const wrapper = work.tools.mysql[0] as string;
    const dumpFile = path.join(base, "dump.sql.gz");
    const baseDump = await timed("mysqldump | gzip (+ upload)", async () => {
      await sh(`cd '${base}' && '${wrapper}' mysqldump --defaults-extra-file=client.cnf -h ${src.host} -u root --protocol=tcp ` +
        `--single-transaction --set-gtid-purged=OFF --routines --events --triggers --databases bench | gzip > '${dumpFile}'`);
      return bucket.put("baseline/dump.sql.gz", fs.createReadStream(dumpFile), { sizeHint: fs.statSync(dumpFile).size });
    });
    fs.rmSync(dumpFile);
    const baseRestore = await timed("(download +) gunzip | mysql", async () => {
      const body = await bucket.get("baseline/dump.sql.gz");
      await new Promise<void>((resolve, reject) => {
        const out = fs.createWriteStream(dumpFile);
        body.pipe(out).on("finish", () => resolve()).on("error", reject);
      });
      await sh(`cd '${base}' && gunzip -c '${dumpFile}' | '${wrapper}' mysql --defaults-extra-file=client.cnf -h ${dstBase.host} ` +
        `-u root --protocol=tcp`);
    });

    // --- correctness of both restores
    const [a, b, c] = await Promise.all([src.connect(), dstMoco.connect(), dstBase.connect()]);
    try {
      const hs = await contentHashes(a, ["bench"]);
      const hm = await contentHashes(b, ["bench"]);
      const hb = await contentHashes(c, ["bench"]);
      if (JSON.stringify(hs) !== JSON.stringify(hm)) throw new Error("moco-ts restore differs from the source");
      if (JSON.stringify(hs) !== JSON.stringify(hb)) throw new Error("mysqldump restore differs from the source");
    } finally { await Promise.all([a.end(), b.end(), c.end()]); }

    const rows = [
      ["", "moco-ts", "mysqldump|gzip / mysql", "ratio (speed-up)"],
      ["backup s", (mocoBackup.ms / 1000).toFixed(1), (baseDump.ms / 1000).toFixed(1), (baseDump.ms / mocoBackup.ms).toFixed(2) + "×"],
      ["backup MiB/s (of InnoDB data)", mibps(dataBytes, mocoBackup.ms), mibps(dataBytes, baseDump.ms), ""],
      ["restore s", (mocoRestore.ms / 1000).toFixed(1), (baseRestore.ms / 1000).toFixed(1), (baseRestore.ms / mocoRestore.ms).toFixed(2) + "×"],
      ["restore MiB/s (of InnoDB data)", mibps(dataBytes, mocoRestore.ms), mibps(dataBytes, baseRestore.ms), ""],
      ["uploaded MiB", (mocoBackup.value.dumpSize / 1048576).toFixed(1), (baseDump.value / 1048576).toFixed(1),
        (mocoBackup.value.dumpSize / baseDump.value).toFixed(2)],
    ];
    const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    process.stdout.write(`\nbackup benchmark: ${(dataBytes / 1048576).toFixed(0)} MiB InnoDB data, ${TABLES * rowsPerTable} rows, threads=${THREADS}\n`);
    for (const r of rows) process.stdout.write(r.map((x, i) => x.padEnd(w[i]!)).join("  ") + "\n");
  } finally {
    await bucket.close();
    await Promise.all([s3.stop(), set.stopAll()]);
    work.cleanup();
  }
}

main().catch((e: unknown) => { process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1; });
