// End-to-end on the sandbox: a 3-instance MySQLCluster comes up, replicates, survives
// the deletion of its primary Pod (switchover) and a kill -9 of its primary mysqld
// (failover) without losing an acknowledged write, keeps being reconciled when the
// controller's leader Pod is deleted (the other replica takes the Lease), keeps being
// reconciled after a `helm upgrade` of moco-ts rolls the controller out, and is removed
// completely. On the real node shared by the e2e files (test/e2e/harness.ts).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import {
  CONTROLLER_REPLICAS, E2eWriter, clusterManifest, clusterPassword, clusterState, connectMysql, controllerLeader, controllerPods, eventually,
  containerRuns, installMoco, killAndHold, primaryPod, serviceEndpoints, startE2E, timeUntilWritable, waitHealthy, type E2E,
} from "./harness.ts";


const ns = "e2e";
const name = "three";

describe("3-instance MySQLCluster on the sandbox", () => {
  let env: E2E;
  let writable = "";
  before(async () => {
    env = await startE2E({ namespaces: [ns] });
  });
  after(async () => { await env?.stop(); });

  it("becomes Available and Healthy", async (t) => {
    const start = Date.now();
    await env.kubectl(["apply", "-f", "-"], clusterManifest(name, ns, 3));
    const st = await waitHealthy(env, ns, name);
    t.diagnostic(`apply → Available+Healthy: ${((Date.now() - start) / 1000).toFixed(1)} s`);
    assert.equal(st.syncedReplicas, 3);
    assert.equal(st.currentPrimaryIndex, 0);
    writable = await clusterPassword(env, ns, name, "WRITABLE_PASSWORD");
  });

  it("replicates writes made through the primary Service to every replica", async () => {
    const primaries = await serviceEndpoints(env, ns, `moco-${name}-primary`);
    assert.equal(primaries.length, 1, "the primary Service has exactly one ready endpoint");
    const replicas = await serviceEndpoints(env, ns, `moco-${name}-replica`);
    assert.equal(replicas.length, 2);
    const c = await connectMysql(primaries[0]!, "moco-writable", writable);
    await c.query("CREATE DATABASE IF NOT EXISTS app");
    await c.query("CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(32))");
    await c.query("INSERT INTO app.t VALUES (1, 'replicated')");
    await c.end();
    for (const ip of replicas) {
      const r = await connectMysql(ip, "moco-writable", writable);
      await eventually(`row on ${ip}`, async () => {
        const [rows] = await r.query<import("mysql2/promise").RowDataPacket[]>("SELECT v FROM app.t WHERE id = 1");
        return rows[0]?.v === "replicated" ? true : undefined;
      }, 30_000);
      await assert.rejects(r.query("INSERT INTO app.t VALUES (2, 'x')"), /read.only/i, "replicas refuse writes");
      await r.end();
    }
  });

  it("switches over when the primary Pod is deleted, losing no acknowledged write", async (t) => {
    const writer = new E2eWriter(env, ns, name, writable);
    await writer.setup();
    writer.start();
    await eventually("some writes", async () => (writer.acked.length > 20 ? true : undefined), 30_000);
    const before = (await primaryPod(env, ns, name))!;
    const t0 = Date.now();
    await env.core.deleteNamespacedPod({ name: before.metadata!.name!, namespace: ns });
    await eventually("primary index to move", async () => {
      const st = await clusterState(env, ns, name);
      return st.currentPrimaryIndex !== 0 ? st : undefined;
    }, 180_000);
    const elapsed = await timeUntilWritable(env, ns, name, writable, t0);
    t.diagnostic(`switchover (Pod deletion → writable new primary): ${(elapsed / 1000).toFixed(2)} s`);
    await eventually("writes continue", async () => (writer.acked.length > 60 ? true : undefined), 60_000);
    await writer.stop();
    const p = (await primaryPod(env, ns, name))!;
    assert.notEqual(p.metadata!.name, before.metadata!.name);
    assert.deepEqual(await writer.missingOn(p.status!.podIP!), [], "every acknowledged insert is on the new primary");
    await waitHealthy(env, ns, name);
  });

  it("fails over when the primary mysqld is killed with SIGKILL, losing no acknowledged write", async (t) => {
    const writer = new E2eWriter(env, ns, name, writable);
    writer.start();
    await eventually("some writes", async () => {
      if (writer.acked.length > 20) return true;
      throw new Error(`acked ${writer.acked.length}, last error: ${writer.lastError}`);
    }, 30_000);
    const st0 = await clusterState(env, ns, name);
    const before = (await primaryPod(env, ns, name))!;
    const t0 = Date.now();
    // kill -9 of the mysqld container's main process on the node. A crashed mysqld stays down
    // for a while (as in a crash loop): the kubelet restarts it at once after the first crash,
    // and each restart within the next 60 s is killed again; otherwise it would simply come
    // back as the primary.
    const { pid, held } = await killAndHold(env, ns, before.metadata!.name!, "mysqld", 60_000);
    assert.ok(pid > 0, "mysqld pid");
    await eventually("primary index to move", async () => {
      const st = await clusterState(env, ns, name);
      return st.currentPrimaryIndex !== st0.currentPrimaryIndex ? st : undefined;
    }, 300_000);
    const elapsed = await timeUntilWritable(env, ns, name, writable, t0);
    t.diagnostic(`failover (kill -9 → writable new primary): ${(elapsed / 1000).toFixed(2)} s`);
    await eventually("writes continue", async () => (writer.acked.length > 60 ? true : undefined), 60_000);
    await writer.stop();
    t.diagnostic(`mysqld restarts killed during the 60 s hold: ${await held}`);
    const p = (await primaryPod(env, ns, name))!;
    assert.deepEqual(await writer.missingOn(p.status!.podIP!), [], "every acknowledged insert is on the new primary");
    // The old primary comes back after the hold and rejoins as a replica (Healthy); if it had
    // written a transaction no replica acknowledged, the controller first clones it over that
    // (docs/clustering.md "Errant former primary").
    const oldIndex = st0.currentPrimaryIndex!;
    await eventually("old primary rejoined (Healthy)", async () => {
      const st = await clusterState(env, ns, name);
      return st.healthy === "True" && (st.errantReplicas ?? 0) === 0 ? true : undefined;
    }, 600_000, 1000);
    const recloned = (await env.kubectl(["-n", ns, "get", "events", "--field-selector", "reason=ReinitializingErrantFormerPrimary", "-o", "jsonpath={.items[*].message}"]))
      .includes(`Instance ${oldIndex} `);
    t.diagnostic(`old primary after failover: ${recloned ? "errant, cloned over its unacknowledged transactions by the controller, rejoined" : "rejoined"}`);
    assert.equal((await clusterState(env, ns, name)).available, "True");
  });

  it("hands the controller's leadership over when the leader Pod is deleted, and the new leader reconciles", async (t) => {
    const leader = await eventually("a controller replica leads", () => controllerLeader(env), 60_000);
    const standby = (await controllerPods(env)).filter((p) => p !== leader);
    assert.equal(standby.length, CONTROLLER_REPLICAS - 1, "the other replicas run beside the leader");
    // The failover test before leaves the old primary rejoined (Healthy): the new leader must
    // keep the cluster in the state the old one left it in.
    const before = await clusterState(env, ns, name);
    assert.equal(before.available, "True");
    const start = Date.now();
    await env.kubectl(["-n", "moco-system", "delete", "pod", leader, "--wait=false"]);
    const next = await eventually("another replica leads", async () => {
      const l = await controllerLeader(env);
      return l !== undefined && l !== leader ? l : undefined;
    }, 120_000, 250);
    // The deleted leader releases the Lease on SIGTERM; the standby (retrying every retryPeriod)
    // and the replacement Pod (trying at start, which is immediate on this node) race for it:
    // either may win, so which one did is reported, not asserted.
    t.diagnostic(`leader Pod deleted → ${next} (${standby.includes(next) ? "the standby" : "the replacement Pod"}) holds the Lease: ${((Date.now() - start) / 1000).toFixed(1)} s`);
    // Only the leader reconciles: a Service of the cluster deleted now comes back.
    await env.kubectl(["-n", ns, "delete", "service", `moco-${name}-primary`]);
    await eventually("primary Service re-created by the new leader", async () => {
      const out = await env.kubectl(["-n", ns, "get", "service", "-l", `app.kubernetes.io/instance=${name}`, "-o", "name"]);
      return out.split("\n").includes(`service/moco-${name}-primary`) ? true : undefined;
    }, 120_000);
    assert.equal(await controllerLeader(env), next, "leadership stays with the new leader");
    await eventually("the replacement controller Pod is available", async () => {
      const out = await env.kubectl(["-n", "moco-system", "get", "deploy", "moco-controller", "-o", "jsonpath={.status.availableReplicas}"]);
      return Number(out) >= CONTROLLER_REPLICAS ? true : undefined;
    }, 180_000);
    const st = await eventually("the cluster in the state the old leader left it", async () => {
      const s = await clusterState(env, ns, name);
      return s.available === "True" && s.healthy === before.healthy ? s : undefined;
    }, 300_000, 1000);
    assert.deepEqual(st, before);
  });

  it("helm upgrade of moco-ts rolls the controller out; the new replicas reconcile and serve the webhooks", async (t) => {
    const oldPods = await controllerPods(env);
    const revisionBefore = await installMoco(env, { checkInterval: "5s" });
    const start = Date.now();
    // A changed value (the check interval) changes the controller's Pod template: a rollout.
    const revision = await installMoco(env, { checkInterval: "4s" });
    t.diagnostic(`helm upgrade → controller rolled out and available: ${((Date.now() - start) / 1000).toFixed(1)} s`);
    assert.equal(revision, revisionBefore + 1, "helm upgrade made a new revision");
    const newPods = await eventually("only new controller Pods", async () => {
      const pods = await env.core.listNamespacedPod({ namespace: "moco-system", labelSelector: "app.kubernetes.io/component=moco-controller" });
      const live = pods.items.filter((p) => !p.metadata?.deletionTimestamp);
      return live.length === CONTROLLER_REPLICAS && live.every((p) => !oldPods.includes(p.metadata!.name!)) ? live : undefined;
    }, 180_000);
    for (const p of newPods) {
      assert.ok(p.spec?.containers[0]?.args?.includes("--check-interval=4s"), `${p.metadata!.name} runs with the upgraded value: ${p.spec?.containers[0]?.args?.join(" ")}`);
    }
    await eventually("a new controller Pod leads", async () => {
      const l = await controllerLeader(env);
      return l !== undefined && !oldPods.includes(l) ? l : undefined;
    }, 120_000, 500);
    // The new leader reconciles: a deleted Service of the cluster comes back.
    await env.kubectl(["-n", ns, "delete", "service", `moco-${name}-replica`]);
    await eventually("replica Service re-created after the upgrade", async () => {
      const out = await env.kubectl(["-n", ns, "get", "service", "-l", `app.kubernetes.io/instance=${name}`, "-o", "name"]);
      return out.split("\n").includes(`service/moco-${name}-replica`) ? true : undefined;
    }, 120_000);
    // The webhooks still answer (their CA is injected again by the new replicas): shrinking, which
    // only the validating webhook compares with the old object, is refused.
    const shrink = await env.kubectl(["-n", ns, "patch", "mysqlcluster", name, "--type=merge", "-p", '{"spec":{"replicas":1}}']).then(() => undefined, (e: unknown) => e);
    if (!/spec\.replicas: Forbidden: decreasing replicas \(from 3 to 1\)/.test(String(shrink))) {
      // What the webhook's side looked like, for the failure report (a CI run once saw the
      // API server's call time out here).
      const endpoints = await env.kubectl(["-n", "moco-system", "get", "endpointslices", "-o", "wide"]).catch((e: unknown) => String(e));
      t.diagnostic(`webhook endpoints after the upgrade:\n${endpoints}`);
      for (const p of await controllerPods(env)) {
        const logs = await env.kubectl(["-n", "moco-system", "logs", p, "--tail=30"]).catch((e: unknown) => String(e));
        t.diagnostic(`${p} (last 30 lines):\n${logs}`);
      }
    }
    assert.match(String(shrink), /spec\.replicas: Forbidden: decreasing replicas \(from 3 to 1\)/, "the validating webhook refuses to shrink the cluster after the upgrade");
    assert.equal((await clusterState(env, ns, name)).available, "True");
  });

  it("deleting the cluster removes its objects, processes and data", async () => {
    const pods = await env.core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name}` });
    const pvs = (await env.core.listPersistentVolume()).items.filter((pv) => pv.spec?.claimRef?.namespace === ns)
      .map((pv) => pv.spec?.hostPath?.path ?? pv.spec?.local?.path).filter((p): p is string => !!p);
    const containers = pods.items.flatMap((p) => (p.status?.containerStatuses ?? []).map((c) => c.containerID)).filter((c): c is string => !!c);
    assert.ok(containers.length >= 3);
    assert.ok(pvs.length >= 3);
    await env.kubectl(["-n", ns, "delete", "mysqlcluster", name, "--wait=true", "--timeout=300s"]);
    await eventually("pods gone", async () => {
      const l = await env.core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name}` });
      return l.items.length === 0 ? true : undefined;
    }, 300_000);
    await eventually("PVCs and volumes gone", async () => {
      const l = await env.core.listNamespacedPersistentVolumeClaim({ namespace: ns });
      return l.items.length === 0 && pvs.every((p) => !fs.existsSync(p)) ? true : undefined;
    }, 300_000);
    for (const c of containers) assert.equal(containerRuns(env, c), false, `container ${c} has no process left`);
    for (const kind of ["statefulset", "service", "configmap", "secret", "serviceaccount", "pdb"]) {
      const out = await env.kubectl(["-n", ns, "get", kind, "-l", `app.kubernetes.io/instance=${name}`, "-o", "name"]);
      assert.equal(out.trim(), "", `${kind} objects of the cluster are gone`);
    }
  });
});
