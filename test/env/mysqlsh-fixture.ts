// The genuine MySQL Shell 8.0.21 dump (../shared/fixtures) and what its metadata says
// about each table, read independently of the loader: every data file decompressed, its
// rows (lines) counted, its bytes checked against @.done.json, and a checksum of its
// lines. The same checksum of a table re-exported from the target in MySQL Shell's TSV
// form (TO_BASE64 for the columns the dump base64-encodes) must match.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import type mysql from "mysql2/promise";
import { nextSecond } from "./backup-harness.ts";
import { encodeRow } from "../../src/backup/dump/format.ts";

export const FIXTURE = path.resolve(import.meta.dirname, "../../../shared/fixtures/mysqlsh-dump-instance-8.0.21.tar.gz");
const FIXTURE_TOP = "dump_instance_8.0.21";

/** Extracts the fixture into `dest/<top>` and returns that directory (fails when the fixture is missing). */
export function extractFixture(dest: string, top = "dump"): string {
  if (!fs.existsSync(FIXTURE)) throw new Error(`the MySQL Shell dump fixture is missing: ${FIXTURE}`);
  fs.mkdirSync(dest, { recursive: true });
  execFileSync("tar", ["-xzf", FIXTURE, "-C", dest]);
  const dir = path.join(dest, top);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(path.join(dest, FIXTURE_TOP), dir);
  return dir;
}

export interface ExpectedTable {
  schema: string;
  table: string;
  columns: string[];
  base64: string[];
  rows: number;
  bytes: number;
  /** sha256 of the sorted lines. */
  checksum: string;
}

const sortedLineHash = (lines: string[]): string => createHash("sha256").update([...lines].sort().join("\n")).digest("hex");

/** What the dump holds, table by table (from its own files and metadata). */
export function expectedTables(dir: string): ExpectedTable[] {
  const done = JSON.parse(fs.readFileSync(path.join(dir, "@.done.json"), "utf8")) as { tableDataBytes: Record<string, Record<string, number>> };
  const files = fs.readdirSync(dir);
  const out: ExpectedTable[] = [];
  for (const f of files.filter((x) => x.endsWith(".json") && x.includes("@") && !x.startsWith("@"))) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as {
      options: { schema: string; table: string; columns: string[]; decodeColumns?: Record<string, string> }; extension: string;
    };
    const base = f.slice(0, -".json".length);
    const data = files.filter((x) => x.endsWith(`.${meta.extension}`) && (x === `${base}.${meta.extension}` || /^@@?\d+$/.test(x.slice(base.length, -meta.extension.length - 1)) && x.startsWith(base)));
    const text = data.map((d) => zlib.zstdDecompressSync(fs.readFileSync(path.join(dir, d))).toString("latin1")).join("");
    const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
    out.push({
      schema: meta.options.schema, table: meta.options.table, columns: meta.options.columns,
      base64: Object.keys(meta.options.decodeColumns ?? {}),
      rows: lines.length, bytes: Buffer.byteLength(text, "latin1"),
      checksum: sortedLineHash(lines),
    });
    const recorded = done.tableDataBytes[meta.options.schema]?.[meta.options.table];
    if (recorded !== undefined && recorded !== Buffer.byteLength(text, "latin1")) {
      throw new Error(`fixture: ${base} holds ${text.length} bytes, @.done.json says ${recorded}`);
    }
  }
  return out.sort((a, b) => `${a.schema}.${a.table}`.localeCompare(`${b.schema}.${b.table}`));
}

