// Self-fencing of the agent (docs/clustering.md "Self-fencing") on real mysqld 9.7: three
// instances driven by the clustering engine, a real moco-agent beside each mysqld (on its
// socket) with --self-fence-threshold=3s, a writer through the labelled primary and a sampler
// of every instance's read_only (WritableMonitor).
// - both replicas stopped (SIGSTOP) for 1.5 s, shorter than the threshold: nothing is fenced;
// - both replicas stopped for good: the primary's commits wait for acknowledgements, and after
//   the threshold the agent fences it (no client write accepted, super_read_only for the
//   observer), no acknowledged write lost; replicas back, the engine's pass makes it writable;
// - a partition of the primary (the engine cut off it, its replicas no longer receiving from
//   it, clients on its side still writing): the agent fences it before the engine fails over;
//   after the failover and the heal it is never writable again, and no acknowledged write is lost.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";

import mysql from "mysql2/promise";
import pino from "pino";

import { startAgent, type RunningAgent } from "../../../src/agent/agent.ts";
import { ClusterHarness, WritableMonitor, Writer, createTestTable, idsOn, sleep } from "../clustering/harness.ts";
import { agentEnv, agentTestCerts, testAgentFlags } from "./helpers.ts";

const NAME = "fence";
const THRESHOLD_S = 3;

