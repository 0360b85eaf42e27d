// moco-ts dump format (docs/backup.md "Dump format"): a manifest, one schema document and
// data chunks as compressed tab-separated text that LOAD DATA reads back unchanged.
import { Transform, type TransformCallback } from "node:stream";
import zlib from "node:zlib";

export const DUMP_FORMAT = "moco-ts-dump";
/** 2: the dump travels as dump.tar; chunk and schema paths are relative to dump/. */
export const DUMP_FORMAT_VERSION = 2;
export const BINLOG_FORMAT_VERSION = 2;
export const BINLOG_FORMAT = "moco-ts-binlog";

export type Compression = "zstd" | "gzip";

/** zstd when node:zlib has it (Node ≥ 22.15 / 23.8), else gzip. */
export function defaultCompression(): Compression {
  return typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === "function" ? "zstd" : "gzip";
}

export function compressionExt(c: Compression): string {
  return c === "zstd" ? "zst" : "gz";
}

export function createCompressor(c: Compression, level?: number): Transform {
  if (c === "zstd") {
    return zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: level ?? 3 } });
  }
  return zlib.createGzip({ level: level ?? 3 });
}

export function createDecompressor(c: Compression): Transform {
  if (c === "zstd") {
    if (typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress !== "function") {
      throw new Error("this Node.js has no zstd support in node:zlib: cannot read a zstd-compressed backup");
    }
    return zlib.createZstdDecompress();
  }
  return zlib.createGunzip();
}

/** How a column is written and read back. */
export type ColumnEncoding = "text" | "hex" | "json" | "base64";

export interface ColumnSpec {
  name: string;
  /** information_schema DATA_TYPE (lower case). */
  dataType: string;
  /**
   * text: the stored bytes (character_set_results=binary, so no conversion), escaped;
   * hex: HEX() on dump, UNHEX() on load (BIT, spatial); json: the JSON text, converted
   * from utf8mb4 on load (a JSON column refuses binary strings); base64: FROM_BASE64()
   * on load (MySQL Shell dumps' BIT and spatial columns).
   */
  encoding: ColumnEncoding;
}

export interface ChunkEntry {
  /** Path of the chunk file inside dump/ (data/<db>/<table>/<NNNNNN>.tsv.<ext>). */
  key: string;
  /** Rows in the chunk. */
  rows: number;
  /** Uncompressed TSV bytes. */
  bytes: number;
  /** Object size. */
  compressedBytes: number;
  /** sha256 (hex) of the chunk file. */
  sha256: string;
  /** The WHERE clause that produced it (informational). */
  range?: string;
}

export interface TableEntry {
  schema: string;
  name: string;
  columns: ColumnSpec[];
  chunks: ChunkEntry[];
  rows: number;
}

export interface DumpManifest {
  format: typeof DUMP_FORMAT;
  version: number;
  /** Backup start (key timestamp), RFC 3339. */
  time: string;
  /** When the dump finished, RFC 3339. */
  finishedAt: string;
  source: { index: number; uuid: string; version: string };
  /** gtid_executed at the snapshot. */
  gtidExecuted: string;
  /** Binary log coordinates at the snapshot. */
  binlog: { file: string; position: number };
  compression: Compression;
  /** Path of the schema document inside dump/. */
  schemaKey: string;
  tables: TableEntry[];
  totals: { tables: number; chunks: number; rows: number; bytes: number; compressedBytes: number };
}

export interface ViewEntry { name: string; create: string; characterSetClient: string; collationConnection: string }
export interface RoutineEntry {
  type: "PROCEDURE" | "FUNCTION";
  name: string;
  create: string;
  sqlMode: string;
  characterSetClient: string;
  collationConnection: string;
}
export interface TriggerEntry {
  name: string;
  table: string;
  create: string;
  sqlMode: string;
  characterSetClient: string;
  collationConnection: string;
}
export interface EventEntry {
  name: string;
  create: string;
  sqlMode: string;
  timeZone: string;
  characterSetClient: string;
  collationConnection: string;
}
export interface SchemaEntry {
  name: string;
  createDatabase: string;
  tables: { name: string; create: string }[];
  views: ViewEntry[];
  routines: RoutineEntry[];
  triggers: TriggerEntry[];
  events: EventEntry[];
}
export interface UserEntry {
  user: string;
  host: string;
  /** SHOW CREATE USER with print_identified_with_as_hex=ON (no raw hash bytes). */
  create: string;
  grants: string[];
  /** Default roles to set after grants (stripped from `create`). */
  defaultRoles?: string;
}
export interface SchemaDocument {
  format: typeof DUMP_FORMAT;
  version: number;
  schemas: SchemaEntry[];
  users: UserEntry[];
}

/** Parses a manifest of the given format; `where` names its origin in errors. */
export function parseManifest<T extends { format: string }>(body: Buffer, where: string, format: string, what: string): T {
  let m: T;
  try {
    m = JSON.parse(body.toString("utf8")) as T;
  } catch {
    throw new Error(`${where} is not JSON`);
  }
  if (m?.format !== format) throw new Error(`${where} is not a moco-ts ${what} manifest`);
  return m;
}

/** A binlog file inside binlog.tar.zst (binlog/<name>). */
export interface BinlogFileEntry {
  name: string;
  bytes: number;
  /** sha256 (hex) of the file. */
  sha256: string;
}

