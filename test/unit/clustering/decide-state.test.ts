// The state decision table (docs/clustering.md#deciding-the-cluster-state), one case per row of that table (upstream status_test.go)
// plus the rules and precedences of docs/clustering.md#deciding-the-cluster-state the upstream table leaves implicit.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { assessObservation, decideState } from "../../../src/clustering/decide.ts";
import type { ClusterObservation, ClusterState } from "../../../src/clustering/types.ts";
import {
  U0,
  U1,
  U2,
  cluster,
  healthyObservation,
  host,
  instance,
  observation,
  pod,
  primaryInstance,
  replicaInstance,
  replicaRow,
} from "./fixtures.ts";

interface StateCase {
  name: string;
  obs: () => ClusterObservation;
  state: ClusterState;
  needSwitch?: boolean;
  candidate?: number | null;
  candidates?: number[];
  lostData?: boolean;
}

/** Modify one entry of a fixture's arrays. */
function withPod(obs: ClusterObservation, i: number, patch: Partial<NonNullable<ClusterObservation["pods"][number]>>): ClusterObservation {
  const pods = obs.pods.map((p, j) => (j === i && p !== null ? { ...p, ...patch } : p));
  return { ...obs, pods };
}
function withInstance(obs: ClusterObservation, i: number, ist: ClusterObservation["instances"][number]): ClusterObservation {
  return { ...obs, instances: obs.instances.map((x, j) => (j === i ? ist : x)) };
}

