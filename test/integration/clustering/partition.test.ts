// Failover from an unresponsive primary on real mysqld 9.7: SIGSTOP the primary's mysqld
// (it stays alive; new connections complete the TCP handshake and then hang, existing
// ones hang: the timeout path of a network partition or a lost node) while a writer
// inserts through the instance labelled primary. A replica is promoted, no acknowledged
// insert is lost, only one survivor is ever writable, and after SIGCONT the old primary
// acknowledges no write, is held out (hang-up guard) and fenced (super_read_only, without a
// restart); restarted, it rejoins as a replica (cloned over a transaction only it kept). The first scenario
// runs without the liveness watch (the passes' own tries notice), the second with it and a
// 60 s check interval, so only the watch can start the failover (issue #14).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";

import mysql from "mysql2/promise";

import { ClusterHarness, Writer, assertFailoverOrder, createTestTable, engineLog, idsOn } from "./harness.ts";
import { DEFAULT_PRIMARY_WATCH_INTERVAL_MS } from "../../../src/clustering/watch.ts";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Samples read_only of `survivors` every 50 ms; `stop()` returns the samples with more than
 * one writable; `firstWritableAt` is when a survivor was first seen writable.
 */
function sampleWritable(h: ClusterHarness, survivors: readonly number[]): { stop(): Promise<string[]>; readonly firstWritableAt: number | undefined } {
  let sampling = true;
  let firstWritableAt: number | undefined;
  const violations: string[] = [];
  const loop = (async () => {
    while (sampling) {
      const ro = await Promise.all(
        survivors.map(async (i) => (await h.variables(i, ["read_only"]).catch(() => ({ read_only: "?" }))).read_only),
      );
      const writable = survivors.filter((_, k) => ro[k] === "OFF");
      if (writable.length > 0) firstWritableAt ??= Date.now();
      if (writable.length > 1) violations.push(`writable at once: ${writable.join(",")}`);
      await sleep(50);
    }
  })();
  return {
    async stop() {
      sampling = false;
      await loop;
      return violations;
    },
    get firstWritableAt() {
      return firstWritableAt;
    },
  };
}

/**
 * One failover to a survivor, never two writable survivors, no acknowledged insert missing
 * on the new primary, nothing on the other survivor that the new primary lacks.
 */
async function assertFailedOverSafely(h: ClusterHarness, writer: Writer, newPrimary: number, violations: readonly string[]): Promise<void> {
  assert.notEqual(newPrimary, 0);
  assert.equal(h.labelledPrimary(), newPrimary);
  assert.deepEqual(violations, []);
  assert.equal(h.events.filter((e) => e.reason === "FailOver").length, 1);
  assert.equal(h.events.filter((e) => e.reason === "FailOverFailed").length, 0);
  const ids = await idsOn(h, newPrimary);
  const missing = writer.acked.filter((id) => !ids.has(id));
  assert.deepEqual(missing, [], "acknowledged inserts missing on the new primary");
  const other = newPrimary === 1 ? 2 : 1;
  const extra = [...(await idsOn(h, other))].filter((id) => !ids.has(id));
  assert.deepEqual(extra, [], `instance ${other} has rows the new primary lacks`);
}

/** When the engine logged the start of pass `opId` (tryLog's timestamps). */
function passStartedAt(logs: readonly string[], opId: string): number {
  const line = logs.find((l) => l.includes(" info start a pass ") && l.includes(`"op":"${opId}"`));
  assert.ok(line !== undefined, `the start of pass ${opId} is logged`);
  return Number(line.slice(0, line.indexOf(" ")));
}

/** When the engine logged the start of the first pass after `t` (Infinity: none yet). */
function passStartedAfter(logs: readonly string[], t: number): number {
  const starts = logs.filter((l) => l.includes(" info start a pass ")).map((l) => Number(l.slice(0, l.indexOf(" "))));
  return starts.find((at) => at > t) ?? Infinity;
}

