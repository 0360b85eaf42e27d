// The failover benchmark's own logic without a node (bench/failover-report.ts): the kinds it
// accepts, the order of its faults, the ratio of medians, the verdict and the report it
// writes between its markers (chaos/report.ts writeReport).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { summarize, type FaultResult } from "../../../chaos/checker.ts";
import { FAILOVER_KINDS, faultKind } from "../../../chaos/faults.ts";
import { writeReport } from "../../../chaos/report.ts";
import { chartCheckIntervalArg } from "../../../chaos/setup.ts";
import { Rng } from "../../../chaos/rng.ts";
import { BENCH_KINDS, benchKindNames, benchOrder, benchReportText, failures, ratioTable, ratios, type Half } from "../../../bench/failover-report.ts";

const r = (kind: string, gapMs: number, recoveredMs: number | undefined, lost = 0, dualWritable = 0): FaultResult =>
  ({ kind, startedAt: 0, gapMs, recoveredMs, lost, dualWritable });

describe("failover bench: kinds and order", () => {
  it("every bench kind names a fault kind of chaos/faults.ts", () => {
    for (const name of Object.values(BENCH_KINDS)) assert.equal(faultKind(name).name, name);
    for (const k of FAILOVER_KINDS) assert.ok(Object.values(BENCH_KINDS).includes(k.name), `${k.name} is not a bench kind`);
  });

  const cases: { list: string | undefined; want: string[] | RegExp }[] = [
    { list: undefined, want: Object.values(BENCH_KINDS) },
    { list: "switchover, pod-deletion", want: [BENCH_KINDS["switchover"]!, BENCH_KINDS["pod-deletion"]!] },
    { list: "switchover,node-loss", want: /--kinds: unknown kind "node-loss"; known: full-partition/ },
    { list: " , ", want: /--kinds: no kind named/ },
  ];
  for (const c of cases) {
    it(`--kinds ${JSON.stringify(c.list)}`, () => {
      if (c.want instanceof RegExp) assert.throws(() => benchKindNames(c.list), c.want);
      else assert.deepEqual(benchKindNames(c.list), c.want);
    });
  }

  it("N rounds, each kind once per round, the same for the same seed", () => {
    const kinds = ["a", "b", "c"];
    const o = benchOrder(kinds, 4, new Rng(7));
    assert.equal(o.length, 12);
    for (let i = 0; i < 4; i++) assert.deepEqual([...o.slice(i * 3, i * 3 + 3)].sort(), kinds);
    assert.deepEqual(benchOrder(kinds, 4, new Rng(7)), o);
    assert.throws(() => benchOrder(kinds, 0, new Rng(7)), /--n: must be a positive integer, got 0/);
    assert.throws(() => benchOrder(kinds, Number("x"), new Rng(7)), /--n: must be a positive integer/);
  });
});

describe("failover bench: ratios, verdict, report", () => {
  const current: Half = { label: "moco-ts defaults", results: [r("part", 20_000, 40_000), r("part", 10_000, 30_000), r("part", 30_000, 50_000), r("swo", 3000, 8000)] };
  const baseline: Half = { label: "MOCO timings", results: [r("part", 80_000, 100_000), r("part", 40_000, 120_000), r("swo", 3000, undefined), r("kill", 5000, 6000)] };

  it("the ratio is moco-ts's median over the baseline's, for the kinds both halves ran", () => {
    const rows = ratios(summarize(current.results), summarize(baseline.results));
    // part: medians 20 s / 60 s (even count: the mean of the middle two) and 40 s / 110 s; swo: no baseline Healthy.
    assert.deepEqual(rows, [
      { kind: "part", gap: 20_000 / 60_000, healthy: 40_000 / 110_000 },
      { kind: "swo", gap: 1, healthy: undefined },
    ]);
    const t = ratioTable(summarize(current.results), summarize(baseline.results));
    assert.match(t, /\| part \| 20\.0 \/ 60\.0 \| 0\.33 \| 40\.0 \/ 110\.0 \| 0\.36 \|/);
    assert.match(t, /\| swo \| 3\.0 \/ 3\.0 \| 1\.00 \| 8\.0 \/ – \| – \|/);
    assert.doesNotMatch(t, /kill/);
  });

  it("fails on a lost write, a dual-writable sample, a fault not recovered or a bad final check", () => {
    assert.deepEqual(failures([current]), []);
    const bad: Half = { label: "x", results: [r("part", 1, 1, 2, 0), r("part", 1, 1, 0, 5), r("swo", 1, undefined)] };
    assert.deepEqual(failures([current, bad], [{ label: "x", lost: 0 }, { label: "y", lost: -1 }, { label: "z", lost: 3 }]), [
      "x: part: 2 acknowledged writes lost",
      "x: part: 5 dual-writable samples",
      "x: swo: 1 faults not back to Healthy",
      "y: final check: the final primary could not be read",
      "z: final check: 3 acknowledged writes missing on the final primary",
    ]);
  });

  it("the report holds each half's table and the ratios, between the failover markers of the document", () => {
    const info = { seed: 9, date: "2026-12-07", n: 3, setting: "real node", durationS: 600 };
    const text = benchReportText(info, [current, baseline], failures([current, baseline]));
    assert.match(text, /^Run of 2026-12-07 \(seed 9, N = 3 per kind and half, 10 min, real node\)\./);
    assert.match(text, /moco-ts defaults:\n\n\| fault \| count \|/);
    assert.match(text, /\| part \| 3 \| 0 \| 0 \| 10\.0 \/ 20\.0 \/ 30\.0 \| 30\.0 \/ 40\.0 \/ 50\.0 \| 0 \|/);
    assert.match(text, /Ratio \(moco-ts defaults \/ MOCO timings, medians\):/);
    assert.match(text, /\*\*Not clean:\*\* MOCO timings: swo: 1 faults not back to Healthy\./);
    assert.match(benchReportText(info, [current], []), /Clean: no acknowledged write lost/);
    assert.doesNotMatch(benchReportText(info, [current], []), /Ratio/);

    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "failover-report-")), "perf.md");
    try {
      fs.writeFileSync(f, "# Performance\n\n<!-- chaos:begin -->\nother\n<!-- chaos:end -->\n");
      writeReport(f, "first\n", "failover");
      writeReport(f, text, "failover");
      const doc = fs.readFileSync(f, "utf8");
      assert.equal(doc.match(/<!-- failover:begin -->/g)?.length, 1);
      assert.doesNotMatch(doc, /first/);
      assert.match(doc, /<!-- chaos:begin -->\nother\n<!-- chaos:end -->/);
      assert.ok(doc.includes(`<!-- failover:begin -->\n${text}<!-- failover:end -->`));
    } finally { fs.rmSync(path.dirname(f), { recursive: true }); }
  });
});

describe("failover bench: the controller flag each half waits for", () => {
  // What installMoco's upgrade waits to see on every controller Pod (helm template of the chart).
  const cases: { values: Record<string, unknown>; want: string | undefined }[] = [
    { values: {}, want: "--check-interval=10s" },
    { values: { checkInterval: "1m" }, want: "--check-interval=1m" },
    { values: { checkInterval: "" }, want: undefined },
  ];
  for (const c of cases) {
    it(`values ${JSON.stringify(c.values)} → ${c.want ?? "no flag (the controller's 1m)"}`, () => {
      assert.equal(chartCheckIntervalArg(c.values), c.want);
    });
  }
});
