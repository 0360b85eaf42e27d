// Binary-log backup (backup.md §5.1.2) and replay (§5.2 step 8) around mysqlbinlog.
//
// Backup: `mysqlbinlog --read-from-remote-source=BINLOG-DUMP-GTIDS --exclude-gtids=<last
// gtidSet> --to-last-log --raw <start file>` writes the source's binlog files into the
// work directory; each is compressed and uploaded as <prev backup dir>binlog/<file>.<ext>,
// then binlog/manifest.json (written last) lists them.
// Replay: download, verify and decompress the files, then
// `mysqlbinlog --stop-datetime=<restore point> [--database=<schema>] files… | mysql --binary-mode`
// with TZ=UTC. Transactions already in the dump are skipped by GTID.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Bucket } from "./bucket/types.ts";
import { BucketError } from "./bucket/types.ts";
import type { MysqlTarget } from "./db.ts";
import {
  BINLOG_FORMAT,
  compressionExt,
  createCompressor,
  createDecompressor,
  defaultCompression,
  type BinlogFileEntry,
  type BinlogManifest,
  type Compression,
} from "./dump/format.ts";
import { BINLOG_DIR, MANIFEST, formatStopDatetime } from "./keys.ts";
import type { Logger } from "./log.ts";
import { withRetry } from "./retry.ts";
import { spawnTool, writeClientDefaults, type Tools } from "./tools.ts";

/** Numeric suffix order of binlog file names (binlog.000009 < binlog.000010). */
export function sortBinlogNames(names: readonly string[]): string[] {
  const num = (n: string) => { const m = /\.(\d+)$/.exec(n); return m ? Number(m[1]) : -1; };
  return [...names].sort((a, b) => num(a) - num(b) || a.localeCompare(b));
}

export interface BinlogBackupOptions {
  source: MysqlTarget;
  bucket: Bucket;
  /** Directory of the previous backup (ending with '/'). */
  dir: string;
  since: Date;
  takenAt: Date;
  sourceIndex: number;
  startFile: string;
  excludeGtids: string;
  workDir: string;
  tools: Tools;
  log: Logger;
  compression?: Compression;
}

export interface BinlogBackupResult {
  manifest: BinlogManifest;
  /** Bytes uploaded. */
  binlogSize: number;
  /** Bytes of raw binlog files held in the work directory. */
  workDirUsage: number;
}

