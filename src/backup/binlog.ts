// Binary-log backup (docs/backup.md#binlog-backup) and replay (docs/backup.md#restore-procedure step 5) around mysqlbinlog.
//
// Backup: `mysqlbinlog --read-from-remote-source=BINLOG-DUMP-GTIDS --exclude-gtids=<last
// gtidSet> --to-last-log --raw <start file>` writes the source's binlog files into
// binlog/ in the work directory; binlog/manifest.json (sizes, sha256, the time range the
// archive covers) is written beside them and the directory is uploaded, manifest first,
// as <prev backup dir>binlog.tar.zst.
// Replay: extract the archive, verify the files against its manifest, then
// `mysqlbinlog --stop-datetime=<restore point> [--database=<schema>] files… | mysql --binary-mode`
// with TZ=UTC. Transactions already in the dump are skipped by GTID.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ArchiveHeadError, extractArchive, putArchive, readFirstEntry } from "./archive.ts";
import type { Bucket } from "./bucket/types.ts";
import { toolTlsArgs, type MysqlTarget } from "./db.ts";
import { BINLOG_FORMAT, BINLOG_FORMAT_VERSION, parseManifest, type BinlogFileEntry, type BinlogManifest } from "./dump/format.ts";
import { BINLOG_ARCHIVE, BINLOG_DIR, MANIFEST, formatStopDatetime } from "./keys.ts";
import type { Logger } from "./log.ts";
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
}

export interface BinlogBackupResult {
  manifest: BinlogManifest;
  /** Bytes of binlog.tar.zst. */
  binlogSize: number;
  /** Bytes of raw binlog files held in the work directory. */
  workDirUsage: number;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const b of fs.createReadStream(file)) hash.update(b as Buffer);
  return hash.digest("hex");
}

