import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  buildStatefulSet,
  clusteringStoppedConditions,
  decidePartitionUpdate,
  isRolloutReady,
  PARTITION_REQUEUE_SWITCHOVER_MS,
  primaryLastTargets,
  PARTITION_AVAILABLE_MARGIN_MS,
  isStatefulSetReady,
  isStatefulSetUpdating,
  needsStatefulSetRecreation,
  planPvcMetadataSync,
  planPvcResize,
  reconcileSuccessCondition,
  selectResizeTargets,
  semanticEqual,
  setStatusCondition,
  statefulSetReadyCondition,
} from "../../../src/controller/builders/index.ts";
import type { PartitionPodView, PartitionStatefulSetView, PvcTemplateView, StatefulSetView } from "../../../src/controller/builders/index.ts";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { cluster, options, spec } from "./fixtures.ts";

describe("isStatefulSetUpdating (PVC resize gate)", () => {
  const settled: StatefulSetView = {
    metadata: { generation: 2 },
    spec: { replicas: 3, updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } } },
    status: { observedGeneration: 2, readyReplicas: 3, updatedReplicas: 3, currentRevision: "a", updateRevision: "a" },
  };
  const cases: [string, (s: StatefulSetView) => StatefulSetView, boolean][] = [
    ["settled", (s) => s, false],
    ["being deleted", (s) => ({ ...s, metadata: { ...s.metadata, deletionTimestamp: "2024-01-01T00:00:00Z" } }), true],
    ["not observed", (s) => ({ ...s, status: { ...s.status, observedGeneration: 0 } }), true],
    ["old generation", (s) => ({ ...s, status: { ...s.status, observedGeneration: 1 } }), true],
    ["not all ready", (s) => ({ ...s, status: { ...s.status, readyReplicas: 2 } }), true],
    ["partitioned rollout pending", (s) => ({ ...s, status: { ...s.status, updatedReplicas: 2 } }), true],
    [
      "partition 2 with 1 updated is done",
      (s) => ({ ...s, spec: { ...s.spec, updateStrategy: { rollingUpdate: { partition: 2 } } }, status: { ...s.status, updatedReplicas: 1 } }),
      false,
    ],
    ["revisions differ", (s) => ({ ...s, status: { ...s.status, updateRevision: "b" } }), true],
  ];
  for (const [name, f, want] of cases) it(name, () => assert.equal(isStatefulSetUpdating(f(settled)), want));
});

describe("PVC label/annotation sync", () => {
  const c = cluster(3, (x) => {
    spec(x).volumeClaimTemplates = [
      { metadata: { name: "mysql-data", labels: { tier: "gold", other: "x" }, annotations: { snap: "daily" } }, spec: {} },
    ];
  });
  it("sets only the listed keys the template defines; no additions or deletions otherwise", () => {
    const pvcs: PvcTemplateView[] = [
      { metadata: { name: "mysql-data-moco-test-0", labels: { tier: "silver", keep: "1" }, annotations: {} } },
      { metadata: { name: "mysql-data-moco-test-1", labels: { tier: "gold" }, annotations: { snap: "daily" } } },
      { metadata: { name: "mysql-data-moco-test2-0", labels: { tier: "silver" } } },
      { metadata: { name: "other-moco-test-0", labels: { tier: "silver" } } },
    ];
    assert.deepEqual(planPvcMetadataSync(c, pvcs, ["tier", "missing"], ["snap"]), [
      { name: "mysql-data-moco-test-0", labels: { tier: "gold", keep: "1" }, annotations: { snap: "daily" } },
    ]);
    assert.deepEqual(planPvcMetadataSync(c, pvcs, [], []), []);
  });
});

