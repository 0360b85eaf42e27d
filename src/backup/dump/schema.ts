// Reading the schema (databases, tables, views, routines, triggers, events, users and
// their grants) into a SchemaDocument (dump side).
import { MOCO_USER_NAMES } from "../../mysql/users.ts";
import { queryArrays, type Conn } from "../db.ts";
import {
  DUMP_FORMAT,
  DUMP_FORMAT_VERSION,
  columnEncoding,
  quoteIdent,
  quoteString,
  type ColumnSpec,
  type EventEntry,
  type RoutineEntry,
  type SchemaDocument,
  type SchemaEntry,
  type TriggerEntry,
  type UserEntry,
  type ViewEntry,
} from "./format.ts";
import { isIntegerType } from "./chunks.ts";

/** Schemas never dumped (mysqlsh dumpInstance excludes the same). */
export const SYSTEM_SCHEMAS: readonly string[] = ["mysql", "sys", "information_schema", "performance_schema"];
/** Accounts never dumped: MOCO's users (any host) and MySQL's internal accounts. */
export const EXCLUDED_USERS: readonly string[] = [...MOCO_USER_NAMES, "mysql.sys", "mysql.session", "mysql.infoschema"];

export interface TableInfo {
  schema: string;
  name: string;
  estimatedRows: number;
  estimatedBytes: number;
  columns: ColumnSpec[];
  /** First primary-key column when it is an integer type. */
  keyColumn?: string;
  keyIsInteger: boolean;
}

const s = (v: unknown): string => (v === null || v === undefined ? "" : Buffer.isBuffer(v) ? v.toString("utf8") : String(v));

