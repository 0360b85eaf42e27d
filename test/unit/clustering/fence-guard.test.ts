// The failover guard (docs/clustering.md "Self-fencing"): table-driven.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { failoverGuard, peerSilenceMs, type GuardPeer, type OldPrimaryState } from "../../../src/clustering/fence-guard.ts";
import { DEFAULT_SELF_FENCE_TIMINGS, parseProbedAges, probedVariable, selfFenceBoundMs, type SelfFenceTimings } from "../../../src/mysql/self-fence.ts";

const T = DEFAULT_SELF_FENCE_TIMINGS;
const BOUND = selfFenceBoundMs(T);
const stopped = (ms: number, probed?: number): GuardPeer => ({ reached: true, ioStoppedAgeMs: ms, probedAgeMs: probed });
const unreached: GuardPeer = { reached: false };

describe("selfFenceBoundMs", () => {
  it("defaults: ttl (interval + timeout) + threshold + one look + fence + margin", () => {
    assert.equal(BOUND, 500 + 1_000 + 2_000 + 500 + 1_000 + 1_000);
  });
});

describe("peerSilenceMs", () => {
  const table: Array<[string, GuardPeer, number]> = [
    ["unreached", unreached, 0],
    ["reached, nothing known", { reached: true }, 0],
    ["IO stopped 300 ms ago", stopped(300), 300],
    ["probed 4 s ago, IO stopped 300 ms ago: silent for 4 s (the agent's record)", stopped(300, 4_000), 4_000],
    ["probed 200 ms ago (an old record read late), IO stopped 3 s ago: both are lower bounds", stopped(3_000, 200), 3_000],
    ["only the probe record", { reached: true, probedAgeMs: 2_500 }, 2_500],
  ];
  for (const [name, p, want] of table) it(name, () => assert.equal(peerSilenceMs(p), want));
});

describe("failoverGuard", () => {
  const off: SelfFenceTimings = { ...T, thresholdMs: 0 };
  const table: Array<[string, number, GuardPeer[], SelfFenceTimings, OldPrimaryState, number]> = [
    // n = 3, w = 1: the 2nd largest silence
    ["n=3, both IO threads just stopped", 3, [stopped(0), stopped(0)], T, "unknown", BOUND],
    ["n=3, stopped 150 ms ago", 3, [stopped(150), stopped(150)], T, "unknown", BOUND - 150],
    ["n=3, agents' records 3 s old (partition before detection)", 3, [stopped(100, 3_000), stopped(100, 3_500)], T, "unknown", BOUND - 3_000],
    ["n=3, one reached long ago, the other one not reached: the unreached may confirm", 3, [stopped(60_000), unreached], T, "unknown", BOUND],
    ["n=3, silent longer than the bound: no wait", 3, [stopped(9_000), stopped(8_000)], T, "unknown", 0],
    // n = 5, w = 2: the 3rd largest silence
    ["n=5, all four stopped 1 s ago", 5, [stopped(1_000), stopped(1_000), stopped(1_000), stopped(1_000)], T, "unknown", BOUND - 1_000],
    ["n=5, one unreached: the 3rd largest of the reached", 5, [stopped(4_000), stopped(3_000), stopped(2_000), unreached], T, "unknown", BOUND - 2_000],
    ["n=5, two unreached: only two reached, the old primary may still have 2 (wait the full bound)", 5, [stopped(9_000), stopped(9_000), unreached, unreached], T, "unknown", BOUND],
    ["n=5, mixed records", 5, [stopped(500, 5_000), stopped(100, 1_000), stopped(600), stopped(100)], T, "unknown", BOUND - 600],
    // fallbacks
    ["fenced by the controller", 3, [stopped(0), stopped(0)], T, "read-only", 0],
    ["the old primary's mysqld is down (refused, its container not running)", 3, [stopped(0), stopped(0)], T, "down", 0],
    ["n=5, down, no replica reached long ago", 5, [stopped(0), stopped(0), stopped(0), unreached], T, "down", 0],
    ["self-fencing off (threshold 0): old behaviour", 3, [stopped(0), stopped(0)], off, "unknown", 0],
    ["one instance", 1, [], T, "unknown", 0],
  ];
  for (const [name, n, peers, timings, fenced, want] of table) {
    it(name, () => assert.equal(failoverGuard(n, peers, timings, fenced).waitMs, want));
  }
});

describe("parseProbedAges (rows of PROBED_AGES_QUERY)", () => {
  const table: Array<[string, Record<string, unknown>[], Array<[number, number]>]> = [
    ["none", [], []],
    ["one record", [{ n: probedVariable(0), us: "2500000" }], [[0, 2_500]]],
    ["two sessions with a record of 0: the younger", [{ n: "moco_ts_probed_by_0", us: 900_000 }, { n: "moco_ts_probed_by_0", us: 5_000_000 }], [[0, 900]]],
    ["records of two primaries", [{ n: "moco_ts_probed_by_0", us: 1_000 }, { n: "moco_ts_probed_by_2", us: 7_000_000 }], [[0, 1], [2, 7_000]]],
    ["a value that is no time (NULL)", [{ n: "moco_ts_probed_by_1", us: null }], []],
    ["another variable", [{ n: "moco_ts_probed_by_x", us: 5 }], []],
  ];
  for (const [name, rows, want] of table) it(name, () => assert.deepEqual([...parseProbedAges(rows)], want));
});
