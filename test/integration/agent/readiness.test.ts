// /healthz and /readyz of a running agent against two real mysqld 9.7 instances,
// a writable primary and a replica replicating as moco-repl (docs/agent.md#tests-on-real-mysql-97 A3, A4).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Connection, RowDataPacket } from "mysql2/promise";

import { startMysqlds, type MysqldInstance, type MysqldSet } from "../../env/mysqld.ts";
import { startAgent, type RunningAgent } from "../../../src/agent/agent.ts";
import { silentLogger } from "../../../src/util/log.ts";
import { agentEnv, agentTestCerts, httpGet, testAgentFlags } from "./helpers.ts";
import { randomPasswords } from "../../env/random.ts";
import { eventually } from "../../env/eventually.ts";
import { setTimeout as sleep } from "node:timers/promises";

const MAX_DELAY_SECONDS = 2;

describe("agent probes on real replication", () => {
  let set: MysqldSet;
  let primary: MysqldInstance;
  let replica: MysqldInstance;
  let primaryAgent: RunningAgent | undefined;
  let replicaAgent: RunningAgent | undefined;
  let p: Connection;
  let r: Connection;
  const passwords = randomPasswords();
  const certs = agentTestCerts();

  async function start(inst: MysqldInstance, ordinal: number): Promise<RunningAgent> {
    return startAgent({
      flags: testAgentFlags(inst.socketPath, certs.serverDir, [`--max-delay=${MAX_DELAY_SECONDS}s`, "--transaction-queueing-wait=1s"]),
      env: agentEnv(passwords, ordinal),
      logger: silentLogger(),
      mysqldHost: inst.host,
      slowLogPath: `${inst.dir}/mysql.slow`,
      firstBoot: { rootRetryIntervalMs: 500 },
      defaultMetrics: false,
    });
  }
  const readyz = (a: RunningAgent) => httpGet(`http://127.0.0.1:${a.probePort}/readyz`);
  const healthz = (a: RunningAgent) => httpGet(`http://127.0.0.1:${a.probePort}/healthz`);
  const waitStatus = (a: RunningAgent, status: number, what: string, timeoutMs = 30_000) =>
    eventually(what, async () => {
      const res = await readyz(a);
      if (res.status !== status) throw new Error(`last answer ${res.status} ${res.body.trim()}`);
      return res;
    }, timeoutMs);

  before(async () => {
    set = await startMysqlds(2);
    [primary, replica] = set.instances as [MysqldInstance, MysqldInstance];
    // Both agents run the first-boot initialization (the template still has root@localhost).
    [primaryAgent, replicaAgent] = await Promise.all([start(primary, 0), start(replica, 1)]);
    p = await primary.connect();
    r = await replica.connect();
  });
  after(async () => {
    await p?.end().catch(() => undefined);
    await r?.end().catch(() => undefined);
    await primaryAgent?.close();
    await replicaAgent?.close();
    await set?.stopAll();
  });

  it("both instances were initialized by their agent and are super read-only", async () => {
    assert.equal(primaryAgent!.initialization, "initialized");
    assert.equal(replicaAgent!.initialization, "initialized");
    const [[row]] = await r.query<RowDataPacket[]>("SELECT @@super_read_only AS s, @@gtid_executed AS g");
    assert.equal(Number(row!.s), 1);
    assert.equal(row!.g, "");
  });

  it("a read-only instance without replication is healthy but not ready; a writable primary is ready", async () => {
    assert.equal((await healthz(primaryAgent!)).status, 200);
    const before = await readyz(primaryAgent!);
    assert.equal(before.status, 500, before.body);
    assert.match(before.body, /not replicating/);
    await p.query("SET GLOBAL super_read_only=OFF");
    await p.query("SET GLOBAL read_only=OFF");
    const res = await readyz(primaryAgent!);
    assert.equal(res.status, 200, res.body);
  });

  it("a replica replicating as moco-repl is ready and exports its delay", async () => {
    await p.query("CREATE DATABASE app");
    await p.query("CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
    await p.query("INSERT INTO app.t VALUES (1, 0)");
    await r.query(
      "CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PORT=?, SOURCE_USER='moco-repl', SOURCE_PASSWORD=?, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1",
      [primary.host, primary.port, passwords.REPLICATION_PASSWORD]);
    await r.query("START REPLICA");
    // Ready may come before the first transaction is queued (no delay to export yet: the gauge
    // is unregistered then); once the primary's three transactions are queued it is exported.
    await eventually("replica ready with its delay exported", async () => {
      const res = await readyz(replicaAgent!);
      if (res.status !== 200) throw new Error(`last answer ${res.status} ${res.body.trim()}`);
      const metrics = await httpGet(`http://127.0.0.1:${replicaAgent!.metricsPort}/metrics`);
      assert.match(metrics.body, /^moco_instance_replication_delay_seconds\{name="test",index="1"\} [0-9.e-]+$/m);
      return metrics;
    }, 30_000);
    const primaryMetrics = await httpGet(`http://127.0.0.1:${primaryAgent!.metricsPort}/metrics`);
    assert.doesNotMatch(primaryMetrics.body, /replication_delay_seconds/, "a writable primary has no delay gauge");
  });

  it("stopping replication makes the replica unready; restarting makes it ready again", async () => {
    await r.query("STOP REPLICA");
    const res = await readyz(replicaAgent!);
    assert.equal(res.status, 503, res.body);
    assert.match(res.body, /not running/);
    await r.query("START REPLICA");
    await waitStatus(replicaAgent!, 200, "ready after START REPLICA");
  });

  it("an applier blocked beyond --max-delay makes the replica unready until it catches up", async () => {
    await p.query("UPDATE app.t SET v = v + 1 WHERE id = 1");
    await waitStatus(replicaAgent!, 200, "caught up");
    await sleep(MAX_DELAY_SECONDS * 1000 + 700);
    const blocker = await replica.connect();
    try {
      await blocker.query("FLUSH TABLES WITH READ LOCK");
      await p.query("UPDATE app.t SET v = v + 1 WHERE id = 1");
      const res = await waitStatus(replicaAgent!, 503, "unready while blocked");
      assert.match(res.body, /delay/);
      const metrics = await httpGet(`http://127.0.0.1:${replicaAgent!.metricsPort}/metrics`);
      const m = /^moco_instance_replication_delay_seconds\{[^}]*\} ([0-9.e+-]+)$/m.exec(metrics.body);
      assert.ok(m && Number(m[1]) >= MAX_DELAY_SECONDS, `delay gauge ${m?.[1]}`);
      await blocker.query("UNLOCK TABLES");
    } finally {
      await blocker.end();
    }
    await waitStatus(replicaAgent!, 200, "ready after unblocking");
    const [[row]] = await r.query<RowDataPacket[]>("SELECT v FROM app.t WHERE id = 1");
    assert.equal(Number(row!.v), 2);
  });

  it("a restarted replica with nothing queued is ready before --transaction-queueing-wait once it has every transaction of its source", async () => {
    // A second agent on the replica, with upstream's wait made long: only the source check can make it ready.
    const patient = await startAgent({
      flags: testAgentFlags(replica.socketPath, certs.serverDir, [`--max-delay=${MAX_DELAY_SECONDS}s`, "--transaction-queueing-wait=1h"]),
      env: agentEnv(passwords, 1),
      logger: silentLogger(),
      mysqldHost: replica.host,
      skipInitialization: true,
      defaultMetrics: false,
    });
    try {
      await r.end().catch(() => undefined);
      await replica.restart(); // performance_schema starts empty: nothing queued, uptime ~0
      r = await replica.connect();
      await r.query("SET GLOBAL super_read_only=ON"); // as the first-boot initialization left it (not persisted)
      await r.query("START REPLICA");
      const res = await waitStatus(patient, 200, "ready from the source check");
      assert.match(res.body, /every transaction of the source executed/);
      const [[st]] = await r.query<RowDataPacket[]>("SELECT UNIX_TIMESTAMP(MAX(LAST_QUEUED_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP)) AS q FROM performance_schema.replication_connection_status");
      assert.equal(Number(st!.q), 0, "nothing was queued since the restart");

      // The source cannot be checked (moco-agent locked there, not replicated): upstream's 503.
      await p.query("SET sql_log_bin=OFF");
      await p.query("ALTER USER 'moco-agent'@'%' ACCOUNT LOCK");
      try {
        const locked = await readyz(patient);
        assert.equal(locked.status, 503, locked.body);
        assert.match(locked.body, /no transaction queued yet \(source not checked: /);
        assert.ok(!locked.body.includes(passwords.AGENT_PASSWORD), "no password in the answer");
      } finally {
        await p.query("ALTER USER 'moco-agent'@'%' ACCOUNT UNLOCK");
        await p.query("SET sql_log_bin=ON");
      }
      assert.equal((await readyz(patient)).status, 200);

      // The replica misses a transaction of the source while its IO thread is stopped: not
      // ready; once it arrives it is queued and the delay rule decides.
      await r.query("STOP REPLICA IO_THREAD");
      await p.query("UPDATE app.t SET v = v + 1 WHERE id = 1");
      const stopped = await readyz(patient);
      assert.equal(stopped.status, 503, stopped.body);
      await r.query("START REPLICA IO_THREAD");
      const res2 = await waitStatus(patient, 200, "ready once the transaction arrived");
      assert.match(res2.body, /replicating/, "the transaction was queued: the delay rule decides");
    } finally {
      await patient.close();
    }
  });

  it("both probes fail while mysqld is down", async () => {
    await replica.stop();
    assert.equal((await healthz(replicaAgent!)).status, 503);
    assert.equal((await readyz(replicaAgent!)).status, 500);
    await replica.start();
    await eventually("healthy after restart", async () => ((await healthz(replicaAgent!)).status === 200 ? true : undefined));
  });
});
