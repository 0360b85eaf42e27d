// Self-fencing of the agent (docs/clustering.md "Self-fencing") on real mysqld 9.7: three
// instances driven by the clustering engine (its failover guard told the agents' timings), a
// real moco-agent beside each mysqld (on its socket) with --self-fence-threshold=3s, asking
// each other over their probe ports (a "cut" agent's requests, to it and from it, go to a
// listener that never answers), a writer through the labelled primary and a sampler of every
// instance's read_only every 100 ms (WritableMonitor).
// Active trigger (no client writing):
// - one replica of 3 stopped: the other one confirms, no fence;
// - the primary's agent cut from both peers for 1 s (below the threshold): no fence;
// - the primary's agent cut from both peers for good: fenced; the engine, which still sees both
//   replicas replicating from it, makes it writable again, and the agent, not armed while no
//   peer has confirmed since, does not fence it again (no loop); after the heal it is armed;
// - a partition of an idle primary (engine, its liveness watch and agents cut from it): fenced
//   by its agent; the watch's report starts the failover pass, the guard waits, then the new
//   primary is writable; never two writable, also after the heal.
// Passive trigger (a commit waiting for its acknowledgement):
// - both replicas stopped (SIGSTOP) for 1.5 s, shorter than the threshold: nothing is fenced;
// - both replicas stopped for good: the primary's commits wait for acknowledgements, and after
//   the threshold the agent fences it (no client write accepted, super_read_only for the
//   observer), no acknowledged write lost; replicas back, the engine's pass makes it writable;
// - a partition of the primary (the engine cut off it, its replicas no longer receiving from
//   it, clients on its side still writing): the agent fences it before the engine fails over
//   (the same watch → failover pass → guard → writable order);
//   after the failover and the heal it is never writable again, and no acknowledged write is lost.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";

import mysql from "mysql2/promise";
import pino from "pino";

import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

import { startAgent, type RunningAgent } from "../../../src/agent/agent.ts";
import { DEFAULT_SELF_FENCE_TIMINGS, SELF_FENCE_CONFIRMATION_TTL_MS, SELF_FENCE_PROBE_INTERVAL_MS, selfFenceBoundMs } from "../../../src/mysql/self-fence.ts";
import { ClusterHarness, WritableMonitor, Writer, assertFailoverOrder, createTestTable, engineLog, idsOn, sleep } from "../clustering/harness.ts";
import { agentEnv, agentTestCerts, testAgentFlags } from "./helpers.ts";

const NAME = "fence";
/**
 * 3 s unless SELF_FENCE_THRESHOLD_S says otherwise (a measurement at the shipped 2 s:
 * docs/clustering.md "Where a partition's client write gap goes"); every assertion uses it,
 * but at 2 s the passive-trigger test's read right after the fence can race the engine's
 * pass undoing it (seen once in 4 runs).
 */
const THRESHOLD_S = Number(process.env["SELF_FENCE_THRESHOLD_S"] ?? 3);
assert.ok(
  THRESHOLD_S * 1000 + SELF_FENCE_CONFIRMATION_TTL_MS >= 2_500,
  "SELF_FENCE_THRESHOLD_S: the 1.5 s pauses below must stay 1 s under the silence a fence needs (threshold + confirmation TTL)",
);
/** The engine's guard relies on the agents' timings: here their threshold is 3 s. */
const TIMINGS = { ...DEFAULT_SELF_FENCE_TIMINGS, thresholdMs: THRESHOLD_S * 1000 };

