// GTID set algebra, done in TypeScript so that the clustering decision can be a pure
// function. The text form is MySQL's:
//
//   gtid_set  := '' | uuid_set (',' uuid_set)*
//   uuid_set  := uuid (':' (tag | interval))*
//   interval  := n | n '-' m            (1 <= n, m <= 2^63-2; m < n means empty)
//   tag       := [a-z_][a-z0-9_]{0,31}  (MySQL 8.3+, case-insensitive, printed lower case)
//
// A tag applies to the intervals that follow it inside the same uuid_set, so
// "u:1-5:blue:1-3" holds u:1..5 and the tagged u:blue:1..3. Whitespace (including the
// newline MySQL prints after each comma) is allowed around every token. Empty entries
// between commas are accepted, as MySQL accepts them.
//
// MySQL prints a set with UUIDs in ascending order (lower case), the untagged intervals
// of a UUID first, then each tag in ascending order, intervals merged and sorted, and
// ",\n" between UUIDs. formatGtidSet reproduces that.

/** One closed interval of transaction numbers, `start <= end`. */
export interface GtidInterval {
  readonly start: bigint;
  readonly end: bigint;
}

/** The identity of a transaction source: server UUID plus optional tag ("" = untagged). */
export interface GtidSource {
  readonly uuid: string;
  readonly tag: string;
}

/**
 * An immutable, normalised GTID set: keyed by `sourceKey(uuid, tag)`, each value a
 * non-empty list of sorted, disjoint, non-adjacent intervals.
 */
export interface GtidSet {
  readonly sources: ReadonlyMap<string, readonly GtidInterval[]>;
}

/** A GTID set or its MySQL text form. */
export type GtidSetInput = GtidSet | string;

/** Largest transaction number MySQL accepts (GNO_END - 1 = 2^63 - 2). */
export const GTID_MAX_GNO = (1n << 63n) - 2n;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const bareUuidPattern = /^[0-9a-f]{32}$/;
const tagPattern = /^[a-z_][a-z0-9_]{0,31}$/;
const intervalPattern = /^([0-9]+)(?:\s*-\s*([0-9]+))?$/;

/** Thrown when a GTID set text is malformed. The message quotes the offending part. */
export class GtidParseError extends Error {
  override name = "GtidParseError";
}

export const EMPTY_GTID_SET: GtidSet = { sources: new Map() };

function sourceKey(uuid: string, tag: string): string {
  return tag === "" ? uuid : `${uuid}:${tag}`;
}

function sourceOfKey(key: string): GtidSource {
  const i = key.indexOf(":");
  return i < 0 ? { uuid: key, tag: "" } : { uuid: key.slice(0, i), tag: key.slice(i + 1) };
}

function normaliseUuid(text: string): string {
  let lower = text.toLowerCase();
  // MySQL also accepts the UUID in braces.
  if (lower.startsWith("{") && lower.endsWith("}")) lower = lower.slice(1, -1);
  if (uuidPattern.test(lower)) return lower;
  if (bareUuidPattern.test(lower)) {
    return `${lower.slice(0, 8)}-${lower.slice(8, 12)}-${lower.slice(12, 16)}-${lower.slice(16, 20)}-${lower.slice(20)}`;
  }
  throw new GtidParseError(`malformed UUID ${JSON.stringify(text)} in GTID set`);
}

/** Sort and merge overlapping or adjacent intervals. */
function normaliseIntervals(intervals: readonly GtidInterval[]): GtidInterval[] {
  const sorted = [...intervals].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: GtidInterval[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && iv.start <= last.end + 1n) {
      if (iv.end > last.end) out[out.length - 1] = { start: last.start, end: iv.end };
    } else {
      out.push(iv);
    }
  }
  return out;
}

function fromEntries(entries: Iterable<[string, readonly GtidInterval[]]>): GtidSet {
  const sources = new Map<string, readonly GtidInterval[]>();
  for (const [key, ivs] of entries) {
    if (ivs.length > 0) sources.set(key, ivs);
  }
  return { sources };
}

