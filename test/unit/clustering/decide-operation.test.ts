// decideOperation (docs/clustering.md#operation-per-state), chooseFailoverTarget (docs/clustering.md#failover) and planConfigure (docs/clustering.md#configure), with
// the decision parts of the manager scenarios of docs/clustering.md#manager-scenarios (M-numbers).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  assessObservation,
  chooseFailoverTarget,
  decideOperation,
  decideState,
  planConfigure,
} from "../../../src/clustering/decide.ts";
import type { ClusterObservation, ConfigureStep, InstanceStatus, Operation, PodView } from "../../../src/clustering/types.ts";
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

function withPod(obs: ClusterObservation, i: number, patch: Partial<PodView>): ClusterObservation {
  return { ...obs, pods: obs.pods.map((p, j) => (j === i && p !== null ? { ...p, ...patch } : p)) };
}
function withInstance(obs: ClusterObservation, i: number, ist: InstanceStatus | null): ClusterObservation {
  return { ...obs, instances: obs.instances.map((x, j) => (j === i ? ist : x)) };
}
function operationOf(obs: ClusterObservation): Operation {
  return decideOperation(assessObservation(obs));
}
function stepsOf(obs: ClusterObservation): readonly ConfigureStep[] {
  const op = operationOf(obs);
  assert.equal(op.kind, "configure", `expected configure, got ${op.kind} in state ${op.state}`);
  return op.kind === "configure" ? op.plan.steps : [];
}

const repl = (i: number) => ({ host: host(i), port: 3306, credentials: "moco-repl" as const });
const SETTLE = { kind: "sleep", ms: 300, reason: "roleChange" } as const;
const SEMI3 = { kind: "configureSemiSyncSource", instance: 0, waitForReplicaCount: 1, timeoutMs: 86_400_000 } as const;

describe("decideOperation per state (docs/clustering.md#operation-per-state)", () => {
  const cases: { name: string; obs: () => ClusterObservation; want: Partial<Operation> & { kind: Operation["kind"] } }[] = [
    {
      name: "Offline ⇒ none",
      obs: () => observation(cluster({ replicas: 3, offline: true }), [null, null, null], [null, null, null]),
      want: { kind: "none", state: "Offline" },
    },
    {
      name: "Restoring ⇒ none",
      obs: () => observation(cluster({ replicas: 1, restore: true }), [pod(0)], [instance(0)]),
      want: { kind: "none", state: "Restoring" },
    },
    {
      name: "Lost ⇒ none",
      obs: () => observation(cluster({ replicas: 1 }), [pod(0)], [null]),
      want: { kind: "none", state: "Lost" },
    },
    {
      name: "Cloning with the primary absent ⇒ wait",
      obs: () => observation(cluster({ replicas: 1, intermediate: true }), [pod(0, { ready: false })], [null]),
      want: { kind: "wait", state: "Cloning" },
    },
    {
      name: "Cloning while a clone is In Progress ⇒ wait",
      obs: () => observation(cluster({ replicas: 1, intermediate: true }), [pod(0)], [instance(0, { cloneState: "In Progress" })]),
      want: { kind: "wait", state: "Cloning" },
    },
    {
      name: "Cloning with clone state Not Started ⇒ wait",
      obs: () => observation(cluster({ replicas: 1, intermediate: true }), [pod(0)], [instance(0, { cloneState: "Not Started" })]),
      want: { kind: "wait", state: "Cloning" },
    },
    {
      name: "Cloning with an empty primary and no clone state ⇒ initial clone (M6/M7)",
      obs: () => observation(cluster({ replicas: 1, intermediate: true }), [pod(0, { ready: false })], [instance(0)]),
      want: { kind: "initialClone", state: "Cloning", instance: 0 },
    },
    {
      name: "Cloning after a Failed clone ⇒ initial clone again",
      obs: () => observation(cluster({ replicas: 3, intermediate: true, primary: 1 }), [pod(0), pod(1), pod(2)], [instance(0), instance(1, { cloneState: "Failed" }), instance(2)]),
      want: { kind: "initialClone", state: "Cloning", instance: 1 },
    },
    {
      name: "Healthy with nothing to do ⇒ none",
      obs: () => healthyObservation(3),
      want: { kind: "none", state: "Healthy" },
    },
    {
      name: "Healthy, primary demoted ⇒ switchover to the lowest candidate, removing the demote key (M10)",
      obs: () => withPod(healthyObservation(3), 0, { demote: true }),
      want: { kind: "switchover", state: "Healthy", from: 0, to: 1, removeDemoteAnnotation: true },
    },
    {
      name: "Healthy, primary demoted during a rolling update ⇒ switchover to the updated replica 2 (moco-ts)",
      obs: () => withPod(withPod(withPod(healthyObservation(3), 0, { demote: true, updated: false }), 1, { updated: false }), 2, { updated: true }),
      want: { kind: "switchover", state: "Healthy", from: 0, to: 2, removeDemoteAnnotation: true },
    },
    {
      name: "Healthy, primary 1 being deleted ⇒ switchover to 0, no annotation to remove",
      obs: () => withPod(healthyObservation(3, 1), 1, { deleting: true }),
      want: { kind: "switchover", state: "Healthy", from: 1, to: 0, removeDemoteAnnotation: false },
    },
    {
      name: "Healthy, demote annotation present with another value: switch not needed, nothing to do",
      obs: () => withPod(healthyObservation(3), 0, { demote: false, hasDemoteAnnotation: true }),
      want: { kind: "none", state: "Healthy" },
    },
    {
      name: "Healthy, switch needed but replicas delayed ⇒ held back by preventPodDeletion",
      obs: () => {
        const o = withPod(healthyObservation(3, 0, { maxDelaySecondsForPodDeletion: 10 }), 0, { deleting: true });
        return withInstance(o, 2, replicaInstance(2, 0, `${U0}:1-5`, { replicaStatus: replicaRow({ secondsBehindSource: 100 }) }));
      },
      want: { kind: "none", state: "Healthy" },
    },
    {
      name: "Degraded, primary demoted ⇒ switchover to the good replica",
      obs: () => withPod(withPod(healthyObservation(3), 1, { ready: false }), 0, { demote: true }),
      want: { kind: "switchover", state: "Degraded", from: 0, to: 2 },
    },
    {
      name: "Degraded, switch held back ⇒ configure instead",
      obs: () => {
        let o = withPod(healthyObservation(3, 0, { maxDelaySecondsForPodDeletion: 10 }), 1, { ready: false });
        o = withPod(o, 0, { demote: true });
        return withInstance(o, 2, replicaInstance(2, 0, `${U0}:1-5`, { replicaStatus: replicaRow({ secondsBehindSource: 11 }) }));
      },
      want: { kind: "configure", state: "Degraded" },
    },
    {
      name: "Degraded without a switch ⇒ configure",
      obs: () => withPod(healthyObservation(3), 2, { ready: false }),
      want: { kind: "configure", state: "Degraded" },
    },
    {
      name: "Incomplete ⇒ configure",
      obs: () => withInstance(healthyObservation(3), 0, primaryInstance(0, [11, 12], { readOnly: true, superReadOnly: true })),
      want: { kind: "configure", state: "Incomplete" },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const op = operationOf(c.obs());
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual((op as unknown as Record<string, unknown>)[k], v, k);
    });
  }
});