describe("failover from a SIGSTOPped (unresponsive) primary", () => {
  let h: ClusterHarness;
  let stoppedPid: number | undefined;
  const { logger, logs, fetchFailures, fetchSequence, guards } = engineLog();
  const resume = (): void => {
    if (stoppedPid === undefined) return;
    try {
      process.kill(stoppedPid, "SIGCONT");
    } catch {
      // already gone
    }
    stoppedPid = undefined;
  };
  before(async () => {
    // Without the liveness watch: the passes' own (hedged) tries notice the stopped primary.
    h = await ClusterHarness.start({ replicas: 3, name: "part3", manager: { logger, primaryWatchIntervalMs: 0 } });
    h.startManager();
    await h.waitHealthy();
    await createTestTable(h);
  });
  after(async () => {
    // A stopped mysqld would ignore the SIGTERM of close(): resume it first, always.
    resume();
    await h?.inst(0).kill();
    await h?.close();
  });

  let newPrimary = -1;

  it("promotes a replica, loses no acknowledged insert, never has two writable survivors", async () => {
    const writer = new Writer(h);
    writer.start();
    // Survivors only: the stopped instance cannot answer (and cannot commit) while stopped.
    const sampler = sampleWritable(h, [1, 2]);
    let violations: string[] = [];
    try {
      await h.waitFor("200 acknowledged inserts", () => writer.acked.length >= 200, 30_000);
      const pid = h.inst(0).pid();
      assert.ok(pid !== undefined, "primary mysqld has a pid");
      const tStop = Date.now();
      fetchSequence.push("SIGSTOP");
      process.kill(pid, "SIGSTOP");
      stoppedPid = pid;
      const ackedBeforeStop = writer.acked.length;
      await h.waitFor("a new primary accepting writes", () => [...writer.firstAckOn.keys()].some((p) => p !== 0), 150_000).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}\nlast engine logs:\n${logs.filter((l) => !l.includes(" debug ")).slice(-25).join("\n")}`);
      });
      newPrimary = h.cluster.status.currentPrimaryIndex;
      const tWrite = [...writer.firstAckOn.entries()].find(([p]) => p !== 0)?.[1] ?? NaN;
      const failoverEvent = h.events.find((e) => e.reason === "FailOver");
      console.log(
        `SIGSTOP of the primary: FailOver event ${(failoverEvent?.at ?? NaN) - tStop} ms, ` +
          `new primary ${newPrimary} writable (sampled) ${(sampler.firstWritableAt ?? NaN) - tStop} ms, accepting writes ${tWrite - tStop} ms after SIGSTOP ` +
          `(no watch, check interval 2 s, fetch retry gap 300 ms, other timings at their defaults)`,
      );
      // The guard: no agent here (no probe records), so it waits its full bound from the IO
      // threads' stop, and the new primary takes writes only after that.
      const guard = guards.find((g) => g.at >= tStop);
      assert.ok(guard !== undefined && guard.waitMs > 0, "the failover waited for the old primary's self-fence");
      console.log(`  failover guard: from +${guard.at - tStop} ms, ${guard.waitMs} ms (${guard.msg})`);
      assert.ok(tWrite >= guard.at + guard.waitMs, "the new primary took writes before the guard's end");
      for (const f of fetchFailures.filter((x) => x.at >= tStop && x.at <= tWrite)) {
        console.log(`  +${f.at - tStop} ms: instance ${f.instance} try ${f.attempt} failed: ${f.error}`);
      }
      // Hedged tries: the noticing pass's three tries of the stopped instance overlapped (each
      // hangs until its connect timeout): the third try started before the first one failed.
      const noticing = fetchFailures.filter((x) => x.at >= tStop && x.instance === 0 && x.at <= (failoverEvent?.at ?? NaN));
      assert.deepEqual(noticing.map((x) => x.attempt).sort(), [1, 2, 3]);
      const stopAt = fetchSequence.indexOf("SIGSTOP");
      const firstFail = fetchSequence.indexOf("fail 0/1", stopAt);
      const thirdStart = fetchSequence.indexOf("start 0/3", stopAt);
      assert.ok(stopAt >= 0 && firstFail > stopAt && thirdStart > stopAt && thirdStart < firstFail,
        `the tries overlapped: ${fetchSequence.slice(stopAt, stopAt + 30).join(", ")}`);
      // Memo: the configure pass after the failover did not try the stopped (now non-primary)
      // instance at all before it made the new primary writable.
      const after = fetchFailures.filter((x) => x.instance === 0 && x.at > (failoverEvent?.at ?? NaN) && x.at <= tWrite);
      assert.deepEqual(after, [], "tries of the stopped instance before the new primary took writes");
      await h.waitFor("200 more acknowledged inserts", () => writer.acked.length >= ackedBeforeStop + 200, 30_000);
    } finally {
      await writer.stop();
      violations = await sampler.stop();
    }

    await assertFailedOverSafely(h, writer, newPrimary, violations);
  });

  it("after SIGCONT the old primary acknowledges no write, is held out as hung up and fenced (super_read_only), and rejoins after a restart", async () => {
    resume();
    // A client still pointed at the old primary (a stale Service endpoint) gets no acknowledgement:
    // the replicas now follow the new primary, so its commit waits for a semi-sync ack forever.
    const conn = await mysql.createConnection({
      host: h.inst(0).host,
      port: 3306,
      user: "moco-writable",
      password: h.passwords.WRITABLE_PASSWORD,
      connectTimeout: 5000,
    });
    conn.on("error", () => undefined);
    try {
      await assert.rejects(conn.query({ sql: "INSERT INTO test.t (id, via) VALUES (?, 0)", timeout: 3000 }, [1_000_000_000]));
    } finally {
      conn.destroy();
    }
    // Fenced without a restart (issue #13): with commits waiting for acks that never come, it is
    // dropped by the hang-up guard, but a writable one is made super_read_only (fenceHungUp:
    // offline_mode, kill, semi-sync source off, super_read_only) at the first pass that reaches it.
    h.nudge();
    // The fence kills every session on the instance, this probe's own included: a lost
    // connection is "not yet", the next probe asks again.
    await h.waitFor("the old primary fenced (super_read_only ON) before any restart", async () =>
      (await h.variables(0, ["super_read_only"]).catch(() => undefined))?.super_read_only === "ON", 60_000);
    assert.notEqual(h.pods[0]?.role, "primary");
    assert.equal(h.labelledPrimary(), newPrimary);
    assert.equal(h.cluster.status.currentPrimaryIndex, newPrimary);
    assert.equal(h.condition("Available")?.status, "True");
    assert.equal((await h.variables(newPrimary, ["read_only"])).read_only, "OFF");
    // Restarted (what its Pod's restart does), it comes up read-only and rejoins; when it kept
    // a transaction nobody acknowledged (errant), the engine clones it over that first
    // (docs/clustering.md "Errant former primary"), and that row is gone from it.
    const since = Date.now();
    await h.inst(0).kill();
    await h.inst(0).start();
    h.nudge();
    const { recloned } = await h.waitRejoined(0, 150_000, since).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\nlast engine logs:\n${logs.slice(-12).join("\n")}`);
    });
    assert.equal(h.labelledPrimary(), newPrimary);
    assert.equal((await h.variables(0, ["super_read_only"])).super_read_only, "ON");
    const [rs] = await h.query(0, "SHOW REPLICA STATUS");
    assert.equal(rs?.Source_Host, h.inst(newPrimary).host);
    if (recloned) assert.equal((await idsOn(h, 0)).has(1_000_000_000), false, "the unacknowledged row went with the clone");
  });
});

