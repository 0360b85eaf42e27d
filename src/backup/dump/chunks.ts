// Primary-key range chunks for big tables (pure).
import { quoteIdent } from "./format.ts";

export interface ChunkPlanInput {
  /** First primary-key column, when it is an integer type; undefined → one chunk. */
  keyColumn?: string;
  /** MIN/MAX of that column in the snapshot (undefined when the table is empty). */
  min?: bigint;
  max?: bigint;
  /** Estimates from information_schema.TABLES. */
  estimatedRows: number;
  estimatedBytes: number;
  /** Targets per chunk. */
  chunkRows: number;
  chunkBytes: number;
  /** Upper bound on the number of chunks (default 4096). */
  maxChunks?: number;
}

export interface ChunkRange {
  /** WHERE clause without the keyword, or "" for the whole table. */
  where: string;
}

/** Number of chunks: enough for both targets, at most the key span and maxChunks. */
export function chunkCount(p: ChunkPlanInput): number {
  if (p.keyColumn === undefined || p.min === undefined || p.max === undefined) return 1;
  const byRows = p.chunkRows > 0 ? Math.ceil(p.estimatedRows / p.chunkRows) : 1;
  const byBytes = p.chunkBytes > 0 ? Math.ceil(p.estimatedBytes / p.chunkBytes) : 1;
  const span = p.max - p.min + 1n;
  let n = Math.max(1, byRows, byBytes);
  if (BigInt(n) > span) n = Number(span);
  return Math.max(1, Math.min(n, p.maxChunks ?? 4096));
}

/**
 * Splits [min, max] into `chunkCount` half-open ranges of equal key width. The first range
 * has no lower bound and the last no upper bound, so every row is in exactly one chunk
 * whatever the estimates said.
 */
export function planChunks(p: ChunkPlanInput): ChunkRange[] {
  const n = chunkCount(p);
  if (n <= 1 || p.keyColumn === undefined || p.min === undefined || p.max === undefined) return [{ where: "" }];
  const col = quoteIdent(p.keyColumn);
  const span = p.max - p.min + 1n;
  const bounds: bigint[] = [];
  for (let i = 1; i < n; i++) bounds.push(p.min + (span * BigInt(i)) / BigInt(n));
  const out: ChunkRange[] = [];
  for (let i = 0; i < n; i++) {
    const lo = i === 0 ? undefined : bounds[i - 1];
    const hi = i === n - 1 ? undefined : bounds[i];
    const conds: string[] = [];
    if (lo !== undefined) conds.push(`${col} >= ${lo}`);
    if (hi !== undefined) conds.push(`${col} < ${hi}`);
    out.push({ where: conds.join(" AND ") });
  }
  return out;
}

const INTEGER_TYPES = new Set(["tinyint", "smallint", "mediumint", "int", "integer", "bigint"]);

export function isIntegerType(dataType: string): boolean {
  return INTEGER_TYPES.has(dataType.toLowerCase());
}
