// Loading a moco-ts dump into the restore target (restore side of format.ts).
//
// Order: databases and tables → accounts → data (parallel, chunk by chunk) → views →
// routines → triggers → events (after the data, so triggers do not fire on it) → grants
// and default roles → gtid_purged. Sessions run with sql_log_bin=0 (the load is not
// binlogged, like mysqlsh skipBinlog), foreign/unique checks off, time_zone +00:00.
// The dump directory comes from dump.tar extracted into the work directory (archive.ts).
// Each chunk file is checked against the manifest's size and sha256, then loaded with
// LOAD DATA LOCAL inside a transaction; the row count and the absence of warnings are
// verified before COMMIT, so a failed chunk leaves nothing behind and is simply retried.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { formatGtidSet, gtidIsEmpty, gtidSubtract } from "../../mysql/gtid.ts";
import { connect, queryArrays, type Conn, type MysqlTarget } from "../db.ts";
import { MANIFEST } from "../keys.ts";
import type { Logger } from "../log.ts";
import type { Progress } from "../progress.ts";
import { withRetry } from "../retry.ts";
import {
  DUMP_FORMAT,
  createDecompressor,
  loadDataStatement,
  parseManifest,
  quoteIdent,
  type ChunkEntry,
  type DumpManifest,
  type SchemaDocument,
  type SchemaEntry,
  type TableEntry,
  type UserEntry,
} from "./format.ts";
import { accountName } from "./schema.ts";
import { errorMessage } from "../../util/errors.ts";

export interface UserFilter { user: string; host?: string }

/** `user@host,user2` → filters (host optional; `@` splits at the last one). */
export function parseUserFilter(s: string): UserFilter[] | undefined {
  const items = s.split(",").map((x) => x.trim()).filter((x) => x !== "");
  if (items.length === 0) return undefined;
  return items.map((item) => {
    const at = item.lastIndexOf("@");
    if (at <= 0) return { user: item };
    return { user: item.slice(0, at), host: item.slice(at + 1) };
  });
}

export function userSelected(u: { user: string; host: string }, filter: readonly UserFilter[] | undefined): boolean {
  if (filter === undefined) return true;
  return filter.some((f) => f.user === u.user && (f.host === undefined || f.host === u.host));
}

export interface LoadOptions {
  target: MysqlTarget;
  /** The extracted dump directory (manifest.json, schema.json, data/…). */
  dumpDir: string;
  threads: number;
  log: Logger;
  progress?: Progress;
  /** Only this schema (and grants of the selected users). */
  schema?: string;
  /** Only these accounts; undefined = all. */
  users?: UserFilter[];
  chunkAttempts?: number;
}

export interface LoadResult {
  manifest: DumpManifest;
  warnings: string[];
  rows: number;
}

/** Parses a dump manifest; `where` names its origin in the error. */
export function parseDumpManifest(body: Buffer, where: string): DumpManifest {
  return parseManifest<DumpManifest>(body, where, DUMP_FORMAT, "dump");
}

function readLocalJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** A load session: not binlogged, no foreign/unique checks, UTC unless the dump kept the source's zone. */
export async function prepareLoadSession(c: Conn, utc = true): Promise<void> {
  await c.query("SET SESSION sql_log_bin = 0");
  await c.query("SET SESSION foreign_key_checks = 0, SESSION unique_checks = 0, " + (utc ? "SESSION time_zone = '+00:00', " : "") +
    "SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', SESSION net_read_timeout = 3600, SESSION net_write_timeout = 3600");
}

async function withObjectSession(c: Conn, db: string, sqlMode: string, charset: string, collation: string,
  fn: () => Promise<void>): Promise<void> {
  await c.query("SET SESSION sql_mode = ?", [sqlMode]);
  if (charset !== "") await c.query(`SET SESSION character_set_client = ?`, [charset]);
  if (collation !== "") await c.query(`SET SESSION collation_connection = ?`, [collation]);
  await c.query(`USE ${quoteIdent(db)}`);
  try {
    await fn();
  } finally {
    await c.query("SET NAMES utf8mb4");
    await c.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'");
  }
}

async function userExists(c: Conn, u: UserEntry): Promise<boolean> {
  const rows = await queryArrays(c, "SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?", [u.user, u.host]);
  return rows.length > 0;
}

