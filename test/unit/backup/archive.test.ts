// The archive helpers (archive.ts) over a local directory and an in-memory bucket:
// sizes, entry order, the manifest read from the head, refusal of unsafe entry names
// and of dumps written by MOCO (MySQL Shell's format).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import tar from "tar-stream";
import { extractArchive, packFiles, putArchive, readFirstEntry, safeEntryName, streamArchive, tarSize } from "../../../src/backup/archive.ts";
import { buffer as readAll } from "node:stream/consumers";
import { BucketError, type Bucket } from "../../../src/backup/bucket/types.ts";
import { readDumpHead, validateRestorePoint } from "../../../src/backup/restore.ts";
import { readBinlogManifest } from "../../../src/backup/binlog.ts";
import zlib from "node:zlib";
import { silentLogger } from "../../../src/util/log.ts";

class MemoryBucket implements Bucket {
  readonly backend = "s3" as const;
  readonly name = "mem";
  readonly objects = new Map<string, Buffer>();
  puts = 0;
  async put(key: string, body: Readable | Buffer): Promise<number> {
    this.puts++;
    const b = Buffer.isBuffer(body) ? body : await readAll(body);
    this.objects.set(key, b);
    return b.length;
  }
  async get(key: string): Promise<Readable> {
    const b = this.objects.get(key);
    if (!b) throw new BucketError("NotFound", `${key} not found`);
    return Readable.from([b], { objectMode: false });
  }
  async list(prefix: string) { return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort(); }
  async delete(key: string) { this.objects.delete(key); }
  async exists(key: string) { return this.objects.has(key); }
  async checkAccess() { /* always there */ }
  async close() { /* nothing held */ }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "moco-archive-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const log = silentLogger();

function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), body);
  }
}

async function tarOf(entries: { name: string; body: string; type?: "file" | "symlink" }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === "symlink") pack.entry({ name: e.name, type: "symlink", linkname: "/etc/passwd" });
    else pack.entry({ name: e.name }, e.body);
  }
  pack.finalize();
  return readAll(Readable.from(pack, { objectMode: false }));
}

test("safeEntryName keeps entries inside their top directory", () => {
  const cases: [string, string | undefined][] = [
    ["dump/manifest.json", "dump/manifest.json"],
    ["./dump/data/db/t/000000.tsv.zst", "dump/data/db/t/000000.tsv.zst"],
    ["dump//x", "dump/x"],
    ["dump/../etc/passwd", undefined],
    ["/dump/x", undefined],
    ["binlog/binlog.000001", undefined],
    ["dump", undefined],
    ["dump/a\0b", undefined],
  ];
  for (const [name, want] of cases) assert.equal(safeEntryName(name, "dump"), want, name);
});

test("packFiles writes the entries in the order given; tarSize predicts its length; extraction restores the tree", async () => {
  const root = path.join(tmp, "pack");
  const big = Buffer.alloc(70_000, 7);
  writeTree(root, { "dump/schema.json": "{}", "dump/data/db/t/000000.tsv.zst": big, "dump/manifest.json": "{\"m\":1}" });
  const order = ["dump/manifest.json", "dump/schema.json", "dump/data/db/t/000000.tsv.zst"];
  const bytes = await readAll(packFiles(root, order));
  assert.equal(bytes.length, tarSize([7, 2, big.length]));
  const names: string[] = [];
  const ex = tar.extract();
  const done = (async () => { for await (const e of ex) { names.push(e.header.name); e.resume(); } })();
  Readable.from([bytes]).pipe(ex);
  await done;
  assert.deepEqual(names, order);

  const bucket = new MemoryBucket();
  const size = await putArchive({ bucket, key: "moco/ns/c/20210101-000000/dump.tar", root, entries: order, compression: "none", log });
  assert.equal(size, bytes.length);
  const out = path.join(tmp, "out");
  const got = await extractArchive({ bucket, key: "moco/ns/c/20210101-000000/dump.tar", compression: "none", root: out, top: "dump", log });
  assert.equal(got, 7 + 2 + big.length);
  assert.deepEqual(fs.readFileSync(path.join(out, "dump/data/db/t/000000.tsv.zst")), big);
  assert.equal(fs.readFileSync(path.join(out, "dump/manifest.json"), "utf8"), "{\"m\":1}");

  const zkey = "moco/ns/c/20210101-000000/binlog.tar.zst";
  const zsize = await putArchive({ bucket, key: zkey, root, entries: order, compression: "zstd", log });
  assert.ok(zsize < bytes.length / 4, `zstd shrinks the repetitive archive (${zsize} of ${bytes.length})`);
  assert.equal((await readFirstEntry(bucket, zkey, "zstd", "dump/manifest.json")).toString(), "{\"m\":1}");
});

