// Loading a MySQL Shell `util.dumpInstance` dump (MOCO's dump.tar) into the restore target,
// with the same pieces as the moco-ts loader (load.ts): load sessions out of the binlog,
// LOAD DATA LOCAL per data file inside a transaction with warnings refused, workers in
// parallel, the dump's GTID set adopted at the end.
//
// Steps (mysqlsh loadDump's order): read and check the metadata (format version,
// @.done.json) before touching the target → schemas must not exist → @.sql → accounts
// (without grants) → per schema: its script (database, events, routines), table DDL,
// view placeholders → data (parallel, biggest files first; each file's size checked
// against its .idx) → grants (those whose object does not exist yet: again after the views)
// → final views → triggers → @.post.sql → ANALYZE TABLE →
// gtid_purged. Statements go through adaptStatement (mysqlsh.ts): each adaptation MySQL
// 9.7 (or the MOCO target, which has no root@localhost) forces is returned as a warning
// naming the file.
import fs from "node:fs";
import path from "node:path";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { connect, queryArrays, type Conn } from "../db.ts";
import { createDecompressor, loadDataStatement, quoteIdent, type ColumnSpec } from "./format.ts";
import { adoptGtidSet, loadDataInTransaction, prepareLoadSession, runParallel, userSelected, type LoadOptions, type UserFilter } from "./load.ts";
import {
  MYSQLSH_DONE, MYSQLSH_INSTANCE_META, MysqlshDumpError, adaptStatement, encodeMysqlshName, idxDataBytes, parseInstanceMeta,
  parseSchemaMeta, parseTableMeta, parseUsersScript, splitSqlScript, tableDataFiles, type DataFile, type InstanceMeta,
  type TableMeta, type UserBlock,
} from "./mysqlsh.ts";
import { EXCLUDED_USERS } from "./schema.ts";
import { errorMessage } from "../../util/errors.ts";

export interface MysqlshTablePlan {
  schema: string;
  name: string;
  base: string;
  meta: TableMeta;
  files: DataFile[];
}

export interface MysqlshSchemaPlan {
  name: string;
  base: string;
  tables: MysqlshTablePlan[];
  /** Base names of the views (their .pre.sql and .sql). */
  views: { name: string; base: string }[];
}

export interface MysqlshPlan {
  dir: string;
  meta: InstanceMeta;
  schemas: MysqlshSchemaPlan[];
}

/** The same options as the own format's loader (dumpDir: the extracted MySQL Shell dump, @.json …). */
export type MysqlshLoadOptions = LoadOptions;

export interface MysqlshLoadResult {
  meta: InstanceMeta;
  /** Adaptations and kept accounts, one line each. */
  warnings: string[];
  rows: number;
  /** Rows loaded per `schema.table`. */
  tableRows: Record<string, number>;
}

const readText = (dir: string, file: string): string | undefined => {
  const p = path.join(dir, file);
  return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined;
};

const DEFAULT_FIELDS = { fieldsTerminatedBy: "\t", fieldsEnclosedBy: "", fieldsEscapedBy: "\\", linesTerminatedBy: "\n" };

function checkFieldFormat(t: TableMeta, where: string): void {
  for (const [k, v] of Object.entries(DEFAULT_FIELDS)) {
    if (t[k as keyof typeof DEFAULT_FIELDS] !== v) {
      throw new MysqlshDumpError(`${where}: ${k} ${JSON.stringify(t[k as keyof typeof DEFAULT_FIELDS])} is not supported (only MySQL Shell's default TSV dialect)`);
    }
  }
  if (!["tsv.zst", "tsv", "tsv.gz"].includes(t.extension)) throw new MysqlshDumpError(`${where}: data file extension ${t.extension} is not supported`);
}

/** Reads the dump's metadata into a plan; touches nothing but the directory. Throws on an unknown format version or an unfinished dump. */
export function readMysqlshPlan(dir: string, schema?: string): MysqlshPlan {
  const metaText = readText(dir, MYSQLSH_INSTANCE_META);
  if (metaText === undefined) throw new MysqlshDumpError(`the dump has no ${MYSQLSH_INSTANCE_META}`);
  const meta = parseInstanceMeta(metaText);
  if (readText(dir, MYSQLSH_DONE) === undefined) throw new MysqlshDumpError(`the dump has no ${MYSQLSH_DONE}: MySQL Shell did not finish it`);
  const names = meta.schemas.filter((s) => schema === undefined || s === schema);
  if (schema !== undefined && names.length === 0) throw new MysqlshDumpError(`schema ${JSON.stringify(schema)} is not in the dump`);
  const files = fs.readdirSync(dir);
  return { dir, meta, schemas: names.map((s) => planSchema(dir, files, s, meta.basenames[s] ?? encodeMysqlshName(s))) };
}