async function loadChunk(conn: Conn, o: LoadOptions, m: DumpManifest, t: TableEntry, ch: ChunkEntry): Promise<void> {
  const file = path.join(o.dumpDir, ch.key);
  if (!fs.existsSync(file)) throw new Error(`chunk ${ch.key} is missing from the dump`);
  const hash = createHash("sha256");
  let size = 0;
  for await (const b of fs.createReadStream(file)) { hash.update(b as Buffer); size += (b as Buffer).length; }
  if (size !== ch.compressedBytes || hash.digest("hex") !== ch.sha256) {
    throw new Error(`chunk ${ch.key} is corrupt (size ${size}, expected ${ch.compressedBytes})`);
  }
  await loadDataInTransaction(conn, {
    sql: loadDataStatement(t.schema, t.name, t.columns),
    open: () => fs.createReadStream(file).pipe(createDecompressor(m.compression)) as Readable,
    what: `${ch.key} into ${t.schema}.${t.name}`,
    expectedRows: ch.rows,
    ...(o.chunkAttempts !== undefined ? { attempts: o.chunkAttempts } : {}),
  });
}

export interface LoadDataTask {
  /** A LOAD DATA LOCAL statement (the file name in it is ignored). */
  sql: string;
  /** Opens the decoded data (called again on a retry). */
  open: () => Readable;
  /** Names the file and table in errors. */
  what: string;
  /** Rows the data must load; undefined = not checked. */
  expectedRows?: number;
  attempts?: number;
}

/**
 * LOAD DATA inside a transaction: warnings and a row count other than expected fail it
 * before COMMIT (nothing left behind on InnoDB); deadlocks and lock timeouts are retried.
 * Returns the rows loaded.
 */