/** Parse MySQL's text form of a GTID set. Throws GtidParseError on malformed input. */
export function parseGtidSet(text: string): GtidSet {
  const acc = new Map<string, GtidInterval[]>();
  for (const rawEntry of text.split(",")) {
    const entry = rawEntry.trim();
    if (entry === "") continue;
    const parts = entry.split(":").map((p) => p.trim());
    const uuid = normaliseUuid(parts[0] ?? "");
    let tag = "";
    for (const part of parts.slice(1)) {
      const m = intervalPattern.exec(part);
      if (m !== null) {
        const start = BigInt(m[1] ?? "0");
        const end = m[2] === undefined ? start : BigInt(m[2]);
        if (start < 1n || start > GTID_MAX_GNO || end > GTID_MAX_GNO) {
          throw new GtidParseError(`GTID interval out of range ${JSON.stringify(part)}`);
        }
        // MySQL accepts "n-m" with m < n and treats it as empty.
        if (end < start) continue;
        const key = sourceKey(uuid, tag);
        let list = acc.get(key);
        if (list === undefined) {
          list = [];
          acc.set(key, list);
        }
        list.push({ start, end });
        continue;
      }
      const lowerTag = part.toLowerCase();
      if (tagPattern.test(lowerTag)) {
        tag = lowerTag;
        continue;
      }
      throw new GtidParseError(`malformed GTID set element ${JSON.stringify(part)}`);
    }
  }
  return fromEntries([...acc].map(([k, v]) => [k, normaliseIntervals(v)]));
}

/** Accept either a parsed set or MySQL text. */
export function toGtidSet(input: GtidSetInput): GtidSet {
  return typeof input === "string" ? parseGtidSet(input) : input;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface GtidFormatOptions {
  /** Text between UUIDs. MySQL prints ",\n" (the default). */
  readonly separator?: string;
}

/** Print a GTID set exactly as MySQL does (UUIDs ascending, tags ascending, merged intervals). */
export function formatGtidSet(input: GtidSetInput, options: GtidFormatOptions = {}): string {
  const set = toGtidSet(input);
  const separator = options.separator ?? ",\n";
  const byUuid = new Map<string, { tag: string; intervals: readonly GtidInterval[] }[]>();
  for (const [key, intervals] of set.sources) {
    const { uuid, tag } = sourceOfKey(key);
    let list = byUuid.get(uuid);
    if (list === undefined) {
      list = [];
      byUuid.set(uuid, list);
    }
    list.push({ tag, intervals });
  }
  const uuids = [...byUuid.keys()].sort(compareStrings);
  return uuids
    .map((uuid) => {
      const tags = (byUuid.get(uuid) ?? []).sort((a, b) => compareStrings(a.tag, b.tag));
      let text = uuid;
      for (const { tag, intervals } of tags) {
        if (tag !== "") text += `:${tag}`;
        for (const iv of intervals) {
          text += iv.start === iv.end ? `:${iv.start}` : `:${iv.start}-${iv.end}`;
        }
      }
      return text;
    })
    .join(separator);
}

function unionIntervals(a: readonly GtidInterval[], b: readonly GtidInterval[]): GtidInterval[] {
  return normaliseIntervals([...a, ...b]);
}

function subtractIntervals(a: readonly GtidInterval[], b: readonly GtidInterval[]): GtidInterval[] {
  const out: GtidInterval[] = [];
  let j = 0;
  for (const iv of a) {
    let start = iv.start;
    const end = iv.end;
    while (j < b.length && (b[j]?.end ?? 0n) < start) j++;
    let k = j;
    while (start <= end) {
      const cut = b[k];
      if (cut === undefined || cut.start > end) {
        out.push({ start, end });
        break;
      }
      if (cut.start > start) out.push({ start, end: cut.start - 1n });
      start = cut.end + 1n;
      k++;
    }
  }
  return out;
}

function intersectIntervals(a: readonly GtidInterval[], b: readonly GtidInterval[]): GtidInterval[] {
  const out: GtidInterval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x === undefined || y === undefined) break;
    const start = x.start > y.start ? x.start : y.start;
    const end = x.end < y.end ? x.end : y.end;
    if (start <= end) out.push({ start, end });
    if (x.end < y.end) i++;
    else j++;
  }
  return out;
}

/** a ∪ b. */
export function gtidUnion(a: GtidSetInput, b: GtidSetInput): GtidSet {
  const x = toGtidSet(a);
  const y = toGtidSet(b);
  const entries = new Map<string, readonly GtidInterval[]>(x.sources);
  for (const [key, ivs] of y.sources) {
    const mine = entries.get(key);
    entries.set(key, mine === undefined ? ivs : unionIntervals(mine, ivs));
  }
  return fromEntries(entries);
}

/** a − b (what MySQL's GTID_SUBTRACT(a, b) returns). */
export function gtidSubtract(a: GtidSetInput, b: GtidSetInput): GtidSet {
  const x = toGtidSet(a);
  const y = toGtidSet(b);
  const entries: [string, readonly GtidInterval[]][] = [];
  for (const [key, ivs] of x.sources) {
    const cut = y.sources.get(key);
    entries.push([key, cut === undefined ? ivs : subtractIntervals(ivs, cut)]);
  }
  return fromEntries(entries);
}