function planSchema(dir: string, files: readonly string[], name: string, base: string): MysqlshSchemaPlan {
  const text = readText(dir, `${base}.json`);
  if (text === undefined) throw new MysqlshDumpError(`the dump lacks ${base}.json (schema ${JSON.stringify(name)})`);
  const sm = parseSchemaMeta(text, `${base}.json`);
  const tableBase = (t: string) => sm.basenames[t] ?? `${base}@${encodeMysqlshName(t)}`;
  const tables = sm.tables.map((t): MysqlshTablePlan => {
    const b = tableBase(t);
    const where = `${b}.json`;
    const tt = readText(dir, where);
    if (tt === undefined) throw new MysqlshDumpError(`the dump lacks ${where} (table ${name}.${t})`);
    const tm = parseTableMeta(tt, where);
    checkFieldFormat(tm, where);
    return { schema: name, name: t, base: b, meta: tm, files: tm.includesData ? tableDataFiles(files, b, tm.extension) : [] };
  });
  return { name, base, tables, views: sm.views.map((v) => ({ name: v, base: tableBase(v) })) };
}

/** Runs the statements of a script file (absent files are skipped), after `USE schema` when given. */
type AccountExists = (user: string, host: string) => boolean;

async function runScript(c: Conn, dir: string, file: string, warnings: Set<string>, schema?: string, accounts?: AccountExists): Promise<void> {
  const text = readText(dir, file);
  if (text === undefined) return;
  if (schema !== undefined) await c.query(`USE ${quoteIdent(schema)}`);
  try {
    for (const st of splitSqlScript(text)) await runStatement(c, st, file, warnings, accounts);
  } finally {
    await c.query("SET NAMES utf8mb4");
    await c.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'");
  }
}

async function runStatement(c: Conn, st: string, where: string, warnings: Set<string>, accounts?: AccountExists): Promise<void> {
  const a = adaptStatement(st, accounts);
  for (const ch of a.changes) warnings.add(`${where}: ${ch}`);
  try {
    await c.query(a.sql);
  } catch (e) {
    throw new MysqlshDumpError(`${where}: ${errorMessage(e)} (statement: ${a.sql.slice(0, 200).replace(/IDENTIFIED (.*?) AS '[^']*'/g, "IDENTIFIED $1 AS '…'")})`);
  }
}

async function checkSchemasAbsent(c: Conn, plan: MysqlshPlan): Promise<void> {
  for (const s of plan.schemas) {
    const r = await queryArrays(c, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [s.name]);
    if (r.length > 0) throw new Error(`schema ${JSON.stringify(s.name)} already exists on the restore target`);
  }
}

/** Creates the selected accounts that do not exist yet; returns them (their grants run later). */
async function createAccounts(c: Conn, dir: string, filter: readonly UserFilter[] | undefined, warnings: Set<string>): Promise<UserBlock[]> {
  const text = readText(dir, "@.users.sql");
  if (text === undefined) return [];
  const created: UserBlock[] = [];
  for (const u of parseUsersScript(text).blocks) {
    if (EXCLUDED_USERS.includes(u.user) || !userSelected(u, filter)) continue;
    const exists = await queryArrays(c, "SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?", [u.user, u.host]);
    if (exists.length > 0) {
      warnings.add(`account ${u.account} already exists on the target; kept as is (its grants in the dump were not applied)`);
      continue;
    }
    for (const st of u.create) await runStatement(c, st, `@.users.sql ${u.account}`, warnings);
    created.push(u);
  }
  return created;
}

/** The target's accounts (read once the dump's own are created), for adaptMissingDefiner. */
async function targetAccounts(c: Conn): Promise<AccountExists> {
  const rows = await queryArrays(c, "SELECT User, Host FROM mysql.user");
  const set = new Set(rows.map((r) => `${String(r[0])}@${String(r[1])}`));
  return (user, host) => set.has(`${user}@${host}`);
}

