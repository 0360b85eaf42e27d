// Intermediate primary on real mysqld 9.7: a separate donor mysqld is cloned into a
// 3-instance cluster (replicationSourceSecretName), the cluster replicates from it
// asynchronously, and clearing the field turns the cluster into a normal one whose
// primary no longer replicates from the donor.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { startMysqlds } from "../../env/mysqld.ts";
import type { MysqldSet } from "../../env/mysqld.ts";
import { ClusterHarness, idsOn, sleep } from "./harness.ts";

describe("intermediate primary cloned from an external donor", () => {
  let donorSet: MysqldSet;
  let h: ClusterHarness;
  const donorPassword = randomBytes(16).toString("hex");
  const initPassword = randomBytes(16).toString("hex");

  async function donorQuery(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    const inst = donorSet.instances[0];
    assert.ok(inst);
    const conn = await inst.connect();
    try {
      const [rows] = await conn.query(sql, params);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    } finally {
      await conn.end();
    }
  }

  before(async () => {
    donorSet = await startMysqlds(1, { serverIdBase: 900 });
    const donor = donorSet.instances[0];
    assert.ok(donor);
    // What users prepare on a donor (docs/clustering.md#initial-clone-from-an-external-donor).
    await donorQuery("SET PERSIST partial_revokes=ON");
    await donorQuery("INSTALL PLUGIN clone SONAME 'mysql_clone.so'");
    await donorQuery("CREATE USER 'donor'@'%' IDENTIFIED BY ?", [donorPassword]);
    await donorQuery("GRANT BACKUP_ADMIN, REPLICATION SLAVE ON *.* TO 'donor'@'%'");
    await donorQuery("CREATE USER 'init'@'localhost' IDENTIFIED BY ?", [initPassword]);
    await donorQuery("GRANT ALL ON *.* TO 'init'@'localhost' WITH GRANT OPTION");
    await donorQuery("GRANT PROXY ON ''@'' TO 'init'@'localhost' WITH GRANT OPTION");
    await donorQuery("CREATE DATABASE test");
    await donorQuery("CREATE TABLE test.t (id INT PRIMARY KEY, via INT)");
    for (let id = 1; id <= 100; id++) await donorQuery("INSERT INTO test.t (id, via) VALUES (?, -1)", [id]);

    h = await ClusterHarness.start({
      replicas: 3,
      name: "repl",
      replicationSourceSecretName: "donor-secret",
      replicationSourceSecret: {
        HOST: donor.host,
        PORT: "3306",
        USER: "donor",
        PASSWORD: donorPassword,
        INIT_USER: "init",
        INIT_PASSWORD: initPassword,
      },
    });
  });
  after(async () => {
    await h?.close();
    await donorSet?.stopAll();
  });

  it("clones the donor into the primary, then the replicas from the primary, and becomes Healthy", async () => {
    const t0 = Date.now();
    h.startManager();
    await h.waitHealthy(180_000);
    console.log(`intermediate cluster Healthy ${Date.now() - t0} ms after the manager started; clones: ${JSON.stringify(h.clones)}`);
    const reasons = h.events.map((e) => e.reason);
    assert.equal(reasons.filter((r) => r === "InitCloned").length, 1);
    assert.equal(reasons.filter((r) => r === "Cloned").length, 2);
    assert.equal(reasons.includes("Writable"), false, "an intermediate primary is never made writable");
    assert.equal(h.cluster.status.cloned, true);
    assert.equal(h.condition("Initialized")?.status, "True");
    assert.deepEqual(h.clones.map((c) => [c.ordinal, c.donor]).sort(), [
      [0, donorSet.instances[0]?.host],
      [1, h.inst(0).host],
      [2, h.inst(0).host],
    ]);
    for (let i = 0; i < 3; i++) assert.equal((await idsOn(h, i)).size, 100, `rows on ${i}`);
  });

  it("replicates asynchronously from the donor through the read-only intermediate primary", async () => {
    for (let id = 101; id <= 150; id++) await donorQuery("INSERT INTO test.t (id, via) VALUES (?, -1)", [id]);
    for (let i = 0; i < 3; i++) {
      await h.waitFor(`donor rows on ${i}`, async () => (await idsOn(h, i)).size === 150, 30_000);
    }
    const names = ["super_read_only", "rpl_semi_sync_source_enabled", "rpl_semi_sync_replica_enabled"];
    assert.deepEqual(await h.variables(0, names), {
      super_read_only: "ON",
      rpl_semi_sync_source_enabled: "OFF",
      rpl_semi_sync_replica_enabled: "OFF",
    });
    const [rs0] = await h.query(0, "SHOW REPLICA STATUS");
    assert.equal(rs0?.Source_Host, donorSet.instances[0]?.host);
    assert.equal(rs0?.Source_User, "donor");
    for (const i of [1, 2]) {
      assert.deepEqual(await h.variables(i, names), {
        super_read_only: "ON",
        rpl_semi_sync_source_enabled: "OFF",
        rpl_semi_sync_replica_enabled: "OFF",
      });
      const [rs] = await h.query(i, "SHOW REPLICA STATUS");
      assert.equal(rs?.Source_Host, h.inst(0).host);
      assert.equal(rs?.Replica_IO_Running, "Yes");
    }
    assert.deepEqual(h.pods.map((p) => p.role), ["primary", "replica", "replica"]);
  });

  it("stops replicating from the donor when replicationSourceSecretName is cleared", async () => {
    h.cluster.spec.replicationSourceSecretName = null;
    const writableBefore = h.events.filter((e) => e.reason === "Writable").length;
    h.nudge("reconcile");
    await h.waitFor("the primary became writable", () => h.events.filter((e) => e.reason === "Writable").length > writableBefore, 60_000);
    await h.waitHealthy();
    const v = await h.variables(0, ["read_only", "rpl_semi_sync_source_enabled", "rpl_semi_sync_source_wait_for_replica_count"]);
    assert.deepEqual(v, { read_only: "OFF", rpl_semi_sync_source_enabled: "ON", rpl_semi_sync_source_wait_for_replica_count: "1" });
    const [rs0] = await h.query(0, "SHOW REPLICA STATUS");
    assert.ok(rs0 === undefined || rs0.Replica_IO_Running !== "Yes", "the primary no longer replicates");
    for (const i of [1, 2]) {
      const r = await h.variables(i, ["rpl_semi_sync_replica_enabled", "super_read_only"]);
      assert.deepEqual(r, { rpl_semi_sync_replica_enabled: "ON", super_read_only: "ON" });
    }
    await donorQuery("INSERT INTO test.t (id, via) VALUES (999, -1)");
    await sleep(2000);
    assert.equal((await idsOn(h, 0)).has(999), false, "a donor write after detaching reached the cluster");
    // The cluster takes writes itself now, replicated semi-synchronously.
    await h.query(0, "INSERT INTO test.t (id, via) VALUES (1000, 0)");
    for (const i of [1, 2]) await h.waitFor(`write on ${i}`, async () => (await idsOn(h, i)).has(1000), 20_000);
  });
});