export async function listSchemas(c: Conn): Promise<string[]> {
  const rows = await queryArrays(c, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME");
  return rows.map((r) => s(r[0])).filter((n) => !SYSTEM_SCHEMAS.includes(n));
}

export async function readTables(c: Conn, schema: string): Promise<TableInfo[]> {
  const tables = await queryArrays(c,
    "SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES " +
    "WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", [schema]);
  const out: TableInfo[] = [];
  for (const t of tables) {
    const name = s(t[0]);
    const cols = await queryArrays(c,
      "SELECT COLUMN_NAME, DATA_TYPE, GENERATION_EXPRESSION, EXTRA FROM information_schema.COLUMNS " +
      "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", [schema, name]);
    const columns: ColumnSpec[] = [];
    for (const col of cols) {
      const extra = s(col[3]).toUpperCase();
      if (s(col[2]) !== "" || extra.includes("VIRTUAL GENERATED") || extra.includes("STORED GENERATED")) continue;
      const dataType = s(col[1]).toLowerCase();
      columns.push({ name: s(col[0]), dataType, encoding: columnEncoding(dataType) });
    }
    const pk = await queryArrays(c,
      "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? " +
      "AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX LIMIT 1", [schema, name]);
    const keyName = pk[0] ? s(pk[0][0]) : undefined;
    const keyType = keyName === undefined ? undefined : cols.find((col) => s(col[0]) === keyName)?.[1];
    const info: TableInfo = {
      schema, name, columns,
      estimatedRows: Number(t[1] ?? 0), estimatedBytes: Number(t[2] ?? 0),
      keyIsInteger: keyType !== undefined && isIntegerType(s(keyType)),
    };
    if (keyName !== undefined) info.keyColumn = keyName;
    out.push(info);
  }
  return out;
}

async function showCreate(c: Conn, sql: string): Promise<unknown[]> {
  const rows = await queryArrays(c, sql);
  const r = rows[0];
  if (!r) throw new Error(`no result for ${sql}`);
  return r;
}

export async function readSchemaEntry(c: Conn, schema: string, tables: readonly TableInfo[]): Promise<SchemaEntry> {
  const q = quoteIdent(schema);
  const entry: SchemaEntry = {
    name: schema,
    createDatabase: s((await showCreate(c, `SHOW CREATE DATABASE ${q}`))[1]),
    tables: [], views: [], routines: [], triggers: [], events: [],
  };
  for (const t of tables) {
    entry.tables.push({ name: t.name, create: s((await showCreate(c, `SHOW CREATE TABLE ${q}.${quoteIdent(t.name)}`))[1]) });
  }
  const views = await queryArrays(c,
    "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", [schema]);
  for (const v of views) {
    const r = await showCreate(c, `SHOW CREATE VIEW ${q}.${quoteIdent(s(v[0]))}`);
    const view: ViewEntry = { name: s(v[0]), create: s(r[1]), characterSetClient: s(r[2]), collationConnection: s(r[3]) };
    entry.views.push(view);
  }
  const routines = await queryArrays(c,
    "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
    [schema]);
  for (const rt of routines) {
    const type = s(rt[1]) === "FUNCTION" ? "FUNCTION" : "PROCEDURE";
    const r = await showCreate(c, `SHOW CREATE ${type} ${q}.${quoteIdent(s(rt[0]))}`);
    const routine: RoutineEntry = {
      type, name: s(rt[0]), sqlMode: s(r[1]), create: s(r[2]), characterSetClient: s(r[3]), collationConnection: s(r[4]),
    };
    entry.routines.push(routine);
  }
  const triggers = await queryArrays(c,
    "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? " +
    "ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER", [schema]);
  for (const tr of triggers) {
    const r = await showCreate(c, `SHOW CREATE TRIGGER ${q}.${quoteIdent(s(tr[0]))}`);
    const trigger: TriggerEntry = {
      name: s(tr[0]), table: s(tr[1]), sqlMode: s(r[1]), create: s(r[2]), characterSetClient: s(r[3]),
      collationConnection: s(r[4]),
    };
    entry.triggers.push(trigger);
  }
  const events = await queryArrays(c,
    "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME", [schema]);
  for (const ev of events) {
    const r = await showCreate(c, `SHOW CREATE EVENT ${q}.${quoteIdent(s(ev[0]))}`);
    const event: EventEntry = {
      name: s(ev[0]), sqlMode: s(r[1]), timeZone: s(r[2]), create: s(r[3]), characterSetClient: s(r[4]),
      collationConnection: s(r[5]),
    };
    entry.events.push(event);
  }
  return entry;
}

/** `user@host` → SQL account name. */
export function accountName(user: string, host: string): string {
  return `${quoteString(user)}@${quoteString(host)}`;
}

const DEFAULT_ROLE_RE = / DEFAULT ROLE (.+?)(?= REQUIRE | PASSWORD | ACCOUNT | COMMENT | ATTRIBUTE |$)/;

/** Splits the DEFAULT ROLE clause off a CREATE USER (roles must be granted first). */
export function splitDefaultRoles(create: string): { create: string; defaultRoles?: string } {
  const m = DEFAULT_ROLE_RE.exec(create);
  if (!m || m[1] === undefined) return { create };
  return { create: create.replace(m[0], ""), defaultRoles: m[1] };
}

export async function readUsers(c: Conn): Promise<UserEntry[]> {
  await c.query("SET SESSION print_identified_with_as_hex = ON");
  const rows = await queryArrays(c, "SELECT User, Host FROM mysql.user ORDER BY User, Host");
  const out: UserEntry[] = [];
  for (const r of rows) {
    const user = s(r[0]);
    const host = s(r[1]);
    if (EXCLUDED_USERS.includes(user)) continue;
    const acct = accountName(user, host);
    const create = s((await showCreate(c, `SHOW CREATE USER ${acct}`))[0]);
    const grants = (await queryArrays(c, `SHOW GRANTS FOR ${acct}`)).map((g) => s(g[0]));
    const split = splitDefaultRoles(create);
    const entry: UserEntry = { user, host, create: split.create, grants };
    if (split.defaultRoles !== undefined) entry.defaultRoles = split.defaultRoles;
    out.push(entry);
  }
  return out;
}

export function emptySchemaDocument(): SchemaDocument {
  return { format: DUMP_FORMAT, version: DUMP_FORMAT_VERSION, schemas: [], users: [] };
}

export async function readMinMax(c: Conn, t: TableInfo): Promise<{ min?: bigint; max?: bigint }> {
  if (t.keyColumn === undefined || !t.keyIsInteger) return {};
  const k = quoteIdent(t.keyColumn);
  const [r] = await queryArrays(c,
    `SELECT CAST(MIN(${k}) AS CHAR), CAST(MAX(${k}) AS CHAR) FROM ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
  if (!r || r[0] === null || r[1] === null) return {};
  return { min: BigInt(s(r[0])), max: BigInt(s(r[1])) };
}
