// docs/clustering.md#gathering-status steps 5–8: errant list, hang-up guard, replication-delay deletion guard, and the
// status/annotation outputs of a pass (docs/clustering.md#status-written-by-a-pass, docs/clustering.md#deletion-guard-for-replication-delay).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ObservationError,
  assessObservation,
  clusterStatusUpdate,
  conditionsForState,
  decideState,
  preventDeleteAnnotationChanges,
} from "../../../src/clustering/decide.ts";
import type { ClusterObservation, ClusterState, InstanceStatus } from "../../../src/clustering/types.ts";
import { U0, U1, U2, cluster, healthyObservation, observation, pod, primaryInstance, replicaInstance, replicaRow } from "./fixtures.ts";

function withInstance(obs: ClusterObservation, i: number, ist: InstanceStatus | null): ClusterObservation {
  return { ...obs, instances: obs.instances.map((x, j) => (j === i ? ist : x)) };
}

describe("errant detection (docs/clustering.md#gathering-status step 7, behaviours M20)", () => {
  const cases: { name: string; replicaGtids: string[]; primaryGtid?: string; statusList?: number[]; primaryAbsent?: boolean; want: number[] }[] = [
    { name: "replicas equal to the primary are not errant", replicaGtids: [`${U0}:1-5`, `${U0}:1-5`, `${U0}:1-5`, `${U0}:1-5`], want: [] },
    { name: "replicas behind the primary are not errant", replicaGtids: [`${U0}:1-3`, "", `${U0}:1`, `${U0}:1-5`], want: [] },
    {
      name: "a replica ahead on the primary's own UUID is not errant (semi-sync race)",
      replicaGtids: [`${U0}:1-6`, `${U0}:1-5`, `${U0}:1-5`, `${U0}:1-5`],
      want: [],
    },
    {
      name: "a foreign-UUID GTID (p1:1) makes a replica errant",
      replicaGtids: [`${U0}:1-5,${U1}:1`, `${U0}:1-5`, `${U0}:1-5`, `${U0}:1-5`],
      want: [1],
    },
    {
      name: "foreign UUIDs that the primary also has are fine",
      primaryGtid: `${U0}:1-5,${U2}:1-9`,
      replicaGtids: [`${U2}:1-9,${U0}:1-2`, `${U0}:1-5,${U2}:1-10`, `${U0}:1-5`, `${U0}:1-5`],
      want: [2],
    },
    {
      name: "the list is recomputed, not merged with status (unreachable errant drops out)",
      statusList: [3, 4],
      replicaGtids: [`${U0}:1-5`, `${U0}:1-5,${U1}:7`, `${U0}:1-5`, `${U0}:1-5`],
      want: [2],
    },
    {
      name: "primary absent: the list is copied from status.errantReplicaList",
      primaryAbsent: true,
      statusList: [3],
      replicaGtids: [`${U0}:1-5,${U1}:1`, `${U0}:1-5`, `${U0}:1-5,${U1}:2`, `${U0}:1-5`],
      want: [3],
    },
    {
      name: "primary with an empty GTID set: the list is copied from status",
      primaryGtid: "",
      statusList: [2],
      replicaGtids: [`${U0}:1-5,${U1}:1`, `${U0}:1-5`, `${U0}:1-5`, `${U0}:1-5`],
      want: [2],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      let o = healthyObservation(5, 0, { errantReplicaList: c.statusList ?? [] });
      c.replicaGtids.forEach((g, k) => {
        o = withInstance(o, k + 1, replicaInstance(k + 1, 0, g));
      });
      if (c.primaryAbsent === true) o = withInstance(o, 0, null);
      else if (c.primaryGtid !== undefined) o = withInstance(o, 0, primaryInstance(0, [11, 12, 13, 14], { gtidExecuted: c.primaryGtid }));
      const a = assessObservation(o);
      assert.deepEqual(a.errantReplicas, c.want);
      assert.equal(a.executedGtid, c.primaryAbsent === true ? "" : (c.primaryGtid ?? `${U0}:1-5`));
    });
  }

  it("MySQL's multi-line GTID text is handled", () => {
    const o = withInstance(
      withInstance(healthyObservation(3), 0, primaryInstance(0, [11, 12], { gtidExecuted: `${U0}:1-5,\n${U2}:1-3` })),
      1,
      replicaInstance(1, 0, `${U0}:1-5,\n${U1}:1,\n${U2}:1-3`),
    );
    assert.deepEqual(assessObservation(o).errantReplicas, [1]);
  });
});

