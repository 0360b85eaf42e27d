// A failover decided on a stale observation is abandoned (found by the short fault
// campaign: a 10 s cut of the controller from the MySQL Pods ended, then the pass that had
// observed the primary absent failed it over; its replicas had replicated from it all along,
// and the old primary was left errant). Real mysqld 9.7, 3 instances: the pass's observation
// is taken for real, then instance 0's status is dropped as a cut would have dropped it; the
// failover the engine decides on it must find the primary answering, change nothing (no new
// primary, no FailOver event), and the next passes return to Healthy with the same primary
// and no errant instance. The real loss of the primary is failover.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";

import { runOperation } from "../../../src/clustering/act.ts";
import { assessObservation, decideOperation, decideState } from "../../../src/clustering/decide.ts";
import { observeCluster } from "../../../src/clustering/observe.ts";
import { ClusterHarness, Writer, createTestTable, idsOn } from "./harness.ts";

describe("a failover decided while the primary was out of the controller's reach", () => {
  let h: ClusterHarness;
  before(async () => {
    h = await ClusterHarness.start({ replicas: 3, name: "stale" });
    h.startManager();
    await h.waitHealthy();
    await createTestTable(h);
  });
  after(async () => {
    await h?.close();
  });

  it("is abandoned when the old primary answers again, and nothing changes", async () => {
    const writer = new Writer(h);
    writer.start();
    await h.waitFor("100 acknowledged inserts", () => writer.acked.length >= 100, 30_000);
    await h.stopManager();
    const seen = await observeCluster(h.ports());
    assert.ok(seen !== null);
    try {
      // What a pass that could not reach instance 0 observed.
      const stale = { ...seen.observation, instances: seen.observation.instances.map((s, i) => (i === 0 ? null : s)) };
      const observed = assessObservation(stale);
      const decision = decideState(observed);
      assert.equal(decision.state, "Failed");
      const op = decideOperation(observed, decision, {});
      assert.equal(op.kind, "failover");
      const result = await runOperation({ ports: h.ports(), observed, conns: seen.conns, passwords: seen.passwords, tls: seen.tls }, op);
      assert.deepEqual(result, { redo: true });
    } finally {
      await seen.conns.closeAll();
    }
    assert.equal(h.cluster.status.currentPrimaryIndex, 0, "no new primary was named");
    assert.deepEqual(h.events.filter((e) => e.reason.startsWith("FailOver")).map((e) => e.reason), ["FailOverAbandoned"]);
    assert.equal(h.metrics.get("moco_cluster_failover_total", h.key) ?? 0, 0);
    const [ro] = await h.query(0, "SELECT @@super_read_only AS sro");
    assert.equal(Number(ro?.sro), 0, "instance 0 is still the writable primary");
    // The abandoned failover started the IO threads it had stopped again (no pass ran yet):
    // the old primary's agent would otherwise fence it for the lack of confirmations.
    for (const i of [1, 2]) {
      const [st] = await h.query(i, "SELECT SERVICE_STATE AS s FROM performance_schema.replication_connection_status WHERE CHANNEL_NAME = ''");
      assert.notEqual(String(st?.s), "OFF", `instance ${i}'s IO thread runs again right after the abandon`);
    }

    // The next passes restart the IO threads the abandoned failover stopped.
    h.startManager();
    await h.waitHealthy();
    await h.waitFor("100 more acknowledged inserts", () => writer.acked.length >= 200, 60_000);
    await writer.stop();
    assert.equal(h.cluster.status.currentPrimaryIndex, 0);
    assert.deepEqual(h.cluster.status.errantReplicaList ?? [], [], "no errant instance");
    const ids = await idsOn(h, 0);
    assert.deepEqual(writer.acked.filter((id) => !ids.has(id)), [], "acknowledged inserts missing on the primary");
  });
});
