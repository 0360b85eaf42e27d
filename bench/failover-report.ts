// The failover benchmark's pure parts (unit-tested in test/unit/bench/failover-report.test.ts):
// its kinds, the order of the faults, the per-half summaries (chaos/checker.ts) and tables
// (chaos/report.ts), the ratio of moco-ts's shipped timings to MOCO's, and the verdict.
import { summarize, type FaultResult, type KindSummary } from "../chaos/checker.ts";
import { table } from "../chaos/report.ts";
import { shuffle } from "../chaos/campaign.ts";
import type { Rng } from "../chaos/rng.ts";

/** The bench's kinds (issue #14's targets): short name → the fault kind of chaos/faults.ts. */
export const BENCH_KINDS: Readonly<Record<string, string>> = {
  "full-partition": "full partition of the primary until failover",
  "one-way-partition": "inbound partition of the primary until failover",
  "kill-kept-down": "kill -9 mysqld (primary) kept down until failover",
  "switchover": "switchover under write load",
  "pod-deletion": "Pod deletion (primary)",
};

/** The chaos kind names of `--kinds` (comma-separated short names); every kind when absent. */
export function benchKindNames(list: string | undefined): string[] {
  const names = list === undefined ? Object.keys(BENCH_KINDS) : list.split(",").map((k) => k.trim()).filter(Boolean);
  if (names.length === 0) throw new Error("--kinds: no kind named");
  return names.map((n) => {
    const k = BENCH_KINDS[n];
    if (!k) throw new Error(`--kinds: unknown kind "${n}"; known: ${Object.keys(BENCH_KINDS).join(", ")}`);
    return k;
  });
}

/** `n` rounds, each every kind once in a seeded random order (so kinds share the machine's noise alike). */
export function benchOrder<T>(kinds: readonly T[], n: number, rng: Rng): T[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`--n: must be a positive integer, got ${n}`);
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(...shuffle(rng, kinds));
  return out;
}

/** One half of the run: the controller's timing setting and what its faults gave. */
export interface Half {
  /** e.g. "moco-ts defaults (--check-interval=10s)". */
  label: string;
  results: FaultResult[];
}

export interface RatioRow {
  kind: string;
  /** Median client write gap, this half / the baseline's (undefined: a side has no value). */
  gap: number | undefined;
  /** Median time back to Healthy, likewise. */
  healthy: number | undefined;
}

const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);

/** Per kind present in both: moco-ts's median over the baseline's median. */
export function ratios(current: readonly KindSummary[], baseline: readonly KindSummary[]): RatioRow[] {
  return current.flatMap((c) => {
    const b = baseline.find((x) => x.kind === c.kind);
    return b ? [{ kind: c.kind, gap: ratio(c.gap?.median, b.gap?.median), healthy: ratio(c.recovered?.median, b.recovered?.median) }] : [];
  });
}

const s1 = (ms: number | undefined) => (ms === undefined ? "–" : (ms / 1000).toFixed(1));
const r2 = (x: number | undefined) => (x === undefined ? "–" : x.toFixed(2));

export function ratioTable(current: readonly KindSummary[], baseline: readonly KindSummary[]): string {
  const head = "| fault | median write gap: moco-ts / MOCO timings (s) | ratio | median back to Healthy: moco-ts / MOCO timings (s) | ratio |";
  const sep = "| --- | --- | ---: | --- | ---: |";
  const lines = ratios(current, baseline).map((r) => {
    const c = current.find((x) => x.kind === r.kind)!;
    const b = baseline.find((x) => x.kind === r.kind)!;
    return `| ${r.kind} | ${s1(c.gap?.median)} / ${s1(b.gap?.median)} | ${r2(r.gap)} | ${s1(c.recovered?.median)} / ${s1(b.recovered?.median)} | ${r2(r.healthy)} |`;
  });
  return [head, sep, ...lines].join("\n");
}

/** What makes the run fail: lost writes, dual-writable samples, faults not recovered. */
export function failures(halves: readonly Half[], finalLost: readonly { label: string; lost: number }[] = []): string[] {
  const out: string[] = [];
  for (const h of halves) {
    for (const k of summarize(h.results)) {
      if (k.lost > 0) out.push(`${h.label}: ${k.kind}: ${k.lost} acknowledged writes lost`);
      if (k.dualWritable > 0) out.push(`${h.label}: ${k.kind}: ${k.dualWritable} dual-writable samples`);
      if (k.notRecovered > 0) out.push(`${h.label}: ${k.kind}: ${k.notRecovered} faults not back to Healthy`);
    }
  }
  for (const f of finalLost) {
    if (f.lost !== 0) out.push(`${f.label}: final check: ${f.lost < 0 ? "the final primary could not be read" : `${f.lost} acknowledged writes missing on the final primary`}`);
  }
  return out;
}

export interface BenchInfo {
  seed: number;
  date: string;
  n: number;
  setting: string;
  durationS: number;
}

/** The report: a line on the run, each half's table, the ratio table when there is a baseline. */
export function benchReportText(info: BenchInfo, halves: readonly Half[], fails: readonly string[]): string {
  const parts = [
    `Run of ${info.date} (seed ${info.seed}, N = ${info.n} per kind and half, ${(info.durationS / 60).toFixed(0)} min, ${info.setting}).`,
    "",
  ];
  for (const h of halves) parts.push(`${h.label}:`, "", table(summarize(h.results)), "");
  if (halves.length >= 2) {
    parts.push(`Ratio (${halves[0]!.label} / ${halves[1]!.label}, medians):`, "", ratioTable(summarize(halves[0]!.results), summarize(halves[1]!.results)), "");
  }
  parts.push(fails.length === 0 ? "Clean: no acknowledged write lost, no dual-writable sample, every fault back to Healthy." :
    `**Not clean:** ${fails.join("; ")}.`, "");
  return parts.join("\n");
}
