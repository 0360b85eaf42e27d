// The /readyz decision (docs/agent.md#probes), step by step.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { caughtUp, decideReadiness, sourceToCheck, type ReadinessObservation, type ReplicaThreads } from "../../../src/agent/readiness.ts";

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
const U2 = "4f22ab58-71ca-11e1-9e33-c80aa9429562";
/** A replica 30 s after mysqld started with nothing queued, everything retrieved executed, and the source's set read. */
function young(source: ReadinessObservation["sourceGtidExecuted"]): ReadinessObservation {
  return {
    ...base,
    replica: { ok: true, value: { ...replicating, retrievedGtidSet: `${U}:1-8`, executedGtidSet: `${U}:1-8`, sourceHost: "moco-c-0.moco-c.ns.svc", sourcePort: 3306 } },
    timing: timing(0, 0, 30),
    ...(source === undefined ? {} : { sourceGtidExecuted: source }),
  };
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
    // moco-ts: a young replica with nothing queued is ready when it has every transaction of its source.
    ["nothing queued, young, has all of the source", young({ ok: true, value: `${U}:1-8` }), opts, 200, /every transaction of the source executed/, "unregister"],
    ["nothing queued, young, has more than the source", young({ ok: true, value: `${U}:1-3` }), opts, 200, /caught up/, "unregister"],
    ["nothing queued, young, source empty", young({ ok: true, value: "" }), opts, 200, /caught up/, "unregister"],
    ["nothing queued, young, source has one more", young({ ok: true, value: `${U}:1-9` }), opts, 503, /source has transactions not executed here/, "unregister"],
    ["nothing queued, young, source of another uuid", young({ ok: true, value: `${U2}:1` }), opts, 503, /not executed here/, "unregister"],
    ["nothing queued, young, source unreachable", young(failed), opts, 503, /no transaction queued yet \(source not checked: boom\)/, "unregister"],
    ["nothing queued, young, source set garbage", young({ ok: true, value: "garbage" }), opts, 503, /not executed here/, "unregister"],
    [
      "nothing queued, young, has all of the source but retrieved is not all executed",
      { ...young({ ok: true, value: `${U}:1-8` }), replica: replica({ retrievedGtidSet: `${U}:1-9`, executedGtidSet: `${U}:1-8` }) },
      opts, 503, /no transaction queued yet/, "unregister",
    ],
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

  it("sourceToCheck asks for the source only where step 8 depends on it", () => {
    const src = { host: "moco-c-0.moco-c.ns.svc", port: 3306 };
    const cases: Array<[string, ReadinessObservation, typeof opts, typeof src | undefined]> = [
      ["young, nothing queued, caught up", young(undefined), opts, src],
      ["old enough", { ...young(undefined), timing: timing(0, 0, 60) }, opts, undefined],
      ["something queued", { ...young(undefined), timing: timing(1000, 999, 30) }, opts, undefined],
      ["delay check disabled", young(undefined), { ...opts, maxDelayMs: 0 }, undefined],
      ["retrieved not all executed", { ...young(undefined), replica: replica({ retrievedGtidSet: `${U}:1-9`, executedGtidSet: `${U}:1-8`, sourceHost: src.host, sourcePort: 3306 }) }, opts, undefined],
      ["IO thread connecting", { ...young(undefined), replica: replica({ ioRunning: "Connecting", executedGtidSet: `${U}:1-10`, sourceHost: src.host, sourcePort: 3306 }) }, opts, undefined],
      ["IO error", { ...young(undefined), replica: replica({ lastIoErrno: 2003, executedGtidSet: `${U}:1-10`, sourceHost: src.host, sourcePort: 3306 }) }, opts, undefined],
      ["writable", { ...young(undefined), globals: { ok: true, value: { readOnly: false, superReadOnly: false } } }, opts, undefined],
      ["cloning", { ...young(undefined), cloneState: { ok: true, value: "In Progress" } }, opts, undefined],
      ["no source host", { ...young(undefined), replica: replica({ executedGtidSet: `${U}:1-10`, sourceHost: "", sourcePort: 3306 }) }, opts, undefined],
      ["not replicating", { ...young(undefined), replica: { ok: true, value: null } }, opts, undefined],
      ["timing failed", { ...young(undefined), timing: failed }, opts, undefined],
    ];
    for (const [name, obs, o, want] of cases) assert.deepEqual(sourceToCheck(obs, o), want, name);
  });
});
