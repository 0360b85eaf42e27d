// End-to-end on the sandbox: scaling 1→3→5 (and the refusal to shrink), a rolling
// update of the mysqld image one Pod at a time while the cluster stays available, under
// writes, with the primary switched over once before its Pod is recreated (primary last), a
// custom my.cnf ConfigMap taking effect, and stop/start of clustering and
// reconciliation.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RowDataPacket } from "mysql2/promise";
import {
  E2eWriter, clusterManifest, clusterPassword, clusterState, connectMysql, eventually, podIP, primaryPod, startE2E, tagNodeImage, waitHealthy, type E2E,
} from "./harness.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { writeGap } from "../../chaos/checker.ts";

const ns = "ops";

describe("operations on the sandbox", () => {
  let env: E2E;
  before(async () => {
    env = await startE2E({ namespaces: [ns] });
  });
  after(async () => { await env?.stop(); });

  it("scales 1 → 3 → 5 and refuses to shrink", async (t) => {
    const name = "grow";
    let start = Date.now();
    await env.kubectl(["apply", "-f", "-"], clusterManifest(name, ns, 1));
    await waitHealthy(env, ns, name);
    t.diagnostic(`1 instance: apply → Available+Healthy ${((Date.now() - start) / 1000).toFixed(1)} s`);
    const pw = await clusterPassword(env, ns, name, "WRITABLE_PASSWORD");
    const p0 = (await primaryPod(env, ns, name))!;
    const c = await connectMysql(p0.status!.podIP!, "moco-writable", pw);
    await c.query("CREATE DATABASE grow");
    await c.query("CREATE TABLE grow.t (id INT PRIMARY KEY)");
    await c.query("INSERT INTO grow.t VALUES (1), (2), (3)");
    await c.end();
    for (const replicas of [3, 5]) {
      start = Date.now();
      await env.kubectl(["apply", "-f", "-"], clusterManifest(name, ns, replicas));
      // Healthy with every new instance ready (the status right after the apply still
      // describes the smaller cluster).
      const st = await eventually(`${replicas} instances Healthy`, async () => {
        const s = await clusterState(env, ns, name);
        return s.healthy === "True" && s.syncedReplicas === replicas ? s : undefined;
      }, 600_000, 1000);
      t.diagnostic(`scale to ${replicas}: Healthy after ${((Date.now() - start) / 1000).toFixed(1)} s`);
      assert.equal(st.available, "True");
    }
    // Every new instance was cloned from the primary and has the data.
    const pods = await env.core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name}` });
    assert.equal(pods.items.length, 5);
    for (const p of pods.items) {
      const r = await connectMysql(p.status!.podIP!, "moco-writable", pw);
      const [rows] = await r.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM grow.t");
      assert.equal(Number(rows[0]!.n), 3, `${p.metadata!.name} has the rows`);
      await r.end();
    }
    await assert.rejects(env.kubectl(["apply", "-f", "-"], clusterManifest(name, ns, 3)), /spec\.replicas/);
    await env.kubectl(["-n", ns, "delete", "mysqlcluster", name, "--wait=true", "--timeout=300s"]);
  });

  it("rolls a mysqld image change one Pod at a time, primary last, under writes", async (t) => {
    const name = "roll";
    await env.kubectl(["apply", "-f", "-"], clusterManifest(name, ns, 3, { image: "mysql:9.7" }));
    const initialPrimary = (await waitHealthy(env, ns, name)).currentPrimaryIndex;
    // A small write load through the primary Service's Pod; every acknowledged insert must survive.
    const writer = new E2eWriter(env, ns, name, await clusterPassword(env, ns, name, "WRITABLE_PASSWORD"));
    await writer.setup();
    writer.start();
    await eventually("the writer's first acknowledged insert", async () => (writer.acked.length > 0 ? true : undefined));
    const start = Date.now();
    // The new image: the node's MySQL 9.7.4 image under a second tag (as a user pushing a new tag).
    tagNodeImage(env, "docker.io/library/mysql:9.7", "ghcr.io/cybozu-go/moco/mysql:9.7.0");
    await env.kubectl(["apply", "-f", "-"], clusterManifest(name, ns, 3, { image: "ghcr.io/cybozu-go/moco/mysql:9.7.0" }));
    let maxUpdatedAtOnce = 0;
    let previousUpdated = 0;
    // Availability: the Available condition may drop only after the switchover away from the
    // primary whose Pod is replaced (replicas reconnecting to the new primary); while replicas
    // roll it stays True. How long it drops is a figure (diagnostic), not an
    // assertion: the machines are noisy.
    let unavailableSince: number | undefined;
    let longestUnavailableMs = 0;
    let stretches = 0;
    const unavailableBeforeSwitch: string[] = [];
    const order: string[] = [];
    // Primary last: sampled every 500 ms, the Pod at status.currentPrimaryIndex is never
    // being deleted, nor replaced (another UID) while the index stays; the index changes once.
    const primaryDeleted: string[] = [];
    const primaries: number[] = [];
    let lastPrimary: { index: number; uid: string } | undefined;
    await eventually("all Pods on the new image", async () => {
      const pods = (await env.core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name}` })).items;
      const st = await clusterState(env, ns, name);
      const idx = st.currentPrimaryIndex ?? -1;
      if (primaries[primaries.length - 1] !== idx) primaries.push(idx);
      const primary = pods.find((p) => p.metadata?.name === `moco-${name}-${idx}`);
      const uid = primary?.metadata?.uid ?? "";
      if (primary?.metadata?.deletionTimestamp !== undefined) primaryDeleted.push(`${primary.metadata.name ?? ""} deleting while primary`);
      if (lastPrimary?.index === idx && lastPrimary.uid !== uid) primaryDeleted.push(`moco-${name}-${idx} replaced (${lastPrimary.uid} → ${uid || "none"}) while primary`);
      lastPrimary = { index: idx, uid };
      const updated = pods.filter((p) => p.spec?.containers.find((c) => c.name === "mysqld")?.image?.includes("moco/mysql:9.7.0") === true).map((p) => p.metadata?.name ?? "");
      for (const n of updated) if (!order.includes(n)) order.push(n);
      maxUpdatedAtOnce = Math.max(maxUpdatedAtOnce, updated.length - previousUpdated);
      previousUpdated = updated.length;
      if (st.available !== "True") {
        if (unavailableSince === undefined) stretches++;
        unavailableSince ??= Date.now();
        if (st.currentPrimaryIndex === initialPrimary) unavailableBeforeSwitch.push(`${updated.length} Pods updated, Available ${st.available}`);
      } else if (unavailableSince !== undefined) {
        longestUnavailableMs = Math.max(longestUnavailableMs, Date.now() - unavailableSince);
        unavailableSince = undefined;
      }
      // Every Pod Ready too: right after the last Pod is recreated, Healthy still describes the cluster before.
      const allReady = pods.every((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true);
      return updated.length === 3 && allReady && st.healthy === "True" ? true : undefined;
    }, 900_000, 500);
    await waitHealthy(env, ns, name);
    const rolledMs = Date.now() - start;
    await writer.stop();
    const longestWriteGapMs = writeGap(writer.ackTimes, writer.ackTimes[0] ?? 0, writer.ackTimes.at(-1) ?? 0);
    const events = (await env.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.kind=MySQLCluster,involvedObject.name=${name}` })).items;
    const count = (reason: string) => events.filter((e) => e.reason === reason).reduce((n, e) => n + (e.count ?? 1), 0);
    t.diagnostic(`rolling update of 3 instances: ${(rolledMs / 1000).toFixed(1)} s, order ${order.join(", ")}, primaries ${primaries.join(" → ")}, ` +
      `longest time not Available ${(longestUnavailableMs / 1000).toFixed(1)} s (${stretches} stretches), ` +
      `${writer.acked.length} inserts acknowledged, longest gap between two ${(longestWriteGapMs / 1000).toFixed(2)} s, ${writer.errors.length} failed attempts`);
    assert.equal(maxUpdatedAtOnce, 1, "one Pod at a time");
    assert.deepEqual(order, [`moco-${name}-2`, `moco-${name}-1`, `moco-${name}-0`], "highest ordinal first");
    assert.deepEqual(unavailableBeforeSwitch, [], "not Available while the primary had not moved");
    assert.deepEqual(primaryDeleted, [], "the primary's Pod is never deleted while it is the primary");
    assert.equal(primaries.length, 2, `one switchover (primaries ${primaries.join(" → ")})`);
    assert.equal(count("SwitchOver"), 1, "one SwitchOver event");
    assert.equal(count("PlannedSwitchOver"), 1, "one PlannedSwitchOver event");
    assert.equal(count("FailOver"), 0, "no failover");
    const primary = await primaryPod(env, ns, name);
    assert.deepEqual(await writer.missingOn(primary?.status?.podIP ?? ""), [], "every acknowledged insert on the primary");
    // The replicas apply what they received asynchronously: each has every insert soon.
    for (const i of [0, 1, 2]) {
      await eventually(`every acknowledged insert on moco-${name}-${i}`, async () => ((await writer.missingOn(await podIP(env, ns, `moco-${name}-${i}`))).length === 0 ? true : undefined), 60_000, 1000);
    }
    await env.kubectl(["-n", ns, "delete", "mysqlcluster", name, "--wait=true", "--timeout=300s"]);
  });

  it("applies a custom my.cnf ConfigMap", async () => {
    const name = "conf";
    await env.core.createNamespacedConfigMap({ namespace: ns, body: {
      metadata: { name: "conf-mycnf" }, data: { max_connections: "321", "long-query-time": "7" },
    } });
    await env.kubectl(["apply", "-f", "-"], clusterManifest(name, ns, 1, { mysqlConfigMapName: "conf-mycnf" }));
    await waitHealthy(env, ns, name);
    const pw = await clusterPassword(env, ns, name, "ADMIN_PASSWORD");
    const p = (await primaryPod(env, ns, name))!;
    const c = await connectMysql(p.status!.podIP!, "moco-admin", pw);
    const [[row]] = await c.query<RowDataPacket[]>("SELECT @@max_connections AS mc, @@long_query_time AS lqt");
    await c.end();
    assert.equal(Number(row!.mc), 321);
    assert.equal(Number(row!.lqt), 7);
    await env.kubectl(["-n", ns, "delete", "mysqlcluster", name, "--wait=true", "--timeout=300s"]);
  });

  it("stops and starts clustering and reconciliation", async () => {
    const name = "ctl";
    await env.kubectl(["apply", "-f", "-"], clusterManifest(name, ns, 3));
    await waitHealthy(env, ns, name);
    const cond = async (type: string) => {
      const out = await env.kubectl(["-n", ns, "get", "mysqlcluster", name, "-o", `jsonpath={.status.conditions[?(@.type=='${type}')].status}`]);
      return out.trim();
    };
    // Clustering stopped: conditions flip, and a demote request is not acted upon.
    await env.kubectl(["-n", ns, "annotate", "mysqlcluster", name, "moco.cybozu.com/clustering-stopped=true"]);
    await eventually("ClusteringActive False", async () => ((await cond("ClusteringActive")) === "False" ? true : undefined), 60_000);
    assert.equal(await cond("Available"), "Unknown");
    const primary = (await primaryPod(env, ns, name))!;
    await env.kubectl(["-n", ns, "annotate", "pod", primary.metadata!.name!, "moco.cybozu.com/demote=true"]);
    await sleep(15_000);
    assert.equal((await clusterState(env, ns, name)).currentPrimaryIndex, 0, "no switchover while clustering is stopped");
    await env.kubectl(["-n", ns, "annotate", "mysqlcluster", name, "moco.cybozu.com/clustering-stopped-"]);
    await eventually("switchover after clustering resumes", async () => {
      const st = await clusterState(env, ns, name);
      return st.currentPrimaryIndex !== 0 && (await cond("ClusteringActive")) === "True" ? true : undefined;
    }, 180_000);
    await waitHealthy(env, ns, name);
    // Reconciliation stopped: spec edits do not reach the StatefulSet until resumed.
    await env.kubectl(["-n", ns, "annotate", "mysqlcluster", name, "moco.cybozu.com/reconciliation-stopped=true"]);
    await eventually("ReconciliationActive False", async () => ((await cond("ReconciliationActive")) === "False" ? true : undefined), 60_000);
    await env.kubectl(["-n", ns, "patch", "mysqlcluster", name, "--type=merge", "-p", '{"spec":{"maxDelaySeconds":77}}']);
    await sleep(10_000);
    const agentArgs = async () => {
      const sts = await env.apps.readNamespacedStatefulSet({ name: `moco-${name}`, namespace: ns });
      return (sts.spec!.template.spec!.containers.find((c) => c.name === "agent")!.args ?? []).join(" ");
    };
    assert.doesNotMatch(await agentArgs(), /77s/, "no change while reconciliation is stopped");
    await env.kubectl(["-n", ns, "annotate", "mysqlcluster", name, "moco.cybozu.com/reconciliation-stopped-"]);
    await eventually("StatefulSet updated after resuming", async () => (/77s/.test(await agentArgs()) ? true : undefined), 60_000);
    assert.equal(await cond("ReconciliationActive"), "True");
    await env.kubectl(["-n", ns, "delete", "mysqlcluster", name, "--wait=true", "--timeout=300s"]);
  });
});