describe("PVC resize", () => {
  const c = cluster(3, (x) => {
    spec(x).volumeClaimTemplates = [
      { metadata: { name: "mysql-data" }, spec: { resources: { requests: { storage: "2Gi" } } } },
      { metadata: { name: "logs" }, spec: { resources: { requests: { storage: "1Gi" } } } },
      { metadata: { name: "new" }, spec: { resources: { requests: { storage: "5Gi" } } } },
    ];
  });
  const live: StatefulSetView = {
    spec: {
      replicas: 3,
      volumeClaimTemplates: [
        { metadata: { name: "mysql-data" }, spec: { resources: { requests: { storage: "1Gi" } } } },
        { metadata: { name: "logs" }, spec: { resources: { requests: { storage: "1024Mi" } } } },
      ],
    },
  };
  it("targets: grown templates present in both", () => {
    assert.deepEqual(selectResizeTargets(c, live), [{ template: "mysql-data", storage: "2Gi", bytes: 2 * 1024 ** 3 }]);
  });
  it("per-PVC plan: resize smaller, skip equal/no class/non-expandable, report larger", () => {
    const pvc = (i: number, storage: string, storageClassName?: string) => ({
      metadata: { name: `mysql-data-moco-test-${i}` },
      spec: { storageClassName, resources: { requests: { storage } } },
    });
    const plan = planPvcResize(
      "test",
      selectResizeTargets(c, live),
      4,
      [pvc(0, "1Gi", "fast"), pvc(1, "2048Mi", "fast"), pvc(2, "3Gi", "fast"), { ...pvc(3, "1Gi"), metadata: { name: "mysql-data-moco-test-3" } }],
      [{ metadata: { name: "fast" }, allowVolumeExpansion: true }, { metadata: { name: "slow" } }],
    );
    assert.deepEqual(plan.resize, [{ pvc: "mysql-data-moco-test-0", storage: "2Gi" }]);
    assert.deepEqual(plan.larger, [{ pvc: "mysql-data-moco-test-2", current: "3Gi", desired: "2Gi" }]);
    assert.deepEqual(plan.skipped.map((s) => s.pvc), ["mysql-data-moco-test-1", "mysql-data-moco-test-3"]);
    const slow = planPvcResize("test", selectResizeTargets(c, live), 1, [pvc(0, "1Gi", "slow")], [{ metadata: { name: "slow" } }]);
    assert.deepEqual(slow.resize, []);
    assert.match(slow.skipped[0]?.reason ?? "", /does not allow/);
  });
});

describe("StatefulSet re-creation rule", () => {
  const desired = buildStatefulSet(cluster(), {}, options());
  const liveOf = (f: (t: Record<string, unknown>[]) => unknown[]) => ({
    spec: { volumeClaimTemplates: f(JSON.parse(JSON.stringify(desired.spec?.volumeClaimTemplates)) as Record<string, unknown>[]) },
  });
  it("equal (also with an equivalent quantity) → no", () => {
    assert.equal(needsStatefulSetRecreation(desired, liveOf((t) => t)), false);
    assert.equal(
      needsStatefulSetRecreation(
        desired,
        liveOf((t) => {
          ((t[0]?.["spec"] as { resources: { requests: Record<string, string> } }).resources.requests)["storage"] = "1024Mi";
          return t;
        }),
      ),
      false,
    );
  });
  it("no live templates → no", () => {
    assert.equal(needsStatefulSetRecreation(desired, undefined), false);
    assert.equal(needsStatefulSetRecreation(desired, { spec: {} }), false);
  });
  it("size, class, label or template count change → yes", () => {
    const grown = buildStatefulSet(cluster(3, (c) => (spec(c).volumeClaimTemplates[0]!.spec.resources = { requests: { storage: "2Gi" } })), {}, options());
    assert.equal(needsStatefulSetRecreation(grown, liveOf((t) => t)), true);
    const labelled = buildStatefulSet(cluster(3, (c) => (spec(c).volumeClaimTemplates[0]!.metadata.labels = { a: "b" })), {}, options());
    assert.equal(needsStatefulSetRecreation(labelled, liveOf((t) => t)), true);
    assert.equal(needsStatefulSetRecreation(desired, liveOf((t) => [...t, t[0]])), true);
  });
  it("semanticEqual: empty map equals absent; key order irrelevant", () => {
    assert.ok(semanticEqual({ metadata: { labels: {} , name: "a" } }, { metadata: { name: "a" } }));
    assert.ok(!semanticEqual({ a: 1 }, { a: 2 }));
    assert.ok(!semanticEqual({ emptyDir: {} }, {}));
  });
});

