// moco-ts's own consistent, parallel, chunked, streamed dump (replaces mysqlsh dumpInstance).
//
// Consistency: FLUSH TABLES WITH READ LOCK on a control connection, START TRANSACTION
// WITH CONSISTENT SNAPSHOT on every worker connection, gtid_executed and the binlog
// coordinates read under the lock, LOCK INSTANCE FOR BACKUP (blocks DDL for the rest of
// the dump, DML keeps flowing), UNLOCK TABLES. Every chunk is read inside one of those
// snapshots, so the dump is exactly the state at gtid_executed.
//
// Streaming and memory: each chunk is a mysql2 query stream → TSV encoder → compressor →
// its file in the dump directory (back-pressure end to end), so memory stays bounded
// whatever the table size. Each file of the dump directory (dump/ in the work directory)
// is handed to `onFile` once complete — schema.json first, chunks as they finish,
// manifest.json last — so the caller streams dump.tar while the dump runs (archive.ts).
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { connect, coreConnection, readServerStatus, type Conn, type MysqlTarget } from "../db.ts";
import type { Logger } from "../log.ts";
import type { Progress } from "../progress.ts";
import { MANIFEST, SCHEMA_FILE, chunkPath } from "../keys.ts";
import { planChunks } from "./chunks.ts";
import {
  DUMP_FORMAT,
  DUMP_FORMAT_VERSION,
  TsvEncoder,
  compressionExt,
  createCompressor,
  defaultCompression,
  quoteIdent,
  selectList,
  type ChunkEntry,
  type Compression,
  type DumpManifest,
  type SchemaDocument,
  type TableEntry,
} from "./format.ts";
import { emptySchemaDocument, listSchemas, readMinMax, readSchemaEntry, readTables, readUsers, type TableInfo } from "./schema.ts";
import { errorMessage } from "../../util/errors.ts";

export interface DumpOptions {
  target: MysqlTarget;
  /** The dump directory (emptied first): manifest.json, schema.json, data/… */
  outDir: string;
  threads: number;
  time: Date;
  sourceIndex: number;
  log: Logger;
  progress?: Progress;
  compression?: Compression;
  /** Target rows per chunk (default 500 000). */
  chunkRows?: number;
  /** Target uncompressed bytes per chunk estimate (default 64 MiB). */
  chunkBytes?: number;
  /** Called with each complete file's path relative to `outDir`. */
  onFile?: (rel: string) => void;
}

export interface DumpResult {
  manifest: DumpManifest;
  /** Bytes of the dump directory (chunks, schema document, manifest). */
  dumpSize: number;
  /** The files of the dump directory in the order given to `onFile`. */
  files: string[];
  gtidExecuted: string;
  binlogFile: string;
  serverUuid: string;
}

class HashCounter extends Transform {
  bytes = 0;
  readonly hash = createHash("sha256");
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }
}

interface ChunkTask {
  table: TableInfo;
  entry: TableEntry;
  index: number;
  where: string;
  /** Path relative to the dump directory. */
  file: string;
}

async function prepareSession(c: Conn, binaryResults: boolean): Promise<void> {
  // Workers read column values as stored (no charset conversion); LOAD DATA CHARACTER SET
  // binary writes them back byte for byte.
  if (binaryResults) await c.query("SET SESSION character_set_results = binary");
  await c.query("SET SESSION time_zone = '+00:00', SESSION net_write_timeout = 3600, SESSION net_read_timeout = 3600, " +
    "SESSION wait_timeout = 86400, SESSION information_schema_stats_expiry = 0");
}

