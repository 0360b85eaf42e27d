// Smoke tests: the MySQL the tests use is a real MySQL 9.7 with the semi-sync and
// clone plugins, and two instances replicate with GTID auto-positioning.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RowDataPacket } from "mysql2/promise";
import { startMysqlds, type MysqldSet } from "../../env/mysqld.ts";
import { eventually } from "../../env/eventually.ts";

describe("real mysqld from the Debian rootfs", () => {
  let set: MysqldSet;
  before(async () => { set = await startMysqlds(2); });
  after(async () => { await set?.stopAll(); });

  it("is MySQL 9.7 and loads the semi-sync and clone plugins", async () => {
    const c = await set.instances[0]!.connect();
    try {
      const [[v]] = await c.query<RowDataPacket[]>("SELECT VERSION() AS v");
      assert.match(String(v!.v), /^9\.7\.\d+/);
      await c.query("INSTALL PLUGIN rpl_semi_sync_source SONAME 'semisync_source.so'");
      await c.query("INSTALL PLUGIN rpl_semi_sync_replica SONAME 'semisync_replica.so'");
      await c.query("INSTALL PLUGIN clone SONAME 'mysql_clone.so'");
      const [rows] = await c.query<RowDataPacket[]>(
        "SELECT PLUGIN_NAME AS n, PLUGIN_STATUS AS s FROM information_schema.plugins WHERE PLUGIN_NAME IN ('rpl_semi_sync_source','rpl_semi_sync_replica','clone') ORDER BY n");
      assert.deepEqual(rows.map((r) => [r.n, r.s]), [
        ["clone", "ACTIVE"], ["rpl_semi_sync_replica", "ACTIVE"], ["rpl_semi_sync_source", "ACTIVE"],
      ]);
      const [[sv]] = await c.query<RowDataPacket[]>("SELECT @@rpl_semi_sync_source_timeout AS t");
      assert.ok(Number(sv!.t) > 0);
    } finally {
      await c.end();
    }
  });

  it("replicates with GTID auto-positioning between two instances", async () => {
    const [src, rep] = set.instances as [typeof set.instances[0], typeof set.instances[0]];
    const s = await src!.connect();
    const r = await rep!.connect();
    try {
      await s.query("CREATE USER 'repl'@'%' IDENTIFIED BY 'replpw'");
      await s.query("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'");
      await s.query("CREATE DATABASE smoke");
      await s.query("CREATE TABLE smoke.t (id INT PRIMARY KEY, v VARCHAR(20))");
      await s.query("INSERT INTO smoke.t VALUES (1, 'one'), (2, 'two')");
      await r.query(
        "CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PORT=?, SOURCE_USER='repl', SOURCE_PASSWORD='replpw', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1",
        [src!.host, src!.port]);
      await r.query("START REPLICA");
      await s.query("INSERT INTO smoke.t VALUES (3, 'three')");
      const [[gs]] = await s.query<RowDataPacket[]>("SELECT @@gtid_executed AS g");
      const sourceGtids = String(gs!.g);
      assert.notEqual(sourceGtids, "");
      await eventually("replica to apply every GTID", async () => {
        const [[ok]] = await r.query<RowDataPacket[]>("SELECT GTID_SUBSET(?, @@gtid_executed) AS ok", [sourceGtids]);
        return Number(ok!.ok) === 1 ? true : undefined;
      });
      const [rows] = await r.query<RowDataPacket[]>("SELECT id, v FROM smoke.t ORDER BY id");
      assert.deepEqual(rows.map((x) => [x.id, x.v]), [[1, "one"], [2, "two"], [3, "three"]]);
      const [[st]] = await r.query<RowDataPacket[]>("SHOW REPLICA STATUS");
      assert.equal(st!.Replica_IO_Running, "Yes");
      assert.equal(st!.Replica_SQL_Running, "Yes");
      assert.equal(Number(st!.Auto_Position), 1);
      const [[srcUuid]] = await s.query<RowDataPacket[]>("SELECT @@server_uuid AS u");
      const [[repUuid]] = await r.query<RowDataPacket[]>("SELECT @@server_uuid AS u");
      assert.notEqual(srcUuid!.u, repUuid!.u, "each instance has its own server_uuid");
    } finally {
      await s.end();
      await r.end();
    }
  });

  it("leaves no mysqld behind after stopAll", async () => {
    const extra = await startMysqlds(1);
    const pid = extra.instances[0]!.pid();
    assert.ok(pid);
    await extra.stopAll();
    assert.throws(() => process.kill(pid!, 0));
  });
});
