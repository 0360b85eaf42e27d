// Bucket key layout (docs/backup.md#bucket-layout, the same as MOCO's) and the choice of objects for a
// restore point (docs/backup.md#selecting-objects-for-a-restore-point):
//
//   moco/<ns>/<name>/<YYYYMMDD-hhmmss>/dump.tar         tar of dump/ (moco-ts's dump format)
//   moco/<ns>/<name>/<YYYYMMDD-hhmmss>/binlog.tar.zst   zstd tar of binlog/ (binlog files)
//
// Inside dump.tar (docs/backup.md): dump/schema.json (first),
// dump/data/<db>/<table>/<NNNNNN>.tsv.<zst|gz>, dump/manifest.json (last).
// Inside binlog.tar.zst: binlog/manifest.json (first), binlog/binlog.NNNNNN.
// As upstream, the binlog archive lives under the timestamp of the *previous* backup:
// dump T plus binlog T reach any point between backup T and the next backup. An object
// appears in the bucket only once its upload completed, so its presence marks it whole.

export const KEY_ROOT = "moco";
export const DUMP_DIR = "dump";
export const BINLOG_DIR = "binlog";
export const MANIFEST = "manifest.json";
export const SCHEMA_FILE = "schema.json";
export const DUMP_ARCHIVE = "dump.tar";
export const BINLOG_ARCHIVE = "binlog.tar.zst";

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** UTC `YYYYMMDD-hhmmss` (Go layout 20060102-150405). */
export function formatBackupTime(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

const TIME_RE = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/;

/** Parses UTC `YYYYMMDD-hhmmss`; undefined when malformed or not a real date. */
export function parseBackupTime(s: string): Date | undefined {
  const m = TIME_RE.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  if (formatBackupTime(date) !== s) return undefined;
  return date;
}

/** `YYYY-MM-DD hh:mm:ss` in UTC (mysqlbinlog --stop-datetime with TZ=UTC). */
export function formatStopDatetime(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** `moco/<ns>/<name>/` (the trailing slash keeps `name` from matching `name2`). */
export function clusterPrefix(namespace: string, name: string): string {
  return `${KEY_ROOT}/${namespace}/${name}/`;
}

export function backupDir(namespace: string, name: string, time: Date): string {
  return `${clusterPrefix(namespace, name)}${formatBackupTime(time)}/`;
}

/** Key-safe form of a schema or table name (percent-encoding, also of '.' leading names). */
export function encodeName(name: string): string {
  return encodeURIComponent(name).replace(/^\./, "%2E").replace(/\*/g, "%2A");
}

/** Path of a chunk inside the dump directory. */
export function chunkPath(schema: string, table: string, chunk: number, ext: string): string {
  return `data/${encodeName(schema)}/${encodeName(table)}/${String(chunk).padStart(6, "0")}.tsv.${ext}`;
}

export interface SelectedBackup {
  /** Directory key, ending with '/'. */
  dir: string;
  time: Date;
}

export interface BackupSelection {
  dump?: SelectedBackup;
  /** Binlog archive beside the chosen dump (same directory), if any. */
  binlog?: SelectedBackup;
  /** Every complete dump's time, ascending (for messages). */
  dumpTimes: Date[];
}

/**
 * docs/backup.md#selecting-objects-for-a-restore-point: walk the sorted keys, ignore anything that is not a `dump.tar` or
 * `binlog.tar.zst` under a valid timestamp directory, stop after `restorePoint`; a binlog
 * archive becomes the candidate, a dump the chosen one (dropping a candidate from
 * another directory).
 */
export function selectBackup(keys: readonly string[], prefix: string, restorePoint: Date): BackupSelection {
  const sorted = [...keys].sort();
  let dump: SelectedBackup | undefined;
  let binlog: SelectedBackup | undefined;
  const dumpTimes: Date[] = [];
  let stopped = false;
  for (const key of sorted) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash < 0) continue;
    const dirName = rest.slice(0, slash);
    const leaf = rest.slice(slash + 1);
    const isDump = leaf === DUMP_ARCHIVE;
    const isBinlog = leaf === BINLOG_ARCHIVE;
    if (!isDump && !isBinlog) continue;
    const t = parseBackupTime(dirName);
    if (t === undefined) continue;
    if (isDump) dumpTimes.push(t);
    if (stopped) continue;
    if (t.getTime() > restorePoint.getTime()) { stopped = true; continue; }
    const dir = `${prefix}${dirName}/`;
    if (isBinlog) {
      binlog = { dir, time: t };
    } else {
      dump = { dir, time: t };
      if (binlog !== undefined && binlog.dir !== dir) binlog = undefined;
    }
  }
  if (dump === undefined) binlog = undefined;
  const out: BackupSelection = { dumpTimes };
  if (dump) out.dump = dump;
  if (binlog) out.binlog = binlog;
  return out;
}

export interface RestorePlan {
  dump: SelectedBackup;
  /** Present when binlogs must be replayed up to the restore point. */
  binlog?: SelectedBackup;
}

/**
 * Turns a selection into a plan or a clear error. moco-ts refuses (instead of silently
 * restoring an older state) a restore point that no dump + binlog archive covers.
 * Binlog coverage past the archive's own end is checked against its manifest later.
 */
export function planRestore(sel: BackupSelection, restorePoint: Date): RestorePlan {
  const when = restorePoint.toISOString();
  if (sel.dump === undefined) {
    const first = sel.dumpTimes[0];
    throw new RestorePointError(first === undefined
      ? `no available backup: the bucket holds no complete dump for this cluster`
      : `no available backup: restore point ${when} is before the first backup (${first.toISOString()})`);
  }
  if (sel.dump.time.getTime() === restorePoint.getTime()) return { dump: sel.dump };
  if (sel.binlog === undefined) {
    throw new RestorePointError(
      `restore point ${when} is not covered: the backup of ${sel.dump.time.toISOString()} has no binary-log archive ` +
      `(it is written by the next backup), so only ${sel.dump.time.toISOString()} itself can be restored from it`);
  }
  return { dump: sel.dump, binlog: sel.binlog };
}

/** A restore point outside what the bucket holds. */
export class RestorePointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RestorePointError";
  }
}
