// Bring-up from freshly initialised instances to Healthy on real mysqld 9.7, with 3 and 5
// instances: topology, semi-sync settings, replication of writes, super_read_only on
// replicas, status/labels/events/metrics, and a pass that closes all its connections.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import mysql from "mysql2/promise";

import { ClusterHarness, createTestTable, idsOn, sleep } from "./harness.ts";

for (const n of [3, 5]) {
  describe(`bring-up with ${n} instances`, () => {
    let h: ClusterHarness;
    before(async () => {
      h = await ClusterHarness.start({ replicas: n, name: `up${n}` });
    });
    after(async () => {
      await h?.close();
    });

    it("reaches Healthy with instance 0 as a writable primary", async () => {
      const t0 = Date.now();
      h.startManager();
      await h.waitHealthy();
      console.log(`${n} instances: Healthy ${Date.now() - t0} ms after the manager started`);
      assert.equal(h.cluster.status.currentPrimaryIndex, 0);
      assert.equal(h.condition("Healthy")?.status, "True");
      assert.equal(h.condition("Available")?.status, "True");
      assert.equal(h.condition("Initialized")?.status, "True");
      assert.equal(h.cluster.status.syncedReplicas, n);
      assert.deepEqual(h.cluster.status.errantReplicaList, []);
      assert.deepEqual(
        h.pods.map((p) => p.role),
        Array.from({ length: n }, (_, i) => (i === 0 ? "primary" : "replica")),
      );
      assert.deepEqual(
        h.events.map((e) => e.reason),
        ["Writable"],
      );
    });

    it("configures semi-sync AFTER_SYNC with floor(n/2) acks on the primary only", async () => {
      const names = [
        "rpl_semi_sync_source_enabled",
        "rpl_semi_sync_source_wait_for_replica_count",
        "rpl_semi_sync_source_wait_point",
        "rpl_semi_sync_source_timeout",
        "rpl_semi_sync_replica_enabled",
        "read_only",
        "super_read_only",
      ];
      const p = await h.variables(0, names);
      assert.equal(p.rpl_semi_sync_source_enabled, "ON");
      assert.equal(p.rpl_semi_sync_source_wait_for_replica_count, String(Math.floor(n / 2)));
      assert.equal(p.rpl_semi_sync_source_wait_point, "AFTER_SYNC");
      assert.equal(p.rpl_semi_sync_source_timeout, "86400000");
      assert.equal(p.read_only, "OFF");
      for (let i = 1; i < n; i++) {
        const r = await h.variables(i, names);
        assert.equal(r.rpl_semi_sync_replica_enabled, "ON", `replica ${i}`);
        assert.equal(r.rpl_semi_sync_source_enabled, "OFF", `replica ${i}`);
        assert.equal(r.super_read_only, "ON", `replica ${i}`);
        const [rs] = await h.query(i, "SHOW REPLICA STATUS");
        assert.equal(rs?.Source_Host, h.inst(0).host);
        assert.equal(Number(rs?.Source_Port), 3306);
        assert.equal(rs?.Source_User, "moco-repl");
        assert.equal(Number(rs?.Auto_Position), 1);
        assert.equal(rs?.Replica_IO_Running, "Yes");
        assert.equal(rs?.Replica_SQL_Running, "Yes");
      }
      const replicas = await h.query(0, "SHOW REPLICAS");
      assert.deepEqual(
        replicas.map((r) => Number(r.Server_Id)).sort((a, b) => a - b),
        Array.from({ length: n - 1 }, (_, i) => 101 + i),
      );
      const [st] = await h.query(0, "SHOW STATUS LIKE 'Rpl_semi_sync_source_clients'");
      assert.equal(Number(st?.Value), n - 1);
    });

    it("replicates writes to every replica and refuses writes on replicas", async () => {
      await createTestTable(h);
      const conn = await mysql.createConnection({
        host: h.inst(0).host,
        user: "moco-writable",
        password: h.passwords.WRITABLE_PASSWORD,
      });
      for (let id = 1; id <= 20; id++) await conn.query("INSERT INTO test.t (id, via) VALUES (?, 0)", [id]);
      await conn.end();
      for (let i = 1; i < n; i++) {
        await h.waitFor(`rows on ${i}`, async () => (await idsOn(h, i)).size === 20, 20_000);
        const rc = await mysql.createConnection({
          host: h.inst(i).host,
          user: "moco-writable",
          password: h.passwords.WRITABLE_PASSWORD,
        });
        await assert.rejects(rc.query("INSERT INTO test.t (id, via) VALUES (1000, 1)"), /read-only/);
        await rc.end();
        // Even root (SUPER) is refused on a replica.
        await assert.rejects(h.query(i, "INSERT INTO test.t (id, via) VALUES (1001, 1)"), /super-read-only/);
      }
    });

    it("stays Healthy with nothing to do, reports metrics, and leaves no connection open", async () => {
      h.nudge("test");
      await h.waitHealthy();
      const l = { name: h.key.name, namespace: h.key.namespace };
      assert.equal(h.metrics.get("moco_cluster_available", l), 1);
      assert.equal(h.metrics.get("moco_cluster_healthy", l), 1);
      assert.equal(h.metrics.get("moco_cluster_replicas", l), n);
      assert.equal(h.metrics.get("moco_cluster_ready_replicas", l), n);
      assert.equal(h.metrics.get("moco_cluster_errant_replicas", l), 0);
      assert.ok((h.metrics.get("moco_cluster_checks_total", l) ?? 0) > 0);
      assert.equal(h.metrics.get("moco_cluster_switchover_total", l), undefined);
      await h.stopManager();
      await sleep(200);
      const rows = await h.query(0, "SELECT COUNT(*) AS c FROM information_schema.PROCESSLIST WHERE USER='moco-admin'");
      assert.equal(Number(rows[0]?.c), 0, "moco-admin connections left open on the primary");
      // After stop, the metric series of the cluster are kept by stopAll (stop(key) deletes them).
      await h.manager?.stop(h.key);
      assert.equal(h.metrics.get("moco_cluster_available", l), undefined);
    });
  });
}