const cases: StateCase[] = [
  // --- 1 instance
  {
    name: "healthy1: 1 instance, ready, writable, GTID ⇒ Healthy",
    obs: () => observation(cluster({ replicas: 1 }), [pod(0)], [primaryInstance(0, [])]),
    state: "Healthy",
    candidates: [],
    needSwitch: false,
  },
  {
    name: "lost1: 1 instance, ready, MySQL unreachable ⇒ Lost",
    obs: () => observation(cluster({ replicas: 1 }), [pod(0)], [null]),
    state: "Lost",
  },
  {
    name: "incomplete-pod-not-ready: 1 instance, Pod unready, writable ⇒ Incomplete",
    obs: () => observation(cluster({ replicas: 1 }), [pod(0, { ready: false })], [primaryInstance(0, [])]),
    state: "Incomplete",
  },
  {
    name: "incomplete-primary-read-only: 1 instance, ready, RO ⇒ Incomplete",
    obs: () =>
      observation(cluster({ replicas: 1 }), [pod(0)], [primaryInstance(0, [], { readOnly: true, superReadOnly: true })]),
    state: "Incomplete",
  },
  {
    name: "1 instance being deleted is still Healthy and has no switch candidate",
    obs: () => observation(cluster({ replicas: 1 }), [pod(0, { deleting: true })], [primaryInstance(0, [])]),
    state: "Healthy",
    needSwitch: false,
    candidate: null,
  },
  {
    name: "1 instance with empty GTID set and writable is Healthy (fresh cluster)",
    obs: () => observation(cluster({ replicas: 1 }), [pod(0)], [primaryInstance(0, [], { gtidExecuted: "" })]),
    state: "Healthy",
  },
  // --- 3 instances, Incomplete / Healthy
  {
    name: "incomplete3-initializing: 3 unready Pods, all RO with empty GTID ⇒ Incomplete",
    obs: () =>
      observation(
        cluster({ replicas: 3 }),
        [pod(0, { ready: false }), pod(1, { ready: false }), pod(2, { ready: false })],
        [instance(0), instance(1), instance(2)],
      ),
    state: "Incomplete",
    lostData: false,
  },
  {
    name: "healthy3: primary writable with replicas 11,12, replicas RO replicating ⇒ Healthy",
    obs: () => healthyObservation(3),
    state: "Healthy",
    candidates: [1, 2],
    candidate: 1,
    needSwitch: false,
  },
  {
    name: "healthy3-extra-replica: an unknown replica server_id 1000 on the primary ⇒ Healthy",
    obs: () => {
      const o = healthyObservation(3);
      const p = primaryInstance(0, [11, 12, 1000], { semiSyncSourceWaitForReplicaCount: 1 });
      return withInstance(o, 0, p);
    },
    state: "Healthy",
  },
  {
    name: "healthy3-primary-deleting: primary Pod terminating ⇒ Healthy with switch needed",
    obs: () => withPod(healthyObservation(3), 0, { deleting: true }),
    state: "Healthy",
    needSwitch: true,
    candidate: 1,
  },
  {
    name: "healthy3-primary-demoting: primary Pod annotated demote ⇒ Healthy with switch needed",
    obs: () => withPod(healthyObservation(3), 0, { demote: true }),
    state: "Healthy",
    needSwitch: true,
    candidate: 1,
  },
  // moco-ts: the switch target prefers an instance whose Pod runs the update revision.
  {
    name: "healthy3-demoting-rolling: pod 2 updated, pod 1 not ⇒ candidate 2",
    obs: () => withPod(withPod(withPod(healthyObservation(3), 0, { demote: true, updated: false }), 1, { updated: false }), 2, { updated: true }),
    state: "Healthy",
    needSwitch: true,
    candidates: [1, 2],
    candidate: 2,
  },
  {
    name: "healthy3-deleting-rolling: pods 1 and 2 updated ⇒ the lowest updated, 1",
    obs: () => withPod(withPod(withPod(healthyObservation(3), 0, { deleting: true, updated: false }), 1, { updated: true }), 2, { updated: true }),
    state: "Healthy",
    needSwitch: true,
    candidate: 1,
  },
  {
    name: "healthy3-demoting-none-updated: no Pod updated ⇒ the lowest, 1",
    obs: () => withPod(withPod(withPod(healthyObservation(3), 0, { demote: true, updated: false }), 1, { updated: false }), 2, { updated: false }),
    state: "Healthy",
    needSwitch: true,
    candidate: 1,
  },
  {
    name: "healthy3-demoting-updated-errant: the updated pod 2 is errant ⇒ not a candidate, 1",
    obs: () => {
      const o = withPod(withPod(withPod(healthyObservation(3), 0, { demote: true }), 1, { updated: false }), 2, { updated: true });
      return withInstance(o, 2, replicaInstance(2, 0, `${U0}:1-5,${U2}:1`));
    },
    state: "Degraded",
    needSwitch: true,
    candidates: [1],
    candidate: 1,
  },
  {
    name: "healthy3-demoting-sql-stopped: replica 1's SQL thread stopped ⇒ candidate 2",
    obs: () => withInstance(withPod(healthyObservation(3), 0, { demote: true }), 1,
      replicaInstance(1, 0, `${U0}:1-5`, { replicaStatus: replicaRow({ sourceHost: host(0), replicaSQLRunning: "No", retrievedGtidSet: `${U0}:1-5`, executedGtidSet: `${U0}:1-5` }) })),
    state: "Healthy",
    needSwitch: true,
    candidate: 2,
  },
  {
    name: "healthy3-demoting-sql-stopped-updated: an applying replica before an updated one whose SQL thread is stopped ⇒ 1",
    obs: () => {
      const o = withPod(withPod(withPod(healthyObservation(3), 0, { demote: true }), 1, { updated: false }), 2, { updated: true });
      return withInstance(o, 2, replicaInstance(2, 0, `${U0}:1-5`, { replicaStatus: replicaRow({ sourceHost: host(0), replicaSQLRunning: "No", retrievedGtidSet: `${U0}:1-5`, executedGtidSet: `${U0}:1-5` }) }));
    },
    state: "Healthy",
    needSwitch: true,
    candidate: 1,
  },
  {
    name: "healthy3-demoting-lagging: replica 1 has 40 transactions to apply, replica 2 none ⇒ 2",
    obs: () => withInstance(withPod(healthyObservation(3), 0, { demote: true }), 1,
      replicaInstance(1, 0, `${U0}:1-5`, { replicaStatus: replicaRow({ sourceHost: host(0), retrievedGtidSet: `${U0}:1-45`, executedGtidSet: `${U0}:1-5` }) })),
    state: "Healthy",
    needSwitch: true,
    candidate: 2,
  },
  {
    name: "healthy3-replica-deleting: a replica Pod terminating ⇒ Healthy, no switch",
    obs: () => withPod(healthyObservation(3), 1, { deleting: true }),
    state: "Healthy",
    needSwitch: false,
  },
  {
    name: "healthy3-replica-demoting: a replica annotated demote ⇒ Healthy, no switch",
    obs: () => withPod(healthyObservation(3), 2, { demote: true }),
    state: "Healthy",
    needSwitch: false,
  },
  {
    name: "healthy3 with primary at ordinal 2 and replicas pointing at it",
    obs: () => healthyObservation(3, 2),
    state: "Healthy",
    candidates: [0, 1],
  },
  {
    name: "all replicas good but the primary lists only one of them ⇒ Incomplete (Degraded excludes all-good)",
    obs: () => withInstance(healthyObservation(3), 0, primaryInstance(0, [11])),
    state: "Incomplete",
    candidates: [1, 2],
  },
  {
    name: "replicas good but primary read-only ⇒ Incomplete",
    obs: () => withInstance(healthyObservation(3), 0, primaryInstance(0, [11, 12], { readOnly: true, superReadOnly: true })),
    state: "Incomplete",
  },
  // --- Cloning / Restoring / Offline
  {
    name: "cloning-not-started: intermediate, not cloned, all empty and unready ⇒ Cloning",
    obs: () =>
      observation(
        cluster({ replicas: 3, intermediate: true }),
        [pod(0, { ready: false }), pod(1, { ready: false }), pod(2, { ready: false })],
        [instance(0), instance(1), instance(2)],
      ),
    state: "Cloning",
    candidates: [],
    needSwitch: false,
  },
  {
    name: "cloning-in-progress: intermediate, primary clone state In Progress ⇒ Cloning",
    obs: () =>
      observation(
        cluster({ replicas: 3, intermediate: true }),
        [pod(0, { ready: false }), pod(1, { ready: false }), pod(2, { ready: false })],
        [instance(0, { cloneState: "In Progress", gtidExecuted: `${U1}:1-3` }), instance(1), instance(2)],
      ),
    state: "Cloning",
  },
  {
    name: "cloning with a Failed clone state ⇒ Cloning",
    obs: () =>
      observation(
        cluster({ replicas: 1, intermediate: true }),
        [pod(0, { ready: false })],
        [instance(0, { cloneState: "Failed" })],
      ),
    state: "Cloning",
  },
  {
    name: "cloning-primary-failing: intermediate, not cloned, primary unreachable ⇒ Cloning",
    obs: () => observation(cluster({ replicas: 3, intermediate: true }), [pod(0), pod(1), pod(2)], [null, instance(1), instance(2)]),
    state: "Cloning",
  },
  {
    name: "clone Completed but status.cloned still false ⇒ not Cloning",
    obs: () =>
      observation(
        cluster({ replicas: 1, intermediate: true }),
        [pod(0)],
        [instance(0, { cloneState: "Completed", gtidExecuted: `${U1}:1-3`, replicaStatus: replicaRow({ sourceHost: "donor" }) })],
      ),
    state: "Healthy",
  },
  {
    name: "cloned-primary-failing: intermediate, cloned, primary unreachable ⇒ Lost",
    obs: () =>
      observation(cluster({ replicas: 3, intermediate: true, cloned: true }), [pod(0), pod(1), pod(2)], [null, instance(1), instance(2)]),
    state: "Lost",
  },
  {
    name: "restoring: spec.restore set, no restoredTime ⇒ Restoring",
    obs: () => observation(cluster({ replicas: 3, restore: true }), [pod(0), pod(1), pod(2)], [instance(0), instance(1), instance(2)]),
    state: "Restoring",
  },
  {
    name: "restored: restoredTime set, healthy single ⇒ Healthy",
    obs: () =>
      observation(cluster({ replicas: 1, restore: true, restoredTime: "2024-01-01T00:00:00Z" }), [pod(0)], [primaryInstance(0, [])]),
    state: "Healthy",
  },
  {
    name: "offline wins over everything, even with no Pods",
    obs: () => observation(cluster({ replicas: 3, offline: true, intermediate: true, restore: true }), [null, null, null], [null, null, null]),
    state: "Offline",
    candidates: [],
  },
  {
    name: "cloning wins over restoring",
    obs: () => observation(cluster({ replicas: 1, intermediate: true, restore: true }), [pod(0)], [null]),
    state: "Cloning",
  },
  {
    name: "health3-intermediate: intermediate primary RO with 2 replicas (empty GTIDs) ⇒ Healthy",
    obs: () =>
      observation(
        cluster({ replicas: 3, intermediate: true, cloned: true }),
        [pod(0), pod(1), pod(2)],
        [
          primaryInstance(0, [11, 12], { gtidExecuted: "", readOnly: true, superReadOnly: true, semiSyncSourceEnabled: false }),
          replicaInstance(1, 0, ""),
          replicaInstance(2, 0, ""),
        ],
      ),
    state: "Healthy",
  },
  {
    name: "intermediate primary that is writable is not Healthy",
    obs: () =>
      observation(
        cluster({ replicas: 3, intermediate: true, cloned: true }),
        [pod(0), pod(1), pod(2)],
        [primaryInstance(0, [11, 12], { readOnly: false, superReadOnly: false }), replicaInstance(1), replicaInstance(2)],
      ),
    state: "Incomplete",
  },
  // --- Degraded
  {
    name: "degraded3-replica-not-ready: one replica Pod unready ⇒ Degraded",
    obs: () => withPod(healthyObservation(3), 1, { ready: false }),
    state: "Degraded",
    candidates: [2],
  },
  {
    name: "degraded3-replica-stopping: one replica unreachable, primary lists only one replica ⇒ Degraded",
    obs: () => withInstance(withInstance(healthyObservation(3), 2, null), 0, primaryInstance(0, [11])),
    state: "Degraded",
    candidates: [1],
  },
  {
    name: "degraded3-replica-not-started: one replica RO but without replication ⇒ Degraded",
    obs: () => withInstance(withInstance(healthyObservation(3), 2, instance(2, { gtidExecuted: `${U0}:1-5` })), 0, primaryInstance(0, [11])),
    state: "Degraded",
  },
  {
    name: "degraded3-replica-writable: one replica not RO ⇒ Degraded",
    obs: () => withInstance(healthyObservation(3), 1, replicaInstance(1, 0, `${U0}:1-5`, { readOnly: false, superReadOnly: false })),
    state: "Degraded",
    candidates: [2],
  },
  {
    name: "degraded3-replica-errant: one replica errant ⇒ Degraded",
    obs: () => withInstance(healthyObservation(3), 1, replicaInstance(1, 0, `${U0}:1-5,${U1}:1`)),
    state: "Degraded",
    candidates: [2],
  },
  {
    name: "degraded3-replica-lost-data: one replica unready, empty, not replicating ⇒ Degraded",
    obs: () =>
      withPod(withInstance(withInstance(healthyObservation(3), 1, instance(1)), 0, primaryInstance(0, [12])), 1, { ready: false }),
    state: "Degraded",
    lostData: false,
  },
  {
    name: "degraded3-replica-hangup-failover: one replica status dropped (hang-up) ⇒ Degraded",
    obs: () =>
      withInstance(
        withInstance(healthyObservation(3), 2, replicaInstance(2, 0, `${U0}:1-5`, { semiSyncSourceWaitSessions: 3 })),
        0,
        primaryInstance(0, [11]),
      ),
    state: "Degraded",
    candidates: [1],
  },
  {
    name: "degraded5-two-replicas-are-bad: 5 instances, one errant and one unreachable+unready ⇒ Degraded",
    obs: () => {
      let o = healthyObservation(5);
      o = withInstance(o, 1, replicaInstance(1, 0, `${U0}:1-5,${U1}:1`));
      o = withInstance(withPod(o, 3, { ready: false }), 3, null);
      return withInstance(o, 0, primaryInstance(0, [11, 12, 14], { semiSyncSourceWaitForReplicaCount: 2 }));
    },
    state: "Degraded",
    candidates: [2, 4],
  },
  {
    name: "5 instances with only one good replica ⇒ Incomplete (Degraded needs 2)",
    obs: () => {
      let o = healthyObservation(5);
      for (const i of [2, 3, 4]) o = withInstance(withPod(o, i, { ready: false }), i, null);
      return withInstance(o, 0, primaryInstance(0, [11]));
    },
    state: "Incomplete",
  },
  {
    name: "Degraded needs inCluster ≥ floor(n/2): 3 instances, primary lists no replica ⇒ Incomplete",
    obs: () => withPod(withInstance(healthyObservation(3), 0, primaryInstance(0, [])), 2, { ready: false }),
    state: "Incomplete",
  },
  {
    name: "Degraded needs the primary Pod ready",
    obs: () => withPod(withPod(healthyObservation(3), 0, { ready: false }), 2, { ready: false }),
    state: "Incomplete",
  },
  {
    name: "degraded with the primary being deleted needs a switch",
    obs: () => withPod(withPod(healthyObservation(3), 2, { ready: false }), 0, { deleting: true }),
    state: "Degraded",
    needSwitch: true,
    candidate: 1,
  },
  {
    name: "replica pointing at another host is not good",
    obs: () =>
      withInstance(
        healthyObservation(3),
        1,
        replicaInstance(1, 0, `${U0}:1-5`, { replicaStatus: replicaRow({ sourceHost: host(2), executedGtidSet: `${U0}:1-5` }) }),
      ),
    state: "Degraded",
    candidates: [2],
  },
  // --- Failed / Lost
  {
    name: "failed3-primary-stopping: primary unreachable, 2 good replicas ⇒ Failed",
    obs: () => withInstance(healthyObservation(3), 0, null),
    state: "Failed",
  },
  {
    name: "failed3-primary-lost-data: primary reachable with empty GTID while replicas have data ⇒ Failed",
    // A primary whose PVC was lost restarts read-only, empty and without replicas.
    obs: () =>
      withInstance(healthyObservation(3), 0, primaryInstance(0, [], { gtidExecuted: "", readOnly: true, superReadOnly: true })),
    state: "Failed",
    lostData: true,
  },
  {
    name: "failed5-1-replica-errant: 5 instances, primary down, 3 good + 1 errant ⇒ Failed",
    obs: () => {
      const o = withInstance(healthyObservation(5, 0, { errantReplicaList: [1] }), 0, null);
      return withInstance(o, 1, replicaInstance(1, 0, `${U0}:1-5,${U1}:1`));
    },
    state: "Failed",
  },
  {
    name: "lostData blocks Degraded: empty writable primary, one good replica ⇒ Lost (1 survivor)",
    obs: () =>
      withPod(withInstance(withInstance(healthyObservation(3), 0, primaryInstance(0, [11], { gtidExecuted: "" })), 2, null), 2, {
        ready: false,
      }),
    state: "Lost",
    lostData: true,
  },
  {
    name: "lost3-too-few-replicas: primary down, only 1 replica reachable (not replicating) ⇒ Lost",
    obs: () => withInstance(withInstance(withInstance(healthyObservation(3), 0, null), 2, null), 1, instance(1, { gtidExecuted: `${U0}:1-5` })),
    state: "Lost",
  },
  {
    name: "lost3: primary down, one good replica only ⇒ Lost (Failed needs 2)",
    obs: () => withInstance(withInstance(healthyObservation(3), 0, null), 2, null),
    state: "Lost",
  },
  {
    name: "lost5-too-few-replicas: primary down, 2 plain + 1 errant reachable ⇒ Lost",
    obs: () => {
      let o = withInstance(healthyObservation(5, 0, { errantReplicaList: [3] }), 0, null);
      o = withInstance(o, 4, null);
      return withInstance(o, 3, replicaInstance(3, 0, `${U0}:1-5,${U1}:1`));
    },
    state: "Lost",
  },
  {
    name: "survivors need data: primary down, replicas replicating but empty ⇒ Lost",
    obs: () =>
      observation(cluster({ replicas: 3 }), [pod(0), pod(1), pod(2)], [null, replicaInstance(1, 0, ""), replicaInstance(2, 0, "")]),
    state: "Lost",
  },
];