test("extraction refuses entries that would leave the directory, and links", async () => {
  const bucket = new MemoryBucket();
  bucket.objects.set("a/dump.tar", await tarOf([{ name: "dump/manifest.json", body: "{}" }, { name: "dump/../../evil", body: "x" }]));
  await assert.rejects(extractArchive({ bucket, key: "a/dump.tar", compression: "none", root: path.join(tmp, "e", "r"), top: "dump", log, attempts: 1 }),
    /unexpected archive entry "dump\/..\/..\/evil"/);
  assert.equal(fs.existsSync(path.join(tmp, "e", "evil")), false, "nothing written outside");
  bucket.objects.set("b/dump.tar", await tarOf([{ name: "dump/link", body: "", type: "symlink" }]));
  await assert.rejects(extractArchive({ bucket, key: "b/dump.tar", compression: "none", root: path.join(tmp, "link"), top: "dump", log, attempts: 1 }),
    /unexpected archive entry "dump\/link" \(symlink\)/);
});

test("readDumpHead reads the head of dump.tar: a moco-ts dump, or MOCO's MySQL Shell dump (format version checked when @.json comes first)", async () => {
  const bucket = new MemoryBucket();
  const schema = { format: "moco-ts-dump", version: 2, schemas: [{ name: "db1" }], users: [] };
  bucket.objects.set("d1/dump.tar", await tarOf([{ name: "dump/schema.json", body: JSON.stringify(schema) }, { name: "dump/manifest.json", body: "{}" }]));
  const h1 = await readDumpHead(bucket, "d1/");
  assert.equal(h1.kind === "moco-ts" ? h1.doc.schemas[0]?.name : h1.kind, "db1");
  const meta = { version: "2.0.1", schemas: ["s"], gtidExecuted: "" };
  bucket.objects.set("d2/dump.tar", await tarOf([{ name: "dump/@.json", body: JSON.stringify(meta) }, { name: "dump/@.done.json", body: "{}" }]));
  const h2 = await readDumpHead(bucket, "d2/");
  assert.deepEqual(h2.kind === "mysqlsh" ? [h2.kind, h2.meta?.version] : [h2.kind], ["mysqlsh", "2.0.1"], "MOCO's MySQL Shell dump, @.json read at once");
  bucket.objects.set("d2b/dump.tar", await tarOf([{ name: "dump/@.json", body: JSON.stringify({ ...meta, version: "3.0.0" }) }]));
  await assert.rejects(readDumpHead(bucket, "d2b/"), /d2b\/dump\.tar: dump\/@\.json: MySQL Shell dump format 3\.0\.0 is not supported/);
  bucket.objects.set("d2c/dump.tar", await tarOf([{ name: "dump/world.json", body: "{}" }, { name: "dump/@.json", body: JSON.stringify(meta) }]));
  assert.deepEqual(await readDumpHead(bucket, "d2c/"), { kind: "mysqlsh" }, "@.json elsewhere: checked after the download");
  bucket.objects.set("d3/dump.tar", await tarOf([{ name: "dump/schema.json", body: "{\"format\":\"other\"}" }]));
  await assert.rejects(readDumpHead(bucket, "d3/"), /d3\/dump\.tar: dump\/schema\.json is not a moco-ts dump manifest/);
  bucket.objects.set("d4/dump.tar", Buffer.from("not a tar at all, but long enough to hold a header? no.".repeat(20)));
  await assert.rejects(readDumpHead(bucket, "d4/"), /d4\/dump\.tar is not a readable archive/);
  await assert.rejects(readDumpHead(bucket, "d5/"), (e: unknown) => e instanceof BucketError && e.code === "NotFound");
});

/** Entry names of a tar in order. */
async function tarNames(b: Buffer): Promise<string[]> {
  const names: string[] = [];
  const ex = tar.extract();
  const done = (async () => { for await (const e of ex) { names.push(e.header.name); e.resume(); } })();
  Readable.from([b]).pipe(ex);
  await done;
  return names;
}

test("streamArchive uploads while the files are produced, in the order they complete", async () => {
  const root = path.join(tmp, "stream");
  const bucket = new MemoryBucket();
  // Causality, not timing: the producer holds back its last file until the upload has
  // started. An archive that uploaded only after the producer returned would never start it
  // (the guard below only keeps such a failure from hanging the test).
  let putStarted = (): void => undefined;
  const started = new Promise<boolean>((resolve) => {
    putStarted = () => resolve(true);
  });
  const put = bucket.put.bind(bucket);
  bucket.put = (key, body) => {
    putStarted();
    return put(key, body);
  };
  let putStartedBeforeLastFile = false;
  const names = ["dump/schema.json", "dump/data/a/000001.tsv", "dump/data/a/000000.tsv", "dump/manifest.json"];
  const r = await streamArchive({ bucket, key: "s/dump.tar", root, compression: "none", log }, async (add) => {
    for (const [i, name] of names.entries()) {
      if (i === names.length - 1) {
        const guard = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000).unref());
        putStartedBeforeLastFile = await Promise.race([started, guard]);
      }
      writeTree(root, { [name]: `file ${i} `.repeat(100 * (i + 1)) });
      add(name);
    }
    return "dumped";
  });
  assert.equal(r.value, "dumped");
  assert.ok(putStartedBeforeLastFile, "the upload runs while the files are produced");
  assert.equal(bucket.puts, 1);
  const obj = bucket.objects.get("s/dump.tar");
  assert.ok(obj);
  assert.equal(r.bytes, obj.length);
  assert.deepEqual(await tarNames(obj), ["dump/schema.json", "dump/data/a/000001.tsv", "dump/data/a/000000.tsv", "dump/manifest.json"]);
});