describe("agent self-fencing (--self-fence-threshold)", () => {
  let h: ClusterHarness;
  const agents: RunningAgent[] = [];
  const agentLog: string[] = [];
  /** Agents cut from the others: requests to and from them go to `silent`. */
  const agentCut = new Set<number>();
  const held = new Set<net.Socket>();
  const silent = net.createServer((sock) => {
    held.add(sock);
    sock.on("close", () => held.delete(sock));
  });
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
  const primaryNow = (): number => {
    const p = h.labelledPrimary();
    assert.ok(p !== null, "a labelled primary");
    return p;
  };
  const othersOf = (p: number): [number, number] => [0, 1, 2].filter((i) => i !== p) as [number, number];
  let logMark = 0;
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

  const log = engineLog();
  /**
   * The engine restarted with regular passes only every minute (the liveness watch at its
   * default interval), so that a failover within the test is the watch's; returns the pass count
   * at the restart. `regularPasses` puts the 2 s interval back.
   */
  const watchOnly = async (): Promise<number> => {
    await h.stopManager();
    const passesBefore = h.passes.length;
    h.startManager({ checkIntervalMs: 60_000 });
    const p = primaryNow();
    await h.waitFor("the restarted engine's first pass watching the primary", () => h.passes.slice(passesBefore).some((r) => r.watched === p), 30_000);
    // A check or two on the kept connection before the cut.
    await sleep(1_500);
    return passesBefore;
  };
  const regularPasses = async (): Promise<void> => {
    await h.stopManager();
    h.startManager();
  };
  /** Back to the regular passes, the engine's cut of `p` (and `healMore`) healed: `p` rejoins (cloned over what only it had, if anything). */
  const healAndRejoin = async (p: number, healMore: () => void = () => undefined): Promise<void> => {
    await regularPasses();
    h.healEngine(p);
    healMore();
    h.nudge();
    await h.waitRejoined(p, 150_000);
    await sleep(1_000);
  };

  before(async () => {
    // A 1 s connect timeout: the engine notices an unreachable primary sooner than its agent can
    // fence it (~5 s here), so only the failover guard keeps the new primary read-only until then.
    h = await ClusterHarness.start({ replicas: 3, name: NAME, manager: { connectTimeoutMs: 1_000, act: { selfFence: TIMINGS }, logger: log.logger } });
    h.startManager();
    await h.waitHealthy();
    await createTestTable(h);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const certs = agentTestCerts();
    for (const inst of h.instances) {
      const k = inst.index;
      agents.push(await startAgent({
        flags: testAgentFlags(inst.socketPath, certs.serverDir, [`--self-fence-threshold=${THRESHOLD_S}s`]),
        selfFencePeerAddress: (i) => (agentCut.has(k) || agentCut.has(i) ? { host: "127.0.0.1", port: silentPort } : { host: "127.0.0.1", port: agents[i]?.probePort ?? silentPort }),
        selfFenceHosts: [inst.host],
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
    for (const sock of held) sock.destroy();
    silent.close();
    await h?.close();
  });

  /** Time for the agent to be sure to have fenced if it would: the confirmation TTL, the threshold and a few looks. */
  const FENCE_WINDOW_MS = SELF_FENCE_CONFIRMATION_TTL_MS + THRESHOLD_S * 1000 + 2_000;
  const readOnly = async (i: number): Promise<string> => (await h.variables(i, ["read_only"])).read_only ?? "?";

  it("idle primary, one replica of 3 stopped: the other one confirms, no fence", async () => {
    const before = await fences(0);
    await sleep(1_000);
    suspend(2);
    try {
      await sleep(FENCE_WINDOW_MS);
      assert.equal(await fences(0), before, `agent log: ${agentLog.slice(-5).join("")}`);
      assert.equal(await readOnly(0), "OFF");
    } finally {
      resume(2);
    }
    h.nudge();
    await h.waitHealthy();
  });

  it("idle primary cut from both peers' agents for 1 s (below the threshold): no fence", async () => {
    const before = await fences(0);
    agentCut.add(0);
    await sleep(1_000);
    agentCut.delete(0);
    await sleep(FENCE_WINDOW_MS);
    assert.equal(await fences(0), before);
    assert.equal(await readOnly(0), "OFF");
  });

  it("idle primary cut from both peers' agents: fenced; made writable again by the engine, not fenced again while never confirmed (no loop)", async () => {
    const before = await fences(0);
    const tCut = Date.now();
    agentCut.add(0);
    try {
      await h.waitFor("the idle primary's agent fenced it", async () => (await fences(0)) === before + 1, 30_000);
      const tFenced = Date.now();
      console.log(`idle primary cut from its peers' agents: fenced ${tFenced - tCut} ms after the cut (threshold ${THRESHOLD_S} s, confirmation TTL ${SELF_FENCE_CONFIRMATION_TTL_MS} ms, look every ${SELF_FENCE_PROBE_INTERVAL_MS} ms)`);
      assert.ok(tFenced - tCut >= THRESHOLD_S * 1000, "not before the threshold");
      assert.ok(agentLog.some((l) => l.startsWith("0 ") && /0 of the 1 needed peers confirm/.test(l)), "the reason is logged");
      // The engine still sees both replicas replicating from it: it makes it writable again.
      h.nudge();
      await h.waitFor("the engine made the primary writable again", async () => (await readOnly(0)) === "OFF", 60_000);
      await sleep(FENCE_WINDOW_MS);
      assert.equal(await fences(0), before + 1, "fenced again although no peer ever confirmed since (not armed)");
      assert.equal(await readOnly(0), "OFF");
    } finally {
      agentCut.delete(0);
    }
    // Healed: armed again, a later cut fences (the next tests rely on a healthy primary 0).
    await sleep(1_000);
    assert.equal(await fences(0), before + 1);
    await h.waitHealthy();
  });

  it("partition of an idle primary: fenced by its agent; the new primary writable only after the guard; never two writable, also after the heal", async () => {
    const p = 0;
    const before = await fences(p);
    const passesBefore = await watchOnly();
    const monitor = new WritableMonitor(h);
    monitor.start();
    await sleep(500);
    const tCut = Date.now();
    let tFenced = 0;
    let newPrimary = -1;
    try {
      agentCut.add(p);
      await h.cutFromEngine(p);
      await h.waitFor("the old primary's agent fenced it", async () => (await fences(p)) === before + 1, 30_000);
      tFenced = Date.now();
      await h.waitFor("a FailOver", () => h.events.some((e) => e.reason === "FailOver" && e.at > tCut), 120_000);
      newPrimary = h.cluster.status.currentPrimaryIndex;
      await h.waitFor("the new primary writable", () => (monitor.writableAt[newPrimary] ?? []).some((t) => t > tCut), 60_000);
      const failover = h.events.find((e) => e.reason === "FailOver" && e.at > tCut);
      const tWritable = (monitor.writableAt[newPrimary] ?? []).find((t) => t > tCut) ?? NaN;
      console.log(
        `partition of an idle primary: fenced by its agent +${tFenced - tCut} ms, FailOver +${(failover?.at ?? NaN) - tCut} ms ` +
          `(the guard's bound ${selfFenceBoundMs(TIMINGS)} ms after the IO threads stopped), new primary ${newPrimary} writable +${tWritable - tCut} ms`,
      );
      assert.ok(tWritable > tFenced, "the new primary was writable before the old one fenced itself");
      console.log(`  ${assertFailoverOrder(h, log, { from: p, tCut, passesBefore, writableAt: tWritable })}`);
      await healAndRejoin(p, () => agentCut.delete(p));
    } finally {
      agentCut.delete(p);
      await monitor.stop();
      await regularPasses();
    }
    assert.notEqual(newPrimary, p);
    assert.deepEqual(monitor.violations, []);
    assert.ok(monitor.samples > 10, "the instances were sampled");
    assert.deepEqual((monitor.writableAt[p] ?? []).filter((t) => t > tFenced), [], "the old primary seen writable after its fence");
    const seen = monitor.writableAt.map((t, i) => `${i}: ${t.filter((x) => x > tCut).length} samples`);
    console.log(`writable samples by instance (from the cut): ${seen.join("; ")}`);
    await h.waitHealthy();
  });

  it("moco-admin's password comes from moco-admin-my.cnf (rotated), not the stale environment", async () => {
    const inst = h.instances[primaryNow() === 2 ? 1 : 2]!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "af-cnf-"));
    const cnf = path.join(dir, "moco-admin-my.cnf");
    const start = (env: string) => startAgent({
      flags: testAgentFlags(inst.socketPath, agentTestCerts().serverDir, [`--self-fence-threshold=${THRESHOLD_S}s`]),
      env: { ...agentEnv(h.passwords, inst.index, NAME), passwords: { ...h.passwords, ADMIN_PASSWORD: env } },
      logger: pino({ level: "silent" }),
      mysqldHost: inst.host,
      slowLogPath: `${inst.dir}/mysql.slow`,
      skipInitialization: true,
      defaultMetrics: false,
      credentialFile: path.join(dir, "moco-agent-my.cnf"),
      selfFenceIntervalMs: 3_600_000,
    });
    fs.writeFileSync(cnf, `[client]\nuser="moco-admin"\npassword=${JSON.stringify(h.passwords.ADMIN_PASSWORD)}\n`);
    const a = await start("stale-password-before-rotation");
    try {
      assert.match((await a.selfFence!.check()).reason, /read-only/, "the file's password logs in");
    } finally {
      await a.close();
    }
    fs.writeFileSync(cnf, `[client]\nuser="moco-admin"\npassword="not-it-either"\n`);
    const b = await start("stale-password-before-rotation");
    try {
      await assert.rejects(b.selfFence!.check(), /Access denied/);
    } finally {
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("replicas stopped for less than the threshold: the primary is not fenced", async () => {
    const p = primaryNow();
    const [r1, r2] = othersOf(p);
    const before = await fences(p);
    logMark = agentLog.length;
    const writer = await newWriter();
    writer.start();
    try {
      await moreAcks(writer, 100);
      suspend(r1);
      suspend(r2);
      await sleep(1_500);
      resume(r1);
      resume(r2);
      await moreAcks(writer, 100);
      // One more look of every agent after the pause.
      await sleep(2_000);
    } finally {
      await writer.stop();
    }
    assert.equal(await fences(p), before);
    assert.equal((await h.variables(p, ["read_only"])).read_only, "OFF");
    assert.equal(h.labelledPrimary(), p);
    assert.deepEqual(agentLog.slice(logMark).filter((l) => l.includes("self-fenc")), []);
  });

  it("replicas stopped for good: fenced after the threshold, no acknowledged write lost; replicas back, the engine makes it writable again", async () => {
    const p = primaryNow();
    const [r1, r2] = othersOf(p);
    const before = await fences(p);
    const writer = await newWriter();
    const monitor = new WritableMonitor(h);
    writer.start();
    monitor.start();
    let tStop = 0;
    let tFenced = 0;
    try {
      await moreAcks(writer, 100);
      tStop = Date.now();
      suspend(r1);
      suspend(r2);
      await h.waitFor("the primary's agent fenced it", async () => (await fences(p)) === before + 1, 30_000);
      tFenced = Date.now();
      const ackedAtFence = writer.acked.length;
      // Not rpl_semi_sync_source_enabled: the fence turns it OFF, but the engine's next pass
      // configures the still-elected primary's semi-sync again (read-only), which can come
      // before this read (seen in 1 of 4 runs); the read-only state is what the fence promises.
      const v = await h.variables(p, ["read_only", "super_read_only", "offline_mode"]);
      assert.deepEqual(v, { read_only: "ON", super_read_only: "ON", offline_mode: "OFF" });
      assert.match(await tryWrite(p, 2_000_000_000), /--(super-)?read-only option/);
      await sleep(1_000);
      assert.equal(writer.acked.length, ackedAtFence, "no insert acknowledged while fenced");
      // Every acknowledged insert is on the (fenced) primary: nothing it acknowledged was undone.
      const ids = await idsOn(h, p);
      assert.deepEqual(writer.acked.filter((id) => !ids.has(id)), []);
      console.log(`replicas stopped: primary fenced ${tFenced - tStop} ms after (threshold ${THRESHOLD_S} s, agent look every ${SELF_FENCE_PROBE_INTERVAL_MS} ms)`);
      resume(r1);
      resume(r2);
      h.nudge();
      await h.waitFor("acknowledged inserts on the primary again", () => writer.acked.length > ackedAtFence + 50, 60_000);
    } finally {
      resume(r1);
      resume(r2);
      await writer.stop();
      await monitor.stop();
    }
    assert.equal(h.labelledPrimary(), p);
    assert.equal(await fences(p), before + 1);
    assert.equal((await h.variables(p, ["read_only"])).read_only, "OFF");
    assert.deepEqual(monitor.violations, []);
    assert.ok(agentLog.some((l) => l.startsWith(`${p} `) && l.includes("self-fenced")), "the fence is logged");
    const ids = await idsOn(h, p);
    assert.deepEqual(writer.acked.filter((id) => !ids.has(id)), []);
    await h.waitHealthy();
  });

  it("partition of the primary: fenced before the failover; after the failover and the heal it is never writable again", async () => {
    const p = primaryNow();
    const writer = await newWriter();
    const monitor = new WritableMonitor(h);
    const before = await fences(p);
    let tCut = 0;
    let tFenced = 0;
    let newPrimary = -1;
    const passesBefore = await watchOnly();
    writer.start();
    try {
      await moreAcks(writer, 100);
      monitor.start();
      tCut = Date.now();
      await h.cutFromEngine(p);
      await Promise.all(othersOf(p).map((i) => h.query(i, "STOP REPLICA IO_THREAD")));
      await h.waitFor("the old primary's agent fenced it", async () => (await fences(p)) === before + 1, 30_000);
      tFenced = Date.now();
      await h.waitFor("a new primary accepting writes", () => [...writer.firstAckOn.keys()].some((q) => q !== p), 120_000).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}\nlast engine logs:\n${log.logs.filter((l) => !l.includes(" debug ")).slice(-25).join("\n")}`);
      });
      newPrimary = h.cluster.status.currentPrimaryIndex;
      const failover = h.events.find((e) => e.reason === "FailOver" && e.at > tCut);
      const tWrite = writer.firstAckOn.get(newPrimary) ?? NaN;
      console.log(
        `partition of the primary: fenced by its agent +${tFenced - tCut} ms, FailOver event +${(failover?.at ?? NaN) - tCut} ms, ` +
          `new primary ${newPrimary} accepting writes +${tWrite - tCut} ms`,
      );
      assert.ok(failover !== undefined && failover.at > tFenced, "the agent fenced before the engine failed over");
      await h.waitFor("the new primary seen writable", () => (monitor.writableAt[newPrimary]?.length ?? 0) > 0, 30_000);
      console.log(`  ${assertFailoverOrder(h, log, { from: p, tCut, passesBefore, writableAt: monitor.writableAt[newPrimary]?.[0] ?? NaN })}`);
      await moreAcks(writer, 100);
      await healAndRejoin(p);
    } finally {
      await monitor.stop();
      await writer.stop();
      await regularPasses();
    }
    assert.notEqual(newPrimary, p);
    assert.equal(h.labelledPrimary(), newPrimary);
    assert.deepEqual(monitor.violations, []);
    const seen = monitor.writableAt.map((t, i) => `${i}: ${t.length} samples, +${(t[0] ?? tCut) - tCut}..+${(t.at(-1) ?? tCut) - tCut} ms`);
    console.log(`writable samples by instance (from the cut): ${seen.join("; ")}`);
    assert.ok(monitor.samples > 10, "the instances were sampled");
    assert.ok((monitor.writableAt[newPrimary]?.length ?? 0) > 0, "the new primary was seen writable");
    assert.deepEqual((monitor.writableAt[p] ?? []).filter((t) => t > tFenced), [], "the old primary seen writable after its fence");
    assert.equal((await h.variables(p, ["super_read_only"])).super_read_only, "ON");
    const ids = await idsOn(h, newPrimary);
    assert.deepEqual(writer.acked.filter((id) => !ids.has(id)), [], "acknowledged inserts missing on the new primary");
  });
});
