// The campaign's table (printed, and written to docs/reliability.md between markers).
import fs from "node:fs";
import type { FaultResult, KindSummary, Stats } from "./checker.ts";
import { summarize } from "./checker.ts";

const s = (ms: number) => (ms / 1000).toFixed(1);
const triple = (x: Stats | undefined) => (x ? `${s(x.min)} / ${s(x.median)} / ${s(x.max)}` : "–");

/** One fault's line in the run's log (what was done, the write gap, back to Healthy, lost, dual-writable). */
export function faultLine(r: FaultResult): string {
  return `fault ${r.kind}: ${r.note ?? ""}; gap ${s(r.gapMs)} s, ` +
    `Healthy ${r.recoveredMs === undefined ? "NOT RECOVERED" : `after ${s(r.recoveredMs)} s`}, lost ${r.lost}, dual-writable samples ${r.dualWritable}`;
}

export function table(rows: readonly KindSummary[]): string {
  const head = "| fault | count | acknowledged writes lost | dual-writable samples | client write gap min / median / max (s) | back to Healthy min / median / max (s) | not recovered |";
  const sep = "| --- | ---: | ---: | ---: | --- | --- | ---: |";
  const lines = rows.map((r) => `| ${r.kind} | ${r.count} | ${r.lost} | ${r.dualWritable} | ${triple(r.gap)} | ${triple(r.recovered)} | ${r.notRecovered} |`);
  const t = rows.reduce((a, r) => ({ count: a.count + r.count, lost: a.lost + r.lost, dual: a.dual + r.dualWritable, nr: a.nr + r.notRecovered }), { count: 0, lost: 0, dual: 0, nr: 0 });
  return [head, sep, ...lines, `| **all** | ${t.count} | ${t.lost} | ${t.dual} | | | ${t.nr} |`].join("\n");
}

export interface RunInfo {
  seed: number;
  date: string;
  acked: number;
  lostTotal: number;
  dualTotal: number;
  samples: number;
  durationS: number;
  setting: string;
}

export function reportText(info: RunInfo, results: readonly FaultResult[]): string {
  return [
    `Run of ${info.date} (seed ${info.seed}, ${results.length} faults, ${(info.durationS / 60).toFixed(0)} min, ${info.setting}): ` +
      `${info.acked} acknowledged inserts, ${info.lostTotal} missing on the final primary; ` +
      `${info.samples} samples of every instance's read-only flags, ${info.dualTotal} with more than one writable instance.`,
    "",
    table(summarize(results)),
    "",
  ].join("\n");
}

/** Replaces the text between the `<!-- marker:begin -->`/`end` markers of `file` (appends a section when there are none). */
export function writeReport(file: string, text: string, marker = "chaos"): void {
  const BEGIN = `<!-- ${marker}:begin -->`;
  const END = `<!-- ${marker}:end -->`;
  let doc = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "# Reliability\n";
  const block = `${BEGIN}\n${text}${END}`;
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  doc = a >= 0 && b > a ? doc.slice(0, a) + block + doc.slice(b + END.length) : `${doc.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, doc);
}