describe("hang-up guard (docs/clustering.md#gathering-status step 8)", () => {
  it("drops non-primary instances with semi-sync sessions waiting; keeps them in the errant list", () => {
    let o = healthyObservation(3);
    o = withInstance(o, 1, replicaInstance(1, 0, `${U0}:1-5,${U1}:1`, { semiSyncSourceWaitSessions: 1 }));
    o = withInstance(o, 2, replicaInstance(2, 0, `${U0}:1-5`, { semiSyncSourceWaitSessions: 2 }));
    const a = assessObservation(o);
    assert.deepEqual(a.hungUpReplicas, [1, 2]);
    assert.equal(a.instances[1], null);
    assert.equal(a.instances[2], null);
    assert.deepEqual(a.errantReplicas, [1]);
  });
  it("never drops the primary", () => {
    const o = withInstance(healthyObservation(3), 0, primaryInstance(0, [11, 12], { semiSyncSourceWaitSessions: 5 }));
    const a = assessObservation(o);
    assert.notEqual(a.instances[0], null);
    assert.deepEqual(a.hungUpReplicas, []);
    assert.equal(decideState(a).state, "Healthy");
  });
});

describe("replication-delay deletion guard (docs/clustering.md#gathering-status step 6, behaviours M26)", () => {
  const cases: { name: string; threshold: number; delays: (number | null)[]; primaryDelay?: number; want: boolean }[] = [
    { name: "100 s behind with threshold 10", threshold: 10, delays: [100, 0], want: true },
    { name: "back at 0 s", threshold: 10, delays: [0, 0], want: false },
    { name: "exactly at the threshold is not over it", threshold: 10, delays: [10, 10], want: false },
    { name: "NULL Seconds_Behind_Source is ignored", threshold: 10, delays: [null, null], want: false },
    { name: "guard disabled with 0", threshold: 0, delays: [100, 100], want: false },
    { name: "the primary's own delay is ignored", threshold: 10, delays: [0, 0], primaryDelay: 500, want: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      let o = healthyObservation(3, 0, { maxDelaySecondsForPodDeletion: c.threshold });
      c.delays.forEach((d, k) => {
        o = withInstance(o, k + 1, replicaInstance(k + 1, 0, `${U0}:1-5`, { replicaStatus: replicaRow({ secondsBehindSource: d }) }));
      });
      if (c.primaryDelay !== undefined) {
        o = withInstance(o, 0, primaryInstance(0, [11, 12], { replicaStatus: replicaRow({ secondsBehindSource: c.primaryDelay }) }));
      }
      assert.equal(assessObservation(o).preventPodDeletion, c.want);
    });
  }
  it("a delayed but unreachable (absent) replica does not count", () => {
    const o = withInstance(healthyObservation(3, 0, { maxDelaySecondsForPodDeletion: 10 }), 1, null);
    assert.equal(assessObservation(o).preventPodDeletion, false);
  });
});

describe("assessObservation validation", () => {
  it("rejects arrays of the wrong length", () => {
    assert.throws(() => assessObservation(observation(cluster({ replicas: 3 }), [pod(0)], [null])), ObservationError);
  });
  it("rejects a primary index out of range", () => {
    assert.throws(
      () => assessObservation(observation(cluster({ replicas: 1, primary: 1 }), [pod(0)], [null])),
      ObservationError,
    );
  });
  it("takes currentPrimaryIndex from status", () => {
    assert.equal(assessObservation(healthyObservation(3, 2)).primaryIndex, 2);
  });
});