describe("agent self-fencing (--self-fence-threshold)", () => {
  let h: ClusterHarness;
  const agents: RunningAgent[] = [];
  const agentLog: string[] = [];
  const stopped = new Set<number>();
  const resume = (i: number): void => {
    const pid = h.inst(i).pid();
    if (stopped.delete(i) && pid !== undefined) process.kill(pid, "SIGCONT");
  };
  const suspend = (i: number): void => {
    const pid = h.inst(i).pid();
    assert.ok(pid !== undefined, `mysqld ${i} has a pid`);
    process.kill(pid, "SIGSTOP");
    stopped.add(i);
  };
  const fences = async (i: number): Promise<number> => (await agents[i]!.metrics.selfFenceCount.get()).values[0]?.value ?? 0;
  /** A new client write as moco-writable on instance i: "ok", or the error. */
  const tryWrite = async (i: number, id: number): Promise<string> => {
    let conn: mysql.Connection | undefined;
    try {
      conn = await mysql.createConnection({ host: h.inst(i).host, port: 3306, user: "moco-writable", password: h.passwords.WRITABLE_PASSWORD, connectTimeout: 3000 });
      conn.on("error", () => undefined);
      await conn.query({ sql: "INSERT INTO test.t (id, via) VALUES (?, ?)", timeout: 3000 }, [id, i]);
      return "ok";
    } catch (e) {
      return (e as Error).message;
    } finally {
      conn?.destroy();
    }
  };

  /** A new Writer numbers its inserts from 1 again: start each test on an empty table. */
  const newWriter = async (): Promise<Writer> => {
    const p = h.labelledPrimary();
    assert.ok(p !== null);
    await h.query(p, "DELETE FROM test.t");
    return new Writer(h);
  };
  /** Waits for `n` more acknowledged inserts; on timeout says what the writer and the agents saw. */
  const moreAcks = async (writer: Writer, n: number, from = writer.acked.length): Promise<void> => {
    await h.waitFor(`${n} more acknowledged inserts`, () => writer.acked.length >= from + n, 30_000).catch(async (e: unknown) => {
      const v = await h.variables(0, ["read_only", "super_read_only", "offline_mode", "rpl_semi_sync_source_enabled"]).catch((x: unknown) => String(x));
      throw new Error(`${(e as Error).message}\nwriter errors: ${writer.errors.slice(-3).join(" | ")}\nfences: ${String(await Promise.all([0, 1, 2].map(fences)))}; instance 0: ${JSON.stringify(v)}\nagent log: ${agentLog.slice(-5).join("")}`);
    });
  };

  before(async () => {
    h = await ClusterHarness.start({ replicas: 3, name: NAME });
    h.startManager();
    await h.waitHealthy();
    await createTestTable(h);
    const certs = agentTestCerts();
    for (const inst of h.instances) {
      agents.push(await startAgent({
        flags: testAgentFlags(inst.socketPath, certs.serverDir, [`--self-fence-threshold=${THRESHOLD_S}s`]),
        env: agentEnv(h.passwords, inst.index, NAME),
        logger: pino({ level: "info" }, { write: (line: string) => void agentLog.push(`${inst.index} ${line}`) }),
        mysqldHost: inst.host,
        slowLogPath: `${inst.dir}/mysql.slow`,
        skipInitialization: true,
        defaultMetrics: false,
        credentialFile: null,
      }));
    }
    assert.ok(agents.every((a) => a.selfFence !== undefined), "every agent runs self-fencing");
  });
  after(async () => {
    for (const i of [...stopped]) resume(i);
    for (const a of agents) await a.close();
    await h?.close();
  });

  it("replicas stopped for less than the threshold: the primary is not fenced", async () => {
    const writer = await newWriter();
    writer.start();
    try {
      await moreAcks(writer, 100);
      suspend(1);
      suspend(2);
      await sleep(1_500);
      resume(1);
      resume(2);
      await moreAcks(writer, 100);
      // One more look of every agent after the pause.
      await sleep(2_000);
    } finally {
      await writer.stop();
    }
    assert.deepEqual(await Promise.all([0, 1, 2].map(fences)), [0, 0, 0]);
    assert.equal((await h.variables(0, ["read_only"])).read_only, "OFF");
    assert.equal(h.labelledPrimary(), 0);
    assert.deepEqual(agentLog.filter((l) => l.includes("self-fenc")), []);
  });

  it("replicas stopped for good: fenced after the threshold, no acknowledged write lost; replicas back, the engine makes it writable again", async () => {
    const writer = await newWriter();
    const monitor = new WritableMonitor(h);
    writer.start();
    monitor.start();
    let tStop = 0;
    let tFenced = 0;
    try {
      await moreAcks(writer, 100);
      tStop = Date.now();
      suspend(1);
      suspend(2);
      await h.waitFor("the primary's agent fenced it", async () => (await fences(0)) === 1, 30_000);
      tFenced = Date.now();
      const ackedAtFence = writer.acked.length;
      const v = await h.variables(0, ["read_only", "super_read_only", "offline_mode", "rpl_semi_sync_source_enabled"]);
      assert.deepEqual(v, { read_only: "ON", super_read_only: "ON", offline_mode: "OFF", rpl_semi_sync_source_enabled: "OFF" });
      assert.match(await tryWrite(0, 2_000_000_000), /--(super-)?read-only option/);
      await sleep(1_000);
      assert.equal(writer.acked.length, ackedAtFence, "no insert acknowledged while fenced");
      // Every acknowledged insert is on the (fenced) primary: nothing it acknowledged was undone.
      const ids = await idsOn(h, 0);
      assert.deepEqual(writer.acked.filter((id) => !ids.has(id)), []);
      console.log(`replicas stopped: primary fenced ${tFenced - tStop} ms after (threshold ${THRESHOLD_S} s, agent look every 1 s)`);
      resume(1);
      resume(2);
      h.nudge();
      await h.waitFor("acknowledged inserts on the primary again", () => writer.acked.length > ackedAtFence + 50, 60_000);
    } finally {
      resume(1);
      resume(2);
      await writer.stop();
      await monitor.stop();
    }
    assert.equal(h.labelledPrimary(), 0);
    assert.equal(await fences(0), 1);
    assert.equal((await h.variables(0, ["read_only"])).read_only, "OFF");
    assert.deepEqual(monitor.violations, []);
    assert.ok(agentLog.some((l) => l.startsWith("0 ") && l.includes("self-fenced")), "the fence is logged");
    const ids = await idsOn(h, 0);
    assert.deepEqual(writer.acked.filter((id) => !ids.has(id)), []);
    await h.waitHealthy();
  });

  it("partition of the primary: fenced before the failover; after the failover and the heal it is never writable again", async () => {
    const writer = await newWriter();
    const monitor = new WritableMonitor(h);
    const before = await fences(0);
    let tCut = 0;
    let tFenced = 0;
    let newPrimary = -1;
    writer.start();
    try {
      await moreAcks(writer, 100);
      monitor.start();
      tCut = Date.now();
      await h.cutFromEngine(0);
      await Promise.all([1, 2].map((i) => h.query(i, "STOP REPLICA IO_THREAD")));
      await h.waitFor("the old primary's agent fenced it", async () => (await fences(0)) === before + 1, 30_000);
      tFenced = Date.now();
      await h.waitFor("a new primary accepting writes", () => [...writer.firstAckOn.keys()].some((p) => p !== 0), 120_000);
      newPrimary = h.cluster.status.currentPrimaryIndex;
      const failover = h.events.find((e) => e.reason === "FailOver");
      const tWrite = writer.firstAckOn.get(newPrimary) ?? NaN;
      console.log(
        `partition of the primary: fenced by its agent +${tFenced - tCut} ms, FailOver event +${(failover?.at ?? NaN) - tCut} ms, ` +
          `new primary ${newPrimary} accepting writes +${tWrite - tCut} ms`,
      );
      assert.ok(failover !== undefined && failover.at > tFenced, "the agent fenced before the engine failed over");
      await moreAcks(writer, 100);
      h.healEngine(0);
      h.nudge();
      await h.waitFor(
        "the old primary rejoined or reported errant",
        () => (h.lastState() === "Healthy" && h.pods[0]?.role === "replica") || (h.cluster.status.errantReplicaList ?? []).includes(0),
        120_000,
      );
      await sleep(1_000);
    } finally {
      await monitor.stop();
      await writer.stop();
    }
    assert.notEqual(newPrimary, 0);
    assert.equal(h.labelledPrimary(), newPrimary);
    assert.deepEqual(monitor.violations, []);
    const seen = monitor.writableAt.map((t, i) => `${i}: ${t.length} samples, +${(t[0] ?? tCut) - tCut}..+${(t.at(-1) ?? tCut) - tCut} ms`);
    console.log(`writable samples by instance (from the cut): ${seen.join("; ")}`);
    assert.ok(monitor.samples > 10, "the instances were sampled");
    assert.ok((monitor.writableAt[newPrimary]?.length ?? 0) > 0, "the new primary was seen writable");
    assert.deepEqual((monitor.writableAt[0] ?? []).filter((t) => t > tFenced), [], "the old primary seen writable after its fence");
    assert.equal((await h.variables(0, ["super_read_only"])).super_read_only, "ON");
    const ids = await idsOn(h, newPrimary);
    assert.deepEqual(writer.acked.filter((id) => !ids.has(id)), [], "acknowledged inserts missing on the new primary");
  });
});