describe("StatefulSetReady", () => {
  const ready = {
    metadata: { generation: 3 },
    spec: { replicas: 3 },
    status: { availableReplicas: 3, currentRevision: "r", updateRevision: "r", observedGeneration: 3 },
  };
  const cases: [string, object, boolean][] = [
    ["ready", ready, true],
    ["replicas unset", { ...ready, spec: {} }, false],
    ["not available", { ...ready, status: { ...ready.status, availableReplicas: 2 } }, false],
    ["revisions differ", { ...ready, status: { ...ready.status, updateRevision: "s" } }, false],
    ["generation not observed", { ...ready, status: { ...ready.status, observedGeneration: 2 } }, false],
    ["offline 0/0", { metadata: { generation: 1 }, spec: { replicas: 0 }, status: { observedGeneration: 1 } }, true],
  ];
  for (const [name, s, want] of cases) it(name, () => assert.equal(isStatefulSetReady(s), want));

  it("condition reasons and observedGeneration", () => {
    assert.deepEqual(statefulSetReadyCondition({ kind: "found", statefulSet: ready }, 7), {
      type: "StatefulSetReady",
      observedGeneration: 7,
      status: "True",
      reason: "StatefulSetReady",
      message: "StatefulSet is ready",
    });
    assert.equal(statefulSetReadyCondition({ kind: "notFound" }, 7).reason, "StatefulSetNotFound");
    assert.equal(statefulSetReadyCondition({ kind: "error", message: "x" }, 7).reason, "FaildToGetStatefulSet");
    assert.equal(statefulSetReadyCondition({ kind: "found", statefulSet: { spec: {} } }, 7).reason, "StatefulSetNotReady");
    assert.equal(reconcileSuccessCondition("boom", 2).reason, "ReconcileFailed");
  });

  it("setStatusCondition keeps lastTransitionTime unless the status changes", () => {
    const t0 = new Date("2024-01-01T00:00:00Z");
    const t1 = new Date("2024-01-02T00:00:00Z");
    const a = setStatusCondition([], reconcileSuccessCondition(undefined, 1), t0);
    const b = setStatusCondition(a, reconcileSuccessCondition(undefined, 2), t1);
    assert.equal(b[0]?.lastTransitionTime, "2024-01-01T00:00:00Z");
    assert.equal(b[0]?.observedGeneration, 2);
    const c = setStatusCondition(b, reconcileSuccessCondition("x", 2), t1);
    assert.equal(c[0]?.lastTransitionTime, "2024-01-02T00:00:00Z");
    assert.equal(c.length, 1);
  });

  it("clustering stopped: Available/Healthy Unknown keeping reason, ClusteringActive False; idempotent", () => {
    const t = new Date("2024-01-01T00:00:00Z");
    const start = [
      { type: "Available", status: "True" as const, reason: "Healthy", message: "the current state is Healthy", lastTransitionTime: "2023-01-01T00:00:00Z" },
      { type: "ClusteringActive", status: "True" as const, reason: "ClusteringActive", message: "", lastTransitionTime: "2023-01-01T00:00:00Z" },
    ];
    const out = clusteringStoppedConditions(start, t);
    assert.deepEqual(out?.find((c) => c.type === "Available"), { ...start[0], status: "Unknown", lastTransitionTime: "2024-01-01T00:00:00Z" });
    assert.equal(out?.find((c) => c.type === "Healthy")?.status, "Unknown");
    assert.equal(out?.find((c) => c.type === "ClusteringActive")?.reason, "ClusteringInactive");
    assert.equal(clusteringStoppedConditions(out, t), undefined);
  });
});