/** a ∩ b. */
export function gtidIntersect(a: GtidSetInput, b: GtidSetInput): GtidSet {
  const x = toGtidSet(a);
  const y = toGtidSet(b);
  const entries: [string, readonly GtidInterval[]][] = [];
  for (const [key, ivs] of x.sources) {
    const other = y.sources.get(key);
    if (other !== undefined) entries.push([key, intersectIntervals(ivs, other)]);
  }
  return fromEntries(entries);
}

/** True when the set holds no GTID. */
export function gtidIsEmpty(a: GtidSetInput): boolean {
  return toGtidSet(a).sources.size === 0;
}

/** a ⊆ b (MySQL's GTID_SUBSET(a, b)). */
export function gtidIsSubset(a: GtidSetInput, b: GtidSetInput): boolean {
  return gtidIsEmpty(gtidSubtract(a, b));
}

/** a = b as sets. */
export function gtidEquals(a: GtidSetInput, b: GtidSetInput): boolean {
  return gtidIsSubset(a, b) && gtidIsSubset(b, a);
}

/** Number of GTIDs in the set. */
export function gtidCount(a: GtidSetInput): bigint {
  let n = 0n;
  for (const ivs of toGtidSet(a).sources.values()) {
    for (const iv of ivs) n += iv.end - iv.start + 1n;
  }
  return n;
}

/** The distinct server UUIDs (lower case, ascending) that occur in the set. */
export function gtidUuids(a: GtidSetInput): string[] {
  const uuids = new Set<string>();
  for (const key of toGtidSet(a).sources.keys()) uuids.add(sourceOfKey(key).uuid);
  return [...uuids].sort(compareStrings);
}

/** True when the GTID `uuid[:tag]:gno` is in the set. */
export function gtidContains(a: GtidSetInput, uuid: string, gno: bigint, tag = ""): boolean {
  const ivs = toGtidSet(a).sources.get(sourceKey(normaliseUuid(uuid), tag.toLowerCase()));
  return ivs !== undefined && ivs.some((iv) => iv.start <= gno && gno <= iv.end);
}

/**
 * The errant part of a replica's executed set (docs/clustering.md#gathering-status step 7): the GTIDs the
 * replica executed and the primary did not, excluding every GTID (any tag) whose UUID is
 * the primary's own `server_uuid` — under semi-sync a replica can apply a transaction
 * before the primary's commit becomes visible, so those are not errant.
 */
export function errantGtids(
  replicaExecuted: GtidSetInput,
  primaryExecuted: GtidSetInput,
  primaryUUID: string,
): GtidSet {
  const diff = gtidSubtract(replicaExecuted, primaryExecuted);
  const own = normaliseUuid(primaryUUID.trim());
  return fromEntries([...diff.sources].filter(([key]) => sourceOfKey(key).uuid !== own));
}

/**
 * The errant transactions of a former primary that no client was told committed
 * (docs/clustering.md "Errant former primary"), or null when its errant set is anything else.
 * Under loss-less semi-sync (AFTER_SYNC, rpl_semi_sync_source_timeout 24 h) a primary
 * writes a commit to its binlog before a replica acknowledges it, and reports it committed
 * only after; a failover promotes a replica holding every acknowledged transaction. What the
 * old primary has beyond the new primary is then the tail of its own transactions that no
 * replica received: every errant GTID carries the instance's own `server_uuid` (untagged),
 * the primary holds earlier transactions of that UUID (the instance was a source the primary
 * replicated from), and the errant ones are one interval that starts right after the
 * primary's last one of that UUID. A replica written on directly that was never a primary,
 * or any foreign or tagged GTID, or a gap, gives null (the instance stays errant, as MOCO).
 */
export function formerPrimaryTail(
  instanceExecuted: GtidSetInput,
  instanceUUID: string,
  primaryExecuted: GtidSetInput,
  primaryUUID: string,
): GtidSet | null {
  const errant = errantGtids(instanceExecuted, primaryExecuted, primaryUUID);
  const own = sourceKey(normaliseUuid(instanceUUID.trim()), "");
  if (errant.sources.size !== 1) return null;
  const tail = errant.sources.get(own);
  if (tail === undefined || tail.length !== 1) return null;
  const replicated = toGtidSet(primaryExecuted).sources.get(own);
  const last = replicated?.[replicated.length - 1];
  if (last === undefined || tail[0]!.start !== last.end + 1n) return null;
  return errant;
}

/** True when the replica holds at least one errant GTID (see errantGtids). */
export function hasErrantGtids(
  replicaExecuted: GtidSetInput,
  primaryExecuted: GtidSetInput,
  primaryUUID: string,
): boolean {
  return !gtidIsEmpty(errantGtids(replicaExecuted, primaryExecuted, primaryUUID));
}
