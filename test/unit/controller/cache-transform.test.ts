// The informer transforms of src/controller/caches.ts: every reader of the caches gives the
// same answer on a stripped object as on the full one the API server sent (so a transform
// that dropped a field a reader needs fails here), and what is dropped is dropped.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { extractOwned } from "../../../src/controller/apply.ts";
import { buildStatefulSet, decidePartitionUpdate, isRolloutReady } from "../../../src/controller/builders/index.ts";
import type { PartitionPodView, PartitionStatefulSetView } from "../../../src/controller/builders/index.ts";
import { stripForOwnedCache, stripManagedFields, stripPod } from "../../../src/controller/caches.ts";
import { podMountsTls } from "../../../src/controller/tls.ts";
import { podView } from "../../../src/controller/clustering-adapter.ts";
import { controllerOf } from "../../../src/controller/partition.ts";
import { ownedFieldsEqual } from "../../../src/k8s/fieldsv1.ts";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { cluster, options } from "../builders/fixtures.ts";

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
const longAgo = "2024-01-01T00:00:00Z";
const now = new Date("2024-01-01T00:01:00Z");

/** A mysqld Pod as the API server returns it (spec, managedFields of two managers, status). */
function livePod(i: number, o: { rev?: string; ready?: boolean; ip?: string; deleting?: boolean; demote?: boolean; role?: string } = {}): V1Pod {
  return {
    apiVersion: "v1", kind: "Pod",
    metadata: {
      name: `moco-test-${i}`, namespace: "ns", uid: `pod-${i}`, resourceVersion: String(100 + i),
      labels: { "app.kubernetes.io/name": "mysql", "app.kubernetes.io/instance": "test", "app.kubernetes.io/created-by": "moco", "controller-revision-hash": o.rev ?? "old",
        ...(o.role === undefined ? {} : { "moco.cybozu.com/role": o.role }) },
      annotations: { ...(o.demote === true ? { "moco.cybozu.com/demote": "true" } : {}), "moco.cybozu.com/prevent-delete": "true", [LAST_APPLIED]: "{\"big\":true}" },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "moco-test", uid: "sts", controller: true }],
      ...(o.deleting === true ? { deletionTimestamp: new Date(longAgo) } : {}),
      managedFields: [
        { manager: "kube-controller-manager", operation: "Update", apiVersion: "v1", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:containers": {} } } },
        { manager: "kubelet", operation: "Update", apiVersion: "v1", subresource: "status", fieldsType: "FieldsV1", fieldsV1: { "f:status": {} } },
      ],
    },
    spec: {
      nodeName: "node-1", hostname: `moco-test-${i}`, subdomain: "moco-test",
      containers: [{ name: "mysqld", image: "mysql:9.7", env: Array.from({ length: 20 }, (_, k) => ({ name: `E${k}`, value: "x".repeat(50) })) }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: `mysql-data-moco-test-${i}` } }],
    },
    status: {
      phase: "Running", podIP: o.ip ?? `10.0.0.${i + 10}`, podIPs: [{ ip: o.ip ?? `10.0.0.${i + 10}` }],
      conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True", lastTransitionTime: new Date(longAgo) }],
      initContainerStatuses: [{ name: "moco-init", ready: true, restartCount: 0, image: "x", imageID: "x" }],
      containerStatuses: [{ name: "mysqld", ready: o.ready !== false, restartCount: 0, image: "x", imageID: "x" }, { name: "agent", ready: true, restartCount: 0, image: "x", imageID: "x" }],
    },
  };
}

function ownedMetadata(o: V1StatefulSet): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [k, v] of Object.entries(o.metadata ?? {})) {
    if (k === "name" || k === "namespace") continue;
    out[`f:${k}`] = k === "annotations" ? Object.fromEntries(Object.keys(v as object).map((a) => [`f:${a}`, {}])) : {};
  }
  return out;
}

