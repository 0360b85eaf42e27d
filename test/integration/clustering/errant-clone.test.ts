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

  it("clones an errant former primary over the transactions only it wrote, and it rejoins", async () => {
    // docs/clustering.md "Errant former primary". Primary 1 writes a row that replicates, then
    // one that no replica receives (their IO threads stopped and their mysqld SIGSTOPped, so no
    // pass restarts them; semi-sync off on 1 so its commit returns), then dies (kill -9): the
    // failover promotes a replica without that row, and 1 comes back with it, errant.
    const writable = await mysql.createConnection({ host: h.inst(1).host, user: "moco-writable", password: h.passwords.WRITABLE_PASSWORD });
    await writable.query("INSERT INTO test.t (id, via) VALUES (200001, 1)");
    await writable.end();
    await h.waitFor("row 200001 replicated", async () => (await idsOn(h, 0)).has(200001) && (await idsOn(h, 2)).has(200001), 20_000);
    const paused: number[] = [];
    try {
      for (const i of [0, 2]) {
        await h.query(i, "STOP REPLICA IO_THREAD");
        const pid = h.inst(i).pid();
        assert.ok(pid !== undefined);
        process.kill(pid, "SIGSTOP");
        paused.push(pid);
      }
      await h.query(1, "SET GLOBAL rpl_semi_sync_source_enabled=OFF");
      await h.query(1, "INSERT INTO test.t (id, via) VALUES (200002, 1)");
      const [own] = await h.query(1, "SELECT @@server_uuid AS u, @@gtid_executed AS g");
      console.log(`former primary 1 (${String(own?.u)}) before its kill: ${String(own?.g).replace(/\n/g, "")}`);
      await h.inst(1).kill();
    } finally {
      for (const pid of paused) process.kill(pid, "SIGCONT");
    }
    h.nudge();
    await h.waitFor("a failover away from 1", () => h.events.some((e) => e.reason === "FailOver") && h.cluster.status.currentPrimaryIndex !== 1, 120_000);
    const newPrimary = h.cluster.status.currentPrimaryIndex!;
    const clonedBefore = h.events.filter((e) => e.reason === "Cloned").length;
    await h.inst(1).start();
    h.nudge();
    await h.waitFor("the former primary re-cloned", () => h.events.some((e) => e.reason === "ReinitializingErrantFormerPrimary"), 60_000);
    const ev = h.events.find((e) => e.reason === "ReinitializingErrantFormerPrimary")!;
    console.log(`event: ${ev.message}`);
    assert.match(ev.message, new RegExp(`^Instance 1 was a primary and has transactions no client was told committed \\([0-9a-f-]+:\\d+\\); cloning it from the primary ${newPrimary}`));
    await h.waitHealthy(120_000);
    assert.equal(h.events.filter((e) => e.reason === "Cloned").length, clonedBefore + 1);
    assert.deepEqual(h.clones.at(-1)?.ordinal, 1);
    assert.deepEqual(h.cluster.status.errantReplicaList ?? [], []);
    assert.equal(h.pods[1]?.role, "replica");
    const ids1 = await idsOn(h, 1);
    assert.equal(ids1.has(200002), false, "the unreplicated row went with the clone");
    assert.equal(ids1.has(200001), true);
    assert.deepEqual([...ids1].sort((a, b) => a - b), [...(await idsOn(h, newPrimary))].sort((a, b) => a - b));
    const [rs] = await h.query(1, "SHOW REPLICA STATUS");
    assert.equal(rs?.Source_Host, h.inst(newPrimary).host);
    assert.equal(rs?.Replica_SQL_Running, "Yes");
  });
});