export async function backupBinlogs(o: BinlogBackupOptions): Promise<BinlogBackupResult> {
  const files = path.join(o.workDir, BINLOG_DIR);
  // The client options file (a password) lives beside binlog/, never inside the archive.
  const cnfDir = path.join(o.workDir, "binlog-client");
  fs.rmSync(files, { recursive: true, force: true });
  fs.rmSync(cnfDir, { recursive: true, force: true });
  fs.mkdirSync(files, { recursive: true });
  fs.mkdirSync(cnfDir, { recursive: true });
  try {
    writeClientDefaults(cnfDir, o.source.password);
    const args = [
      "--defaults-extra-file=../binlog-client/client.cnf",
      "-h", o.source.host, "--port", String(o.source.port), "--protocol=tcp", "-u", o.source.user,
      "--get-server-public-key", ...toolTlsArgs(o.source), "--read-from-remote-source=BINLOG-DUMP-GTIDS",
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
    const entries: BinlogFileEntry[] = [];
    let usage = 0;
    for (const n of names) {
      const file = path.join(files, n);
      const bytes = fs.statSync(file).size;
      usage += bytes;
      entries.push({ name: n, bytes, sha256: await sha256File(file) });
    }
    const manifest: BinlogManifest = {
      format: BINLOG_FORMAT, version: BINLOG_FORMAT_VERSION,
      since: o.since.toISOString(), takenAt: o.takenAt.toISOString(), coveredUntil: coveredUntil.toISOString(),
      sourceIndex: o.sourceIndex, startFile: o.startFile, excludeGtids: o.excludeGtids, files: entries,
    };
    fs.writeFileSync(path.join(files, MANIFEST), JSON.stringify(manifest));
    const key = `${o.dir}${BINLOG_ARCHIVE}`;
    o.log.info({ key, files: names.length, bytes: usage }, "uploading the binary-log archive");
    const binlogSize = await putArchive({
      bucket: o.bucket, key, root: o.workDir, compression: "zstd", log: o.log,
      entries: [`${BINLOG_DIR}/${MANIFEST}`, ...names.map((n) => `${BINLOG_DIR}/${n}`)],
    });
    o.log.info({ key, files: names.length, binlogSize }, "binary logs uploaded");
    return { manifest, binlogSize, workDirUsage: usage };
  } finally {
    fs.rmSync(files, { recursive: true, force: true });
    fs.rmSync(cnfDir, { recursive: true, force: true });
  }
}

/** Parses a binlog manifest; `where` names its origin in the error. */
export function parseBinlogManifest(body: Buffer, where: string): BinlogManifest {
  return parseManifest<BinlogManifest>(body, where, BINLOG_FORMAT, "binlog");
}

/**
 * The manifest at the head of `<dir>binlog.tar.zst` (only its first kilobytes are read);
 * undefined for an archive written by MOCO (binlog files only, no manifest).
 */
export async function readBinlogManifest(bucket: Bucket, dir: string): Promise<BinlogManifest | undefined> {
  const key = `${dir}${BINLOG_ARCHIVE}`;
  try {
    return parseBinlogManifest(await readFirstEntry(bucket, key, "zstd", `${BINLOG_DIR}/${MANIFEST}`), `${key}: ${BINLOG_DIR}/${MANIFEST}`);
  } catch (e) {
    if (e instanceof ArchiveHeadError && e.found.startsWith(`${BINLOG_DIR}/`)) return undefined;
    throw e;
  }
}

export interface ReplayOptions {
  target: MysqlTarget;
  bucket: Bucket;
  /** Directory of the archive (ending with '/'). */
  dir: string;
  /** The manifest read (and checked against the restore point) before the load; undefined for a MOCO archive. */
  manifest: BinlogManifest | undefined;
  restorePoint: Date;
  schema?: string;
  workDir: string;
  tools: Tools;
  log: Logger;
}

/** The files of an archive written by MOCO: every `binlog.*` (MOCO's restore takes the same). */
function mocoBinlogFiles(dir: string): string[] {
  return sortBinlogNames(fs.readdirSync(dir).filter((n) => n.startsWith("binlog.")));
}

/** The files of a moco-ts archive, checked against its manifest (sizes, sha256). */
async function checkedBinlogFiles(dir: string, key: string, planned: BinlogManifest): Promise<string[]> {
  const m = parseBinlogManifest(fs.readFileSync(path.join(dir, MANIFEST)), `${key}: ${BINLOG_DIR}/${MANIFEST}`);
  if (m.takenAt !== planned.takenAt) throw new Error(`${key} changed since the restore was planned`);
  for (const f of m.files) {
    const file = path.join(dir, f.name);
    if (!fs.existsSync(file)) throw new Error(`${key} lacks ${f.name}`);
    const size = fs.statSync(file).size;
    if (size !== f.bytes || (await sha256File(file)) !== f.sha256) throw new Error(`${key}: ${f.name} is corrupt (size ${size}, expected ${f.bytes})`);
  }
  return sortBinlogNames(m.files.map((f) => f.name));
}

export async function replayBinlogs(o: ReplayOptions): Promise<void> {
  const files = path.join(o.workDir, BINLOG_DIR);
  const cnfDir = path.join(o.workDir, "binlog-client");
  const tmp = path.join(o.workDir, "binlog-tmp");
  for (const d of [cnfDir, tmp]) {
    fs.rmSync(d, { recursive: true, force: true });
    fs.mkdirSync(d, { recursive: true });
  }
  try {
    const key = `${o.dir}${BINLOG_ARCHIVE}`;
    o.log.info({ key }, "downloading the binary-log archive");
    await extractArchive({ bucket: o.bucket, key, compression: "zstd", root: o.workDir, top: BINLOG_DIR, log: o.log });
    const names = o.manifest === undefined ? mocoBinlogFiles(files) : await checkedBinlogFiles(files, key, o.manifest);
    if (names.length === 0) throw new Error(`${key} holds no binlog files`);
    writeClientDefaults(cnfDir, o.target.password);
    const env = { ...process.env, TZ: "UTC", TMPDIR: "../binlog-tmp" };
    const binlogArgs = [`--stop-datetime=${formatStopDatetime(o.restorePoint)}`, ...names];
    if (o.schema !== undefined) binlogArgs.push(`--database=${o.schema}`);
    o.log.info({ files: names, stopDatetime: formatStopDatetime(o.restorePoint) }, "replaying binary logs");
    const dec = spawnTool(o.tools.mysqlbinlog, binlogArgs, {
      cwd: files, env, stdout: "pipe", onStderr: (l) => o.log.info({ tool: "mysqlbinlog" }, l),
    });
    const cli = spawnTool(o.tools.mysql, [
      "--defaults-extra-file=../binlog-client/client.cnf", "--binary-mode", "-h", o.target.host, "--port", String(o.target.port),
      "--protocol=tcp", "-u", o.target.user, "--get-server-public-key", ...toolTlsArgs(o.target),
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
    for (const d of [files, cnfDir, tmp]) fs.rmSync(d, { recursive: true, force: true });
  }
}
