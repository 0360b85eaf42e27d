import assert from "node:assert/strict";
import { test } from "node:test";
import type { BackupStatus } from "../../../src/api/v1beta2/index.ts";
import { WARN_SKIP_BINLOG, chooseSource, unchangedOrdinals } from "../../../src/backup/source.ts";

const U = ["uuid-0", "uuid-1", "uuid-2"];
const last = (sourceIndex: number, uuidSet?: Record<string, string>): BackupStatus => ({
  time: "2021-05-25T00:00:00Z", elapsed: "1s", sourceIndex, sourceUUID: U[sourceIndex] ?? "", binlogFilename: "binlog.000002",
  gtidSet: "", dumpSize: 1, binlogSize: 0, workDirUsage: 1, warnings: null, ...(uuidSet ? { uuidSet } : {}),
});
const census = (entries: [number, string][]) => new Map(entries);
const all = census([[0, "uuid-0"], [1, "uuid-1"], [2, "uuid-2"]]);
const allSet = { "0": "uuid-0", "1": "uuid-1", "2": "uuid-2" };

test("unchangedOrdinals: matches, non-numeric keys ignored, sorted", () => {
  assert.deepEqual(unchangedOrdinals({}, all), []);
  assert.deepEqual(unchangedOrdinals({ "2": "uuid-2", "0": "uuid-0", "1": "changed", x: "uuid-1" }, all), [0, 2]);
});

test("chooseSource: the reference table of docs/backup.md#choosing-the-source-instance", () => {
  const cases: { name: string; ready: boolean[]; primary: number; last?: BackupStatus; census: Map<number, string>; want: [number, boolean, number] }[] = [
    { name: "1 instance, first", ready: [true], primary: 0, census: census([[0, "uuid-0"]]), want: [0, false, 0] },
    { name: "(T,F,T) P=0 first", ready: [true, false, true], primary: 0, census: all, want: [2, false, 0] },
    { name: "(F,T,F) P=1 first", ready: [false, true, false], primary: 1, census: all, want: [1, false, 0] },
    { name: "same uuids", ready: [true, true, true], primary: 0, last: last(1, allSet), census: all, want: [1, true, 0] },
    { name: "source uuid changed", ready: [true, true, true], primary: 0, last: last(1, allSet),
      census: census([[0, "uuid-0"], [1, "new"], [2, "uuid-2"]]), want: [2, true, 0] },
    { name: "last source is now primary", ready: [true, true, true], primary: 1, last: last(1, allSet), census: all, want: [0, true, 0] },
    { name: "only the primary unchanged", ready: [true, true, true], primary: 0, last: last(1, allSet),
      census: census([[0, "uuid-0"], [1, "a"], [2, "b"]]), want: [0, true, 0] },
    { name: "1 ready, uuid changed", ready: [true], primary: 0, last: last(0, { "0": "uuid-0" }), census: census([[0, "x"]]), want: [0, false, 1] },
    { name: "legacy status, source uuid changed", ready: [true, true, true], primary: 0, last: last(1),
      census: census([[0, "uuid-0"], [1, "x"], [2, "uuid-2"]]), want: [1, false, 1] },
    { name: "legacy status, same uuid", ready: [true, true, true], primary: 0, last: last(1), census: all, want: [1, true, 0] },
  ];
  for (const c of cases) {
    const r = chooseSource(c.ready, c.primary, c.last, c.census);
    assert.deepEqual([r.sourceIndex, r.doBinlog, r.warnings.length], c.want, c.name);
    if (r.warnings.length > 0) assert.equal(r.warnings[0], WARN_SKIP_BINLOG);
  }
  assert.throws(() => chooseSource([false, false, false], 0, undefined, new Map()), /no ready pod exists/);
});
