// The short fault campaign (issue #13), so the campaign and its checker stay tested in the
// README's test command: ten faults of different kinds of chaos/faults.ts (short: 10 s
// partitions and stops), each once in a seeded order, against a 3-instance MySQLCluster in a
// namespace of its own on the shared real node, with the moco-ts the e2e harness installs
// (chaos/setup.ts's install is not used: one release on the node). What `npm run chaos`
// runs for many faults against `npm run sandbox`, in-process: every fault must be followed by
// Healthy, no acknowledged insert may be missing on the final primary and no sample may show
// two writable instances. Then the same checker, fed a deleted acknowledged row and a replica
// made writable on the real cluster, must report both.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { startE2E, type E2E } from "./harness.ts";
import { runCampaign } from "../../chaos/campaign.ts";
import { lostIds, summarize, type FaultResult } from "../../chaos/checker.ts";
import { faultKind } from "../../chaos/faults.ts";
import { Instances } from "../../chaos/instances.ts";
import { kubeFor, type Kube } from "../../chaos/kube.ts";
import { faultLine, table } from "../../chaos/report.ts";
import { Sampler } from "../../chaos/sampler.ts";
import { openSession, type Session } from "../../chaos/session.ts";
import { ensureCluster, secretValue } from "../../chaos/setup.ts";
import { DATABASE, type ChaosWriter } from "../../chaos/writer.ts";
import { setTimeout as sleep } from "node:timers/promises";

const NS = "chaos";
const CLUSTER = "chaos";
const SEED = 13;
const KINDS = [
  "kill -9 mysqld (primary)", "kill -9 mysqld (replica)", "Pod deletion (primary)", "full partition of the primary",
  "one-way partition of the primary", "controller cut from the MySQL Pods", "kill -9 controller mid-switchover",
  "API server stopped 30 s", "kill -9 agent", "client holds a lock during switchover",
];
// Healthy must hold longer than the harness's check interval (5 s) before the next fault.
const SETTLE_MS = 7000;
const RECOVERY_TIMEOUT_MS = 300_000;

const log = (m: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${m}`);

let env: E2E;
let kube: Kube;
let session: Session | undefined;
let writer: ChaosWriter | undefined;

describe("the short fault campaign", { timeout: 3_600_000 }, () => {
  before(async () => {
    env = await startE2E({ namespaces: [NS] });
    kube = kubeFor(env.kubeconfig);
    await ensureCluster(kube, NS, CLUSTER, log);
  });

  after(async () => {
    if (session) await session.finish().catch(() => undefined);
    await env?.stop();
  });

  it(`ten faults of different kinds (seed ${SEED}): all recovered, 0 acknowledged writes lost, 0 dual-writable samples`, async () => {
    const started = Date.now();
    session = await openSession({ layout: env.layout, kube, namespace: NS, cluster: CLUSTER, seed: SEED, short: true, log });
    const s = session;
    writer = s.writer;
    const results: FaultResult[] = await runCampaign(s, {
      faults: KINDS.length, kinds: KINDS.map(faultKind), each: true, recoveryTimeoutMs: RECOVERY_TIMEOUT_MS, settleMs: SETTLE_MS,
    }, (r) => log(faultLine(r)));
    const { primary, lostTotal } = await s.finish();
    session = undefined;
    console.log(`\n${table(summarize(results))}\n`);
    log(`acknowledged inserts ${s.writer.acked.length}, missing on the final primary ${primary ?? "(none)"}: ${lostTotal}; ` +
      `samples ${s.sampler.counter.samples}, dual-writable ${s.sampler.counter.total}; ${((Date.now() - started) / 1000).toFixed(0)} s`);
    assert.deepEqual(results.map((x) => x.kind).sort(), [...KINDS].sort(), "every kind ran once");
    assert.deepEqual(results.filter((x) => x.recoveredMs === undefined).map((x) => `${x.kind}: ${x.note ?? ""}`), [], "not recovered");
    assert.ok(s.writer.acked.length > 100, `the writer was acknowledged (${s.writer.acked.length})`);
    assert.ok(s.sampler.counter.samples > 1000, `the sampler sampled (${s.sampler.counter.samples})`);
    assert.equal(lostTotal, 0, "acknowledged writes missing on the final primary");
    assert.deepEqual(results.filter((x) => x.lost > 0).map((x) => x.note), [], "faults with lost writes");
    assert.equal(s.sampler.counter.total, 0, `samples with two writable instances: ${JSON.stringify(s.sampler.counter.examples.slice(0, 3))}`);
  });

  it("the checker reports an acknowledged row deleted on the primary and a replica made writable", async () => {
    const secret = `moco-${CLUSTER}`;
    const writable = { user: "moco-writable", password: await secretValue(kube, NS, secret, "WRITABLE_PASSWORD") };
    const admin = { user: "moco-admin", password: await secretValue(kube, NS, secret, "ADMIN_PASSWORD") };
    const instances = new Instances(kube, NS, CLUSTER);
    await instances.start();
    const sampler = new Sampler(instances, writable);
    sampler.start();
    try {
      const primary = instances.labelledPrimary();
      const replica = instances.pods.find((p) => p.role === "replica" && p.ip);
      assert.ok(primary?.ip && replica?.ip, "a labelled primary and replica");
      // A loss: one acknowledged row of the campaign's writer deleted on the primary, found by
      // the campaign's own check (the writer's read of the primary, lostIds).
      assert.ok(writer, "the campaign ran");
      const gone = writer.acked[Math.floor(writer.acked.length / 2)]!;
      const p = await mysql.createConnection({ host: primary.ip, port: 3306, ...writable, connectTimeout: 3000 });
      try { await p.query(`DELETE FROM ${DATABASE}.acked WHERE id = ?`, [gone]); } finally { p.destroy(); }
      assert.deepEqual(lostIds(writer.acked, await writer.presentOn(primary.ip)), [gone]);
      // Two writable instances: the replica's read_only turned off for a moment.
      const before = sampler.counter.total;
      const r = await mysql.createConnection({ host: replica.ip, port: 33062, ...admin, connectTimeout: 3000 });
      try {
        await r.query("SET GLOBAL super_read_only = 0, GLOBAL read_only = 0");
        await sleep(1500);
      } finally {
        await r.query("SET GLOBAL super_read_only = 1").catch(() => undefined);
        r.destroy();
      }
      const dual = sampler.counter.total - before;
      assert.ok(dual > 0, `dual-writable samples counted (${dual})`);
      assert.ok(sampler.counter.examples.some((e) => e.pods.includes(primary.name) && e.pods.includes(replica.name)), "an example names both instances");
    } finally {
      await sampler.stop();
      instances.stop();
    }
  });
});
