// MySQL Shell `util.dumpInstance` dumps (what MOCO's dump.tar holds), read side, pure parts:
// metadata parsing with the format-version check, file names (percent-encoded), the SQL
// script splitter (mysqldump-style scripts with DELIMITER) and the adaptations that
// MySQL 9.7 forces on statements written by older servers (docs/backup.md "MOCO dumps").
//
// Layout of a dump directory (format 1.0.x, MySQL Shell 8.0.21–8.0.26; 2.0.x, 8.0.27 on):
//   @.json          instance metadata (version, schemas, users, gtidExecuted, tzUtc)
//   @.sql @.post.sql   run before / after everything
//   @.users.sql     accounts and their grants ("-- begin user …" … "-- end user …")
//   <s>.json <s>.sql   schema metadata; CREATE DATABASE, events, routines
//   <s>@<t>.json <s>@<t>.sql <s>@<t>.triggers.sql   table metadata, DDL, triggers
//   <s>@<v>.pre.sql <s>@<v>.sql   a view's placeholder table and its final definition
//   <s>@<t>[@<partition>]@N.tsv.zst, …@@N.tsv.zst (last chunk), <s>@<t>.tsv.zst
//                   data; each with an .idx whose last 8 bytes (big-endian) are the
//                   uncompressed size
//   @.done.json     written last: the dump is complete
// File base names come from the `basenames` maps; names are percent-encoded there.

export const MYSQLSH_INSTANCE_META = "@.json";
export const MYSQLSH_DONE = "@.done.json";

/** The format versions this loader reads (major.minor; any patch). */
export const MYSQLSH_SUPPORTED_VERSIONS: readonly string[] = ["1.0", "2.0"];

export class MysqlshDumpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MysqlshDumpError";
  }
}

/** Refuses a format version other than 1.0.x and 2.0.x. */
export function checkMysqlshVersion(version: unknown, where: string): string {
  if (typeof version !== "string" || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new MysqlshDumpError(`${where}: "version" is ${JSON.stringify(version)}, not a MySQL Shell dump format version`);
  }
  const mm = version.split(".").slice(0, 2).join(".");
  if (!MYSQLSH_SUPPORTED_VERSIONS.includes(mm)) {
    throw new MysqlshDumpError(`${where}: MySQL Shell dump format ${version} is not supported ` +
      `(moco-ts reads ${MYSQLSH_SUPPORTED_VERSIONS.map((v) => `${v}.x`).join(" and ")})`);
  }
  return version;
}

export interface InstanceMeta {
  version: string;
  dumper: string;
  schemas: string[];
  basenames: Record<string, string>;
  /** Accounts as `'user'@'host'`. */
  users: string[];
  defaultCharacterSet: string;
  tzUtc: boolean;
  serverVersion: string;
  gtidExecuted: string;
}

export interface SchemaMeta {
  schema: string;
  tables: string[];
  views: string[];
  basenames: Record<string, string>;
  includesDdl: boolean;
  includesData: boolean;
}

export interface TableMeta {
  schema: string;
  table: string;
  columns: string[];
  /** Column → MySQL function applied on load (UNHEX, FROM_BASE64). */
  decodeColumns: Record<string, string>;
  defaultCharacterSet: string;
  extension: string;
  includesData: boolean;
  chunking: boolean;
  fieldsTerminatedBy: string;
  fieldsEnclosedBy: string;
  fieldsEscapedBy: string;
  linesTerminatedBy: string;
  /** Partition names dumped separately (2.0.x); empty when the table is dumped whole. */
  partitions: string[];
}

function parseJson(body: Buffer | string, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch {
    throw new MysqlshDumpError(`${where} is not JSON`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new MysqlshDumpError(`${where} is not a JSON object`);
  return v as Record<string, unknown>;
}

const str = (o: Record<string, unknown>, k: string, where: string, dflt?: string): string => {
  const v = o[k];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== "string") throw new MysqlshDumpError(`${where}: "${k}" is missing or not a string`);
  return v;
};
const strList = (o: Record<string, unknown>, k: string, where: string): string[] => {
  const v = o[k] ?? [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new MysqlshDumpError(`${where}: "${k}" is not a list of strings`);
  return v;
};
const strMap = (o: Record<string, unknown>, k: string, where: string): Record<string, string> => {
  const v = o[k] ?? {};
  if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === "string")) {
    throw new MysqlshDumpError(`${where}: "${k}" is not a map of strings`);
  }
  return v as Record<string, string>;
};

