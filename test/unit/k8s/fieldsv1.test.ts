import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  diffPaths, extractFields, extractOwnedFields, jsonEqual, normalizeForCompare, ownedFieldsDiff, ownedFieldsEqual,
} from "../../../src/k8s/fieldsv1.ts";
import { applyMergePatch, createMergePatch } from "../../../src/k8s/apply.ts";
import type { JsonValue, KubeObject, ManagedFieldsEntry } from "../../../src/k8s/types.ts";

const M = "moco-controller";

function obj(rest: Record<string, unknown>, managedFields: ManagedFieldsEntry[], meta: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: "v1", kind: "ConfigMap", ...rest, metadata: { name: "n", namespace: "ns", uid: "u1", resourceVersion: "42", ...meta, managedFields } } as KubeObject;
}
const apply = (fieldsV1: object, manager = M, extra: Partial<ManagedFieldsEntry> = {}): ManagedFieldsEntry =>
  ({ manager, operation: "Apply", apiVersion: "v1", fieldsType: "FieldsV1", fieldsV1, ...extra });

// A StatefulSet-like live object with server defaults and another manager's fields.
const podLive = obj({
  kind: "StatefulSet", apiVersion: "apps/v1",
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: "x" } },
    template: { spec: { containers: [
      { name: "mysqld", image: "mysql:9.7", imagePullPolicy: "IfNotPresent", terminationMessagePath: "/dev/termination-log",
        ports: [{ containerPort: 3306, name: "mysql", protocol: "TCP" }] },
      { name: "sidecar", image: "other:1" },
    ] } },
  },
  status: { replicas: 3 },
}, [
  apply({ "f:metadata": { "f:labels": { "f:app": {} }, "f:finalizers": { "v:\"a\"": {} } },
    "f:spec": { "f:replicas": {}, "f:selector": {}, "f:template": { "f:spec": { "f:containers": {
      "k:{\"name\":\"mysqld\"}": { ".": {}, "f:name": {}, "f:image": {}, "f:ports": {
        "k:{\"containerPort\":3306,\"protocol\":\"TCP\"}": { ".": {}, "f:containerPort": {}, "f:name": {} } } } } } } } }),
  apply({ "f:spec": { "f:template": { "f:spec": { "f:containers": { "k:{\"name\":\"sidecar\"}": { ".": {}, "f:name": {}, "f:image": {} } } } } } }, "someone-else"),
  { manager: M, operation: "Update", subresource: "status", fieldsType: "FieldsV1", fieldsV1: { "f:status": { "f:replicas": {} } } },
], { labels: { app: "x", extra: "by-hand" }, finalizers: ["a", "b"] });

const podDesired = (): KubeObject & Record<string, unknown> => ({
  apiVersion: "apps/v1", kind: "StatefulSet",
  metadata: { name: "n", namespace: "ns", labels: { app: "x" }, finalizers: ["a"] },
  spec: {
    replicas: 3, selector: { matchLabels: { app: "x" } },
    template: { spec: { containers: [{ name: "mysqld", image: "mysql:9.7", ports: [{ containerPort: 3306, name: "mysql" }] }] } },
  },
});

