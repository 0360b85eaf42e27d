// Choice of the backup source instance (docs/backup.md#choosing-the-source-instance): a replica whenever possible,
// and for binlog backups an instance whose server_uuid is unchanged since the last backup.
import type { BackupStatus } from "../api/v1beta2/index.ts";

export interface SourceChoice {
  sourceIndex: number;
  doBinlog: boolean;
  warnings: string[];
}

export const WARN_SKIP_BINLOG = "skip binlog backups because some binlog files may be missing";

/** Ordinals k (ascending; non-numeric keys ignored) with census[k] === reference[k]. */
export function unchangedOrdinals(reference: Readonly<Record<string, string>>, census: ReadonlyMap<number, string>): number[] {
  const out: number[] = [];
  for (const [k, uuid] of Object.entries(reference)) {
    if (!/^\d+$/.test(k)) continue;
    const i = Number(k);
    if (census.get(i) === uuid) out.push(i);
  }
  return out.sort((a, b) => a - b);
}

function fallback(ready: readonly boolean[], primary: number): number {
  for (let i = 0; i < ready.length; i++) if (i !== primary && ready[i]) return i;
  if (ready[primary]) return primary;
  throw new Error("no ready pod exists");
}

function isFirstBackup(last: BackupStatus | undefined): boolean {
  return last === undefined || last.time === null || last.time === undefined || last.time === "" ||
    Date.parse(last.time) <= 0;
}

/**
 * `ready[i]`: Pod i is ready; `primary`: status.currentPrimaryIndex; `census`: ordinal →
 * server_uuid of the ready, reachable instances.
 */
export function chooseSource(ready: readonly boolean[], primary: number, last: BackupStatus | undefined,
  census: ReadonlyMap<number, string>): SourceChoice {
  if (isFirstBackup(last) || last === undefined) return { sourceIndex: fallback(ready, primary), doBinlog: false, warnings: [] };
  const reference: Record<string, string> = last.uuidSet !== undefined && Object.keys(last.uuidSet).length > 0
    ? { ...last.uuidSet }
    : { [String(last.sourceIndex)]: last.sourceUUID };
  const unchanged = unchangedOrdinals(reference, census);
  if (unchanged.length === 0) {
    return { sourceIndex: fallback(ready, primary), doBinlog: false, warnings: [WARN_SKIP_BINLOG] };
  }
  const others = unchanged.filter((i) => i !== primary);
  if (others.includes(last.sourceIndex)) return { sourceIndex: last.sourceIndex, doBinlog: true, warnings: [] };
  const first = others[0];
  if (first !== undefined) return { sourceIndex: first, doBinlog: true, warnings: [] };
  return { sourceIndex: primary, doBinlog: true, warnings: [] };
}
