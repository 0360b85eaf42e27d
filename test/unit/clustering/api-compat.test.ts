// The clustering engine reads the cluster through MySQLClusterLike; the API package's
// MySQLCluster must fit it as is (checked by tsc), and a plain API object must work.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { MySQLCluster } from "../../../src/api/v1beta2/schema.ts";
import { podHostname, replicasOf } from "../../../src/clustering/cluster.ts";
import { assessObservation, decideState } from "../../../src/clustering/decide.ts";
import { pod, primaryInstance } from "./fixtures.ts";

describe("API MySQLCluster fits the clustering engine", () => {
  it("decides the state of an API object", () => {
    const c: MySQLCluster = {
      apiVersion: "moco.cybozu.com/v1beta2",
      kind: "MySQLCluster",
      metadata: { name: "test", namespace: "ns" },
      spec: { replicas: 1, serverIDBase: 10, podTemplate: { spec: { containers: [] } }, volumeClaimTemplates: [] },
      status: { currentPrimaryIndex: 0 },
    };
    assert.equal(replicasOf(c), 1);
    assert.equal(podHostname(c, 0), "moco-test-0.moco-test.ns.svc");
    const d = decideState(assessObservation({ cluster: c, pods: [pod(0)], instances: [primaryInstance(0, [])] }));
    assert.equal(d.state, "Healthy");
  });
  it("replicas defaults to 1 when absent", () => {
    assert.equal(replicasOf({ metadata: { name: "x" } }), 1);
  });
});