describe("extractOwnedFields", () => {
  it("keeps only the manager's Apply fields: no defaults, no other manager's, no status", () => {
    assert.deepEqual(extractOwnedFields(podLive, M), {
      apiVersion: "apps/v1", kind: "StatefulSet",
      metadata: { name: "n", namespace: "ns", labels: { app: "x" }, finalizers: ["a"] },
      spec: {
        replicas: 3, selector: { matchLabels: { app: "x" } },
        template: { spec: { containers: [{ name: "mysqld", image: "mysql:9.7", ports: [{ containerPort: 3306, name: "mysql" }] }] } },
      },
    });
  });

  it("is undefined when the manager has no Apply entry (only Update)", () => {
    const live = obj({ data: { a: "1" } }, [{ manager: M, operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:a": {} } } }]);
    assert.equal(extractOwnedFields(live, M), undefined);
    assert.deepEqual(extractOwnedFields(live, { manager: M, operation: "Update" }), { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "n", namespace: "ns" }, data: { a: "1" } });
  });

  it("selects the status subresource entry only when asked", () => {
    assert.deepEqual((extractOwnedFields(podLive, { manager: M, operation: "Update", subresource: "status" }) as { status: unknown }).status, { replicas: 3 });
  });
});

describe("extractFields (FieldsV1 key kinds)", () => {
  const cases: Array<{ name: string; value: unknown; fields: object; want: JsonValue | undefined }> = [
    { name: "empty trie is a leaf: whole value", value: { a: { b: 1 } }, fields: {}, want: { a: { b: 1 } } },
    { name: "'.' only is a leaf", value: [1, 2], fields: { ".": {} }, want: [1, 2] },
    { name: "f: picks map fields", value: { a: 1, b: 2, c: 3 }, fields: { "f:a": {}, "f:c": {} }, want: { a: 1, c: 3 } },
    { name: "f: of an absent field is skipped", value: { a: 1 }, fields: { "f:zz": {} }, want: {} },
    { name: "k: matches associative list items by all key fields", value: [{ p: 1, q: "TCP", x: 1 }, { p: 1, q: "UDP", x: 2 }],
      fields: { "k:{\"p\":1,\"q\":\"UDP\"}": { "f:x": {} } }, want: [{ x: 2 }] },
    { name: "k: keeps live order", value: [{ n: "b", v: 2 }, { n: "a", v: 1 }],
      fields: { "k:{\"n\":\"a\"}": { "f:n": {}, "f:v": {} }, "k:{\"n\":\"b\"}": { "f:n": {} } }, want: [{ n: "b" }, { n: "a", v: 1 }] },
    { name: "v: set items", value: ["x", "y", "z"], fields: { "v:\"z\"": {}, "v:\"x\"": {} }, want: ["x", "z"] },
    { name: "i: by index", value: ["x", "y"], fields: { "i:1": {} }, want: ["y"] },
    { name: "absent value", value: undefined, fields: {}, want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(extractFields(c.value, c.fields), c.want));
  }
});

// A StatefulSet whose volumeClaimTemplates the manager owns atomically; the user asked for
// "1024Mi", the server stores "1Gi".
const vctLive = obj({
  kind: "StatefulSet", apiVersion: "apps/v1",
  spec: { volumeClaimTemplates: [{ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "data" },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, volumeMode: "Filesystem" }, status: { phase: "Pending" } }] },
}, [apply({ "f:spec": { "f:volumeClaimTemplates": {} } })]);
const vctDesired = (storage: string): KubeObject & Record<string, unknown> => ({
  apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "n", namespace: "ns" },
  spec: { volumeClaimTemplates: [{ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "data" },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage } }, volumeMode: "Filesystem" }, status: { phase: "Pending" } }] },
});