export interface BinlogManifest {
  format: typeof BINLOG_FORMAT;
  version: number;
  /** Timestamp of the backup whose dump this archive continues (directory name). */
  since: string;
  /** The backup that took this archive. */
  takenAt: string;
  /** The archive holds every transaction committed before this time (end of the fetch). */
  coveredUntil: string;
  sourceIndex: number;
  startFile: string;
  excludeGtids: string;
  files: BinlogFileEntry[];
}

// ---- identifiers and TSV ------------------------------------------------------------

/** A backquoted identifier. */
export function quoteIdent(name: string): string {
  return "`" + name.replace(/`/g, "``") + "`";
}

export function quoteString(s: string): string {
  return "'" + s.replace(/\\/g, "\\\\").replace(/'/g, "''").replace(/\0/g, "\\0") + "'";
}

const HEX_TYPES = new Set([
  "bit", "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
  "geometrycollection", "geomcollection",
]);

/** The column's encoding: hex for BIT and spatial types (their text form does not load back), else text. */
export function columnEncoding(dataType: string): ColumnEncoding {
  const t = dataType.toLowerCase();
  if (t === "json") return "json";
  return HEX_TYPES.has(t) ? "hex" : "text";
}

/** SELECT list of a chunk query. */
export function selectList(cols: readonly ColumnSpec[]): string {
  return cols.map((c) => (c.encoding === "hex" ? `HEX(${quoteIdent(c.name)})` : quoteIdent(c.name))).join(", ");
}

const DECODERS: Partial<Record<ColumnEncoding, string>> = { hex: "UNHEX", base64: "FROM_BASE64" };

/**
 * The LOAD DATA statement for a chunk (the file name is ignored by the stream factory).
 * `charset` is the data's character set: binary for moco-ts dumps (the stored bytes),
 * the dump's defaultCharacterSet for MySQL Shell dumps.
 */
export function loadDataStatement(schema: string, table: string, cols: readonly ColumnSpec[], charset = "binary"): string {
  const targets: string[] = [];
  const sets: string[] = [];
  cols.forEach((c, i) => {
    const decoder = DECODERS[c.encoding];
    if (decoder !== undefined) {
      targets.push(`@v${i}`);
      sets.push(`${quoteIdent(c.name)} = ${decoder}(@v${i})`);
    } else if (c.encoding === "json") {
      targets.push(`@v${i}`);
      sets.push(`${quoteIdent(c.name)} = CONVERT(@v${i} USING utf8mb4)`);
    } else {
      targets.push(quoteIdent(c.name));
    }
  });
  return `LOAD DATA LOCAL INFILE 'chunk' INTO TABLE ${quoteIdent(schema)}.${quoteIdent(table)} CHARACTER SET ${charset} ` +
    `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${targets.join(", ")})` +
    (sets.length > 0 ? ` SET ${sets.join(", ")}` : "");
}

const BACKSLASH = 0x5c;
const TAB = 0x09;
const NL = 0x0a;
const NUL = 0x00;
const NULL_FIELD = Buffer.from("\\N");

function needsEscape(b: Buffer): boolean {
  return b.indexOf(BACKSLASH) >= 0 || b.indexOf(TAB) >= 0 || b.indexOf(NL) >= 0 || b.indexOf(NUL) >= 0;
}

/** LOAD DATA escaping (ESCAPED BY '\\'): backslash, tab, newline and NUL. */
export function escapeField(b: Buffer): Buffer {
  if (!needsEscape(b)) return b;
  const out = Buffer.allocUnsafe(b.length * 2);
  let j = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c === BACKSLASH) { out[j++] = BACKSLASH; out[j++] = BACKSLASH; }
    else if (c === TAB) { out[j++] = BACKSLASH; out[j++] = 0x74; }
    else if (c === NL) { out[j++] = BACKSLASH; out[j++] = 0x6e; }
    else if (c === NUL) { out[j++] = BACKSLASH; out[j++] = 0x30; }
    else out[j++] = c;
  }
  return out.subarray(0, j);
}

/** One row (raw field bytes, null for SQL NULL) as a TSV line. */
export function encodeRow(row: readonly (Buffer | null)[]): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < row.length; i++) {
    if (i > 0) parts.push(TAB_BUF);
    const v = row[i];
    parts.push(v === null || v === undefined ? NULL_FIELD : escapeField(v));
  }
  parts.push(NL_BUF);
  return Buffer.concat(parts);
}
const TAB_BUF = Buffer.from([TAB]);
const NL_BUF = Buffer.from([NL]);

/** Object-mode rows in, TSV bytes out (batched to ~64 KiB writes); counts rows and bytes. */
export class TsvEncoder extends Transform {
  rows = 0;
  bytes = 0;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  constructor() {
    super({ writableObjectMode: true, readableObjectMode: false, writableHighWaterMark: 256 });
  }
  override _transform(row: (Buffer | null)[], _enc: BufferEncoding, cb: TransformCallback): void {
    const line = encodeRow(row);
    this.rows++;
    this.bytes += line.length;
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (this.#pendingBytes >= 65536) this.#flushPending();
    cb();
  }
  override _flush(cb: TransformCallback): void {
    this.#flushPending();
    cb();
  }
  #flushPending(): void {
    if (this.#pending.length === 0) return;
    this.push(Buffer.concat(this.#pending, this.#pendingBytes));
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}
