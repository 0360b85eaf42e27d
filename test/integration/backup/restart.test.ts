// Restart: object-store failures in the middle of the archive uploads and downloads are
// retried (the dump is re-sent from the work directory, not redone) and the result is
// still exact (real S3 server, real mysqld).
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import { runBackup } from "../../../src/backup/backup.ts";
import { S3Bucket } from "../../../src/backup/bucket/s3.ts";
import { BucketError, type Bucket, type PutOptions } from "../../../src/backup/bucket/types.ts";
import { runRestore } from "../../../src/backup/restore.ts";
import { startMysqlds, type MysqldSet } from "../../env/mysqld.ts";
import { startS3, type S3Server } from "../../env/storage.ts";
import {
  ADMIN_PASSWORD, BACKUP_PASSWORD, clusterObject, contentHashes, createBackupUser, makeWorkDir, memoryStore,
  prepareRestoreTarget, testLogger,
} from "../../env/backup-harness.ts";

/** Breaks the first upload and the first full download of every archive part-way through its bytes. */
class FlakyBucket implements Bucket {
  readonly backend = "s3" as const;
  readonly name: string;
  readonly inner: Bucket;
  readonly failedPuts: string[] = [];
  readonly failedGets: string[] = [];
  constructor(inner: Bucket) { this.inner = inner; this.name = inner.name; }
  async put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<number> {
    if (/\.tar(\.zst)?$/.test(key) && !this.failedPuts.includes(key) && !Buffer.isBuffer(body)) {
      this.failedPuts.push(key);
      let seen = 0;
      for await (const c of body) { seen += (c as Buffer).length; if (seen > 1024) break; }
      body.destroy();
      throw new BucketError("Other", `injected upload failure for ${key} after ${seen} bytes`);
    }
    return this.inner.put(key, body, opts);
  }
  async get(key: string): Promise<Readable> {
    const body = await this.inner.get(key);
    // readFirstEntry reads only the head of an archive; the extraction reads all of it.
    if (!/\.tar(\.zst)?$/.test(key) || this.failedGets.includes(key)) return body;
    const failed = this.failedGets;
    return Readable.from((async function* () {
      let seen = 0;
      for await (const c of body) {
        seen += (c as Buffer).length;
        if (seen > 64 * 1024) {
          failed.push(key);
          body.destroy();
          throw new BucketError("Other", `injected download failure for ${key}`);
        }
        yield c as Buffer;
      }
    })(), { objectMode: false });
  }
  list(prefix: string) { return this.inner.list(prefix); }
  delete(key: string) { return this.inner.delete(key); }
  exists(key: string) { return this.inner.exists(key); }
  checkAccess() { return this.inner.checkAccess(); }
  close() { return this.inner.close(); }
}

let s3: S3Server;
let mysqlds: MysqldSet;
let work: ReturnType<typeof makeWorkDir>;
let bucket: FlakyBucket;
const log = testLogger();

before(async () => {
  [s3, mysqlds] = await Promise.all([startS3(), startMysqlds(2)]);
  work = makeWorkDir();
  bucket = new FlakyBucket(new S3Bucket({ bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, usePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } }));
  const [src, dst] = mysqlds.instances;
  if (!src || !dst) throw new Error("need 2");
  await createBackupUser(src);
  await prepareRestoreTarget(dst);
  const c = await src.connect();
  try {
    await c.query("CREATE DATABASE r");
    await c.query("USE r");
    await c.query("CREATE TABLE r.t (id INT PRIMARY KEY, v VARCHAR(64))");
    await c.query("SET SESSION cte_max_recursion_depth = 1000000");
    await c.query("INSERT INTO r.t WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 30000) SELECT i, SHA2(i, 224) FROM s");
    await c.query("ANALYZE TABLE r.t");
  } finally { await c.end(); }
});

after(async () => {
  await bucket?.close();
  await Promise.all([s3?.stop(), mysqlds?.stopAll()]);
  work?.cleanup();
});

test("a broken archive upload is re-sent from the work directory, a broken download is fetched again; the restore is exact", async () => {
  const store = memoryStore();
  const [src, dst] = mysqlds.instances as [NonNullable<MysqldSet["instances"][0]>, NonNullable<MysqldSet["instances"][0]>];
  store.setCluster(clusterObject("ns", "src"));
  store.setPods("ns", "src", [{ name: "moco-src-0", index: 0, ready: true, ip: src.host }]);
  store.setCluster(clusterObject("ns", "dst"));
  store.setPods("ns", "dst", [{ name: "moco-dst-0", index: 0, ready: true, ip: dst.host }]);
  const st = await runBackup({ namespace: "ns", name: "src", bucket, store, password: BACKUP_PASSWORD, threads: 2,
    workDir: work.workDir, tools: work.tools, log, chunkRows: 3000, progressIntervalMs: 0 });
  assert.equal(bucket.failedPuts.length, 1, `injected upload failures: ${bucket.failedPuts.join(", ")}`);
  assert.match(bucket.failedPuts[0] ?? "", /\/dump\.tar$/);
  assert.ok(st.dumpSize > 64 * 1024, `dump.tar is ${st.dumpSize} bytes (the download failure needs more than 64 KiB)`);
  await runRestore({ bucket, store, sourceNamespace: "ns", sourceName: "src", namespace: "ns", name: "dst",
    restorePoint: new Date(Date.parse(st.time as string)), password: ADMIN_PASSWORD, threads: 2, workDir: work.workDir,
    tools: work.tools, log, pollIntervalMs: 100, pollTries: 20, progressIntervalMs: 0 });
  assert.equal(bucket.failedGets.length, 1, `injected download failures: ${bucket.failedGets.join(", ")}`);
  const a = await src.connect();
  const b = await dst.connect();
  try {
    assert.deepEqual(await contentHashes(b, ["r"]), await contentHashes(a, ["r"]));
  } finally { await a.end(); await b.end(); }
});