describe("ownedFieldsEqual", () => {
  const cmLive = obj({ data: { k: "v", theirs: "t" } }, [
    apply({ "f:data": { "f:k": {} }, "f:binaryData": {}, "f:metadata": { "f:labels": {} } }),
    { manager: "kubectl", operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:theirs": {} } } },
  ]);
  const cases: Array<{ name: string; live: KubeObject; desired: KubeObject & Record<string, unknown>; want: boolean }> = [
    { name: "same owned fields, other manager's field ignored", live: cmLive,
      desired: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "n", namespace: "ns" }, data: { k: "v" } }, want: true },
    { name: "empty maps and nulls in desired are ignored", live: cmLive,
      desired: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "n", namespace: "ns", labels: {}, annotations: undefined }, data: { k: "v" }, binaryData: {}, immutable: null }, want: true },
    { name: "changed value", live: cmLive,
      desired: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "n", namespace: "ns" }, data: { k: "v2" } }, want: false },
    { name: "added field", live: cmLive,
      desired: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "n", namespace: "ns" }, data: { k: "v", k2: "x" } }, want: false },
    { name: "removed field", live: cmLive,
      desired: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "n", namespace: "ns" }, data: {} }, want: false },
    { name: "a field owned by another manager is not ours to claim", live: cmLive,
      desired: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "n", namespace: "ns" }, data: { k: "v", theirs: "t" } }, want: false },
    { name: "server-set metadata in desired (from a live copy) is ignored", live: cmLive,
      desired: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "n", namespace: "ns", resourceVersion: "1", uid: "u1", creationTimestamp: "2020-01-01T00:00:00Z" }, data: { k: "v" } }, want: true },
    { name: "other name", live: cmLive,
      desired: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "other", namespace: "ns" }, data: { k: "v" } }, want: false },
    { name: "StatefulSet with defaults and a keyed port whose key includes a defaulted protocol", live: podLive, desired: podDesired(), want: true },
    { name: "StatefulSet image change", live: podLive,
      desired: (() => { const d = podDesired(); ((d.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0] as { image: string }).image = "mysql:8.4"; return d; })(), want: false },
    { name: "StatefulSet finalizer set differs", live: podLive,
      desired: (() => { const d = podDesired(); (d.metadata as { finalizers: string[] }).finalizers = ["a", "b"]; return d; })(), want: false },
    { name: "atomic volumeClaimTemplates: server defaults and canonical quantities equal the desired form", live: vctLive,
      desired: vctDesired("1024Mi"), want: true },
    { name: "atomic volumeClaimTemplates: a different size", live: vctLive, desired: vctDesired("2Gi"), want: false },
    { name: "not managed by us at all", live: obj({ data: { k: "v" } }, []),
      desired: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "n", namespace: "ns" }, data: { k: "v" } }, want: false },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(ownedFieldsEqual(c.live, c.desired, M), c.want, ownedFieldsDiff(c.live, c.desired, M).join(", ")));
  }

  it("ownedFieldsDiff names the differing paths", () => {
    assert.deepEqual(ownedFieldsDiff(cmLive, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "n", namespace: "ns" }, data: { k: "v2" } } as KubeObject, M), ["data.k"]);
    assert.deepEqual(ownedFieldsDiff(obj({}, []), { apiVersion: "v1", kind: "ConfigMap" }, M), ["(not managed)"]);
  });
});