async function createSchemaObjects(c: Conn, plan: MysqlshPlan, warnings: Set<string>, accounts: AccountExists): Promise<void> {
  for (const s of plan.schemas) {
    await runScript(c, plan.dir, `${s.base}.sql`, warnings, undefined, accounts);
    for (const t of s.tables) await runScript(c, plan.dir, `${t.base}.sql`, warnings, s.name, accounts);
    for (const v of s.views) await runScript(c, plan.dir, `${v.base}.pre.sql`, warnings, s.name, accounts);
  }
}

function columnSpecs(t: TableMeta): ColumnSpec[] {
  return t.columns.map((name) => {
    const d = t.decodeColumns[name]?.toUpperCase();
    const encoding = d === "UNHEX" ? "hex" : d === "FROM_BASE64" ? "base64" : "text";
    if (d !== undefined && encoding === "text") throw new MysqlshDumpError(`${t.schema}.${t.table}: column ${name} uses unknown decoder ${d}`);
    return { name, dataType: "", encoding };
  });
}

/** Counts the bytes that pass. */
class ByteCounter extends Transform {
  bytes = 0;
  override _transform(b: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += b.length;
    cb(null, b);
  }
}

function openDataFile(file: string, ext: string, counter: ByteCounter): Readable {
  const raw = fs.createReadStream(file);
  const compression = ext.endsWith(".zst") ? "zstd" : ext.endsWith(".gz") ? "gzip" : undefined;
  const decoded = compression === undefined ? raw : raw.pipe(createDecompressor(compression));
  raw.on("error", (e) => decoded.destroy(e));
  return decoded.pipe(counter);
}

async function loadDataFile(conn: Conn, o: MysqlshLoadOptions, t: MysqlshTablePlan, f: DataFile): Promise<number> {
  const file = path.join(o.dumpDir, f.file);
  const idx = fs.existsSync(`${file}.idx`) ? idxDataBytes(fs.readFileSync(`${file}.idx`), `${f.file}.idx`) : undefined;
  let counter = new ByteCounter();
  const rows = await loadDataInTransaction(conn, {
    sql: loadDataStatement(t.schema, t.name, columnSpecs(t.meta), t.meta.defaultCharacterSet),
    open: () => { counter = new ByteCounter(); return openDataFile(file, t.meta.extension, counter); },
    what: `${f.file} into ${t.schema}.${t.name}`,
    ...(o.chunkAttempts !== undefined ? { attempts: o.chunkAttempts } : {}),
  });
  if (idx !== undefined && counter.bytes !== idx) {
    throw new MysqlshDumpError(`${f.file} holds ${counter.bytes} bytes, its .idx says ${idx}: the file is corrupt`);
  }
  return rows;
}

async function loadAllData(o: MysqlshLoadOptions, plan: MysqlshPlan, tableRows: Record<string, number>): Promise<number> {
  const tasks = plan.schemas.flatMap((s) => s.tables.flatMap((t) => t.files.map((f) => ({ t, f, size: fs.statSync(path.join(o.dumpDir, f.file)).size }))));
  tasks.sort((a, b) => b.size - a.size);
  const progress = o.progress;
  if (progress) {
    progress.phase = "load";
    progress.tablesTotal = plan.schemas.reduce((n, s) => n + s.tables.length, 0);
    progress.chunksTotal = tasks.length;
  }
  for (const s of plan.schemas) for (const t of s.tables) tableRows[`${t.schema}.${t.name}`] = 0;
  const workers: Conn[] = [];
  let rows = 0;
  try {
    for (let i = 0; i < Math.max(1, Math.min(o.threads, tasks.length)); i++) {
      const w = await connect(o.target, { localInfile: true });
      workers.push(w);
      await prepareLoadSession(w, plan.meta.tzUtc);
    }
    await runParallel(tasks, workers, async (w, task) => {
      const n = await loadDataFile(w, o, task.t, task.f);
      rows += n;
      tableRows[`${task.t.schema}.${task.t.name}`] = (tableRows[`${task.t.schema}.${task.t.name}`] ?? 0) + n;
      if (progress) { progress.chunksDone++; progress.rows += n; progress.compressedBytes += task.size; }
    });
  } finally {
    await Promise.all(workers.map((w) => w.end().catch(() => undefined)));
  }
  if (progress) progress.tablesDone = progress.tablesTotal;
  return rows;
}