describe("partition controller readiness (docs/objects.md#partition-controller step 4)", () => {
  const now = new Date("2024-01-01T00:01:00Z");
  const longAgo = "2024-01-01T00:00:00Z";
  const justNow = "2024-01-01T00:00:58Z";
  const pod = (i: number, rev: string, over: Partial<{ ready: boolean; since: string; deleting: boolean; containersReady: boolean }> = {}): PartitionPodView => ({
    metadata: {
      name: `moco-test-${i}`,
      labels: { "controller-revision-hash": rev },
      ...(over.deleting === true ? { deletionTimestamp: longAgo } : {}),
    },
    status: {
      conditions: [{ type: "Ready", status: over.ready === false ? "False" : "True", lastTransitionTime: over.since ?? longAgo }],
      initContainerStatuses: [{ ready: true }],
      containerStatuses: [{ ready: true }, { ready: over.containersReady !== false }],
    },
  });
  const sts = (partition: number, updated = 0): PartitionStatefulSetView => ({
    metadata: { generation: 2 },
    spec: { replicas: 3, updateStrategy: { rollingUpdate: { partition } } },
    status: { observedGeneration: 2, updatedReplicas: updated, updateRevision: "new" },
  });
  const healthy = (h = true): MySQLCluster =>
    cluster(3, (c) => {
      c.metadata = { ...c.metadata, generation: 4 };
      c.status = {
        currentPrimaryIndex: 0,
        reconcileInfo: { generation: 4, reconcileVersion: 1 },
        conditions: [{ type: "Healthy", status: h ? "True" : "False", reason: "x", message: "", lastTransitionTime: longAgo }],
      };
    });
  const old3 = [pod(0, "old"), pod(1, "old"), pod(2, "old")];

  const cases: [string, PartitionStatefulSetView, PartitionPodView[], MySQLCluster, boolean][] = [
    ["all updated", sts(3, 3), [], healthy(), true],
    ["healthy, first step", sts(3), old3, healthy(), true],
    ["pod count mismatch", sts(3), old3.slice(0, 2), healthy(), false],
    ["partition 0 → target < 0", sts(0), old3, healthy(), false],
    ["target already updated", sts(2, 1), [pod(0, "old"), pod(1, "new"), pod(2, "new")], healthy(false), true],
    ["target Ready but cluster not Healthy", sts(3), old3, healthy(false), false],
    ["target not Ready may roll even if not Healthy", sts(3), [pod(0, "old"), pod(1, "old"), pod(2, "old", { ready: false })], healthy(false), true],
    ["pod above partition not updated", sts(2, 1), [pod(0, "old"), pod(1, "old"), pod(2, "old")], healthy(), false],
    ["pod above partition updated", sts(2, 1), [pod(0, "old"), pod(1, "old"), pod(2, "new")], healthy(), true],
    ["other pod being deleted", sts(3), [pod(0, "old", { deleting: true }), pod(1, "old"), pod(2, "old")], healthy(), false],
    ["other pod Ready for < 5 s", sts(3), [pod(0, "old", { since: justNow }), pod(1, "old"), pod(2, "old")], healthy(), false],
    ["other pod has a container not ready", sts(3), [pod(0, "old", { containersReady: false }), pod(1, "old"), pod(2, "old")], healthy(), false],
  ];
  for (const [name, s, pods, c, want] of cases) {
    it(name, () => assert.equal(isRolloutReady(s, pods, c, now).ready, want));
  }

  it("decidePartitionUpdate steps 2-4", () => {
    assert.deepEqual(decidePartitionUpdate(healthy(), sts(3), old3, now), { kind: "decrement", from: 3, to: 2 });
    const unreconciled = healthy();
    unreconciled.metadata = { ...unreconciled.metadata, generation: 5 };
    assert.equal(decidePartitionUpdate(unreconciled, sts(3), old3, now).kind, "requeue");
    const unobserved = { ...sts(3), status: { ...sts(3).status, observedGeneration: 1 } };
    assert.deepEqual(decidePartitionUpdate(healthy(), unobserved, old3, now), {
      kind: "requeue",
      afterMs: 10000,
      reason: "StatefulSet generation not observed",
    });
    const forced = { ...sts(3), metadata: { generation: 2, annotations: { "moco.cybozu.com/force-rolling-update": "true" } } };
    assert.equal(decidePartitionUpdate(healthy(), forced, old3, now).kind, "none");
    assert.equal(decidePartitionUpdate(healthy(), sts(0), old3, now).kind, "none");
    assert.equal(decidePartitionUpdate(healthy(), { ...sts(3), spec: { replicas: 3 } }, old3, now).kind, "none");
    const notReady = decidePartitionUpdate(healthy(false), sts(3), old3, now);
    assert.equal(notReady.kind, "requeue");
    assert.equal(notReady.kind === "requeue" ? notReady.afterMs : 0, 30000);
  });

  it("requeues just after a Pod's minReadySeconds ends instead of after 30 s (moco-ts)", () => {
    // Ready since 00:00:58, now 00:01:00: available 3 s later, requeued then plus the margin.
    const young = [pod(0, "old", { since: justNow }), pod(1, "old"), pod(2, "old")];
    const table: [string, PartitionPodView[], MySQLCluster, Date, number][] = [
      ["Ready 2 s ago", young, healthy(), now, 3000 + PARTITION_AVAILABLE_MARGIN_MS],
      ["Ready 5 s ago exactly (available only after)", young, healthy(), new Date("2024-01-01T00:01:03Z"), PARTITION_AVAILABLE_MARGIN_MS],
      ["a clock behind the condition never asks for more than 30 s", young, healthy(), new Date("2024-01-01T00:00:00Z"), 30000],
      ["Ready, but the cluster is not Healthy: 30 s", young, healthy(false), now, 30000],
      ["not Ready at all: 30 s (its readiness change is an event)", [pod(0, "old", { ready: false }), pod(1, "old"), pod(2, "old")], healthy(), now, 30000],
      ["a container not ready: 30 s", [pod(0, "old", { containersReady: false }), pod(1, "old"), pod(2, "old")], healthy(), now, 30000],
    ];
    for (const [name, pods, c, at, want] of table) {
      const d = decidePartitionUpdate(c, sts(3), pods, at);
      assert.equal(d.kind, "requeue", name);
      assert.equal(d.kind === "requeue" ? d.afterMs : -1, want, name);
    }
    const r = isRolloutReady(sts(3), young, healthy(), now);
    assert.equal(r.reason, "Pod moco-test-0 is not available");
    // Once the time has passed, the step is taken.
    assert.deepEqual(decidePartitionUpdate(healthy(), sts(3), young, new Date("2024-01-01T00:01:03.001Z")), { kind: "decrement", from: 3, to: 2 });
  });
});