/** `@.json`: checks the format version first. */
export function parseInstanceMeta(body: Buffer | string, where = MYSQLSH_INSTANCE_META): InstanceMeta {
  const o = parseJson(body, where);
  const version = checkMysqlshVersion(o["version"], where);
  return {
    version,
    dumper: str(o, "dumper", where, ""),
    schemas: strList(o, "schemas", where),
    basenames: strMap(o, "basenames", where),
    users: strList(o, "users", where),
    defaultCharacterSet: str(o, "defaultCharacterSet", where, "utf8mb4"),
    tzUtc: o["tzUtc"] !== false,
    serverVersion: str(o, "serverVersion", where, ""),
    gtidExecuted: str(o, "gtidExecuted", where, "").replace(/\s+/g, ""),
  };
}

export function parseSchemaMeta(body: Buffer | string, where: string): SchemaMeta {
  const o = parseJson(body, where);
  return {
    schema: str(o, "schema", where),
    tables: strList(o, "tables", where),
    views: strList(o, "views", where),
    basenames: strMap(o, "basenames", where),
    includesDdl: o["includesDdl"] !== false,
    includesData: o["includesData"] !== false,
  };
}

export function parseTableMeta(body: Buffer | string, where: string): TableMeta {
  const o = parseJson(body, where);
  const opts = o["options"];
  if (typeof opts !== "object" || opts === null) throw new MysqlshDumpError(`${where}: "options" is missing`);
  const p = opts as Record<string, unknown>;
  const partitions = o["partitions"];
  return {
    schema: str(p, "schema", where),
    table: str(p, "table", where),
    columns: strList(p, "columns", where),
    decodeColumns: strMap(p, "decodeColumns", where),
    defaultCharacterSet: str(p, "defaultCharacterSet", where, "utf8mb4"),
    extension: str(o, "extension", where, "tsv.zst"),
    includesData: o["includesData"] !== false,
    chunking: o["chunking"] === true,
    fieldsTerminatedBy: str(p, "fieldsTerminatedBy", where, "\t"),
    fieldsEnclosedBy: str(p, "fieldsEnclosedBy", where, ""),
    fieldsEscapedBy: str(p, "fieldsEscapedBy", where, "\\"),
    linesTerminatedBy: str(p, "linesTerminatedBy", where, "\n"),
    partitions: Array.isArray(partitions) ? partitions.filter((x): x is string => typeof x === "string") : [],
  };
}

// ---- names ----------------------------------------------------------------------------

/** Decodes a percent-encoded file name part (`new%0Aline` → "new\nline"). */
export function decodeName(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new MysqlshDumpError(`file name part ${JSON.stringify(encoded)} is not valid percent-encoding`);
  }
}

/** Percent-encodes a name as MySQL Shell does for file names (used when a basenames entry is absent). */
export function encodeMysqlshName(name: string): string {
  return Array.from(name).map((c) => (c.charCodeAt(0) >= 0x80 || /[A-Za-z0-9_\-.$ ]/.test(c) ? c : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)).join("");
}