describe("comparison helpers", () => {
  it("jsonEqual ignores key order and undefined keys, not array order or types", () => {
    assert.equal(jsonEqual({ a: 1, b: [1, 2], c: undefined }, { b: [1, 2], a: 1 }), true);
    assert.equal(jsonEqual([1, 2], [2, 1]), false);
    assert.equal(jsonEqual({ a: 1 }, { a: "1" }), false);
  });

  it("normalizeForCompare drops nulls, empty lists and empty map fields, keeps empty structs, sorts keys", () => {
    assert.deepEqual(normalizeForCompare({ b: { c: {}, d: [] }, a: null, e: [{}], f: 0, g: "", labels: {}, annotations: { x: null } }),
      { b: { c: {} }, e: [{}], f: 0, g: "" });
    assert.deepEqual(normalizeForCompare({ x: { y: {} } }), { x: { y: {} } });
    assert.deepEqual(normalizeForCompare({ resources: { requests: { cpu: "500m", memory: "1Gi", odd: "x", gone: null }, limits: {} } }),
      { resources: { requests: { cpu: 0.5, memory: 2 ** 30, odd: "x" } } });
    assert.equal(normalizeForCompare(new Date("2024-01-02T03:04:05.678Z")), "2024-01-02T03:04:05Z");
  });

  // Go's equality.Semantic over JSON, as moco-controller has always compared (docs/objects.md#how-objects-are-written).
  const semantic: Array<{ name: string; a: unknown; b: unknown; equal: boolean }> = [
    { name: "key order", a: { x: 1, y: 2 }, b: { y: 2, x: 1 }, equal: true },
    { name: "null and absent", a: { x: null }, b: {}, equal: true },
    { name: "empty list and absent", a: { tolerations: [] }, b: {}, equal: true },
    { name: "list order matters", a: { l: [1, 2] }, b: { l: [2, 1] }, equal: false },
    { name: "empty labels and absent", a: { metadata: { labels: {} } }, b: { metadata: {} }, equal: true },
    { name: "empty map fields (data, binaryData, nodeSelector, matchLabels) and absent", a: { data: {}, binaryData: {}, s: { nodeSelector: {}, selector: { matchLabels: {} } } }, b: { s: { selector: {} } }, equal: true },
    { name: "empty struct (emptyDir) and absent differ", a: { v: [{ name: "tmp", emptyDir: {} }] }, b: { v: [{ name: "tmp" }] }, equal: false },
    { name: "empty struct and empty struct", a: { v: [{ name: "tmp", emptyDir: {} }] }, b: { v: [{ name: "tmp", emptyDir: {} }] }, equal: true },
    { name: "nested empty struct and absent differ", a: { x: { y: {} } }, b: {}, equal: false },
    { name: "quantities by value: 0.5 = 500m", a: { resources: { requests: { cpu: "0.5" } } }, b: { resources: { requests: { cpu: "500m" } } }, equal: true },
    { name: "quantities by value: 1Gi = 1024Mi = 1073741824", a: { limits: { memory: "1Gi" }, capacity: { storage: 1073741824 } }, b: { limits: { memory: "1024Mi" }, capacity: { storage: "1Gi" } }, equal: true },
    { name: "different quantities", a: { requests: { storage: "1Gi" } }, b: { requests: { storage: "1G" } }, equal: false },
    { name: "a quantity and an absent one", a: { requests: { cpu: "1", memory: "1Gi" } }, b: { requests: { cpu: "1" } }, equal: false },
    { name: "quantity-like strings elsewhere compare as strings", a: { env: [{ name: "X", value: "0.5" }] }, b: { env: [{ name: "X", value: "500m" }] }, equal: false },
    { name: "unparsable quantities compare as strings", a: { requests: { x: "abc" } }, b: { requests: { x: "abc" } }, equal: true },
  ];
  for (const c of semantic) {
    it(`normalized equality: ${c.name}`, () => assert.equal(jsonEqual(normalizeForCompare(c.a), normalizeForCompare(c.b)), c.equal));
  }

  it("diffPaths", () => {
    assert.deepEqual(diffPaths({ a: { b: 1, c: [1, 2] } }, { a: { b: 2, c: [1, 3] } }), ["a.b", "a.c[1]"]);
    assert.deepEqual(diffPaths({ a: 1 }, { a: 1 }), []);
  });
});

describe("JSON merge patch", () => {
  const cases: Array<{ name: string; from: JsonValue; to: JsonValue }> = [
    { name: "change and add", from: { a: 1, b: { c: 1 } }, to: { a: 2, b: { c: 1, d: 2 } } },
    { name: "remove keys", from: { a: 1, b: { c: 1, d: 2 } }, to: { b: { c: 1 } } },
    { name: "arrays are replaced whole", from: { l: [1, 2, 3] }, to: { l: [3] } },
    { name: "object to scalar", from: { a: { b: 1 } }, to: { a: "x" } },
  ];
  for (const c of cases) {
    it(`${c.name}: applying createMergePatch(from, to) to from gives to`, () => {
      const p = createMergePatch(c.from, c.to);
      assert.notEqual(p, undefined);
      assert.deepEqual(applyMergePatch(c.from, p as JsonValue), c.to);
    });
  }
  it("no patch for equal documents; null deletes", () => {
    assert.equal(createMergePatch({ a: { b: [1] } }, { a: { b: [1] } }), undefined);
    assert.deepEqual(createMergePatch({ a: 1, b: 2 }, { a: 1 }), { b: null });
  });
});
