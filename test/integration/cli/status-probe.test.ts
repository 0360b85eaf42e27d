// The query `kubectl moco status` runs in each mysqld, on real MySQL: as moco-readonly
// (the privileges MOCO gives it), over a direct connection (the pod-ip source) and
// through the mysql client in --batch mode (what the exec source parses), on a source
// with semi-sync and a replica, and the lag/errant the report derives from them.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { Connection } from "mysql2/promise";
import { startMysqlds, runInMysqlRootfs, type MysqldSet } from "../../env/mysqld.ts";
import { createUserStatements, mocoUser } from "../../../src/mysql/users.ts";
import { PROBE_QUERY, parseBatchOutput, probeFromRows, probeViaSql } from "../../../src/cli/probe.ts";
import { buildStatusReport } from "../../../src/cli/status.ts";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { setTimeout as sleep } from "node:timers/promises";

const PASSWORD = "0123456789abcdef0123456789abcdef";
const OTHER_UUID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

let set: MysqldSet;
const conns: Connection[] = [];

async function exec(c: Connection, sql: string, params: (string | number)[] = []): Promise<void> {
  await c.query(sql, params);
}

before(async () => {
  set = await startMysqlds(2);
  for (const inst of set.instances) {
    const c = await inst.connect();
    conns.push(c);
    await exec(c, "SET GLOBAL partial_revokes='ON'");
    await exec(c, "SET sql_log_bin=OFF");
    for (const st of createUserStatements(mocoUser("moco-readonly"), PASSWORD)) await exec(c, st.sql, [...st.params]);
    await exec(c, "SET sql_log_bin=ON");
  }
  const [src, rep] = conns as [Connection, Connection];
  await exec(src, "INSTALL PLUGIN rpl_semi_sync_source SONAME 'semisync_source.so'");
  await exec(src, "SET GLOBAL rpl_semi_sync_source_enabled=ON, rpl_semi_sync_source_timeout=100");
  await exec(src, "CREATE DATABASE probe_test");
  await exec(src, "CREATE TABLE probe_test.t (id INT PRIMARY KEY)");
  await exec(src, "INSERT INTO probe_test.t VALUES (1), (2)");
  // a second UUID in gtid_executed, so MySQL prints the set over two lines
  await exec(src, `SET gtid_next='${OTHER_UUID}:1'`);
  await exec(src, "INSERT INTO probe_test.t VALUES (3)");
  await exec(src, "SET gtid_next='AUTOMATIC'");
  const s = set.instances[0];
  await exec(rep, "CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PORT=?, SOURCE_USER='root', SOURCE_PASSWORD=?, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1",
    [s?.host ?? "", s?.port ?? 3306, s?.rootPassword ?? ""]);
  await exec(rep, "START REPLICA");
  // wait until the replica caught up
  const [[want]] = (await src.query("SELECT @@gtid_executed AS g")) as unknown as [[{ g: string }]];
  for (let i = 0; ; i++) {
    const [[row]] = (await rep.query("SELECT GTID_SUBSET(?, @@gtid_executed) AS ok", [want.g])) as unknown as [[{ ok: number }]];
    if (row.ok === 1) break;
    if (i > 200) throw new Error("replica did not catch up");
    await sleep(100);
  }
  await exec(rep, "STOP REPLICA SQL_THREAD");
  await exec(src, "INSERT INTO probe_test.t VALUES (4), (5)");
  await exec(src, "INSERT INTO probe_test.t VALUES (6)");
});

after(async () => {
  for (const c of conns) await c.end().catch(() => undefined);
  await set?.stopAll();
});

describe("status probe on real mysqld", () => {
  it("pod-ip source: a direct query as moco-readonly", async () => {
    const [src, rep] = set.instances;
    const p0 = await probeViaSql(src?.host ?? "", src?.port ?? 3306, PASSWORD, 10_000);
    const [[v]] = (await (conns[0] as Connection).query("SELECT @@server_uuid AS u, REPLACE(@@gtid_executed, '\\n', '') AS g")) as unknown as [[{ u: string; g: string }]];
    assert.equal(p0.serverUuid, v.u);
    assert.equal(p0.gtidExecuted, v.g);
    assert.match(p0.gtidExecuted ?? "", new RegExp(`${OTHER_UUID}:1`));
    assert.equal(p0.readOnly, false);
    assert.equal(p0.semiSyncSourceEnabled, true);
    assert.equal(typeof p0.semiSyncSourceStatus, "boolean");
    assert.equal(p0.replicationIo, undefined, "a source has no replication channel");

    const p1 = await probeViaSql(rep?.host ?? "", rep?.port ?? 3306, PASSWORD, 10_000);
    assert.equal(p1.replicationIo, "ON");
    assert.equal(p1.replicationSql, "OFF");
    assert.equal(p1.semiSyncSourceEnabled, undefined, "plugin not installed: no variable");

    const cluster = {
      metadata: { name: "c", namespace: "n" },
      spec: { replicas: 2 },
      status: { currentPrimaryIndex: 0 },
    } as MySQLCluster;
    const report = buildStatusReport(cluster, [], new Map([[0, { probe: p0, source: "pod-ip" as const }], [1, { probe: p1, source: "pod-ip" as const }]]));
    assert.equal(report.instances[0]?.gtidLag, 0);
    assert.equal(report.instances[1]?.gtidLag, 2, "two transactions after the replica's SQL thread stopped");
    assert.equal(report.instances[1]?.errant, false);
  });

  it("wrong password is an error that does not echo it", async () => {
    const src = set.instances[0];
    await assert.rejects(probeViaSql(src?.host ?? "", src?.port ?? 3306, "wrong-password-xyz", 5000), (e: Error) => {
      assert.ok(!e.message.includes("wrong-password-xyz"));
      return true;
    });
  });

  it("exec source: the mysql client's --batch output parses to the same probe", async () => {
    const src = set.instances[0];
    const cnf = path.join(src?.dir ?? "", "moco-readonly-my.cnf");
    fs.writeFileSync(cnf, `[client]\nuser="moco-readonly"\npassword="${PASSWORD}"\nhost="${src?.host}"\n`, { mode: 0o600 });
    const r = await runInMysqlRootfs(src?.dir ?? "", [
      "mysql", "--defaults-extra-file=/mnt/inst/moco-readonly-my.cnf", "-N", "-B", "-e", PROBE_QUERY,
    ], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.output);
    const viaClient = probeFromRows(parseBatchOutput(r.output));
    const viaSql = await probeViaSql(src?.host ?? "", src?.port ?? 3306, PASSWORD, 10_000);
    assert.deepEqual({ ...viaClient, semiSyncSourceStatus: undefined }, { ...viaSql, semiSyncSourceStatus: undefined });
  });
});
