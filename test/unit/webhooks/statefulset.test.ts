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
  // Each case: from, to, and the RFC 6902 operations written out by hand, so the patch is
  // checked independently of the project's own applier (the real API server applying the
  // webhook's patches is covered by test/integration/api/statefulset.test.ts and
  // test/integration/api/defaults.test.ts).
  const cases: [string, unknown, unknown, unknown[]][] = [
    ["equal", { a: 1 }, { a: 1 }, []],
    ["add", { a: 1 }, { a: 1, b: { c: [1] } }, [{ op: "add", path: "/b", value: { c: [1] } }]],
    ["remove", { a: 1, b: 2 }, { a: 1 }, [{ op: "remove", path: "/b" }]],
    ["replace nested", { a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }, [{ op: "replace", path: "/a/b/c", value: 2 }]],
    ["array change", { a: [1, 2] }, { a: [2] }, [{ op: "replace", path: "/a", value: [2] }]],
    ["escaped keys", { "a/b": { "c~d": 1 } }, { "a/b": { "c~d": 2 } }, [{ op: "replace", path: "/a~1b/c~0d", value: 2 }]],
    ["object to scalar", { a: { b: 1 } }, { a: null }, [{ op: "replace", path: "/a", value: null }]],
    [
      "several keys, in sorted order",
      { b: 1, a: 1 },
      { c: 3, a: 2 },
      [
        { op: "replace", path: "/a", value: 2 },
        { op: "remove", path: "/b" },
        { op: "add", path: "/c", value: 3 },
      ],
    ],
    [
      "finalizer added",
      { metadata: { name: "x" } },
      { metadata: { name: "x", finalizers: ["f"] } },
      [{ op: "add", path: "/metadata/finalizers", value: ["f"] }],
    ],
    [
      "partition set on a StatefulSet",
      { spec: { replicas: 3, updateStrategy: { type: "RollingUpdate" } } },
      { spec: { replicas: 3, updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 3 } } } },
      [{ op: "add", path: "/spec/updateStrategy/rollingUpdate", value: { partition: 3 } }],
    ],
  ];
  for (const [name, from, to, expected] of cases) {
    it(`${name}: exactly the expected operations, and applying them gives the target`, () => {
      const ops = createJsonPatch(from, to);
      assert.deepEqual(ops, expected);
      assert.deepEqual(applyJsonPatch(from, ops), to);
    });
  }

  // The applier against documents written out by hand (RFC 6902 appendix A, object cases).
  const applied: [string, unknown, unknown[], unknown][] = [
    ["A.1 add an object member", { foo: "bar" }, [{ op: "add", path: "/baz", value: "qux" }], { baz: "qux", foo: "bar" }],
    ["A.3 remove an object member", { baz: "qux", foo: "bar" }, [{ op: "remove", path: "/baz" }], { foo: "bar" }],
    ["A.5 replace a value", { baz: "qux", foo: "bar" }, [{ op: "replace", path: "/baz", value: "boo" }], { baz: "boo", foo: "bar" }],
    ["A.10 add a nested member object", { foo: "bar" }, [{ op: "add", path: "/child", value: { grandchild: {} } }], { foo: "bar", child: { grandchild: {} } }],
    ["escaped tokens", { "m~n": { "a/b": 0 } }, [{ op: "replace", path: "/m~0n/a~1b", value: 1 }], { "m~n": { "a/b": 1 } }],
  ];
  for (const [name, doc, ops, want] of applied) {
    it(`applyJsonPatch ${name}`, () => {
      assert.deepEqual(applyJsonPatch(doc, ops as Parameters<typeof applyJsonPatch>[1]), want);
    });
  }
  it("applyJsonPatch refuses a path that does not exist", () => {
    assert.throws(() => applyJsonPatch({ a: 1 }, [{ op: "replace", path: "/b", value: 2 }]), /does not exist/);
    assert.throws(() => applyJsonPatch({ a: 1 }, [{ op: "remove", path: "/b" }]), /does not exist/);
  });

  it("uses RFC 6901 escapes", () => {
    assert.deepEqual(createJsonPatch({ "a/b": 1 }, { "a/b": 2 }), [{ op: "replace", path: "/a~1b", value: 2 }]);
    assert.deepEqual(createJsonPatch({ "a~b": 1 }, {}), [{ op: "remove", path: "/a~0b" }]);
  });
});