export async function dumpInstance(o: DumpOptions): Promise<DumpResult> {
  const log = o.log;
  const threads = Math.max(1, o.threads);
  const compression = o.compression ?? defaultCompression();
  const ext = compressionExt(compression);
  const outDir = o.outDir;
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const progress = o.progress;
  if (progress) progress.phase = "dump";

  const control = await connect(o.target);
  const workers: Conn[] = [];
  let instanceLocked = false;
  let dumpSize = 0;
  let complete = false;
  try {
    await prepareSession(control, false);
    for (let i = 0; i < threads; i++) {
      const w = await connect(o.target);
      workers.push(w);
      await prepareSession(w, true);
    }
    // --- the snapshot
    await control.query("SET SESSION lock_wait_timeout = 60");
    await control.query("FLUSH TABLES WITH READ LOCK");
    let status;
    try {
      for (const w of workers) {
        await w.query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
        await w.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
      }
      status = await readServerStatus(control);
      try {
        await control.query("LOCK INSTANCE FOR BACKUP");
        instanceLocked = true;
      } catch (e) {
        log.warn({ err: errorMessage(e) }, "LOCK INSTANCE FOR BACKUP failed; DDL is not blocked during the dump");
      }
    } finally {
      await control.query("UNLOCK TABLES");
    }
    log.info({ gtidExecuted: status.gtidExecuted, binlogFile: status.currentBinlog, binlogPosition: status.binlogPosition },
      "consistent snapshot taken");

    // --- schema
    const doc: SchemaDocument = emptySchemaDocument();
    const tables: TableInfo[] = [];
    for (const schema of await listSchemas(control)) {
      const ts = await readTables(control, schema);
      tables.push(...ts);
      doc.schemas.push(await readSchemaEntry(control, schema, ts));
    }
    doc.users = await readUsers(control);
    const schemaKey = SCHEMA_FILE;
    const schemaBytes = Buffer.from(JSON.stringify(doc));
    fs.writeFileSync(path.join(outDir, schemaKey), schemaBytes);
    dumpSize += schemaBytes.length;
    const files: string[] = [];
    const done = (rel: string) => { files.push(rel); o.onFile?.(rel); };
    done(schemaKey);

    // --- plan
    const first = workers[0] as Conn;
    const entries: TableEntry[] = [];
    const tasks: ChunkTask[] = [];
    for (const t of tables) {
      const entry: TableEntry = { schema: t.schema, name: t.name, columns: t.columns, chunks: [], rows: 0 };
      entries.push(entry);
      if (t.columns.length === 0) continue;
      const mm = await readMinMax(first, t);
      const ranges = planChunks({
        ...(t.keyIsInteger && t.keyColumn !== undefined ? { keyColumn: t.keyColumn } : {}),
        ...mm,
        estimatedRows: t.estimatedRows, estimatedBytes: t.estimatedBytes,
        chunkRows: o.chunkRows ?? 500_000, chunkBytes: o.chunkBytes ?? 64 * 1024 * 1024,
      });
      ranges.forEach((r, i) => {
        tasks.push({ table: t, entry, index: i, where: r.where, file: chunkPath(t.schema, t.name, i, ext) });
      });
    }
    // Largest tables first so the long chunks start early.
    const perTable = new Map<TableInfo, number>();
    for (const t of tasks) perTable.set(t.table, (perTable.get(t.table) ?? 0) + 1);
    const weight = (t: ChunkTask) => t.table.estimatedBytes / (perTable.get(t.table) ?? 1);
    tasks.sort((a, b) => weight(b) - weight(a));
    if (progress) { progress.tablesTotal = entries.length; progress.chunksTotal = tasks.length; }
    log.info({ tables: entries.length, chunks: tasks.length, threads, compression }, "dump planned");

    // --- data
    const chunksLeft = new Map<TableEntry, number>();
    for (const t of tasks) chunksLeft.set(t.entry, (chunksLeft.get(t.entry) ?? 0) + 1);
    if (progress) for (const e of entries) if (!chunksLeft.has(e)) progress.tablesDone++;
    let failure: unknown;
    const results = new Map<ChunkTask, ChunkEntry>();

    const worker = async (conn: Conn) => {
      for (;;) {
        if (failure !== undefined) return;
        const task = tasks.shift();
        if (task === undefined) return;
        const file = path.join(outDir, task.file);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const t = task.table;
        const sql = `SELECT ${selectList(t.columns)} FROM ${quoteIdent(t.schema)}.${quoteIdent(t.name)}` +
          (task.where === "" ? "" : ` WHERE ${task.where}`);
        const encoder = new TsvEncoder();
        const counter = new HashCounter();
        const rows = coreConnection(conn).query({ sql, rowsAsArray: true, typeCast: false }).stream({ highWaterMark: 512 });
        let lastRows = 0;
        let lastBytes = 0;
        const tick = setInterval(() => {
          if (progress) { progress.rows += encoder.rows - lastRows; progress.bytes += encoder.bytes - lastBytes; }
          lastRows = encoder.rows; lastBytes = encoder.bytes;
        }, 1000);
        try {
          await pipeline(rows, encoder, createCompressor(compression), counter, fs.createWriteStream(file));
        } finally {
          clearInterval(tick);
          if (progress) { progress.rows += encoder.rows - lastRows; progress.bytes += encoder.bytes - lastBytes; }
        }
        task.entry.rows += encoder.rows;
        const ce: ChunkEntry = { key: task.file, rows: encoder.rows, bytes: encoder.bytes, compressedBytes: counter.bytes, sha256: counter.hash.digest("hex") };
        if (task.where !== "") ce.range = task.where;
        results.set(task, ce);
        dumpSize += counter.bytes;
        done(task.file);
        if (progress) {
          progress.chunksDone++;
          progress.compressedBytes += counter.bytes;
          const left = (chunksLeft.get(task.entry) ?? 1) - 1;
          chunksLeft.set(task.entry, left);
          if (left === 0) progress.tablesDone++;
        }
      }
    };
    const workerRuns = workers.map((w) => worker(w).catch((e: unknown) => { failure ??= e; }));
    await Promise.all(workerRuns);
    if (failure !== undefined) throw failure;

    // chunk entries in chunk order
    const byEntry = new Map<TableEntry, ChunkTask[]>();
    for (const task of results.keys()) {
      const list = byEntry.get(task.entry) ?? [];
      list.push(task);
      byEntry.set(task.entry, list);
    }
    for (const [entry, list] of byEntry) {
      list.sort((a, b) => a.index - b.index);
      entry.chunks = list.map((task) => results.get(task) as ChunkEntry);
    }
    const totals = {
      tables: entries.length,
      chunks: results.size,
      rows: entries.reduce((n, e) => n + e.rows, 0),
      bytes: [...results.values()].reduce((n, c) => n + c.bytes, 0),
      compressedBytes: [...results.values()].reduce((n, c) => n + c.compressedBytes, 0),
    };
    const manifest: DumpManifest = {
      format: DUMP_FORMAT,
      version: DUMP_FORMAT_VERSION,
      time: o.time.toISOString(),
      finishedAt: new Date().toISOString(),
      source: { index: o.sourceIndex, uuid: status.uuid, version: status.version },
      gtidExecuted: status.gtidExecuted,
      binlog: { file: status.currentBinlog, position: status.binlogPosition },
      compression,
      schemaKey,
      tables: entries,
      totals,
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    fs.writeFileSync(path.join(outDir, MANIFEST), manifestBytes);
    dumpSize += manifestBytes.length;
    done(MANIFEST);
    log.info({ ...totals, dumpSize }, "dump written");
    complete = true;
    return {
      manifest, dumpSize, files, gtidExecuted: status.gtidExecuted,
      binlogFile: status.currentBinlog, serverUuid: status.uuid,
    };
  } finally {
    if (instanceLocked) await control.query("UNLOCK INSTANCE").catch(() => undefined);
    await Promise.all([control, ...workers].map((c) => c.end().catch(() => undefined)));
    if (!complete) fs.rmSync(outDir, { recursive: true, force: true });
  }
}