async function createViewsAndTriggers(c: Conn, plan: MysqlshPlan, warnings: Set<string>, accounts: AccountExists): Promise<void> {
  for (const s of plan.schemas) {
    for (const v of s.views) await runScript(c, plan.dir, `${v.base}.sql`, warnings, s.name, accounts);
    for (const t of s.tables) await runScript(c, plan.dir, `${t.base}.triggers.sql`, warnings, s.name, accounts);
  }
}

/**
 * Applies the created accounts' grants. With `deferFailures` a grant that fails (its object,
 * e.g. a view or routine, does not exist yet) is returned instead of thrown, to be applied
 * again after the views and triggers: the grants go in before the views because a view is
 * checked against its DEFINER's privileges when the next view references it (a dump's
 * root@localhost has none until its grants run).
 */
async function applyGrants(c: Conn, grants: readonly { account: string; sql: string }[], warnings: Set<string>, deferFailures: boolean): Promise<{ account: string; sql: string }[]> {
  const failed: { account: string; sql: string }[] = [];
  for (const g of grants) {
    try {
      await runStatement(c, g.sql, `@.users.sql ${g.account}`, warnings);
    } catch (e) {
      if (!deferFailures) throw e;
      failed.push(g);
    }
  }
  return failed;
}

async function analyzeTables(c: Conn, plan: MysqlshPlan): Promise<void> {
  for (const s of plan.schemas) {
    for (const t of s.tables) await c.query(`ANALYZE TABLE ${quoteIdent(s.name)}.${quoteIdent(t.name)}`);
  }
}

export async function loadMysqlshDump(o: MysqlshLoadOptions): Promise<MysqlshLoadResult> {
  const plan = readMysqlshPlan(o.dumpDir, o.schema);
  const warnings = new Set<string>();
  const tableRows: Record<string, number> = {};
  const control = await connect(o.target);
  let trustBefore: unknown;
  try {
    await prepareLoadSession(control, plan.meta.tzUtc);
    await checkSchemasAbsent(control, plan);
    trustBefore = await trustFunctionCreators(control);
    await runScript(control, plan.dir, "@.sql", warnings);
    const created = await createAccounts(control, plan.dir, o.users, warnings);
    const accounts = await targetAccounts(control);
    await createSchemaObjects(control, plan, warnings, accounts);
    o.log.info({ schemas: plan.schemas.length, accounts: created.length, format: plan.meta.version }, "MySQL Shell dump: schemas, tables and accounts created");
    const rows = await loadAllData(o, plan, tableRows);
    o.log.info({ rows }, "MySQL Shell dump: data loaded");
    const deferred = await applyGrants(control, created.flatMap((u) => u.grants.map((sql) => ({ account: u.account, sql }))), warnings, true);
    await createViewsAndTriggers(control, plan, warnings, accounts);
    await applyGrants(control, deferred, warnings, false);
    await runScript(control, plan.dir, "@.post.sql", warnings, undefined, accounts);
    await analyzeTables(control, plan);
    await adoptGtidSet(control, plan.meta.gtidExecuted);
    for (const w of warnings) o.log.warn(w);
    o.log.info({ gtidExecuted: plan.meta.gtidExecuted }, "MySQL Shell dump loaded");
    return { meta: plan.meta, warnings: [...warnings], rows, tableRows };
  } finally {
    if (trustBefore !== undefined) await control.query("SET GLOBAL log_bin_trust_function_creators = ?", [trustBefore]).catch(() => undefined);
    await control.end().catch(() => undefined);
  }
}

/**
 * Functions dumped without DETERMINISTIC / NO SQL / READS SQL DATA are refused while the
 * binlog is on (sql_log_bin=0 does not lift it): log_bin_trust_function_creators=1 for
 * the load, as MySQL Shell users set by hand. Returns the value to put back.
 */
async function trustFunctionCreators(c: Conn): Promise<unknown> {
  const [r] = await queryArrays(c, "SELECT @@GLOBAL.log_bin_trust_function_creators");
  await c.query("SET GLOBAL log_bin_trust_function_creators = 1");
  return r?.[0] ?? 0;
}