describe("failover from a SIGSTOPped primary, started by the liveness watch", () => {
  const CHECK_INTERVAL_MS = 60_000;
  let h: ClusterHarness;
  let stoppedPid: number | undefined;
  const log = engineLog();
  const { logger, logs, fetchStarts } = log;
  const checks: { at: number; ordinal: number; result: string }[] = [];
  before(async () => {
    // Pod readiness as the controller sees it (the kubelet's last probe, from a cache): a hung
    // instance's readiness probe does not delay the passes.
    h = await ClusterHarness.start({ replicas: 3, name: "part3w", readinessWaitMs: 100, manager: { logger, primaryWatch: { onCheck: (_k, ordinal, result) => void checks.push({ at: Date.now(), ordinal, result }) } } });
    h.startManager();
    await h.waitHealthy();
    await createTestTable(h);
    // From here on a regular pass runs only every 60 s: a failover sooner is the watch's.
    await h.stopManager();
    const passesBefore = h.passes.length;
    h.startManager({ checkIntervalMs: CHECK_INTERVAL_MS });
    await h.waitFor("the restarted engine's first pass watching the primary", () => h.passes.slice(passesBefore).some((p) => p.watched === 0), 30_000);
    await h.waitFor("the watch's first answered check", () => checks.some((c) => c.result === "ok"), 10_000);
  });
  after(async () => {
    if (stoppedPid !== undefined) {
      try {
        process.kill(stoppedPid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    await h?.inst(0).kill();
    await h?.close();
  });

  it("fails over before the next regular pass could run, with one short try of the stopped primary and none after", async () => {
    const writer = new Writer(h);
    writer.start();
    const sampler = sampleWritable(h, [1, 2]);
    let violations: string[] = [];
    let newPrimary = -1;
    try {
      await h.waitFor("200 acknowledged inserts", () => writer.acked.length >= 200, 30_000);
      const pid = h.inst(0).pid();
      assert.ok(pid !== undefined, "primary mysqld has a pid");
      const passesBefore = h.passes.length;
      const tStop = Date.now();
      process.kill(pid, "SIGSTOP");
      stoppedPid = pid;
      const ackedBeforeStop = writer.acked.length;
      // Less than the check interval: only the watch can have started the failover in time.
      await h.waitFor("a new primary accepting writes", () => [...writer.firstAckOn.keys()].some((p) => p !== 0), CHECK_INTERVAL_MS - 10_000)
        .catch((e: unknown) => {
          throw new Error(`${(e as Error).message}\nlast engine logs:\n${logs.slice(-12).join("\n")}`);
        });
      newPrimary = h.cluster.status.currentPrimaryIndex;
      const tWrite = [...writer.firstAckOn.entries()].find(([p]) => p !== 0)?.[1] ?? NaN;
      const failoverEvent = h.events.find((e) => e.reason === "FailOver");
      assert.ok(failoverEvent !== undefined, "a FailOver event");
      const failed = checks.filter((c) => c.at >= tStop && c.ordinal === 0 && c.result !== "ok");
      // The writer's insert on the stopped primary hangs until its own 5 s statement timeout,
      // so its first acknowledgement on the new primary comes no sooner than that.
      console.log(
        `SIGSTOP of the primary with the watch (${DEFAULT_PRIMARY_WATCH_INTERVAL_MS} ms): 2nd failed check +${(failed[1]?.at ?? NaN) - tStop} ms, ` +
          `FailOver event +${failoverEvent.at - tStop} ms, new primary ${newPrimary} writable (read_only OFF, sampled every 50 ms) ` +
          `+${(sampler.firstWritableAt ?? NaN) - tStop} ms, the writer's first acknowledgement there +${tWrite - tStop} ms ` +
          `(check interval 60 s, fetch retry gap 300 ms, other timings at their defaults)`,
      );
      for (const line of logs) {
        const at = Number(line.slice(0, line.indexOf(" ")));
        if (at >= tStop && at <= (sampler.firstWritableAt ?? tWrite)) console.log(`  +${at - tStop} ms ${line.slice(line.indexOf(" ") + 1, 200)}`);
      }

      // Causality: the watch's report (two silent checks) → its failover pass → the guard's
      // wait (no agents here, so no probe records: its full bound from the IO threads' stop)
      // → FailOver → the new primary writable.
      // The writer's acknowledgement can come before the sampler's next look.
      await h.waitFor("the sampler saw a survivor writable", () => sampler.firstWritableAt !== undefined, 10_000);
      console.log(`  ${assertFailoverOrder(h, log, { from: 0, tCut: tStop, passesBefore, writableAt: sampler.firstWritableAt ?? NaN })}`);
      const after = h.passes.slice(passesBefore);
      const failoverPass = after.find((p) => p.operation?.kind === "failover");
      assert.ok(failoverPass !== undefined, `a failover pass among ${after.map((p) => `${p.origin}:${p.operation?.kind ?? "-"}`).join(", ")}`);
      assert.equal(failoverPass.origin, "watch");
      assert.deepEqual(after.slice(0, after.indexOf(failoverPass)).filter((p) => p.origin === "interval"), [], "no regular pass before the failover");
      assert.deepEqual(failed.slice(0, 2).map((c) => c.result), ["silent", "silent"]);
      // The noticing pass gave the primary the watch saw silent one short try, not the full retries.
      assert.deepEqual(failoverPass.hinted, [0]);
      assert.deepEqual(failoverPass.unreachable, [0]);
      const triesOf0 = fetchStarts.filter((x) => x.instance === 0 && x.at >= tStop && x.at <= failoverEvent.at);
      // The configure pass after the failover remembered the old primary and did not try it
      // before the new primary took writes.
      const failoverIdx = after.indexOf(failoverPass);
      const configure = after[failoverIdx + 1];
      assert.ok(configure !== undefined, "a pass after the failover");
      assert.deepEqual(configure.hinted, [0]);
      assert.equal(configure.operation?.kind, "configure");
      assert.deepEqual(configure.unreachable, [], "the configure pass did not try the old primary");
      assert.deepEqual(triesOf0.map((x) => x.attempt), [1], "one try of the stopped primary before the failover");
      // Until the pass after the configure pass starts (the configure pass made the new primary writable).
      const nextStart = passStartedAfter(logs, passStartedAt(logs, configure.opId));
      assert.deepEqual(fetchStarts.filter((x) => x.instance === 0 && x.at > failoverEvent.at && x.at < nextStart), [], "no try of the old primary in the configure pass");
      // The watch follows the new primary after the configure pass.
      await h.waitFor("the watch following the new primary", () => h.passes.slice(passesBefore).some((p) => p.watched === newPrimary), 30_000);
      await h.waitFor("200 more acknowledged inserts", () => writer.acked.length >= ackedBeforeStop + 200, 30_000);
    } finally {
      await writer.stop();
      violations = await sampler.stop();
    }
    await assertFailedOverSafely(h, writer, newPrimary, violations);
  });
});