const q = (n: string) => "`" + n.replace(/`/g, "``") + "`";

/** The table re-exported from `c` as MySQL Shell writes it; returns rows and the sorted-line checksum. */
export async function exportedTable(c: mysql.Connection, t: ExpectedTable): Promise<{ rows: number; checksum: string }> {
  await c.query("SET SESSION time_zone = '+00:00', SESSION character_set_results = utf8mb4");
  const list = t.columns.map((col) => (t.base64.includes(col) ? `TO_BASE64(${q(col)})` : q(col))).join(", ");
  const [rows] = await c.query({ sql: `SELECT ${list} FROM ${q(t.schema)}.${q(t.table)}`, rowsAsArray: true, typeCast: false });
  const lines = (rows as (Buffer | null)[][]).map((r) => encodeRow(r).toString("latin1").replace(/\n$/, ""));
  return { rows: lines.length, checksum: sortedLineHash(lines) };
}

/** Events, routines and views the schema metadata lists, as `schema.name`, sorted by their UTF-8 bytes (sortedNames). */
export function expectedObjects(dir: string): { events: string[]; routines: string[]; views: string[] } {
  const at = JSON.parse(fs.readFileSync(path.join(dir, "@.json"), "utf8")) as { schemas: string[]; basenames: Record<string, string> };
  const out = { events: [] as string[], routines: [] as string[], views: [] as string[] };
  for (const s of at.schemas) {
    const m = JSON.parse(fs.readFileSync(path.join(dir, `${at.basenames[s] ?? s}.json`), "utf8")) as Record<string, string[]>;
    // Format 1.0 lists events and routines as quoted identifiers.
    const name = (n: string) => `${s}.${/^`.*`$/s.test(n) ? n.slice(1, -1).replace(/``/g, "`") : n}`;
    out.events.push(...(m["events"] ?? []).map(name));
    out.routines.push(...[...(m["functions"] ?? []), ...(m["procedures"] ?? [])].map(name));
    out.views.push(...(m["views"] ?? []).map(name));
  }
  return { events: sortedNames(out.events), routines: sortedNames(out.routines), views: sortedNames(out.views) };
}

export function sortedNames(names: readonly string[]): string[] {
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * The fixture rewritten into format 2.0.x's forms (synthetic: no genuine 2.0.x dump was
 * available): version 2.0.1 in @.json, accounts quoted in the users script's
 * "-- begin user"/"-- begin grants" markers, and one partitioned table's data file named per
 * partition (`<s>@<t>@<partition>@@0.tsv.zst`) with "partitions" in its metadata.
 */
export function rewriteAsFormat2(dir: string): void {
  const metaFile = path.join(dir, "@.json");
  const meta = JSON.parse(fs.readFileSync(metaFile, "utf8")) as Record<string, unknown>;
  fs.writeFileSync(metaFile, JSON.stringify({ ...meta, version: "2.0.1" }, null, 4));
  const users = fs.readFileSync(path.join(dir, "@.users.sql"), "utf8");
  const quoted = users.replace(/^-- (begin|end) (user|grants) (\S+)@(\S+)$/gm, (_all, be: string, kind: string, u: string, h: string) => `-- ${be} ${kind} '${u}'@'${h}'`);
  if (!/^-- begin grants 'testusr6'@'localhost'$/m.test(quoted)) throw new Error("fixture: the users script has no grants block to rewrite");
  fs.writeFileSync(path.join(dir, "@.users.sql"), quoted);
  const base = "mysqlaas_compat@partition_tbl2";
  const tableFile = path.join(dir, `${base}.json`);
  const tm = JSON.parse(fs.readFileSync(tableFile, "utf8")) as Record<string, unknown>;
  fs.writeFileSync(tableFile, JSON.stringify({ ...tm, partitions: ["p1"] }, null, 4));
  for (const ext of ["tsv.zst", "tsv.zst.idx"]) fs.renameSync(path.join(dir, `${base}.${ext}`), path.join(dir, `${base}@p1@@0.${ext}`));
}

/**
 * The binary logs a MOCO backup directory carries beside the fixture's dump: on `c` (a
 * session of the source), the dump's table `crazy_names_db.table2` created with sql_log_bin
 * off (the dump holds it), the logs flushed, one row written before the returned restore
 * point and one after (each committed: MOCO sessions may start with autocommit off), then
 * flushed again. Returns the first binlog file to archive and the restore point.
 */
export async function writeBinlogsAroundPoint(c: mysql.Connection): Promise<{ firstBinlog: string; restorePoint: Date }> {
  await c.query("SET SESSION sql_log_bin = 0");
  await c.query("CREATE DATABASE crazy_names_db");
  await c.query("CREATE TABLE crazy_names_db.table2 (a varchar(10) NOT NULL, b varchar(10) NOT NULL, PRIMARY KEY (a, b)) DEFAULT CHARSET=latin1");
  await c.query("SET SESSION sql_log_bin = 1");
  await c.query("FLUSH BINARY LOGS");
  const [[status]] = (await c.query("SHOW BINARY LOG STATUS")) as unknown as [[{ File: string }]];
  await c.query("INSERT INTO crazy_names_db.table2 VALUES ('before', 'point')");
  await c.query("COMMIT");
  const restorePoint = await nextSecond();
  await c.query("INSERT INTO crazy_names_db.table2 VALUES ('after', 'point')");
  await c.query("COMMIT");
  await c.query("FLUSH BINARY LOGS");
  return { firstBinlog: status.File, restorePoint };
}