/** A StatefulSet as the API server returns it after moco-controller applied it. */
function liveStatefulSet(c: MySQLCluster): V1StatefulSet {
  const sts = buildStatefulSet(c, {}, options()) as V1StatefulSet;
  return {
    ...structuredClone(sts),
    metadata: {
      ...sts.metadata, uid: "sts", resourceVersion: "7", generation: 2,
      annotations: { ...(sts.metadata?.annotations ?? {}), [LAST_APPLIED]: JSON.stringify(sts) },
      managedFields: [
        // moco-controller's apply owns what it sent: its metadata fields (annotations by key) and the spec.
        { manager: "moco-controller", operation: "Apply", apiVersion: "apps/v1", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": ownedMetadata(sts), "f:spec": {} } },
        { manager: "kube-controller-manager", operation: "Update", apiVersion: "apps/v1", subresource: "status", fieldsType: "FieldsV1", fieldsV1: { "f:status": {} } },
        { manager: "kubectl", operation: "Update", apiVersion: "apps/v1", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:annotations": {} } } },
      ],
    },
    status: { replicas: 3, observedGeneration: 2, updatedReplicas: 0, updateRevision: "new", currentRevision: "old" },
  };
}

describe("cache transforms keep what the readers read", () => {
  const pods = [
    livePod(0), livePod(1, { ready: false, ip: "10.0.0.99" }), livePod(2, { deleting: true }), livePod(3, { demote: true, role: "primary" }),
    livePod(4, { rev: "new" }),
  ];
  for (const p of pods) {
    it(`podView and controllerOf of ${p.metadata?.name ?? ""}`, () => {
      const stripped = stripPod(structuredClone(p));
      assert.deepEqual(podView(stripped), podView(p));
      assert.deepEqual(podView(stripped, "new"), podView(p, "new"));
      assert.equal(podView(stripped, "new").updated, p.metadata?.labels?.["controller-revision-hash"] === "new");
      assert.equal(controllerOf(stripped, "StatefulSet"), controllerOf(p, "StatefulSet"));
    });
  }

  const healthy: MySQLCluster = cluster(3, (c) => {
    c.metadata = { ...c.metadata, generation: 4 };
    c.status = { currentPrimaryIndex: 0, reconcileInfo: { generation: 4, reconcileVersion: 1 },
      conditions: [{ type: "Healthy", status: "True", reason: "x", message: "", lastTransitionTime: longAgo }] };
  });
  const podSets: [string, V1Pod[]][] = [
    ["all ready, old revision", [livePod(0), livePod(1), livePod(2)]],
    ["one not ready", [livePod(0), livePod(1, { ready: false }), livePod(2)]],
    ["one being deleted", [livePod(0, { deleting: true }), livePod(1), livePod(2)]],
    ["target updated", [livePod(0), livePod(1), livePod(2, { rev: "new" })]],
  ];
  for (const [name, set] of podSets) {
    it(`partition decision: ${name}`, () => {
      const sts = liveStatefulSet(healthy);
      sts.spec = { ...sts.spec!, updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 3 } } };
      const strippedSts = stripForOwnedCache(structuredClone(sts));
      const strippedPods = set.map((p) => stripPod(structuredClone(p)));
      const full = decidePartitionUpdate(healthy, sts as PartitionStatefulSetView, set as PartitionPodView[], now);
      assert.deepEqual(decidePartitionUpdate(healthy, strippedSts as PartitionStatefulSetView, strippedPods as PartitionPodView[], now), full);
      assert.deepEqual(isRolloutReady(strippedSts as PartitionStatefulSetView, strippedPods as PartitionPodView[], healthy, now),
        isRolloutReady(sts as PartitionStatefulSetView, set as PartitionPodView[], healthy, now));
    });
  }

  it("apply-if-changed sees the same owned fields (equal, and a change)", () => {
    const sts = liveStatefulSet(healthy);
    const stripped = stripForOwnedCache(structuredClone(sts));
    assert.deepEqual(extractOwned(stripped), extractOwned(sts));
    const desired = buildStatefulSet(healthy, {}, options()) as V1StatefulSet;
    assert.equal(ownedFieldsEqual(stripped, desired, "moco-controller"), true);
    assert.equal(ownedFieldsEqual(sts, desired, "moco-controller"), true);
    const changed = buildStatefulSet(cluster(5), {}, options()) as V1StatefulSet;
    assert.equal(ownedFieldsEqual(stripped, changed, "moco-controller"), false);
  });

  it("drops other managers' entries, kubectl's copy and the Pod spec", () => {
    const sts = stripForOwnedCache(liveStatefulSet(healthy));
    assert.deepEqual(sts.metadata?.managedFields?.map((e) => e.manager), ["moco-controller"]);
    assert.equal(sts.metadata?.annotations?.[LAST_APPLIED], undefined);
    const p = stripPod(livePod(0));
    assert.equal(p.metadata?.managedFields, undefined);
    const full = livePod(0);
    assert.deepEqual(p.spec, {
      nodeName: "node-1", hostname: "moco-test-0", subdomain: "moco-test",
      ...(full.spec?.volumes === undefined ? {} : { volumes: full.spec.volumes.map((v) => ({ name: v.name })) }),
      containers: (full.spec?.containers ?? []).map((c) => ({ name: c.name })),
    });
  });

  it("keeps what podMountsTls and the rotation's exporter check read (issue 17: the real controller reached TLS Pods in plaintext)", () => {
    const p = livePod(0);
    p.spec = { ...p.spec!, volumes: [...(p.spec?.volumes ?? []), { name: "mysql-tls", secret: { secretName: "moco-test-mysql-tls" } }],
      containers: [...(p.spec?.containers ?? []), { name: "mysqld-exporter", image: "e" }] };
    const stripped = stripPod(structuredClone(p));
    assert.equal(podMountsTls(stripped), true);
    assert.ok(stripped.spec?.containers.some((c) => c.name === "mysqld-exporter"));
    assert.equal(podMountsTls(stripPod(livePod(0))), false);
    assert.equal(p.metadata?.annotations?.["moco.cybozu.com/prevent-delete"], "true");
  });

  it("a MySQLCluster keeps its annotations (a status PUT sends them back) and loses only managedFields", () => {
    const c = cluster(3, (x) => {
      x.metadata = { ...x.metadata, annotations: { [LAST_APPLIED]: "{}", "moco.cybozu.com/clustering-stopped": "true" },
        managedFields: [{ manager: "kubectl", operation: "Apply", fieldsType: "FieldsV1", fieldsV1: { "f:spec": {} } }] } as NonNullable<MySQLCluster["metadata"]>;
    });
    const want = structuredClone(c);
    delete want.metadata?.managedFields;
    assert.deepEqual(stripManagedFields(c), want);
  });
});
