// ClusterObservation.podHostnames: the SOURCE_HOST of each ordinal when Pod DNS names do
// not resolve (integration tests, sandbox). Without it, decide uses moco-C-i.moco-C.NS.svc.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { assessObservation, decideOperation, decideState, sourceHostOf } from "../../../src/clustering/decide.ts";
import type { ClusterObservation, ConfigureStep } from "../../../src/clustering/types.ts";
import { healthyObservation, host, replicaRow } from "./fixtures.ts";

const ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];

/** The healthy fixture with every replica's Source_Host = the primary's IP. */
function healthyByIp(): ClusterObservation {
  const obs = healthyObservation(3, 0);
  const instances = obs.instances.map((ist, i) =>
    i === 0 || ist === null || ist.replicaStatus === null
      ? ist
      : { ...ist, replicaStatus: { ...ist.replicaStatus, sourceHost: ips[0] ?? "" } },
  );
  return { ...obs, instances, podHostnames: ips };
}

describe("podHostnames", () => {
  it("sourceHostOf falls back to the Pod DNS name", () => {
    const obs = healthyObservation(3, 0);
    assert.equal(sourceHostOf(obs, 1), host(1));
    assert.equal(sourceHostOf({ ...obs, podHostnames: ["", "x"] }, 0), host(0));
    assert.equal(sourceHostOf({ ...obs, podHostnames: ips }, 2), "10.0.0.3");
  });

  it("replicas of the given address are good replicas (Healthy)", () => {
    const decision = decideState(assessObservation(healthyByIp()));
    assert.equal(decision.state, "Healthy");
    assert.deepEqual(decision.goodReplicas, [1, 2]);
  });

  it("without podHostnames the same replicas are not replicating from the primary", () => {
    const { podHostnames: _unused, ...obs } = healthyByIp();
    assert.equal(decideState(assessObservation(obs)).state, "Incomplete");
  });

  it("configure points replicas at the given address", () => {
    const base = healthyByIp();
    const instances = base.instances.map((ist, i) =>
      i === 2 && ist !== null ? { ...ist, replicaStatus: replicaRow({ sourceHost: host(0), replicaIORunning: "No" }) } : ist,
    );
    const observed = assessObservation({ ...base, instances });
    const op = decideOperation(observed);
    assert.equal(op.kind, "configure");
    if (op.kind !== "configure") return;
    const repl = op.plan.steps.filter((s): s is Extract<ConfigureStep, { kind: "configureReplication" }> => s.kind === "configureReplication");
    assert.deepEqual(repl.map((s) => [s.instance, s.source.host, s.source.port]), [[2, "10.0.0.1", 3306]]);
  });
});
