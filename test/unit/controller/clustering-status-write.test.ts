// The clustering adapter's status write (src/controller/clustering-adapter.ts) writes only
// when the status changed as a value. The API server returns a custom resource's keys in
// sorted order; the write used to compare JSON text, saw a change on every pass and PUT the
// status each time (bench/controller-scale.ts BENCH_AUDIT: ~6.5 status writes and as many
// GETs per new cluster at N = 1000).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import type { ClusterStatusWrite } from "../../../src/clustering/ports.ts";
import { clusterPorts, jsonValue, type AdapterDeps } from "../../../src/controller/clustering-adapter.ts";
import type { KubeClient } from "../../../src/k8s/client.ts";
import { ControllerMetrics } from "../../../src/metrics/index.ts";

/** Keys sorted at every level, as kube-apiserver serializes a custom resource. */
function sortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortedKeys((v as Record<string, unknown>)[k])]));
}

const T0 = "2026-12-07T10:00:00Z";
const stored = (status: Record<string, unknown>): MySQLCluster => sortedKeys({
  apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster",
  metadata: { name: "c", namespace: "ns", uid: "u1", resourceVersion: "7", generation: 1 },
  spec: { replicas: 1 },
  status,
}) as MySQLCluster;

const lost = { type: "Available" as const, status: "False" as const, reason: "Lost", message: "too few pods" };
const healthy = { type: "Healthy" as const, status: "False" as const, reason: "Lost", message: "too few pods" };
const write = (over: Partial<ClusterStatusWrite> = {}): ClusterStatusWrite => ({
  syncedReplicas: 0, errantReplicaList: [], errantReplicas: 0, cloned: undefined, conditions: [lost, healthy], ...over,
});
const base = {
  currentPrimaryIndex: 0, syncedReplicas: 0, errantReplicas: 0, errantReplicaList: [],
  conditions: [{ ...lost, lastTransitionTime: T0 }, { ...healthy, lastTransitionTime: T0 }],
};

describe("clustering status write: only when the status changed", () => {
  const cases: { name: string; status: Record<string, unknown>; write: ClusterStatusWrite; puts: number }[] = [
    { name: "same status, API key order", status: base, write: write(), puts: 0 },
    { name: "a condition's status changed", status: base, write: write({ conditions: [{ ...lost, status: "True", reason: "Healthy" }, healthy] }), puts: 1 },
    { name: "a condition's message changed", status: base, write: write({ conditions: [{ ...lost, message: "other" }, healthy] }), puts: 1 },
    { name: "syncedReplicas changed", status: base, write: write({ syncedReplicas: 1 }), puts: 1 },
    { name: "cloned set", status: base, write: write({ cloned: true }), puts: 1 },
    { name: "no status yet", status: {}, write: write(), puts: 1 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      let puts = 0;
      let gets = 0;
      const client = {
        get: () => { gets++; return Promise.resolve(stored(c.status)); },
        update: (o: MySQLCluster) => { puts++; return Promise.resolve(o); },
      } as unknown as KubeClient;
      const deps = {
        client, caches: { clusters: { get: () => undefined } }, metrics: new ControllerMetrics({ processMetrics: false }), events: {}, certs: {}, logger: pino({ level: "silent" }),
      } as unknown as AdapterDeps;
      const ports = clusterPorts(deps, { namespace: "ns", name: "c" });
      await ports.source.getCluster();
      await ports.status.writeStatus(c.write);
      assert.equal(puts, c.puts);
      assert.equal(gets, 1, "the write starts from the pass's read");
    });
  }
});

describe("clustering read of the cluster: no GET when the informer holds the version last read", () => {
  const cases: { name: string; cachedVersion: string | undefined; gets: number }[] = [
    { name: "the informer has the version the pass read", cachedVersion: "7", gets: 1 },
    { name: "the informer has another version (changed since)", cachedVersion: "8", gets: 2 },
    { name: "not in the informer (deleted, or not seen yet)", cachedVersion: undefined, gets: 2 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      let gets = 0;
      const client = { get: () => { gets++; return Promise.resolve(stored(base)); } } as unknown as KubeClient;
      const cached = c.cachedVersion === undefined ? undefined : { metadata: { name: "c", namespace: "ns", resourceVersion: c.cachedVersion } };
      const deps = {
        client, caches: { clusters: { get: () => cached } }, metrics: new ControllerMetrics({ processMetrics: false }), events: {}, certs: {}, logger: pino({ level: "silent" }),
      } as unknown as AdapterDeps;
      const ports = clusterPorts(deps, { namespace: "ns", name: "c" });
      const first = await ports.source.getCluster();
      const second = await ports.source.getCluster();
      assert.equal(gets, c.gets);
      assert.deepEqual(second, first, "the same object either way");
      assert.notEqual(second, first, "a copy: the engine may mutate what it gets");
    });
  }
});

describe("jsonValue", () => {
  it("drops undefined members, keeps the rest", () => {
    assert.deepEqual(jsonValue({ a: 1, b: undefined, c: [1, { d: undefined }] }), { a: 1, c: [1, {}] });
    assert.equal(jsonValue(undefined), null);
  });
});