export async function loadDataInTransaction(conn: Conn, task: LoadDataTask): Promise<number> {
  return withRetry(async () => {
    await conn.query("START TRANSACTION");
    try {
      const [res] = await conn.query({ sql: task.sql, infileStreamFactory: task.open } as Parameters<Conn["query"]>[0]);
      const header = res as unknown as { affectedRows: number; warningStatus: number };
      if (header.warningStatus > 0) {
        const w = await queryArrays(conn, "SHOW WARNINGS LIMIT 3");
        throw Object.assign(new Error(`loading ${task.what} raised ${header.warningStatus} warning(s): ` +
          w.map((r) => String(r[2])).join("; ")), { code: "ELOADWARN" });
      }
      if (task.expectedRows !== undefined && header.affectedRows !== task.expectedRows) {
        throw Object.assign(new Error(`loading ${task.what}: ${header.affectedRows} rows of ${task.expectedRows}`), { code: "ELOADROWS" });
      }
      await conn.query("COMMIT");
      return header.affectedRows;
    } catch (e) {
      await conn.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  }, {
    attempts: task.attempts ?? 3, baseDelayMs: 500,
    isTransient: (e) => ["ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT"].includes(String((e as { code?: unknown }).code)),
  });
}

/** Adds the dump's GTIDs that the target lacks to gtid_purged (the target now holds them). */
export async function adoptGtidSet(control: Conn, gtidExecuted: string): Promise<void> {
  const [g] = await queryArrays(control, "SELECT @@GLOBAL.gtid_executed");
  const executed = String(g?.[0] ?? "").replace(/\s+/g, "");
  const missing = gtidSubtract(gtidExecuted, executed);
  if (!gtidIsEmpty(missing)) {
    await control.query(`SET GLOBAL gtid_purged = ?`, [`+${formatGtidSet(missing)}`]);
  }
}

/** Runs `n` workers over `tasks` (taken in order); the first failure stops the others and is thrown. */
export async function runParallel<T>(tasks: T[], workers: readonly Conn[], run: (w: Conn, task: T) => Promise<void>): Promise<void> {
  let failure: unknown;
  await Promise.all(workers.map(async (w) => {
    for (;;) {
      if (failure !== undefined) return;
      const task = tasks.shift();
      if (task === undefined) return;
      try {
        await run(w, task);
      } catch (e) {
        failure ??= e;
      }
    }
  }));
  if (failure !== undefined) throw failure;
}

export async function loadDump(o: LoadOptions): Promise<LoadResult> {
  const log = o.log;
  const warnings: string[] = [];
  const manifest = parseDumpManifest(fs.readFileSync(path.join(o.dumpDir, MANIFEST)), `${MANIFEST} of the dump`);
  const doc = readLocalJson<SchemaDocument>(path.join(o.dumpDir, manifest.schemaKey));
  const schemas: SchemaEntry[] = doc.schemas.filter((s) => o.schema === undefined || s.name === o.schema);
  if (o.schema !== undefined && schemas.length === 0) {
    throw new Error(`schema ${JSON.stringify(o.schema)} is not in the backup of ${manifest.time}`);
  }
  const names = new Set(schemas.map((s) => s.name));
  const tables = manifest.tables.filter((t) => names.has(t.schema));
  const users = doc.users.filter((u) => userSelected(u, o.users));
  const progress = o.progress;
  if (progress) {
    progress.phase = "load";
    progress.tablesTotal = tables.length;
    progress.chunksTotal = tables.reduce((n, t) => n + t.chunks.length, 0);
  }
  const control = await connect(o.target);
  const workers: Conn[] = [];
  try {
    await prepareLoadSession(control);
    // Nothing is overwritten: a schema that already exists is an error before any change.
    for (const s of schemas) {
      const r = await queryArrays(control, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [s.name]);
      if (r.length > 0) throw new Error(`schema ${JSON.stringify(s.name)} already exists on the restore target`);
    }
    for (const s of schemas) {
      await control.query(s.createDatabase);
      for (const t of s.tables) {
        await control.query(`USE ${quoteIdent(s.name)}`);
        await control.query(t.create);
      }
    }
    log.info({ schemas: schemas.length, tables: tables.length }, "schemas and tables created");
    const created: UserEntry[] = [];
    for (const u of users) {
      if (await userExists(control, u)) {
        const w = `account ${u.user}@${u.host} already exists on the target; kept as is`;
        warnings.push(w);
        log.warn(w);
        continue;
      }
      await control.query(u.create);
      created.push(u);
    }

    // --- data
    const tasks: { t: TableEntry; ch: ChunkEntry }[] = [];
    for (const t of tables) for (const ch of t.chunks) tasks.push({ t, ch });
    tasks.sort((a, b) => b.ch.compressedBytes - a.ch.compressedBytes);
    const left = new Map<TableEntry, number>();
    for (const t of tables) {
      left.set(t, t.chunks.length);
      if (t.chunks.length === 0 && progress) progress.tablesDone++;
    }
    const threads = Math.max(1, Math.min(o.threads, tasks.length));
    for (let i = 0; i < threads; i++) {
      const w = await connect(o.target, { localInfile: true });
      workers.push(w);
      await prepareLoadSession(w);
    }
    let rows = 0;
    await runParallel(tasks, workers, async (w, task) => {
      await loadChunk(w, o, manifest, task.t, task.ch);
      rows += task.ch.rows;
      if (progress) {
        progress.chunksDone++;
        progress.rows += task.ch.rows;
        progress.bytes += task.ch.bytes;
        progress.compressedBytes += task.ch.compressedBytes;
        const n = (left.get(task.t) ?? 1) - 1;
        left.set(task.t, n);
        if (n === 0) progress.tablesDone++;
      }
    });
    log.info({ rows, chunks: manifest.totals.chunks }, "data loaded");

    // --- views (a view may use another: retry the failed ones while progress is made)
    let pendingViews = schemas.flatMap((s) => s.views.map((v) => ({ s, v })));
    for (let pass = 0; pendingViews.length > 0; pass++) {
      const failed: typeof pendingViews = [];
      let lastError: unknown;
      for (const { s, v } of pendingViews) {
        try {
          await withObjectSession(control, s.name, "", v.characterSetClient, v.collationConnection, async () => {
            await control.query(v.create);
          });
        } catch (e) {
          failed.push({ s, v });
          lastError = e;
        }
      }
      if (failed.length === pendingViews.length) {
        throw new Error(`cannot create view(s) ${failed.map(({ s, v }) => `${s.name}.${v.name}`).join(", ")}: ${errorMessage(lastError)}`);
      }
      pendingViews = failed;
    }
    for (const s of schemas) {
      for (const r of s.routines) {
        await withObjectSession(control, s.name, r.sqlMode, r.characterSetClient, r.collationConnection, async () => {
          await control.query(r.create);
        });
      }
      for (const tr of s.triggers) {
        await withObjectSession(control, s.name, tr.sqlMode, tr.characterSetClient, tr.collationConnection, async () => {
          await control.query(tr.create);
        });
      }
      for (const ev of s.events) {
        await withObjectSession(control, s.name, ev.sqlMode, ev.characterSetClient, ev.collationConnection, async () => {
          await control.query("SET SESSION time_zone = ?", [ev.timeZone]);
          try {
            await control.query(ev.create);
          } finally {
            await control.query("SET SESSION time_zone = '+00:00'");
          }
        });
      }
    }
    // --- grants
    for (const u of created) {
      for (const g of u.grants) {
        if (/^GRANT USAGE ON \*\.\* TO /.test(g)) continue;
        await control.query(g);
      }
      if (u.defaultRoles !== undefined) await control.query(`ALTER USER ${accountName(u.user, u.host)} DEFAULT ROLE ${u.defaultRoles}`);
    }
    // --- GTID state: the target now holds the dump's transactions
    await adoptGtidSet(control, manifest.gtidExecuted);
    log.info({ gtidExecuted: manifest.gtidExecuted, users: created.length }, "dump loaded");
    return { manifest, warnings, rows };
  } finally {
    await Promise.all([control, ...workers].map((c) => c.end().catch(() => undefined)));
  }
}