describe("decideState (docs/clustering.md#deciding-the-cluster-state)", () => {
  for (const c of cases) {
    it(c.name, () => {
      const d = decideState(assessObservation(c.obs()));
      assert.equal(d.state, c.state);
      if (c.needSwitch !== undefined) assert.equal(d.needSwitch, c.needSwitch, "needSwitch");
      if (c.candidate !== undefined) assert.equal(d.candidate, c.candidate, "candidate");
      if (c.candidates !== undefined) assert.deepEqual(d.candidates, c.candidates, "candidates");
      if (c.lostData !== undefined) assert.equal(d.lostData, c.lostData, "lostData");
    });
  }
});

describe("quorum figures (docs/clustering.md#deciding-the-cluster-state table)", () => {
  const table: { n: number; goodNeeded: number; survivorsNeeded: number }[] = [
    { n: 3, goodNeeded: 1, survivorsNeeded: 2 },
    { n: 5, goodNeeded: 2, survivorsNeeded: 3 },
  ];
  for (const row of table) {
    it(`${row.n} instances: Degraded from ${row.goodNeeded} good replicas`, () => {
      // Make replicas bad one at a time, from the highest ordinal.
      for (let bad = 1; bad < row.n; bad++) {
        let o = healthyObservation(row.n);
        const listed: number[] = [];
        for (let i = 1; i < row.n; i++) {
          if (i >= row.n - bad) o = withPod(o, i, { ready: false });
          listed.push(10 + i);
        }
        o = withInstance(o, 0, primaryInstance(0, listed, { semiSyncSourceWaitForReplicaCount: Math.floor(row.n / 2) }));
        const good = row.n - 1 - bad;
        const want: ClusterState = good >= row.goodNeeded ? "Degraded" : "Incomplete";
        assert.equal(decideState(assessObservation(o)).state, want, `good=${good}`);
      }
    });
    it(`${row.n} instances: Failed from ${row.survivorsNeeded} survivors`, () => {
      for (let lost = 0; lost < row.n - 1; lost++) {
        let o = withInstance(healthyObservation(row.n), 0, null);
        for (let i = 1; i <= lost; i++) o = withInstance(o, i, null);
        const survivors = row.n - 1 - lost;
        const want: ClusterState = survivors >= row.survivorsNeeded ? "Failed" : "Lost";
        assert.equal(decideState(assessObservation(o)).state, want, `survivors=${survivors}`);
      }
    });
  }
});

describe("decideState reports its helpers", () => {
  it("goodReplicas, survivors, inCluster, primaryModeOK", () => {
    const o = withPod(withInstance(healthyObservation(5), 0, primaryInstance(0, [11, 12, 13, 1000])), 3, { ready: false });
    const d = decideState(assessObservation(o));
    assert.deepEqual(d.goodReplicas, [1, 2, 4]);
    assert.deepEqual(d.survivors, [1, 2, 3, 4]);
    assert.equal(d.inCluster, 3);
    assert.equal(d.primaryModeOK, true);
    assert.equal(d.primaryIndex, 0);
  });
  it("survivors exclude errant replicas restored from status when the primary is down", () => {
    const o = withInstance(healthyObservation(3, 0, { errantReplicaList: [2] }), 0, null);
    const d = decideState(assessObservation(o));
    assert.deepEqual(d.survivors, [1]);
    assert.equal(d.state, "Lost");
    assert.equal(U0.length, 36);
  });
});
