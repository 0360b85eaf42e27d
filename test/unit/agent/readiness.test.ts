// The /readyz decision (docs/agent.md#probes), step by step.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { caughtUp, decideReadiness, type ReadinessObservation, type ReplicaThreads } from "../../../src/agent/readiness.ts";

const U = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const replicating: ReplicaThreads = {
  ioRunning: "Yes", sqlRunning: "Yes", lastIoErrno: 0, lastSqlErrno: 0,
  retrievedGtidSet: `${U}:1-10`, executedGtidSet: `${U}:1-8`,
};
const base: ReadinessObservation = {
  cloneState: { ok: true, value: null },
  globals: { ok: true, value: { readOnly: true, superReadOnly: true } },
  replica: { ok: true, value: replicating },
  timing: { ok: true, value: { queuedEpochSeconds: 1_700_000_010.5, appliedEpochSeconds: 1_700_000_010, uptimeSeconds: 3600 } },
};
const opts = { maxDelayMs: 60_000, transactionQueueingWaitMs: 60_000 };
const failed = { ok: false, error: "boom" } as const;

function with_(patch: Partial<ReadinessObservation>): ReadinessObservation {
  return { ...base, ...patch };
}
function timing(queued: number, applied: number, uptime = 3600): ReadinessObservation["timing"] {
  return { ok: true, value: { queuedEpochSeconds: queued, appliedEpochSeconds: applied, uptimeSeconds: uptime } };
}
function replica(patch: Partial<ReplicaThreads>): ReadinessObservation["replica"] {
  return { ok: true, value: { ...replicating, ...patch } };
}

describe("decideReadiness", () => {
  const table: Array<[string, ReadinessObservation, typeof opts, number, RegExp, string]> = [
    ["clone status query fails", with_({ cloneState: failed }), opts, 500, /clone status: boom/, "keep"],
    ["clone in progress", with_({ cloneState: { ok: true, value: "In Progress" } }), opts, 503, /clone is in progress/, "keep"],
    ["clone failed earlier still blocks", with_({ cloneState: { ok: true, value: "Failed" } }), opts, 503, /clone/, "keep"],
    ["clone completed: go on", with_({ cloneState: { ok: true, value: "Completed" } }), opts, 200, /replicating/, "set"],
    ["globals query fails", with_({ globals: failed }), opts, 500, /global variables: boom/, "keep"],
    ["writable primary", with_({ globals: { ok: true, value: { readOnly: false, superReadOnly: false } }, replica: failed, timing: failed }), opts, 200, /writable/, "unregister"],
    ["replica status fails", with_({ replica: failed }), opts, 500, /replica status: boom/, "keep"],
    ["read-only, no replication", with_({ replica: { ok: true, value: null } }), opts, 500, /not replicating/, "keep"],
    ["IO thread stopped", with_({ replica: replica({ ioRunning: "No" }) }), opts, 503, /not running/, "keep"],
    ["IO thread connecting", with_({ replica: replica({ ioRunning: "Connecting" }) }), opts, 503, /not running/, "keep"],
    ["SQL thread stopped", with_({ replica: replica({ sqlRunning: "No" }) }), opts, 503, /not running/, "keep"],
    ["IO error", with_({ replica: replica({ lastIoErrno: 2003 }) }), opts, 503, /replication error/, "keep"],
    ["SQL error", with_({ replica: replica({ lastSqlErrno: 1062 }) }), opts, 503, /replication error/, "keep"],
    ["timestamps fail", with_({ timing: failed }), opts, 500, /timestamps: boom/, "keep"],
    ["small lag", base, opts, 200, /replicating/, "set"],
    ["lag just below max", with_({ timing: timing(1000, 940.001) }), opts, 200, /replicating/, "set"],
    ["lag equal to max", with_({ timing: timing(1000, 940) }), opts, 503, /delay 60.000 s/, "set"],
    ["lag above max", with_({ timing: timing(1000, 100) }), opts, 503, /delay/, "set"],
    ["lag above max but check disabled", with_({ timing: timing(1000, 100) }), { ...opts, maxDelayMs: 0 }, 200, /disabled/, "set"],
    ["nothing queued, young server", with_({ timing: timing(0, 0, 30) }), opts, 503, /no transaction queued/, "unregister"],
    ["nothing queued, old server", with_({ timing: timing(0, 0, 60) }), opts, 200, /replicating/, "unregister"],
    ["nothing queued, young server, check disabled", with_({ timing: timing(0, 0, 1) }), { ...opts, maxDelayMs: 0 }, 200, /disabled/, "unregister"],
    ["applier restarted (applied zero) with pending transactions", with_({ timing: timing(1000, 0) }), opts, 503, /delay/, "set"],
    [
      "applier restarted (applied zero) but everything retrieved is executed",
      with_({ timing: timing(1000, 0), replica: replica({ executedGtidSet: `${U}:1-10` }) }),
      opts, 200, /replicating/, "set",
    ],
  ];
  for (const [name, obs, o, status, reason, gauge] of table) {
    it(name, () => {
      const d = decideReadiness(obs, o);
      assert.equal(d.status, status, d.reason);
      assert.match(d.reason, reason);
      assert.equal(d.delayGauge.kind, gauge);
    });
  }

  it("sets the gauge to queued minus applied, or 0 when caught up", () => {
    assert.deepEqual(decideReadiness(with_({ timing: timing(1000.25, 990) }), opts).delayGauge, { kind: "set", seconds: 10.25 });
    assert.deepEqual(
      decideReadiness(with_({ timing: timing(1000, 0), replica: replica({ executedGtidSet: `${U}:1-12` }) }), opts).delayGauge,
      { kind: "set", seconds: 0 });
  });

  it("caughtUp compares GTID sets and is false on garbage", () => {
    assert.equal(caughtUp({ retrievedGtidSet: "", executedGtidSet: "" }), true);
    assert.equal(caughtUp({ retrievedGtidSet: `${U}:1-3`, executedGtidSet: `${U}:1-5` }), true);
    assert.equal(caughtUp({ retrievedGtidSet: `${U}:1-6`, executedGtidSet: `${U}:1-5` }), false);
    assert.equal(caughtUp({ retrievedGtidSet: "garbage", executedGtidSet: "" }), false);
  });
});