describe("failover decision (docs/clustering.md#failover, M16–M18, M22)", () => {
  it("M16: primary down; 1 executed p0:1 retrieved p0:1-3, 2 at p0:1-3 ⇒ 1 (lowest of equally advanced), waits for p0:1-3", () => {
    let o = withInstance(healthyObservation(3), 0, null);
    o = withInstance(
      o,
      1,
      replicaInstance(1, 0, `${U0}:1`, { replicaStatus: replicaRow({ retrievedGtidSet: `${U0}:1-3`, executedGtidSet: `${U0}:1` }) }),
    );
    o = withInstance(o, 2, replicaInstance(2, 0, `${U0}:1-3`));
    const op = operationOf(o);
    assert.deepEqual(op, {
      kind: "failover",
      state: "Failed",
      from: 0,
      stopReplicaIOThreadOn: [1, 2],
      recheck: [1, 2],
      expected: { ok: true, target: 1, waitForGtid: `${U0}:1-3` },
    });
  });

  it("M22: 5 instances, errant replica 1 is stopped but never a candidate; lowest most advanced (3) wins", () => {
    let o = withInstance(healthyObservation(5, 0, { errantReplicaList: [1] }), 0, null);
    o = withInstance(o, 1, replicaInstance(1, 0, `${U0}:1-9,${U1}:1`));
    o = withInstance(o, 2, replicaInstance(2, 0, `${U0}:1-5`));
    o = withInstance(o, 3, replicaInstance(3, 0, `${U0}:1-7`));
    o = withInstance(o, 4, replicaInstance(4, 0, `${U0}:1-7`));
    const a = assessObservation(o);
    assert.deepEqual(a.errantReplicas, [1]);
    const op = decideOperation(a);
    assert.equal(op.kind, "failover");
    if (op.kind !== "failover") return;
    assert.deepEqual(op.stopReplicaIOThreadOn, [1, 2, 3, 4]);
    assert.deepEqual(op.recheck, [2, 3, 4]);
    assert.deepEqual(op.expected, { ok: true, target: 3, waitForGtid: `${U0}:1-7` });
  });

  it("failover through lostData: the empty primary is not a candidate", () => {
    const o = withInstance(healthyObservation(3), 0, primaryInstance(0, [], { gtidExecuted: "", readOnly: true, superReadOnly: true }));
    const op = operationOf(o);
    assert.equal(op.kind, "failover");
    if (op.kind === "failover") assert.deepEqual(op.recheck, [1, 2]);
  });

  it("M24: losing the new primary and one more replica ⇒ Lost, no action", () => {
    let o = withInstance(healthyObservation(5, 3, { errantReplicaList: [1] }), 3, null);
    o = withInstance(o, 4, null);
    o = withInstance(o, 1, replicaInstance(1, 3, `${U0}:1-9,${U1}:1`));
    const op = operationOf(o);
    assert.equal(op.kind, "none");
    assert.equal(op.state, "Lost");
  });
});

