// The campaign's checker, as pure functions (unit-tested in test/unit/chaos/checker.test.ts):
// which samples of the instances' read-only flags show more than one writable instance,
// which acknowledged inserts are missing, the client-seen write gap around a fault, and the
// per-kind summary.

/** One instance's flags in one sample; null when the instance did not answer in time. */
export interface InstanceFlags {
  readonly pod: string;
  readonly readOnly: boolean | null;
  readonly superReadOnly: boolean | null;
}

export interface Sample {
  readonly at: number;
  readonly instances: readonly InstanceFlags[];
}

/** Instances that accept writes: read_only (and so super_read_only) OFF. */
export function writablePods(s: Sample): string[] {
  return s.instances.filter((i) => i.readOnly === false && i.superReadOnly === false).map((i) => i.pod);
}

export function isDualWritable(s: Sample): boolean {
  return writablePods(s).length > 1;
}

/** Counts samples with more than one writable instance, per time window. */
export class DualWritableCounter {
  total = 0;
  samples = 0;
  /** The first 20 dual-writable samples of the run. */
  readonly examples: { at: number; pods: string[] }[] = [];
  /** The last 50 (the campaign names those of each fault's window in its line). */
  readonly recent: { at: number; pods: string[] }[] = [];
  add(s: Sample): void {
    this.samples++;
    const w = writablePods(s);
    if (w.length > 1) {
      this.total++;
      if (this.examples.length < 20) this.examples.push({ at: s.at, pods: w });
      this.recent.push({ at: s.at, pods: w });
      if (this.recent.length > 50) this.recent.shift();
    }
  }
}

/** Acknowledged ids missing from `present`, ascending. */
export function lostIds(acked: Iterable<number>, present: ReadonlySet<number>): number[] {
  const out: number[] = [];
  for (const id of acked) if (!present.has(id)) out.push(id);
  return out.sort((a, b) => a - b);
}

/**
 * The longest time the client could not commit between `from` and `to` (ms): the longest
 * interval between consecutive acknowledgements, counting `from` and `to` as bounds (an
 * outage still going at `to` counts up to `to`). `ackTimes` ascending.
 */
export function writeGap(ackTimes: readonly number[], from: number, to: number): number {
  let prev = from;
  // The last ack at or before `from` starts the first interval.
  let lo = 0;
  let hi = ackTimes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ackTimes[mid]! <= from) lo = mid + 1; else hi = mid;
  }
  if (lo > 0) prev = ackTimes[lo - 1]!;
  let gap = 0;
  for (let i = lo; i < ackTimes.length && ackTimes[i]! <= to; i++) {
    gap = Math.max(gap, ackTimes[i]! - prev);
    prev = ackTimes[i]!;
  }
  return Math.max(gap, to - prev);
}

export interface Stats { min: number; median: number; max: number }

export function stats(values: readonly number[]): Stats | undefined {
  if (values.length === 0) return undefined;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { min: v[0]!, median, max: v[v.length - 1]! };
}

/** The outcome of one injected fault. */
export interface FaultResult {
  readonly kind: string;
  readonly startedAt: number;
  /** ms from the injection to Healthy again; undefined when it did not come back in time. */
  readonly recoveredMs: number | undefined;
  /** Client write gap (ms) from the injection until Healthy (or the timeout). */
  readonly gapMs: number;
  readonly lost: number;
  readonly dualWritable: number;
  readonly note?: string;
}

export interface KindSummary {
  kind: string;
  count: number;
  lost: number;
  dualWritable: number;
  gap: Stats | undefined;
  recovered: Stats | undefined;
  notRecovered: number;
}

export function summarize(results: readonly FaultResult[]): KindSummary[] {
  const kinds = [...new Set(results.map((r) => r.kind))].sort();
  return kinds.map((kind) => {
    const rs = results.filter((r) => r.kind === kind);
    const rec = rs.filter((r) => r.recoveredMs !== undefined).map((r) => r.recoveredMs!);
    return {
      kind,
      count: rs.length,
      lost: rs.reduce((a, r) => a + r.lost, 0),
      dualWritable: rs.reduce((a, r) => a + r.dualWritable, 0),
      gap: stats(rs.map((r) => r.gapMs)),
      recovered: stats(rec),
      notRecovered: rs.length - rec.length,
    };
  });
}