describe("conditionsForState (docs/clustering.md#status-written-by-a-pass)", () => {
  const table: [ClusterState, "True" | "False", "True" | "False", "True" | "False"][] = [
    ["Healthy", "True", "True", "True"],
    ["Degraded", "True", "True", "False"],
    ["Cloning", "False", "False", "False"],
    ["Restoring", "False", "False", "False"],
    ["Failed", "True", "False", "False"],
    ["Lost", "True", "False", "False"],
    ["Incomplete", "True", "False", "False"],
    ["Offline", "True", "False", "False"],
  ];
  for (const [state, initialized, available, healthy] of table) {
    it(state, () => {
      const conds = conditionsForState(state);
      const get = (t: string) => conds.find((c) => c.type === t);
      assert.equal(get("Initialized")?.status, initialized);
      assert.equal(get("Available")?.status, available);
      assert.equal(get("Healthy")?.status, healthy);
      for (const t of ["Initialized", "Available", "Healthy"]) {
        assert.equal(get(t)?.reason, state);
        assert.equal(get(t)?.message, `the current state is ${state}`);
      }
      assert.deepEqual(get("ClusteringActive"), {
        type: "ClusteringActive",
        status: "True",
        reason: "ClusteringActive",
        message: "clustering is active",
      });
    });
  }
});

describe("clusterStatusUpdate (docs/clustering.md#status-written-by-a-pass fields, behaviours M1, M6, M20)", () => {
  it("syncedReplicas counts ready Pods including the primary; errant list and count", () => {
    let o = healthyObservation(5);
    o = { ...o, pods: o.pods.map((p, i) => (p !== null && i === 4 ? { ...p, ready: false } : p)) };
    o = withInstance(o, 1, replicaInstance(1, 0, `${U0}:1-5,${U1}:1`));
    const a = assessObservation(o);
    const u = clusterStatusUpdate(a, decideState(a).state);
    assert.equal(u.syncedReplicas, 4);
    assert.deepEqual(u.errantReplicaList, [1]);
    assert.equal(u.errantReplicas, 1);
    assert.equal(u.cloned, undefined);
  });
  it("cloned becomes true for an intermediate cluster once not Cloning, never for Cloning", () => {
    const o = observation(cluster({ replicas: 1, intermediate: true }), [pod(0, { ready: false })], [null]);
    const a = assessObservation(o);
    assert.equal(clusterStatusUpdate(a, "Cloning").cloned, undefined);
    assert.equal(clusterStatusUpdate(a, "Healthy").cloned, true);
    assert.equal(clusterStatusUpdate(a, "Cloning").syncedReplicas, 0);
  });
});

describe("preventDeleteAnnotationChanges (docs/clustering.md#deletion-guard-for-replication-delay)", () => {
  it("adds to the primary when delayed and absent", () => {
    const a = { ...assessObservation(healthyObservation(3)), preventPodDeletion: true };
    assert.deepEqual(preventDeleteAnnotationChanges(a), { add: [0], remove: [] });
  });
  it("does nothing when the primary already has it", () => {
    const o = healthyObservation(3);
    const pods = o.pods.map((p, i) => (p !== null && i === 0 ? { ...p, hasPreventDeleteAnnotation: true } : p));
    const a = { ...assessObservation({ ...o, pods }), preventPodDeletion: true };
    assert.deepEqual(preventDeleteAnnotationChanges(a), { add: [], remove: [] });
  });
  it("removes from every Pod that has it when not delayed, skipping missing Pods", () => {
    const o = healthyObservation(3);
    const pods = [{ ...o.pods[0]!, hasPreventDeleteAnnotation: true }, null, { ...o.pods[2]!, hasPreventDeleteAnnotation: true }];
    const a = { ...assessObservation(o), pods };
    assert.deepEqual(preventDeleteAnnotationChanges(a), { add: [], remove: [0, 2] });
  });
});