describe("partition controller primary last (docs/objects.md#partition-controller step 5, moco-ts)", () => {
  const now = new Date("2024-01-01T00:01:00Z");
  const longAgo = "2024-01-01T00:00:00Z";
  const justNow = "2024-01-01T00:00:58Z";
  type PodOver = Partial<{ ready: boolean; since: string; deleting: boolean; containersReady: boolean; demote: string }>;
  const pod = (i: number, rev: string, over: PodOver = {}): PartitionPodView => ({
    metadata: {
      name: `moco-test-${i}`,
      labels: { "controller-revision-hash": rev },
      ...(over.demote === undefined ? {} : { annotations: { "moco.cybozu.com/demote": over.demote } }),
      ...(over.deleting === true ? { deletionTimestamp: longAgo } : {}),
    },
    status: {
      conditions: [{ type: "Ready", status: over.ready === false ? "False" : "True", lastTransitionTime: over.since ?? longAgo }],
      initContainerStatuses: [{ ready: true }],
      containerStatuses: [{ ready: true }, { ready: over.containersReady !== false }],
    },
  });
  const sts = (replicas: number, partition: number, updated: number): PartitionStatefulSetView => ({
    metadata: { generation: 2 },
    spec: { replicas, updateStrategy: { rollingUpdate: { partition } } },
    status: { observedGeneration: 2, updatedReplicas: updated, updateRevision: "new" },
  });
  const clusterWith = (replicas: number, primary: number, over: Partial<{ healthy: string; annotations: Record<string, string> }> = {}): MySQLCluster =>
    cluster(replicas, (c) => {
      c.metadata = { ...c.metadata, generation: 4, ...(over.annotations === undefined ? {} : { annotations: over.annotations }) };
      c.status = {
        currentPrimaryIndex: primary,
        reconcileInfo: { generation: 4, reconcileVersion: 1 },
        conditions: [{ type: "Healthy", status: over.healthy ?? "True", reason: "x", message: "", lastTransitionTime: longAgo }],
      };
    });
  const switchover = (partition: number, primary: number, updatedReplicas: number[], requested = false) => ({
    kind: "switchover", partition, primary, pod: `moco-test-${primary}`, updatedReplicas, requested, afterMs: PARTITION_REQUEUE_SWITCHOVER_MS,
  });
  const decrement = (from: number) => ({ kind: "decrement", from, to: from - 1 });
  // [name, cluster, sts, pods, want]
  const table: [string, MySQLCluster, PartitionStatefulSetView, PartitionPodView[], object][] = [
    ["primary 0, pods 1 and 2 updated: switch over first", clusterWith(3, 0), sts(3, 1, 2), [pod(0, "old"), pod(1, "new"), pod(2, "new")], switchover(1, 0, [1, 2])],
    ["the demote annotation already set: no second request, still wait", clusterWith(3, 0), sts(3, 1, 2), [pod(0, "old", { demote: "true" }), pod(1, "new"), pod(2, "new")], switchover(1, 0, [1, 2], true)],
    ["a demote annotation that is not \"true\" is requested again", clusterWith(3, 0), sts(3, 1, 2), [pod(0, "old", { demote: "false" }), pod(1, "new"), pod(2, "new")], switchover(1, 0, [1, 2])],
    ["the primary moved to 1: lower the partition", clusterWith(3, 1), sts(3, 1, 2), [pod(0, "old"), pod(1, "new"), pod(2, "new")], decrement(1)],
    ["primary 1, target 1, pod 2 updated: switch over to 2", clusterWith(3, 1), sts(3, 2, 1), [pod(0, "old"), pod(1, "old"), pod(2, "new")], switchover(2, 1, [2])],
    ["primary 0 is not the target yet: lower the partition", clusterWith(3, 0), sts(3, 2, 1), [pod(0, "old"), pod(1, "old"), pod(2, "new")], decrement(2)],
    ["primary at the highest ordinal: no updated replica, as upstream", clusterWith(3, 2), sts(3, 3, 0), [pod(0, "old"), pod(1, "old"), pod(2, "old")], decrement(3)],
    ["1 instance: as upstream", clusterWith(1, 0), sts(1, 1, 0), [pod(0, "old")], decrement(1)],
    ["the primary's Pod already updated: nothing to switch", clusterWith(3, 0), sts(3, 1, 3), [pod(0, "new"), pod(1, "new"), pod(2, "new")], decrement(1)],
    ["clustering stopped: as upstream", clusterWith(3, 0, { annotations: { "moco.cybozu.com/clustering-stopped": "true" } }), sts(3, 1, 2), [pod(0, "old"), pod(1, "new"), pod(2, "new")], decrement(1)],
    ["reconciliation stopped: as upstream", clusterWith(3, 0, { annotations: { "moco.cybozu.com/reconciliation-stopped": "true" } }), sts(3, 1, 2), [pod(0, "old"), pod(1, "new"), pod(2, "new")], decrement(1)],
    ["the primary's Pod not Ready and the cluster not Healthy: as upstream", clusterWith(3, 0, { healthy: "False" }), sts(3, 1, 2), [pod(0, "old", { ready: false }), pod(1, "new"), pod(2, "new")], decrement(1)],
    ["5 instances, primary 2: every updated replica listed", clusterWith(5, 2), sts(5, 3, 2), [pod(0, "old"), pod(1, "old"), pod(2, "old"), pod(3, "new"), pod(4, "new")], switchover(3, 2, [3, 4])],
  ];
  for (const [name, c, s, pods, want] of table) {
    it(name, () => assert.deepEqual(decidePartitionUpdate(c, s, pods, now), want));
  }

  it("a replica that is not updated, not available or deleting cannot take over (primaryLastTargets)", () => {
    // The filter alone (decidePartitionUpdate's readiness gate would hold most of these already).
    const c = clusterWith(5, 2);
    const s = sts(5, 3, 2);
    const cases: [string, PartitionPodView[], number[]][] = [
      ["both updated and available", [pod(0, "old"), pod(1, "old"), pod(2, "old"), pod(3, "new"), pod(4, "new")], [3, 4]],
      ["pod 3 young", [pod(0, "old"), pod(1, "old"), pod(2, "old"), pod(3, "new", { since: justNow }), pod(4, "new")], [4]],
      ["pod 4 deleting", [pod(0, "old"), pod(1, "old"), pod(2, "old"), pod(3, "new"), pod(4, "new", { deleting: true })], [3]],
      ["pod 4 with a container not ready", [pod(0, "old"), pod(1, "old"), pod(2, "old"), pod(3, "new"), pod(4, "new", { containersReady: false })], [3]],
      ["no Pod on the update revision", [pod(0, "old"), pod(1, "old"), pod(2, "old"), pod(3, "old"), pod(4, "old")], []],
    ];
    for (const [name, pods, want] of cases) assert.deepEqual(primaryLastTargets(c, s, pods, now), want, name);
  });
});
