// The controller's apply wrapper over src/k8s's applyIfChanged: field manager moco-controller
// with force, undefined live = absent (no GET), skip when the owned fields are semantically equal.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FIELD_MANAGER, applyAsController, extractOwned } from "../../../src/controller/apply.ts";
import type { KubeClient } from "../../../src/k8s/client.ts";
import { resources } from "../../../src/k8s/resource.ts";
import type { KubeObject } from "../../../src/k8s/types.ts";

interface Call { method: string; name: string; namespace?: string; type?: string; opts?: Record<string, unknown> }

function fakeClient(calls: Call[]): KubeClient {
  return {
    async get() { calls.push({ method: "get", name: "" }); throw new Error("no GET expected"); },
    async patch(_r: unknown, name: string, namespace: string, type: string, body: KubeObject, opts: Record<string, unknown>) {
      calls.push({ method: "patch", name, namespace, type, opts });
      return body;
    },
  } as unknown as KubeClient;
}

const desired = (cpu: string): KubeObject => ({
  apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "d", namespace: "ns", labels: {} },
  spec: { template: { spec: { containers: [{ name: "c", resources: { requests: { cpu } } }] } } },
} as KubeObject);

// What the API server returns after applying desired("0.5"): the quantity canonicalized,
// a defaulted field, and moco-controller's managed fields.
const live = {
  apiVersion: "apps/v1", kind: "StatefulSet",
  metadata: { name: "d", namespace: "ns", uid: "u", resourceVersion: "7", managedFields: [{
    manager: FIELD_MANAGER, operation: "Apply", apiVersion: "apps/v1", fieldsType: "FieldsV1",
    fieldsV1: { "f:spec": { "f:template": { "f:spec": { "f:containers": { "k:{\"name\":\"c\"}": { ".": {}, "f:name": {}, "f:resources": { "f:requests": { "f:cpu": {} } } } } } } } },
  }] },
  spec: { replicas: 1, template: { spec: { containers: [{ name: "c", imagePullPolicy: "Always", resources: { requests: { cpu: "500m" } } }] } } },
} as KubeObject;

describe("applyAsController", () => {
  const cases: Array<{ name: string; live: KubeObject | undefined; desired: KubeObject; applied: boolean }> = [
    { name: "absent object: applied without a GET", live: undefined, desired: desired("0.5"), applied: true },
    { name: "unchanged (0.5 stored as 500m, empty labels, server defaults): skipped", live, desired: desired("0.5"), applied: false },
    { name: "changed quantity: applied", live, desired: desired("1"), applied: true },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const calls: Call[] = [];
      const res = await applyAsController(fakeClient(calls), resources.statefulSets, c.desired, c.live);
      assert.equal(res.applied, c.applied);
      if (c.applied) {
        assert.deepEqual(calls, [{ method: "patch", name: "d", namespace: "ns", type: "apply", opts: { fieldManager: "moco-controller", force: true, dryRun: undefined, subresource: undefined } }]);
      } else {
        assert.deepEqual(calls, []);
        assert.equal(res.object, c.live);
      }
    });
  }

  it("extractOwned: the fields moco-controller applied, undefined for an absent object", () => {
    assert.equal(extractOwned(undefined), undefined);
    assert.deepEqual(extractOwned(live), {
      apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "d", namespace: "ns" },
      spec: { template: { spec: { containers: [{ name: "c", resources: { requests: { cpu: "500m" } } }] } } },
    });
  });
});
