import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  FORCE_ROLLING_UPDATE_ANNOTATION,
  applyJsonPatch,
  createJsonPatch,
  mutateStatefulSet,
  type StatefulSet,
} from "../../../src/controller/webhooks/index.ts";

function sts(partition?: number | null, replicas = 3): StatefulSet {
  const s: StatefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      name: "moco-test",
      namespace: "ns",
      labels: { "app.kubernetes.io/created-by": "moco" },
      ownerReferences: [
        { apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", name: "test", uid: "u1", controller: true },
      ],
    },
    spec: {
      replicas,
      selector: { matchLabels: { a: "b" } },
      serviceName: "moco-test",
      template: { spec: { containers: [{ name: "mysqld", image: "mysql:8.4" }] } },
      updateStrategy: { type: "RollingUpdate" },
    },
  };
  if (partition !== undefined) s.spec!.updateStrategy!.rollingUpdate = partition === null ? {} : { partition };
  return s;
}

const partitionOf = (s: StatefulSet) => s.spec?.updateStrategy?.rollingUpdate?.partition;

describe("mutateStatefulSet (docs/objects.md#statefulset-mutating-webhook)", () => {
  it("CREATE without rollingUpdate: partition = replicas", () => {
    assert.equal(partitionOf(mutateStatefulSet(sts(), undefined)), 3);
    assert.equal(partitionOf(mutateStatefulSet(sts(null, 5), undefined)), 5, "rollingUpdate without partition");
  });
  it("CREATE keeps an existing partition", () => {
    assert.equal(partitionOf(mutateStatefulSet(sts(1), undefined)), 1);
  });
  it("force-rolling-update removes rollingUpdate", () => {
    const s = sts(2);
    s.metadata!.annotations = { [FORCE_ROLLING_UPDATE_ANNOTATION]: "true" };
    const out = mutateStatefulSet(s, sts(2));
    assert.equal(out.spec?.updateStrategy?.rollingUpdate, undefined);
    assert.equal(out.spec?.updateStrategy?.type, "RollingUpdate");
    s.metadata!.annotations = { [FORCE_ROLLING_UPDATE_ANNOTATION]: "yes" };
    assert.equal(partitionOf(mutateStatefulSet(s, sts(2))), 3, "only the exact value true counts");
  });
  it("UPDATE that only lowers the partition keeps it (partition controller step)", () => {
    assert.equal(partitionOf(mutateStatefulSet(sts(2), sts(3))), 2);
  });
  it("UPDATE that changes the template resets the partition to replicas", () => {
    const s = sts(2);
    s.spec!.template.spec!.containers[0]!.image = "mysql:9.7";
    assert.equal(partitionOf(mutateStatefulSet(s, sts(3))), 3);
  });
  it("UPDATE that changes nothing in spec resets the partition too", () => {
    assert.equal(partitionOf(mutateStatefulSet(sts(1), sts(1))), 3);
  });
  it("UPDATE that changes replicas and partition resets to the new replicas", () => {
    assert.equal(partitionOf(mutateStatefulSet(sts(2, 5), sts(3, 3))), 5);
  });
  it("after the force annotation is removed, partition = replicas", () => {
    const old = sts();
    assert.equal(partitionOf(mutateStatefulSet(sts(), old)), 3);
  });
  it("ignores StatefulSets not owned by exactly one MySQLCluster", () => {
    const noOwner = sts();
    noOwner.metadata!.ownerReferences = [];
    assert.deepEqual(mutateStatefulSet(noOwner, undefined), noOwner);
    const two = sts();
    two.metadata!.ownerReferences!.push({ apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "u2" });
    assert.deepEqual(mutateStatefulSet(two, undefined), two);
    const otherGroup = sts();
    otherGroup.metadata!.ownerReferences![0]!.apiVersion = "example.com/v1";
    assert.deepEqual(mutateStatefulSet(otherGroup, undefined), otherGroup);
  });
});

describe("createJsonPatch", () => {
  const cases: [string, unknown, unknown][] = [
    ["equal", { a: 1 }, { a: 1 }],
    ["add", { a: 1 }, { a: 1, b: { c: [1] } }],
    ["remove", { a: 1, b: 2 }, { a: 1 }],
    ["replace nested", { a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }],
    ["array change", { a: [1, 2] }, { a: [2] }],
    ["escaped keys", { "a/b": { "c~d": 1 } }, { "a/b": { "c~d": 2 } }],
    ["finalizer added", { metadata: { name: "x" } }, { metadata: { name: "x", finalizers: ["f"] } }],
  ];
  for (const [name, from, to] of cases) {
    it(`${name}: applying the patch reproduces the target`, () => {
      const ops = createJsonPatch(from, to);
      assert.deepEqual(applyJsonPatch(from, ops), to);
      if (name === "equal") assert.deepEqual(ops, []);
    });
  }
  it("uses RFC 6901 escapes", () => {
    assert.deepEqual(createJsonPatch({ "a/b": 1 }, { "a/b": 2 }), [{ op: "replace", path: "/a~1b", value: 2 }]);
    assert.deepEqual(createJsonPatch({ "a~b": 1 }, {}), [{ op: "remove", path: "/a~0b" }]);
  });
});