test("streamArchive: a failed streamed upload is re-sent from the files; a failed producer leaves no object", async () => {
  const root = path.join(tmp, "stream2");
  const flaky = new MemoryBucket();
  const put = flaky.put.bind(flaky);
  let calls = 0;
  flaky.put = async (key, body) => {
    if (calls++ === 0) {
      if (!Buffer.isBuffer(body)) { for await (const _c of body) break; body.destroy(); }
      throw new BucketError("Other", "connection reset");
    }
    return put(key, body);
  };
  const r = await streamArchive({ bucket: flaky, key: "k", root, compression: "zstd", log, retryBaseDelayMs: 1 }, async (add) => {
    for (const n of ["binlog/manifest.json", "binlog/binlog.000001", "binlog/binlog.000002"]) {
      writeTree(root, { [n]: n.repeat(2000) });
      add(n);
      await new Promise((res) => setTimeout(res, 5));
    }
  });
  assert.equal(calls, 2, "one streamed attempt, one re-send");
  assert.equal(r.bytes, flaky.objects.get("k")?.length);
  const out = path.join(tmp, "stream2-out");
  await extractArchive({ bucket: flaky, key: "k", compression: "zstd", root: out, top: "binlog", log });
  assert.equal(fs.readFileSync(path.join(out, "binlog/binlog.000002"), "utf8"), "binlog/binlog.000002".repeat(2000));

  const bucket = new MemoryBucket();
  await assert.rejects(streamArchive({ bucket, key: "broken", root, compression: "none", log }, async (add) => {
    add("binlog/manifest.json");
    await new Promise((res) => setTimeout(res, 5));
    throw new Error("the dump failed");
  }), /the dump failed/);
  assert.equal(bucket.objects.has("broken"), false, "no object for a failed dump");
});

test("a failed upload is re-sent from the files; a refused credential is not retried", async () => {
  const root = path.join(tmp, "retry");
  writeTree(root, { "binlog/manifest.json": "{}", "binlog/binlog.000001": "x".repeat(5000) });
  const flaky = new MemoryBucket();
  let failures = 1;
  const put = flaky.put.bind(flaky);
  flaky.put = async (key, body) => {
    if (failures-- > 0) throw new BucketError("Other", "connection reset");
    return put(key, body);
  };
  await putArchive({ bucket: flaky, key: "k", root, entries: ["binlog/manifest.json", "binlog/binlog.000001"], compression: "zstd", log, retryBaseDelayMs: 1 });
  assert.equal(flaky.puts, 1);
  assert.ok(flaky.objects.has("k"));
  const denied = new MemoryBucket();
  let calls = 0;
  denied.put = async () => { calls++; throw new BucketError("AccessDenied", "access denied"); };
  await assert.rejects(putArchive({ bucket: denied, key: "k", root, entries: ["binlog/manifest.json"], compression: "none", log, retryBaseDelayMs: 1 }), /access denied/);
  assert.equal(calls, 1);
});

test("a MOCO backup directory: MySQL Shell dump.tar and a binlog.tar.zst without manifest are planned for a restore", async () => {
  const bucket = new MemoryBucket();
  const dir = "moco/ns/c/20210101-000000/";
  const meta = { version: "1.0.0", schemas: ["s"], gtidExecuted: "" };
  bucket.objects.set(`${dir}dump.tar`, await tarOf([{ name: "dump/@.done.json", body: "{}" }, { name: "dump/@.json", body: JSON.stringify(meta) }]));
  bucket.objects.set(`${dir}binlog.tar.zst`, zlib.zstdCompressSync(await tarOf([{ name: "binlog/binlog.000001", body: "\xfebin" }])));
  assert.equal(await readBinlogManifest(bucket, dir), undefined, "MOCO's archive: no manifest");
  const v = await validateRestorePoint(bucket, "ns", "c", new Date("2021-01-01T00:30:00Z"));
  assert.deepEqual([v.plan.dump.dir, v.plan.binlog?.dir, v.head, v.binlog], [dir, dir, { kind: "mysqlsh" }, undefined]);
  bucket.objects.set(`${dir}binlog.tar.zst`, zlib.zstdCompressSync(await tarOf([{ name: "other/x", body: "x" }])));
  await assert.rejects(readBinlogManifest(bucket, dir), /does not start with binlog\/manifest\.json but with "other\/x"/);
});