describe("chooseFailoverTarget (docs/clustering.md#failover step 3)", () => {
  const r = (retrieved: string, executed: string) =>
    instance(1, { gtidExecuted: executed, replicaStatus: replicaRow({ retrievedGtidSet: retrieved, executedGtidSet: executed }) });
  const cases: {
    name: string;
    statuses: (InstanceStatus | null)[];
    candidates: number[];
    want: { target: number; wait: string } | RegExp;
  }[] = [
    { name: "single candidate", statuses: [null, r(`${U0}:1-3`, `${U0}:1-3`)], candidates: [1], want: { target: 1, wait: `${U0}:1-3` } },
    {
      name: "more advanced higher ordinal wins",
      statuses: [null, r(`${U0}:1-3`, `${U0}:1-3`), r(`${U0}:1-4`, `${U0}:1-2`)],
      candidates: [1, 2],
      want: { target: 2, wait: `${U0}:1-4` },
    },
    {
      name: "tie goes to the lower ordinal",
      statuses: [null, r(`${U0}:1-3`, `${U0}:1-3`), r(`${U0}:1-3`, `${U0}:1-3`)],
      candidates: [2, 1],
      want: { target: 1, wait: `${U0}:1-3` },
    },
    {
      name: "Retrieved ∪ Executed: executed-only progress counts (empty Retrieved after an earlier failover)",
      statuses: [null, r("", `${U0}:1-5,${U2}:1-3`), r(`${U2}:4`, `${U0}:1-5,${U2}:1-3`)],
      candidates: [1, 2],
      want: { target: 2, wait: `${U2}:4` },
    },
    {
      name: "executed beyond retrieved (from an earlier primary) makes an instance more advanced",
      statuses: [null, r(`${U2}:1-3`, `${U0}:1-9,${U2}:1-3`), r(`${U2}:1-3`, `${U0}:1-5,${U2}:1-3`)],
      candidates: [1, 2],
      want: { target: 1, wait: `${U2}:1-3` },
    },
    {
      name: "empty sets are skipped",
      statuses: [null, r("", ""), r(`${U0}:1`, `${U0}:1`)],
      candidates: [1, 2],
      want: { target: 2, wait: `${U0}:1` },
    },
    {
      name: "candidates without replica status are skipped",
      statuses: [null, instance(1, { gtidExecuted: `${U0}:1-9` }), r(`${U0}:1`, `${U0}:1`)],
      candidates: [1, 2],
      want: { target: 2, wait: `${U0}:1` },
    },
    {
      name: "incomparable sets ⇒ errant transactions",
      statuses: [null, r(`${U0}:1-3`, `${U0}:1-3`), r(`${U0}:1-2,${U1}:1`, `${U0}:1-2,${U1}:1`)],
      candidates: [1, 2],
      want: /errant transactions/,
    },
    { name: "no candidate with data ⇒ no top runner", statuses: [null, r("", ""), null], candidates: [1, 2], want: /no top runner/ },
    { name: "no candidates ⇒ no top runner", statuses: [null], candidates: [], want: /no top runner/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = chooseFailoverTarget(c.statuses, c.candidates);
      if (c.want instanceof RegExp) {
        assert.equal(got.ok, false);
        if (!got.ok) assert.match(got.error, c.want);
      } else {
        assert.deepEqual(got, { ok: true, target: c.want.target, waitForGtid: c.want.wait });
      }
    });
  }
});

