// The fault campaign's checker (chaos/checker.ts, chaos/rng.ts, chaos/report.ts): it must flag a
// sample with two writable instances, report an acknowledged id that is missing, and measure
// the client write gap around a fault.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DualWritableCounter, isDualWritable, lostIds, stats, summarize, writablePods, writeGap, type Sample } from "../../../chaos/checker.ts";
import { Rng } from "../../../chaos/rng.ts";
import { table, writeReport } from "../../../chaos/report.ts";

const flags = (pod: string, ro: boolean | null, sro: boolean | null = ro) => ({ pod, readOnly: ro, superReadOnly: sro });
const sample = (at: number, ...instances: ReturnType<typeof flags>[]): Sample => ({ at, instances });

describe("dual-writable samples", () => {
  const cases: { name: string; s: Sample; writable: string[]; dual: boolean }[] = [
    { name: "one writable primary", s: sample(0, flags("a", false), flags("b", true), flags("c", true)), writable: ["a"], dual: false },
    { name: "two writable", s: sample(0, flags("a", false), flags("b", false), flags("c", true)), writable: ["a", "b"], dual: true },
    { name: "read_only ON, super_read_only OFF is not writable", s: sample(0, flags("a", false), flags("b", true, false)), writable: ["a"], dual: false },
    { name: "an instance that did not answer is not counted writable", s: sample(0, flags("a", false), flags("b", null)), writable: ["a"], dual: false },
    { name: "none writable (mid-failover)", s: sample(0, flags("a", true), flags("b", true)), writable: [], dual: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(writablePods(c.s), c.writable);
      assert.equal(isDualWritable(c.s), c.dual);
    });
  }

  it("a counter fed a sequence with dual-writable samples counts exactly those and keeps examples", () => {
    const k = new DualWritableCounter();
    k.add(sample(1, flags("a", false), flags("b", true)));
    k.add(sample(2, flags("a", false), flags("b", false)));
    k.add(sample(3, flags("a", true), flags("b", false)));
    k.add(sample(4, flags("a", false), flags("b", false), flags("c", false)));
    assert.equal(k.samples, 4);
    assert.equal(k.total, 2);
    assert.deepEqual(k.examples, [{ at: 2, pods: ["a", "b"] }, { at: 4, pods: ["a", "b", "c"] }]);
    assert.deepEqual(k.recent, k.examples);
  });
});

describe("lost acknowledged writes", () => {
  it("reports every acknowledged id missing on the final primary, ascending", () => {
    assert.deepEqual(lostIds([5, 1, 2, 3, 4], new Set([1, 3, 5, 99])), [2, 4]);
  });
  it("reports nothing when all are present (extra unacknowledged rows are fine)", () => {
    assert.deepEqual(lostIds([1, 2], new Set([1, 2, 3])), []);
  });
});

describe("client write gap", () => {
  const cases: { name: string; acks: number[]; from: number; to: number; want: number }[] = [
    { name: "steady acks: the largest spacing", acks: [0, 100, 200, 300, 400], from: 150, to: 400, want: 100 },
    { name: "an outage after the fault", acks: [0, 100, 200, 3200, 3300], from: 150, to: 3300, want: 3000 },
    { name: "no ack since the fault: up to the end", acks: [0, 100], from: 150, to: 5000, want: 4900 },
    { name: "no acks at all", acks: [], from: 1000, to: 3000, want: 2000 },
    { name: "an outage already going when the fault starts counts from the last ack", acks: [0, 2000], from: 1000, to: 2000, want: 2000 },
  ];
  for (const c of cases) it(c.name, () => assert.equal(writeGap(c.acks, c.from, c.to), c.want));
});

describe("summary and report", () => {
  it("min/median/max", () => {
    assert.deepEqual(stats([3, 1, 2]), { min: 1, median: 2, max: 3 });
    assert.deepEqual(stats([4, 1, 2, 3]), { min: 1, median: 2.5, max: 4 });
    assert.equal(stats([]), undefined);
  });

  it("groups per fault kind; a fault that did not recover is counted, lost and dual-writable add up", () => {
    const rows = summarize([
      { kind: "k1", startedAt: 0, recoveredMs: 1000, gapMs: 500, lost: 0, dualWritable: 0 },
      { kind: "k1", startedAt: 0, recoveredMs: undefined, gapMs: 9000, lost: 2, dualWritable: 3 },
      { kind: "k0", startedAt: 0, recoveredMs: 2000, gapMs: 100, lost: 0, dualWritable: 0 },
    ]);
    assert.deepEqual(rows.map((r) => [r.kind, r.count, r.lost, r.dualWritable, r.notRecovered]), [["k0", 1, 0, 0, 0], ["k1", 2, 2, 3, 1]]);
    assert.deepEqual(rows[1]!.recovered, { min: 1000, median: 1000, max: 1000 });
    const t = table(rows);
    assert.match(t, /\| k1 \| 2 \| 2 \| 3 \| 0\.5 \/ 4\.8 \/ 9\.0 \| 1\.0 \/ 1\.0 \/ 1\.0 \| 1 \|/);
    assert.match(t, /\| \*\*all\*\* \| 3 \| 2 \| 3 \|/);
  });

  it("the report replaces the text between its markers and keeps the rest of the document", () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "chaos-report-")), "r.md");
    fs.writeFileSync(f, "# Reliability\n\nintro\n");
    writeReport(f, "first\n");
    writeReport(f, "second\n");
    const doc = fs.readFileSync(f, "utf8");
    assert.match(doc, /intro/);
    assert.doesNotMatch(doc, /first/);
    assert.equal(doc.match(/chaos:begin/g)?.length, 1);
    assert.match(doc, /second/);
    fs.rmSync(path.dirname(f), { recursive: true });
  });
});

describe("seeded choice", () => {
  it("the same seed picks the same sequence; another seed another one", () => {
    const seq = (seed: number) => { const r = new Rng(seed); return Array.from({ length: 20 }, () => r.int(0, 9)); };
    assert.deepEqual(seq(42), seq(42));
    assert.notDeepEqual(seq(42), seq(43));
    const r = new Rng(7);
    for (let i = 0; i < 1000; i++) { const x = r.int(3, 5); assert.ok(x >= 3 && x <= 5); }
  });
});
