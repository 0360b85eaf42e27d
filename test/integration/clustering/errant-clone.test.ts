// Errant transactions and cloning on real mysqld 9.7 (3 instances): a write injected on a
// replica makes it errant (reported, unlabelled, IO thread stopped, never a switch
// candidate); wiping its data directory gets it cloned from the primary and back in.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import mysql from "mysql2/promise";

import { ClusterHarness, createTestTable, idsOn } from "./harness.ts";

describe("errant replica and clone (3 instances)", () => {
  let h: ClusterHarness;
  before(async () => {
    h = await ClusterHarness.start({ replicas: 3, name: "errant" });
    h.startManager();
    await h.waitHealthy();
    await createTestTable(h);
    const conn = await mysql.createConnection({ host: h.inst(0).host, user: "moco-writable", password: h.passwords.WRITABLE_PASSWORD });
    for (let id = 1; id <= 50; id++) await conn.query("INSERT INTO test.t (id, via) VALUES (?, 0)", [id]);
    await conn.end();
    await h.waitFor("rows replicated", async () => (await idsOn(h, 2)).size === 50 && (await idsOn(h, 1)).size === 50, 20_000);
  });
  after(async () => {
    await h?.close();
  });

  it("detects a transaction written on a replica and excludes that replica", async () => {
    await h.query(2, "SET GLOBAL super_read_only=0");
    await h.query(2, "INSERT INTO test.t (id, via) VALUES (100000, 2)");
    await h.query(2, "SET GLOBAL super_read_only=1");
    h.nudge();
    await h.waitFor("errant list [2]", () => JSON.stringify(h.cluster.status.errantReplicaList) === "[2]", 30_000);
    await h.waitState("Degraded");
    await h.waitFor("role label removed", () => h.pods[2]?.role === null, 10_000);
    assert.equal(h.cluster.status.errantReplicas, 1);
    assert.equal(h.condition("Available")?.status, "True");
    assert.equal(h.condition("Healthy")?.status, "False");
    assert.equal(h.metrics.get("moco_cluster_errant_replicas", h.key), 1);
    const [rs] = await h.query(2, "SHOW REPLICA STATUS");
    assert.equal(rs?.Replica_IO_Running, "No", "the errant replica's IO thread is stopped");
    assert.equal(h.pods[1]?.role, "replica");
    // Not errant: replica 1, which only has the primary's transactions.
    const last = h.passes.at(-1);
    assert.ok(last?.state === "Degraded");
  });

  it("never picks the errant replica as the switchover candidate", async () => {
    h.pods[0]?.annotations.set("moco.cybozu.com/demote", "true");
    h.nudge("pod-watcher");
    await h.waitFor("switchover", () => h.events.some((e) => e.reason === "SwitchOver"), 30_000);
    assert.equal(h.cluster.status.currentPrimaryIndex, 1);
    await h.waitFor("old primary relabelled as replica", () => h.pods[0]?.role === "replica" && h.pods[1]?.role === "primary", 30_000);
    await h.waitState("Degraded");
    assert.deepEqual(h.cluster.status.errantReplicaList, [2]);
    assert.equal(h.pods[2]?.role, null);
  });

  it("clones a replica whose data directory was wiped, and it rejoins", async () => {
    const clonedBefore = h.events.filter((e) => e.reason === "Cloned").length;
    const t0 = Date.now();
    await h.reinitialize(2);
    h.nudge();
    await h.waitHealthy(120_000);
    console.log(`clone of instance 2 and rejoin: ${Date.now() - t0} ms (clone itself ${h.clones.at(-1)?.ms ?? NaN} ms)`);
    assert.equal(h.events.filter((e) => e.reason === "Cloned").length, clonedBefore + 1);
    assert.equal(h.events.filter((e) => e.reason === "CloneFailed").length, 0);
    assert.deepEqual(h.clones.at(-1), { ordinal: 2, donor: h.inst(1).host, ms: h.clones.at(-1)?.ms, verifyDonorTls: false });
    assert.deepEqual(h.cluster.status.errantReplicaList, []);
    assert.equal(h.pods[2]?.role, "replica");
    const primaryIds = await idsOn(h, 1);
    const ids2 = await idsOn(h, 2);
    assert.deepEqual([...ids2].sort((a, b) => a - b), [...primaryIds].sort((a, b) => a - b));
    assert.equal(ids2.has(100000), false, "the errant row is gone with the wiped data");
    const [rs] = await h.query(2, "SHOW REPLICA STATUS");
    assert.equal(rs?.Source_Host, h.inst(1).host);
    assert.equal(rs?.Replica_SQL_Running, "Yes");
    // The post-clone initialisation left this cluster's passwords in place.
    const conn = await mysql.createConnection({ host: h.inst(2).host, port: 33062, user: "moco-admin", password: h.passwords.ADMIN_PASSWORD });
    await conn.end();
  });
});