describe("planConfigure (docs/clustering.md#configure)", () => {
  it("M1/M2: a new 1-instance cluster is labelled primary and made writable (one Writable)", () => {
    const o = observation(cluster({ replicas: 1 }), [pod(0)], [primaryInstance(0, [], { readOnly: true, superReadOnly: true })]);
    const op = operationOf(o);
    assert.equal(op.kind, "configure");
    if (op.kind !== "configure") return;
    assert.deepEqual(op.plan.steps, [
      SETTLE,
      { kind: "killConnections", instance: 0 },
      { kind: "makeWritable", instance: 0 },
      { kind: "setRoleLabel", instance: 0, role: "primary" },
    ]);
    assert.equal(op.plan.redo, true);
  });

  it("a 1-instance cluster never configures semi-sync", () => {
    const o = observation(cluster({ replicas: 1 }), [pod(0, { roleLabel: "primary" })], [primaryInstance(0, [], { readOnly: true, semiSyncSourceEnabled: false })]);
    assert.deepEqual(stepsOf(o), [{ kind: "makeWritable", instance: 0 }]);
  });

  it("new 3-instance cluster: semi-sync on the primary, replicas cloned and pointed at it, writable, then labels (moco-ts order)", () => {
    const o = observation(
      cluster({ replicas: 3 }),
      [pod(0), pod(1), pod(2)],
      [primaryInstance(0, [], { readOnly: true, superReadOnly: true, semiSyncSourceEnabled: false }), instance(1), instance(2)],
    );
    assert.deepEqual(stepsOf(o), [
      SETTLE,
      { kind: "killConnections", instance: 0 },
      { kind: "killConnections", instance: 1 },
      { kind: "killConnections", instance: 2 },
      SEMI3,
      { kind: "cloneFromPrimary", instance: 1, donorHost: "10.0.0.1", donorPort: 33062 },
      { kind: "configureReplication", instance: 1, source: repl(0), semiSync: true },
      { kind: "cloneFromPrimary", instance: 2, donorHost: "10.0.0.1", donorPort: 33062 },
      { kind: "configureReplication", instance: 2, source: repl(0), semiSync: true },
      { kind: "makeWritable", instance: 0 },
      { kind: "setRoleLabel", instance: 0, role: "primary" },
      { kind: "setRoleLabel", instance: 1, role: "replica" },
      { kind: "setRoleLabel", instance: 2, role: "replica" },
    ]);
  });

  it("semi-sync wait count is floor(replicas/2): 5 instances with wait count 1 get 2", () => {
    const o = withInstance(healthyObservation(5), 0, primaryInstance(0, [11, 12, 13], { semiSyncSourceWaitForReplicaCount: 1 }));
    assert.deepEqual(stepsOf(o), [{ kind: "configureSemiSyncSource", instance: 0, waitForReplicaCount: 2, timeoutMs: 86_400_000 }]);
  });

  it("semi-sync disabled on the primary is re-enabled", () => {
    const o = withPod(withInstance(healthyObservation(3), 0, primaryInstance(0, [11, 12], { semiSyncSourceEnabled: false })), 2, { ready: false });
    assert.deepEqual(stepsOf(o), [SEMI3]);
  });

  const donorCases: { ip: string | null; want: string | null }[] = [
    { ip: "10.1.2.3", want: "10.1.2.3" },
    { ip: "0.0.0.0", want: host(0) },
    { ip: "", want: null },
    { ip: null, want: null },
  ];
  for (const c of donorCases) {
    it(`clone donor host for primary Pod IP ${JSON.stringify(c.ip)}`, () => {
      let o = withPod(healthyObservation(3), 0, { ip: c.ip });
      o = withPod(withInstance(o, 2, instance(2)), 2, { ready: false });
      const clone = stepsOf(o).find((s) => s.kind === "cloneFromPrimary");
      assert.deepEqual(clone, { kind: "cloneFromPrimary", instance: 2, donorHost: c.want, donorPort: 33062 });
    });
  }

  it("no clone when the primary itself is empty; the replica is just pointed at it", () => {
    const o = observation(
      cluster({ replicas: 3 }),
      [pod(0, { roleLabel: "primary" }), pod(1, { roleLabel: "replica" }), pod(2, { roleLabel: "replica" })],
      [primaryInstance(0, [], { gtidExecuted: "", semiSyncSourceEnabled: true }), instance(1), instance(2)],
    );
    assert.deepEqual(stepsOf(o), [
      { kind: "configureReplication", instance: 1, source: repl(0), semiSync: true },
      { kind: "configureReplication", instance: 2, source: repl(0), semiSync: true },
    ]);
  });

  it("after a clone the purged check runs on the re-read status when the primary has purged binlogs", () => {
    let o = withInstance(healthyObservation(3), 0, primaryInstance(0, [11], { gtidPurged: `${U0}:1-2` }));
    o = withPod(withInstance(o, 2, instance(2)), 2, { ready: false });
    assert.deepEqual(stepsOf(o), [
      { kind: "cloneFromPrimary", instance: 2, donorHost: "10.0.0.1", donorPort: 33062 },
      { kind: "checkPurgedGtids", instance: 2, primaryPurgedGtid: `${U0}:1-2` },
      { kind: "configureReplication", instance: 2, source: repl(0), semiSync: true },
    ]);
  });

  it("a replica missing transactions the primary has purged stops the pass (nothing after it runs)", () => {
    let o = withInstance(healthyObservation(3), 0, primaryInstance(0, [11], { readOnly: true, superReadOnly: true, gtidPurged: `${U0}:1-3` }));
    o = withInstance(o, 1, replicaInstance(1, 0, `${U0}:1-5`));
    o = withInstance(o, 2, replicaInstance(2, 0, `${U0}:1-2`, { replicaStatus: null }));
    const steps = stepsOf(o);
    assert.deepEqual(steps.at(-1), {
      kind: "fail",
      message: `new primary 0 does not have binlog containing transactions ${U0}:3 required for instance 2`,
    });
    assert.equal(steps.some((s) => s.kind === "makeWritable"), false);
  });

  it("a writable replica has its connections killed, then becomes super_read_only", () => {
    const o = withInstance(healthyObservation(3), 1, replicaInstance(1, 0, `${U0}:1-5`, { readOnly: false, superReadOnly: false }));
    assert.deepEqual(stepsOf(o), [
      { kind: "killConnections", instance: 1 },
      { kind: "setSuperReadOnly", instance: 1 },
    ]);
  });

  it("replicas pointing elsewhere, stopped, or with the wrong semi-sync setting are reconfigured", () => {
    let o = withPod(healthyObservation(5), 1, { ready: false });
    o = withInstance(o, 1, replicaInstance(1, 0, `${U0}:1-5`, { replicaStatus: replicaRow({ sourceHost: host(3) }) }));
    o = withInstance(o, 2, replicaInstance(2, 0, `${U0}:1-5`, { replicaStatus: replicaRow({ replicaIORunning: "Connecting" }) }));
    o = withInstance(o, 3, replicaInstance(3, 0, `${U0}:1-5`, { semiSyncReplicaEnabled: false }));
    assert.deepEqual(stepsOf(o), [
      { kind: "configureReplication", instance: 1, source: repl(0), semiSync: true },
      { kind: "configureReplication", instance: 2, source: repl(0), semiSync: true },
      { kind: "configureReplication", instance: 3, source: repl(0), semiSync: true },
    ]);
  });

  it("label-only changes do not request redo", () => {
    let o = withPod(healthyObservation(3), 1, { ready: false });
    o = withPod(o, 2, { roleLabel: null });
    const op = operationOf(o);
    assert.equal(op.kind, "configure");
    if (op.kind !== "configure") return;
    assert.deepEqual(op.plan.steps, [
      SETTLE,
      { kind: "killConnections", instance: 2 },
      { kind: "setRoleLabel", instance: 2, role: "replica" },
    ]);
    assert.equal(op.plan.redo, false);
  });

  it("role settle time comes from the options (MOCO_ROLE_WAIT_DURATION)", () => {
    const o = withPod(withPod(healthyObservation(3), 1, { ready: false }), 2, { roleLabel: "primary" });
    const a = assessObservation(o);
    const plan = planConfigure(a, { roleChangeWaitMs: 5 });
    assert.deepEqual(plan.steps.slice(0, 2), [
      { kind: "removeRoleLabel", instance: 2 },
      { kind: "sleep", ms: 5, reason: "roleChange" },
    ]);
  });

  it("M21: an errant replica loses its label and its IO thread, without connection kills or a new label", () => {
    const o = withInstance(healthyObservation(5), 1, replicaInstance(1, 0, `${U0}:1-5,${U1}:1`));
    const a = assessObservation(o);
    assert.equal(decideState(a).state, "Degraded");
    const op = decideOperation(a);
    assert.equal(op.kind, "configure");
    if (op.kind !== "configure") return;
    assert.deepEqual(op.plan.steps, [
      { kind: "removeRoleLabel", instance: 1 },
      { kind: "stopReplicaIOThread", instance: 1 },
    ]);
    assert.equal(op.plan.redo, true);
  });

  it("fencing: an errant instance that is writable (an old primary back from a partition) is made super_read_only first", () => {
    const o = withInstance(healthyObservation(3), 1, replicaInstance(1, 0, `${U0}:1-5,${U1}:1`, { readOnly: false, superReadOnly: false }));
    assert.deepEqual(stepsOf(o), [
      { kind: "removeRoleLabel", instance: 1 },
      { kind: "killConnections", instance: 1 },
      { kind: "setSuperReadOnly", instance: 1 },
      { kind: "stopReplicaIOThread", instance: 1 },
    ]);
  });

  it("fencing: a writable instance dropped by the hang-up guard (semi-sync sessions waiting) is made super_read_only; a read-only one is left alone", () => {
    let o = withInstance(healthyObservation(3), 1, replicaInstance(1, 0, `${U0}:1-5`, { semiSyncSourceWaitSessions: 1, readOnly: false, superReadOnly: false }));
    assert.deepEqual(assessObservation(o).hungUpWritable, [1]);
    assert.deepEqual(stepsOf(o), [{ kind: "fenceHungUp", instance: 1 }]);
    o = withInstance(healthyObservation(3), 1, replicaInstance(1, 0, `${U0}:1-5`, { semiSyncSourceWaitSessions: 1 }));
    assert.deepEqual(assessObservation(o).hungUpWritable, []);
    assert.deepEqual(stepsOf(o), []);
  });

  it("self-fenced primary (read-only, semi-sync source off): made writable again only with enough replicas reached; offline_mode left ON is cleared", () => {
    const fenced = (o: Partial<InstanceStatus> = {}) =>
      withInstance(healthyObservation(3), 0, primaryInstance(0, [11, 12], { readOnly: true, superReadOnly: true, semiSyncSourceEnabled: false, ...o }));
    const table: Array<[string, ClusterObservation, readonly ConfigureStep[]]> = [
      ["replicas reached: semi-sync on, then writable", fenced(), [
        { kind: "configureSemiSyncSource", instance: 0, waitForReplicaCount: 1, timeoutMs: 86_400_000 },
        { kind: "makeWritable", instance: 0 },
      ]],
      ["one of two replicas reached: still enough for one ack", withInstance(fenced(), 2, null), [
        { kind: "configureSemiSyncSource", instance: 0, waitForReplicaCount: 1, timeoutMs: 86_400_000 },
        { kind: "makeWritable", instance: 0 },
      ]],
      ["no replica reached: stays fenced", withInstance(withInstance(fenced(), 1, null), 2, null), [
        { kind: "configureSemiSyncSource", instance: 0, waitForReplicaCount: 1, timeoutMs: 86_400_000 },
      ]],
      ["writable but offline_mode left ON by an interrupted fence", withInstance(healthyObservation(3), 0, primaryInstance(0, [11, 12], { semiSyncSourceWaitForReplicaCount: 1, offlineMode: true })), [
        { kind: "makeWritable", instance: 0 },
      ]],
    ];
    for (const [name, o, want] of table) assert.deepEqual(stepsOf(o), want, name);
  });

  it("an errant replica whose IO thread is already stopped gets nothing", () => {
    let o = withInstance(healthyObservation(3), 1, replicaInstance(1, 0, `${U0}:1-5,${U1}:1`, { replicaStatus: replicaRow({ replicaIORunning: "No" }) }));
    o = withPod(o, 1, { roleLabel: null });
    assert.deepEqual(stepsOf(o), []);
  });

  describe("errant former primary (docs/clustering.md \"Errant former primary\")", () => {
    // After a failover 0 → 1: the new primary 1 got U0:1-10 from 0 and wrote U1:1-3; replica 2 follows it.
    const primaryGtid = `${U0}:1-10,${U1}:1-3`;
    const after = (old: Partial<InstanceStatus>, opts: { label?: "primary" | "replica" | null } = {}): ClusterObservation => {
      let o = healthyObservation(3, 1);
      o = withInstance(o, 1, primaryInstance(1, [10, 12], { gtidExecuted: primaryGtid, semiSyncSourceWaitForReplicaCount: 1 }));
      o = withInstance(o, 2, replicaInstance(2, 1, primaryGtid));
      o = withInstance(o, 0, instance(0, { gtidExecuted: `${U0}:1-12`, ...old }));
      return withPod(o, 0, { roleLabel: opts.label === undefined ? null : opts.label });
    };
    const reclone = (discard: string) => [
      { kind: "cloneFromPrimary", instance: 0, donorHost: "10.0.0.2", donorPort: 33062, discardErrant: discard },
      { kind: "configureReplication", instance: 0, source: repl(1), semiSync: true },
      { kind: "setRoleLabel", instance: 0, role: "replica" },
    ] as const;
    const table: Array<[string, ClusterObservation, readonly ConfigureStep[], { recloneErrantFormerPrimary?: boolean }?]> = [
      ["its own unreplicated tail: cloned over it, last in the plan", after({}), reclone(`${U0}:11-12`)],
      ["still labelled primary: the label goes first, the clone last", after({}, { label: "primary" }), [
        { kind: "removeRoleLabel", instance: 0 },
        ...reclone(`${U0}:11-12`),
      ]],
      ["still writable: fenced first (step 2b), then cloned", after({ readOnly: false, superReadOnly: false }), [
        { kind: "killConnections", instance: 0 },
        { kind: "setSuperReadOnly", instance: 0 },
        ...reclone(`${U0}:11-12`),
      ]],
      ["its IO thread running: stopped, then cloned", after({ replicaStatus: replicaRow({ sourceHost: host(1), retrievedGtidSet: primaryGtid, executedGtidSet: primaryGtid }) }), [
        { kind: "stopReplicaIOThread", instance: 0 },
        ...reclone(`${U0}:11-12`),
      ]],
      ["turned off (--reclone-errant-former-primary=false): stays errant, as MOCO", after({}), [], { recloneErrantFormerPrimary: false }],
      ["a foreign transaction beside the tail: stays errant", after({ gtidExecuted: `${U0}:1-12,${U2}:1` }), []],
      ["a gap in the tail: stays errant", after({ gtidExecuted: `${U0}:1-10:12` }), []],
    ];
    for (const [name, o, want, options] of table) {
      it(name, () => {
        const a = assessObservation(o);
        assert.deepEqual(a.errantReplicas, [0]);
        assert.equal(decideState(a).state, "Degraded");
        const op = decideOperation(a, decideState(a), options ?? {});
        assert.equal(op.kind, "configure");
        if (op.kind === "configure") assert.deepEqual(op.plan.steps, want);
      });
    }
    it("a replica written on directly that was never a primary stays errant (MOCO R7/M20)", () => {
      const o = withInstance(healthyObservation(3), 2, replicaInstance(2, 0, `${U0}:1-5,${U2}:1`, { replicaStatus: replicaRow({ replicaIORunning: "No" }) }));
      const a = assessObservation(o);
      assert.deepEqual(a.errantReplicas, [2]);
      assert.equal(a.formerPrimaryTails?.size, 0);
      assert.deepEqual(stepsOf(withPod(o, 2, { roleLabel: null })), []);
    });
  });

  it("M23: a re-initialised (empty) former errant replica is cloned and relabelled; only it has connections killed", () => {
    let o = withInstance(healthyObservation(5, 0, { errantReplicaList: [1] }), 1, instance(1));
    o = withPod(o, 1, { roleLabel: null, ready: false });
    const a = assessObservation(o);
    assert.deepEqual(a.errantReplicas, []);
    assert.deepEqual(stepsOf(o), [
      SETTLE,
      { kind: "killConnections", instance: 1 },
      { kind: "cloneFromPrimary", instance: 1, donorHost: "10.0.0.1", donorPort: 33062 },
      { kind: "configureReplication", instance: 1, source: repl(0), semiSync: true },
      { kind: "setRoleLabel", instance: 1, role: "replica" },
    ]);
  });

  it("M10–M14: after a switchover 0→1 the old primary is relabelled and repointed; kills on 0 and 1 only", () => {
    const c = cluster({ replicas: 3, primary: 1 });
    const o = observation(
      c,
      [pod(0, { roleLabel: "primary" }), pod(1, { roleLabel: "replica" }), pod(2, { roleLabel: "replica" })],
      [
        primaryInstance(0, [11, 12], { readOnly: true, superReadOnly: true }),
        replicaInstance(1, 0, `${U0}:1-5`, { semiSyncSourceEnabled: false }),
        replicaInstance(2, 0, `${U0}:1-5`),
      ],
    );
    assert.equal(decideState(assessObservation(o)).state, "Incomplete");
    assert.deepEqual(stepsOf(o), [
      { kind: "removeRoleLabel", instance: 0 },
      { kind: "removeRoleLabel", instance: 1 },
      SETTLE,
      { kind: "killConnections", instance: 0 },
      { kind: "killConnections", instance: 1 },
      { kind: "stopReplicaIOThread", instance: 1 },
      { kind: "sleep", ms: 100, reason: "afterStopIOThread" },
      { kind: "waitForGtid", instance: 1, gtid: `${U0}:1-5`, timeoutSeconds: 50 },
      { kind: "configureSemiSyncSource", instance: 1, waitForReplicaCount: 1, timeoutMs: 86_400_000 },
      { kind: "configureReplication", instance: 0, source: repl(1), semiSync: true },
      { kind: "configureReplication", instance: 2, source: repl(1), semiSync: true },
      { kind: "makeWritable", instance: 1 },
      { kind: "setRoleLabel", instance: 0, role: "replica" },
      { kind: "setRoleLabel", instance: 1, role: "primary" },
    ]);
  });

  it("M17/M18: after failover to 1 the failed Pod loses its label; only the new primary has connections killed", () => {
    const c = cluster({ replicas: 3, primary: 1 });
    const o = observation(
      c,
      [pod(0, { roleLabel: "primary", ready: false }), pod(1, { roleLabel: "replica" }), pod(2, { roleLabel: "replica" })],
      [
        null,
        replicaInstance(1, 0, `${U0}:1-3`, { replicaStatus: replicaRow({ sourceHost: host(0), replicaIORunning: "No", retrievedGtidSet: `${U0}:1-3`, executedGtidSet: `${U0}:1-3` }) }),
        replicaInstance(2, 0, `${U0}:1-3`, { replicaStatus: replicaRow({ sourceHost: host(0), replicaIORunning: "No" }) }),
      ],
    );
    const steps = stepsOf(o);
    assert.deepEqual(steps.filter((s) => s.kind === "killConnections"), [{ kind: "killConnections", instance: 1 }]);
    assert.deepEqual(steps, [
      { kind: "removeRoleLabel", instance: 0 },
      { kind: "removeRoleLabel", instance: 1 },
      SETTLE,
      { kind: "killConnections", instance: 1 },
      { kind: "waitForGtid", instance: 1, gtid: `${U0}:1-3`, timeoutSeconds: 50 },
      { kind: "configureSemiSyncSource", instance: 1, waitForReplicaCount: 1, timeoutMs: 86_400_000 },
      { kind: "configureReplication", instance: 2, source: repl(1), semiSync: true },
      { kind: "makeWritable", instance: 1 },
      { kind: "setRoleLabel", instance: 1, role: "primary" },
    ]);
  });

  it("M19: the returning old primary is killed once, repointed and labelled replica; primary stays 1", () => {
    const c = cluster({ replicas: 3, primary: 1 });
    const o = observation(
      c,
      [pod(0), pod(1, { roleLabel: "primary" }), pod(2, { roleLabel: "replica" })],
      [instance(0, { gtidExecuted: `${U0}:1-3` }), primaryInstance(1, [12], { gtidExecuted: `${U0}:1-3,${U1}:1-2` }), replicaInstance(2, 1, `${U0}:1-3,${U1}:1-2`)],
    );
    assert.equal(decideState(assessObservation(o)).state, "Degraded");
    assert.deepEqual(stepsOf(o), [
      SETTLE,
      { kind: "killConnections", instance: 0 },
      { kind: "configureReplication", instance: 0, source: repl(1), semiSync: true },
      { kind: "setRoleLabel", instance: 0, role: "replica" },
    ]);
  });
});

