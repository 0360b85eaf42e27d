// Self-fencing's decision (docs/clustering.md "Self-fencing"): table-driven.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { DEFAULT_SELF_FENCE_THRESHOLD_MS, decideSelfFence, parseSelfFenceObservation, type SelfFenceObservation } from "../../../src/agent/self-fence.ts";
import { parseAgentFlags } from "../../../src/agent/config.ts";

const primary: SelfFenceObservation = { superReadOnly: false, semiSyncSourceEnabled: true, longestAckWaitSeconds: null };

describe("decideSelfFence", () => {
  const table: Array<[string, Partial<SelfFenceObservation>, number, boolean, RegExp]> = [
    ["healthy primary, no commit waits", {}, 5_000, false, /no commit waits/],
    ["a commit waits 0 s (a slow replica, just now)", { longestAckWaitSeconds: 0 }, 5_000, false, /below the threshold/],
    ["a commit waits 4 s, threshold 5 s", { longestAckWaitSeconds: 4 }, 5_000, false, /waited 4 s.*below/],
    ["a commit waits 5 s, threshold 5 s: fence", { longestAckWaitSeconds: 5 }, 5_000, true, /waited 5 s for a semi-sync acknowledgement \(threshold 5 s\)/],
    ["a commit waits 120 s: fence", { longestAckWaitSeconds: 120 }, 5_000, true, /waited 120 s/],
    ["threshold below a second: a 0 s wait does not fence yet", { longestAckWaitSeconds: 0 }, 500, false, /below/],
    ["threshold below a second: a 1 s wait fences", { longestAckWaitSeconds: 1 }, 500, true, /threshold 0.5 s/],
    ["already super_read_only (fenced, or a replica)", { superReadOnly: true, longestAckWaitSeconds: 60 }, 5_000, false, /read-only/],
    ["not a semi-sync source", { semiSyncSourceEnabled: false, longestAckWaitSeconds: 60 }, 5_000, false, /not a semi-sync source/],
    ["disabled (threshold 0)", { longestAckWaitSeconds: 600 }, 0, false, /disabled/],
  ];
  for (const [name, patch, threshold, fence, reason] of table) {
    it(name, () => {
      const d = decideSelfFence({ ...primary, ...patch }, threshold);
      assert.equal(d.fence, fence);
      assert.match(d.reason, reason);
    });
  }
});

describe("parseSelfFenceObservation", () => {
  const table: Array<[string, Record<string, unknown> | undefined, SelfFenceObservation | RegExp]> = [
    ["writable source, nobody waits", { sro: "0", ss: "ON", w: null }, { superReadOnly: false, semiSyncSourceEnabled: true, longestAckWaitSeconds: null }],
    ["numbers as mysql2 returns them", { sro: 1, ss: "OFF", w: "7" }, { superReadOnly: true, semiSyncSourceEnabled: false, longestAckWaitSeconds: 7 }],
    ["no semi-sync plugin (no variable row)", { sro: 0, ss: null, w: null }, { superReadOnly: false, semiSyncSourceEnabled: false, longestAckWaitSeconds: null }],
    ["no row", undefined, /no row/],
  ];
  for (const [name, row, want] of table) {
    it(name, () => {
      if (want instanceof RegExp) assert.throws(() => parseSelfFenceObservation(row), want);
      else assert.deepEqual(parseSelfFenceObservation(row), want);
    });
  }
});

describe("--self-fence-threshold", () => {
  const table: Array<[string, string[], number | RegExp]> = [
    ["default", [], DEFAULT_SELF_FENCE_THRESHOLD_MS],
    ["set", ["--self-fence-threshold=3s"], 3_000],
    ["disabled", ["--self-fence-threshold=0"], 0],
    ["bad", ["--self-fence-threshold=soon"], /--self-fence-threshold/],
    ["negative", ["--self-fence-threshold=-1s"], /--self-fence-threshold.*negative/],
  ];
  for (const [name, argv, want] of table) {
    it(name, () => {
      if (want instanceof RegExp) assert.throws(() => parseAgentFlags(argv), want);
      else assert.equal(parseAgentFlags(argv).selfFenceThresholdMs, want);
    });
  }
});