/** Parses `'user'@'host'` (as in @.json "users" and the users script markers). */
export function parseAccount(s: string): { user: string; host: string } {
  const m = /^'((?:[^'\\]|\\.|'')*)'@'((?:[^'\\]|\\.|'')*)'$/.exec(s.trim());
  if (m) {
    const un = (x: string) => x.replace(/''/g, "'").replace(/\\(.)/g, "$1");
    return { user: un(m[1] as string), host: un(m[2] as string) };
  }
  const at = s.lastIndexOf("@");
  if (at < 0) throw new MysqlshDumpError(`${JSON.stringify(s)} is not an account name`);
  return { user: s.slice(0, at), host: s.slice(at + 1) };
}

export interface DataFile {
  file: string;
  /** Chunk index (0 for a non-chunked file). */
  chunk: number;
  last: boolean;
  partition?: string;
}

/**
 * The data files of a table among the directory's `files`: `<base>.<ext>` (whole table)
 * or `<base>[@<partition>]@N.<ext>` / `…@@N.<ext>` (chunks; `@@` marks the last one).
 */
export function tableDataFiles(files: readonly string[], base: string, ext: string): DataFile[] {
  const suffix = `.${ext}`;
  const out: DataFile[] = [];
  for (const f of files) {
    if (!f.startsWith(base) || !f.endsWith(suffix)) continue;
    const rest = f.slice(base.length, f.length - suffix.length);
    if (rest === "") { out.push({ file: f, chunk: 0, last: true }); continue; }
    const m = /^(?:@([^@]+))?@(@?)(\d+)$/.exec(rest);
    if (!m) continue;
    out.push({ file: f, chunk: Number(m[3]), last: m[2] === "@", ...(m[1] !== undefined ? { partition: decodeName(m[1]) } : {}) });
  }
  return out.sort((a, b) => (a.partition ?? "").localeCompare(b.partition ?? "") || a.chunk - b.chunk);
}

/** The uncompressed size recorded in a data file's .idx (its last 8 bytes, big-endian). */
export function idxDataBytes(idx: Buffer, where: string): number {
  if (idx.length < 8 || idx.length % 8 !== 0) throw new MysqlshDumpError(`${where}: not an index file (${idx.length} bytes)`);
  return Number(idx.readBigUInt64BE(idx.length - 8));
}

// ---- SQL scripts ------------------------------------------------------------------------

/** Statements of a mysqldump-style script: `DELIMITER` lines, quotes and comments respected; comment-only pieces dropped. */
export function splitSqlScript(text: string): string[] {
  const out: string[] = [];
  let delim = ";";
  let cur = "";
  let i = 0;
  const n = text.length;
  const atStatementStart = () => cur.trim() === "" || stripComments(cur).trim() === "";
  while (i < n) {
    if ((i === 0 || text[i - 1] === "\n") && atStatementStart()) {
      const eol = text.indexOf("\n", i);
      const line = text.slice(i, eol < 0 ? n : eol);
      const m = /^\s*DELIMITER\s+(\S+)\s*$/i.exec(line);
      if (m) {
        delim = m[1] as string;
        cur = "";
        i = eol < 0 ? n : eol + 1;
        continue;
      }
    }
    const c = text[i] as string;
    if (c === "'" || c === '"' || c === "`") {
      const end = quotedEnd(text, i);
      cur += text.slice(i, end);
      i = end;
      continue;
    }
    if (c === "#" || (c === "-" && text.startsWith("-- ", i)) || (c === "-" && text.startsWith("--\n", i)) || (c === "-" && i + 2 === n && text.startsWith("--", i))) {
      const eol = text.indexOf("\n", i);
      const end = eol < 0 ? n : eol;
      cur += text.slice(i, end);
      i = end;
      continue;
    }
    if (c === "/" && text[i + 1] === "*" && text[i + 2] !== "!") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      cur += text.slice(i, stop);
      i = stop;
      continue;
    }
    if (text.startsWith(delim, i)) {
      pushStatement(out, cur);
      cur = "";
      i += delim.length;
      continue;
    }
    cur += c;
    i++;
  }
  pushStatement(out, cur);
  return out;
}

function quotedEnd(text: string, start: number): number {
  const q = text[start];
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && q !== "`") { i += 2; continue; }
    if (c === q) {
      if (text[i + 1] === q) { i += 2; continue; }
      return i + 1;
    }
    i++;
  }
  return text.length;
}

/** Removes `-- `, `#` and plain C-style comments (not the executable `/*!` ones) outside quotes. */
export function stripComments(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (c === "'" || c === '"' || c === "`") {
      const end = quotedEnd(sql, i);
      out += sql.slice(i, end);
      i = end;
    } else if (c === "#" || (c === "-" && /^--(\s|$)/.test(sql.slice(i, i + 3)))) {
      const eol = sql.indexOf("\n", i);
      i = eol < 0 ? sql.length : eol;
    } else if (c === "/" && sql[i + 1] === "*" && sql[i + 2] !== "!") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function pushStatement(out: string[], s: string): void {
  if (stripComments(s).trim() !== "") out.push(s.trim());
}

export interface UserBlock {
  account: string;
  user: string;
  host: string;
  /** CREATE USER (and ALTER USER … DEFAULT ROLE / other non-GRANT) statements. */
  create: string[];
  grants: string[];
}

/** The accounts of `@.users.sql`: statements between `-- begin user X` / `-- end user X` and `-- begin grants X` / `-- end grants X` (X quoted or not). */
export function parseUsersScript(text: string): { blocks: UserBlock[]; other: string[] } {
  const blocks = new Map<string, UserBlock>();
  const other: string[] = [];
  let current: UserBlock | undefined;
  let chunk = "";
  const flush = () => {
    for (const st of splitSqlScript(chunk)) {
      const bare = stripComments(st).trim();
      if (current === undefined) other.push(st);
      else if (/^GRANT\s/i.test(bare)) current.grants.push(st);
      else current.create.push(st);
    }
    chunk = "";
  };
  for (const line of text.split("\n")) {
    const begin = /^-- begin (?:user|grants) (.+)$/.exec(line);
    const end = /^-- end (?:user|grants) (.+)$/.exec(line);
    if (begin) {
      flush();
      const account = (begin[1] as string).trim();
      const key = normaliseAccount(account);
      current = blocks.get(key.key) ?? { account, user: key.user, host: key.host, create: [], grants: [] };
      blocks.set(key.key, current);
    } else if (end) {
      flush();
      current = undefined;
    } else {
      chunk += line + "\n";
    }
  }
  flush();
  return { blocks: [...blocks.values()], other };
}

function normaliseAccount(marker: string): { key: string; user: string; host: string } {
  const a = parseAccount(marker);
  return { key: `${a.user}\0${a.host}`, ...a };
}

// ---- adaptations to MySQL 9.7 ---------------------------------------------------------

/** sql_mode values MySQL 8.0 removed (a SET sql_mode naming one fails). */
export const REMOVED_SQL_MODES: readonly string[] = [
  "NO_AUTO_CREATE_USER", "NO_FIELD_OPTIONS", "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "DB2", "MAXDB", "MSSQL",
  "MYSQL323", "MYSQL40", "ORACLE", "POSTGRESQL",
];

export interface Adapted {
  sql: string;
  /** What was changed, for the restore's warnings (empty when nothing). */
  changes: string[];
}

/** Removes sql_mode values MySQL 8.0+ no longer knows from `sql_mode = '…'` assignments. */
export function adaptSqlMode(sql: string): Adapted {
  const changes: string[] = [];
  const out = sql.replace(/(sql_mode\s*=\s*)'([^']*)'/gi, (_all, lhs: string, modes: string) => {
    const list = modes.split(",").filter((m) => m !== "");
    const kept = list.filter((m) => !REMOVED_SQL_MODES.includes(m.toUpperCase()));
    if (kept.length !== list.length) changes.push(`removed sql_mode ${list.filter((m) => !kept.includes(m)).join(",")}`);
    return `${lhs}'${kept.join(",")}'`;
  });
  return { sql: out, changes };
}