describe("intermediate primary (docs/clustering.md#configure step 3, docs/clustering.md#initial-clone-from-an-external-donor, M9, M13, M15)", () => {
  const source = { ok: true as const, host: "donor.example", port: 3306 };
  function intermediateObs(o: { primary?: Partial<InstanceStatus>; replicaSemiSync?: boolean; source?: ClusterObservation["replicationSource"] }) {
    const c = cluster({ replicas: 3, intermediate: true, cloned: true });
    return observation(
      c,
      [pod(0, { roleLabel: "primary" }), pod(1, { roleLabel: "replica" }), pod(2, { roleLabel: "replica" })],
      [
        primaryInstance(0, [11, 12], { readOnly: true, superReadOnly: true, semiSyncSourceEnabled: false, ...o.primary }),
        replicaInstance(1, 0, `${U0}:1-5`, { semiSyncReplicaEnabled: o.replicaSemiSync ?? false }),
        replicaInstance(2, 0, `${U0}:1-5`, { semiSyncReplicaEnabled: o.replicaSemiSync ?? false }),
      ],
      o.source,
    );
  }

  it("M9/M13: a writable primary is made read-only and replicates asynchronously from the external source", () => {
    const o = intermediateObs({ primary: { readOnly: false, superReadOnly: false }, source });
    assert.deepEqual(stepsOf(o), [
      { kind: "setSuperReadOnly", instance: 0 },
      {
        kind: "configureReplication",
        instance: 0,
        source: { host: "donor.example", port: 3306, credentials: "replicationSourceSecret" },
        semiSync: false,
      },
    ]);
  });

  it("replicas of an intermediate primary use asynchronous replication; no semi-sync source, never writable", () => {
    // Healthy does not look at the replicas' semi-sync setting; one unready Pod makes it Degraded.
    const o = withPod(
      intermediateObs({ primary: { replicaStatus: replicaRow({ sourceHost: "donor.example" }) }, replicaSemiSync: true, source }),
      2,
      { ready: false },
    );
    const op = operationOf(o);
    assert.equal(op.kind, "configure");
    if (op.kind !== "configure") return;
    assert.deepEqual(op.plan.steps, [
      { kind: "configureReplication", instance: 1, source: repl(0), semiSync: false },
      { kind: "configureReplication", instance: 2, source: repl(0), semiSync: false },
    ]);
  });

  it("an intermediate primary already replicating from HOST is left alone (Healthy, nothing to do)", () => {
    const o = intermediateObs({ primary: { replicaStatus: replicaRow({ sourceHost: "donor.example" }) }, source });
    assert.deepEqual(operationOf(o), { kind: "none", state: "Healthy", reason: "healthy" });
  });

  it("source Secret not read ⇒ the pass fails at the intermediate step", () => {
    const o = intermediateObs({ primary: { readOnly: false, superReadOnly: false } });
    assert.deepEqual(stepsOf(o), [
      { kind: "setSuperReadOnly", instance: 0 },
      { kind: "fail", message: "secret source was not read" },
    ]);
  });

  it("source Secret unusable ⇒ its error", () => {
    const o = intermediateObs({ primary: { readOnly: false, superReadOnly: false }, source: { ok: false, error: "invalid port number in secret ns/source" } });
    assert.deepEqual(stepsOf(o).at(-1), { kind: "fail", message: "invalid port number in secret ns/source" });
  });

  it("M15: detaching (replicationSourceSecretName cleared) stops the IO thread, drains relay logs, enables semi-sync, writable last", () => {
    const c = cluster({ replicas: 3 });
    const o = observation(
      c,
      [pod(0, { roleLabel: "primary" }), pod(1, { roleLabel: "replica" }), pod(2, { roleLabel: "replica" })],
      [
        primaryInstance(0, [11, 12], {
          readOnly: true,
          superReadOnly: true,
          semiSyncSourceEnabled: false,
          replicaStatus: replicaRow({ sourceHost: "donor.example", retrievedGtidSet: `${U2}:1-10` }),
        }),
        replicaInstance(1, 0, `${U0}:1-5`, { semiSyncReplicaEnabled: false }),
        replicaInstance(2, 0, `${U0}:1-5`, { semiSyncReplicaEnabled: false }),
      ],
    );
    assert.deepEqual(stepsOf(o), [
      { kind: "stopReplicaIOThread", instance: 0 },
      { kind: "sleep", ms: 100, reason: "afterStopIOThread" },
      { kind: "waitForGtid", instance: 0, gtid: `${U2}:1-10`, timeoutSeconds: 50 },
      SEMI3,
      { kind: "configureReplication", instance: 1, source: repl(0), semiSync: true },
      { kind: "configureReplication", instance: 2, source: repl(0), semiSync: true },
      { kind: "makeWritable", instance: 0 },
    ]);
  });
});
