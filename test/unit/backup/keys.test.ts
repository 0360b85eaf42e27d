import assert from "node:assert/strict";
import { test } from "node:test";
import {
  RestorePointError, backupDir, chunkPath, clusterPrefix, encodeName, formatBackupTime, formatStopDatetime, parseBackupTime,
  planRestore, selectBackup,
} from "../../../src/backup/keys.ts";

test("backup time format is UTC YYYYMMDD-hhmmss and round-trips", () => {
  const d = new Date(Date.UTC(2021, 4, 15, 23, 0, 3));
  assert.equal(formatBackupTime(d), "20210515-230003");
  assert.equal(parseBackupTime("20210515-230003")?.getTime(), d.getTime());
  assert.equal(formatStopDatetime(d), "2021-05-15 23:00:03");
  for (const bad of ["20210515-2300", "2021051-230003", "20211315-230003", "20210230-000000", "x20210515-230003", ""]) {
    assert.equal(parseBackupTime(bad), undefined, bad);
  }
});

test("key layout: cluster prefix with trailing slash, backup directory, encoded chunk keys", () => {
  assert.equal(clusterPrefix("foo", "bar"), "moco/foo/bar/");
  assert.equal(backupDir("foo", "bar", new Date(Date.UTC(2021, 4, 15, 23, 0, 3))), "moco/foo/bar/20210515-230003/");
  assert.equal(chunkPath("db", "t", 7, "zst"), "data/db/t/000007.tsv.zst");
  assert.equal(chunkPath("odd name-2", "tbl.with/odd", 0, "gz"), "data/odd%20name-2/tbl.with%2Fodd/000000.tsv.gz");
  assert.equal(encodeName(".."), "%2E.");
  assert.equal(encodeName("a*b"), "a%2Ab");
});

// The keys of docs/backup.md#selecting-objects-for-a-restore-point's table (MOCO's layout), plus garbage: objects under
// invalid timestamps, other names (an older moco-ts layout among them), another cluster.
const P = "moco/ns/c/";
const keys = [
  `${P}20210525-112233/binlog.tar.zst`, `${P}20210525-112233/dump.tar`,
  `${P}20210525-120001/dump.tar`,
  `${P}20210526-000000/dump.tar`,
  `${P}20210527-000000/binlog.tar.zst`, `${P}20210527-000000/dump.tar`,
  `${P}20210528-000000/binlog.tar.zst`, `${P}20210528-000000/dump.tar`,
  `${P}garbage/dump.tar`, `${P}20210599-000000/dump.tar`, `${P}20210524-000000/dump/manifest.json`,
  `${P}20210524-000000/dump.tar.part`, `${P}20210524-000000/x/dump.tar`, `moco/ns/c2/20210520-000000/dump.tar`, `${P}file`,
];
const at = (s: string) => new Date(s + "Z");

test("selectBackup: the nearest dump at or before the point, with the binlog beside it (docs/backup.md#selecting-objects-for-a-restore-point)", () => {
  const cases: [string, string | undefined, string | undefined][] = [
    ["2021-05-26T00:00:00", "20210526-000000", undefined],
    ["2021-05-26T01:00:00", "20210526-000000", undefined],
    ["2021-05-25T13:00:00", "20210525-120001", undefined],
    ["2021-05-25T11:22:33", "20210525-112233", "20210525-112233"],
    ["2021-05-24T00:00:00", undefined, undefined],
    ["2021-05-27T12:00:00", "20210527-000000", "20210527-000000"],
    ["2021-06-01T00:00:00", "20210528-000000", "20210528-000000"],
  ];
  for (const [r, dump, binlog] of cases) {
    const sel = selectBackup([...keys].reverse(), P, at(r));
    assert.equal(sel.dump?.dir, dump && `${P}${dump}/`, `dump for ${r}`);
    assert.equal(sel.binlog?.dir, binlog && `${P}${binlog}/`, `binlog for ${r}`);
    assert.equal(sel.dumpTimes.length, 5);
  }
});

test("planRestore: exact dump time needs no replay; uncovered points are clear errors", () => {
  const plan = (r: string) => planRestore(selectBackup(keys, P, at(r)), at(r));
  assert.deepEqual(plan("2021-05-26T00:00:00").binlog, undefined);
  assert.equal(plan("2021-05-25T11:22:33").binlog, undefined, "time equals the dump: no replay");
  assert.equal(plan("2021-05-27T12:00:00").binlog?.dir, `${P}20210527-000000/`);
  assert.throws(() => plan("2021-05-24T00:00:00"), (e: unknown) => e instanceof RestorePointError && /before the first backup \(2021-05-25T11:22:33/.test(e.message));
  assert.throws(() => plan("2021-05-26T01:00:00"), /not covered/);
  assert.throws(() => planRestore(selectBackup([], P, at("2021-05-26T01:00:00")), at("2021-05-26T01:00:00")), /no complete dump/);
});