export async function backupBinlogs(o: BinlogBackupOptions): Promise<BinlogBackupResult> {
  const compression = o.compression ?? defaultCompression();
  const ext = compressionExt(compression);
  const base = path.join(o.workDir, "binlog");
  fs.rmSync(base, { recursive: true, force: true });
  const files = path.join(base, "files");
  fs.mkdirSync(files, { recursive: true });
  try {
    writeClientDefaults(base, o.source.password);
    const args = [
      "--defaults-extra-file=../client.cnf",
      "-h", o.source.host, "--port", String(o.source.port), "--protocol=tcp", "-u", o.source.user,
      "--get-server-public-key", "--read-from-remote-source=BINLOG-DUMP-GTIDS",
      `--exclude-gtids=${o.excludeGtids}`, "--to-last-log", "--raw", o.startFile,
    ];
    o.log.info({ startFile: o.startFile, excludeGtids: o.excludeGtids }, "fetching binary logs");
    const t = spawnTool(o.tools.mysqlbinlog, args, {
      cwd: files, stdout: "ignore", secrets: [o.source.password], onStderr: (l) => o.log.info({ tool: "mysqlbinlog" }, l),
    });
    await t.done;
    const coveredUntil = new Date();
    const names = sortBinlogNames(fs.readdirSync(files).filter((n) => n.startsWith("binlog.")));
    if (names.length === 0) throw new Error(`mysqlbinlog wrote no binlog files starting from ${o.startFile}`);
    let usage = 0;
    for (const n of names) usage += fs.statSync(path.join(files, n)).size;
    const entries: BinlogFileEntry[] = [];
    let binlogSize = 0;
    for (const n of names) {
      const file = path.join(files, n);
      const key = `${o.dir}${BINLOG_DIR}/${n}.${ext}`;
      const compressed = `${file}.${ext}`;
      const hash = createHash("sha256");
      let compressedBytes = 0;
      const comp = createCompressor(compression);
      comp.on("data", (b: Buffer) => { hash.update(b); compressedBytes += b.length; });
      await pipeline(fs.createReadStream(file), comp, fs.createWriteStream(compressed));
      const uploaded = await withRetry(() => o.bucket.put(key, fs.createReadStream(compressed), { sizeHint: compressedBytes }), {
        attempts: 5, baseDelayMs: 500, isTransient: (e) => !(e instanceof BucketError) || e.code === "Other",
      });
      binlogSize += uploaded;
      entries.push({ name: n, key, bytes: fs.statSync(file).size, compressedBytes, sha256: hash.digest("hex") });
      fs.rmSync(compressed, { force: true });
    }
    const manifest: BinlogManifest = {
      format: BINLOG_FORMAT, version: 1,
      since: o.since.toISOString(), takenAt: o.takenAt.toISOString(), coveredUntil: coveredUntil.toISOString(),
      sourceIndex: o.sourceIndex, startFile: o.startFile, excludeGtids: o.excludeGtids, compression, files: entries,
    };
    binlogSize += await o.bucket.put(`${o.dir}${BINLOG_DIR}/${MANIFEST}`, Buffer.from(JSON.stringify(manifest)));
    o.log.info({ files: names.length, binlogSize }, "binary logs uploaded");
    return { manifest, binlogSize, workDirUsage: usage };
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

export interface ReplayOptions {
  target: MysqlTarget;
  bucket: Bucket;
  manifest: BinlogManifest;
  restorePoint: Date;
  schema?: string;
  workDir: string;
  tools: Tools;
  log: Logger;
}

export async function replayBinlogs(o: ReplayOptions): Promise<void> {
  const base = path.join(o.workDir, "binlog");
  fs.rmSync(base, { recursive: true, force: true });
  const files = path.join(base, "files");
  const tmp = path.join(base, "tmp");
  fs.mkdirSync(files, { recursive: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    for (const f of o.manifest.files) {
      await withRetry(async () => {
        const hash = createHash("sha256");
        let size = 0;
        const body = await o.bucket.get(f.key);
        body.on("data", (b: Buffer) => { hash.update(b); size += b.length; });
        await pipeline(body, createDecompressor(o.manifest.compression), fs.createWriteStream(path.join(files, f.name)));
        if (size !== f.compressedBytes || hash.digest("hex") !== f.sha256) throw new Error(`binlog object ${f.key} is corrupt`);
      }, { attempts: 5, baseDelayMs: 500, isTransient: (e) => !(e instanceof BucketError) || e.code === "Other" });
    }
    const names = sortBinlogNames(o.manifest.files.map((f) => f.name));
    if (names.length === 0) throw new Error("the binlog archive holds no binlog files");
    writeClientDefaults(base, o.target.password);
    const env = { ...process.env, TZ: "UTC", TMPDIR: "../tmp" };
    const binlogArgs = [`--stop-datetime=${formatStopDatetime(o.restorePoint)}`, ...names];
    if (o.schema !== undefined) binlogArgs.push(`--database=${o.schema}`);
    o.log.info({ files: names, stopDatetime: formatStopDatetime(o.restorePoint) }, "replaying binary logs");
    const dec = spawnTool(o.tools.mysqlbinlog, binlogArgs, {
      cwd: files, env, stdout: "pipe", onStderr: (l) => o.log.info({ tool: "mysqlbinlog" }, l),
    });
    const cli = spawnTool(o.tools.mysql, [
      "--defaults-extra-file=../client.cnf", "--binary-mode", "-h", o.target.host, "--port", String(o.target.port),
      "--protocol=tcp", "-u", o.target.user, "--get-server-public-key",
    ], { cwd: files, stdin: "pipe", stdout: "ignore", secrets: [o.target.password], onStderr: (l) => o.log.info({ tool: "mysql" }, l) });
    const stdout = dec.child.stdout;
    const stdin = cli.child.stdin;
    if (!stdout || !stdin) throw new Error("tool pipes are missing");
    stdin.on("error", () => { /* reported by the exit status */ });
    stdout.pipe(stdin);
    const results = await Promise.allSettled([dec.done, cli.done]);
    for (const r of results) if (r.status === "rejected") throw r.reason;
    o.log.info("binary logs replayed");
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