/**
 * mysql_native_password is gone in MySQL 9: such an account is created with
 * caching_sha2_password, no password and locked; the caller reports it so that its
 * password is set again (ALTER USER … IDENTIFIED BY …, ACCOUNT UNLOCK).
 */
export function adaptNativePassword(sql: string): Adapted {
  const re = /IDENTIFIED WITH\s+'?mysql_native_password'?(\s+AS\s+'[^']*')?/i;
  if (!re.test(sql)) return { sql, changes: [] };
  let out = sql.replace(re, "IDENTIFIED WITH 'caching_sha2_password'");
  out = /ACCOUNT UNLOCK/i.test(out) ? out.replace(/ACCOUNT UNLOCK/i, "ACCOUNT LOCK") : `${out} ACCOUNT LOCK`;
  return { sql: out, changes: ["mysql_native_password account created locked without a password"] };
}

const DEFINER_RE = /DEFINER\s*=\s*(`(?:[^`]|``)*`|'(?:[^']|'')*'|[\w$]+)\s*@\s*(`(?:[^`]|``)*`|'(?:[^']|'')*'|[\w.%$-]+)/gi;

/** An account name part as written in SQL (`x`, 'x' or x) → its value. */
function unquoteAccountPart(p: string): string {
  if (p.startsWith("`")) return p.slice(1, -1).replace(/``/g, "`");
  if (p.startsWith("'")) return p.slice(1, -1).replace(/''/g, "'");
  return p;
}

/**
 * A view, routine, trigger or event whose DEFINER account does not exist on the target is
 * created with `DEFINER=CURRENT_USER` (MySQL Shell's `strip_definers` idea): a MOCO cluster
 * has no root@localhost (moco-init drops it, as MOCO's does), and a view defined by a
 * missing account cannot even be referenced by the next view. `exists(user, host)` says
 * which accounts the target has (those the dump created included).
 */
export function adaptMissingDefiner(sql: string, exists: (user: string, host: string) => boolean): Adapted {
  const changes: string[] = [];
  const out = sql.replace(DEFINER_RE, (all, u: string, h: string) => {
    const user = unquoteAccountPart(u);
    const host = unquoteAccountPart(h);
    if (exists(user, host)) return all;
    changes.push(`definer '${user}'@'${host}' does not exist on the target: defined by the restoring user (DEFINER=CURRENT_USER)`);
    return "DEFINER=CURRENT_USER";
  });
  return { sql: out, changes };
}

/** Every adaptation, in order (the definer one only when the target's accounts are known). */
export function adaptStatement(sql: string, accountExists?: (user: string, host: string) => boolean): Adapted {
  const a = adaptSqlMode(sql);
  const b = adaptNativePassword(a.sql);
  const c = accountExists === undefined ? { sql: b.sql, changes: [] } : adaptMissingDefiner(b.sql, accountExists);
  return { sql: c.sql, changes: [...a.changes, ...b.changes, ...c.changes] };
}
