// Stop/start of reconciliation and clustering (docs/objects.md#stopping-clustering-and-reconciliation) with their gauges and
// conditions, and deletion: the finalizer removes the controller Secret and the
// per-cluster series, kube-controller-manager's garbage collector removes everything the
// cluster owns, and a PVC whose ownerReferences were removed survives.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import type { RunningController } from "../../../src/controller/main.ts";
import type { BackupStatus } from "../../../src/api/v1beta2/index.ts";
import { KubeClusterStore } from "../../../src/backup/kube.ts";
import { STATUS_WRITERS, STATUS_WRITES_REFUSED } from "../../../src/metrics/index.ts";
import { backupStatus } from "../../unit/api/fixtures.ts";
import { SYS_NS, clusterManifest, eventually, getJson, listOwnedKinds, scrape, startHarness, waitIdle, type Harness } from "../../env/controller-harness.ts";

const NS = "life";
const NAME = "c1";
const L = { name: NAME, namespace: NS };

interface Obj {
  metadata: { name: string; uid: string; labels?: Record<string, string>; ownerReferences?: unknown[]; generation?: number };
  spec?: { replicas?: number };
  status?: { conditions?: { type: string; status: string; reason: string }[]; reconcileInfo?: { generation?: number } };
}

function cond(o: Obj, type: string): string | undefined {
  return o.status?.conditions?.find((c) => c.type === type)?.status;
}

describe("MySQLCluster reconciler: stop/start and deletion", { timeout: 300_000 }, () => {
  let h: Harness;
  let ctl: RunningController;

  before(async () => {
    h = await startHarness();
    await h.kubectl(["create", "namespace", NS]);
    ctl = await h.startController({ pvcSyncLabelKeys: ["tier"] });
    await h.apply(clusterManifest(NS, NAME));
    await eventually("three PVCs from the StatefulSet controller", async () =>
      (await h.kubectl(["get", "pvc", "-n", NS, "-o", "name"])).trim().split("\n").filter((l) => l !== "").length === 3);
    await waitIdle(ctl);
  });
  after(async () => {
    await h?.stop();
  });

  it("reconciliation stopped: no object changes, condition and gauge say so; resuming applies the pending changes", async () => {
    await h.kubectl(["annotate", "mysqlcluster", "-n", NS, NAME, "moco.cybozu.com/reconciliation-stopped=true"]);
    await eventually("ReconciliationActive=False", async () => cond(await getJson<Obj>(h, ["mysqlcluster", "-n", NS, NAME]), "ReconciliationActive") === "False");
    await eventually("the gauge", async () => (await scrape(ctl, "moco_cluster_reconciliation_stopped", L)) === 1);
    const before = await listOwnedKinds(h, NS);
    await h.kubectl(["patch", "mysqlcluster", "-n", NS, NAME, "--type=merge", "-p", JSON.stringify({ spec: { replicas: 5 } })]);
    await h.kubectl(["label", "svc", "-n", NS, `moco-${NAME}-primary`, "app.kubernetes.io/instance=edited", "--overwrite"]);
    await h.kubectl(["delete", "pdb", "-n", NS, `moco-${NAME}`]);
    await waitIdle(ctl, 3000);
    const sts = await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`]);
    assert.equal(sts.spec?.replicas, 3, "spec edits are not propagated");
    assert.equal((await getJson<Obj>(h, ["svc", "-n", NS, `moco-${NAME}-primary`])).metadata.labels?.["app.kubernetes.io/instance"], "edited");
    const now = await listOwnedKinds(h, NS);
    assert.deepEqual(now.map((o) => `${o.kind}/${o.name}`).sort(), before.filter((o) => o.kind !== "PodDisruptionBudget").map((o) => `${o.kind}/${o.name}`).sort());
    const c = await getJson<Obj>(h, ["mysqlcluster", "-n", NS, NAME]);
    assert.notEqual(c.status?.reconcileInfo?.generation, c.metadata.generation, "the deferred status update does not run");

    await h.kubectl(["annotate", "mysqlcluster", "-n", NS, NAME, "moco.cybozu.com/reconciliation-stopped-"]);
    await eventually("replicas 5", async () => (await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`])).spec?.replicas === 5);
    await eventually("the PDB back", () => h.kubectl(["get", "pdb", "-n", NS, `moco-${NAME}`]).then(() => true));
    await eventually("the label restored", async () => (await getJson<Obj>(h, ["svc", "-n", NS, `moco-${NAME}-primary`])).metadata.labels?.["app.kubernetes.io/instance"] === NAME);
    await eventually("ReconciliationActive=True", async () => cond(await getJson<Obj>(h, ["mysqlcluster", "-n", NS, NAME]), "ReconciliationActive") === "True");
    assert.equal(await scrape(ctl, "moco_cluster_reconciliation_stopped", L), 0);
  });

  it("clustering stopped: the manager pauses (state gauges NaN), ClusteringActive=False, gauge 1; resuming restarts it", async () => {
    await waitIdle(ctl);
    await h.kubectl(["annotate", "mysqlcluster", "-n", NS, NAME, "moco.cybozu.com/clustering-stopped=true"]);
    await eventually("ClusteringActive=False", async () => cond(await getJson<Obj>(h, ["mysqlcluster", "-n", NS, NAME]), "ClusteringActive") === "False");
    await eventually("the gauge", async () => (await scrape(ctl, "moco_cluster_clustering_stopped", L)) === 1);
    assert.ok(Number.isNaN(await scrape(ctl, "moco_cluster_available", L)));
    assert.ok(Number.isNaN(await scrape(ctl, "moco_cluster_healthy", L)));
    assert.equal(ctl.leaderState()?.manager.has({ namespace: NS, name: NAME }), false);
    const checks = (await scrape(ctl, "moco_cluster_checks_total", L)) ?? 0;
    await waitIdle(ctl, 2000);
    assert.equal(await scrape(ctl, "moco_cluster_checks_total", L), checks, "no pass while stopped");

    await h.kubectl(["annotate", "mysqlcluster", "-n", NS, NAME, "moco.cybozu.com/clustering-stopped-"]);
    await eventually("the gauge back to 0", async () => (await scrape(ctl, "moco_cluster_clustering_stopped", L)) === 0);
    await eventually("a new pass", async () => ((await scrape(ctl, "moco_cluster_checks_total", L)) ?? 0) > checks);
    assert.equal(ctl.leaderState()?.manager.has({ namespace: NS, name: NAME }), true);
  });

  it("--pvc-sync-label-keys: a template label change reaches the existing PVCs; other keys are left alone", async () => {
    const pvc = (await h.kubectl(["get", "pvc", "-n", NS, "-o", "name"])).trim().split("\n")[0] ?? "";
    await h.kubectl(["label", "-n", NS, pvc, "owner=someone"]);
    const c = await getJson<{ spec: { volumeClaimTemplates: { metadata: Record<string, unknown> }[] } }>(h, ["mysqlcluster", "-n", NS, NAME]);
    const vct = structuredClone(c.spec.volumeClaimTemplates);
    (vct[0] as { metadata: Record<string, unknown> }).metadata["labels"] = { tier: "gold", other: "x" };
    await h.kubectl(["patch", "mysqlcluster", "-n", NS, NAME, "--type=merge", "-p", JSON.stringify({ spec: { volumeClaimTemplates: vct } })]);
    await eventually("the PVC label synced", async () => (await getJson<Obj>(h, ["-n", NS, pvc])).metadata.labels?.["tier"] === "gold");
    const labels = (await getJson<Obj>(h, ["-n", NS, pvc])).metadata.labels ?? {};
    assert.equal(labels["owner"], "someone");
    assert.equal(labels["other"], undefined, "only the listed keys are synced");
  });

  it("a backed-up cluster (status.backup by the backup job's writer, warnings null or []) takes labels and annotations (issue 19)", async () => {
    const store = new KubeClusterStore(h.client);
    // null: what moco-ts wrote before issue 19 and what MOCO writes; the deletion below runs with it.
    for (const warnings of [[], null]) {
      await store.updateBackupStatus(NS, NAME, backupStatus(warnings) as BackupStatus);
      await h.kubectl(["label", "mysqlcluster", "-n", NS, NAME, `backup-round=${warnings === null ? "null" : "empty"}`, "--overwrite"]);
      await h.kubectl(["annotate", "mysqlcluster", "-n", NS, NAME, `example.com/backup-round=${warnings === null ? "null" : "empty"}`, "--overwrite"]);
    }
    await waitIdle(ctl);
    const c = await getJson<Obj & { status?: { backup?: { warnings?: unknown } } }>(h, ["mysqlcluster", "-n", NS, NAME]);
    assert.equal(c.status?.backup?.warnings, null, "the controller's status writes kept status.backup");
    assert.equal(c.metadata.labels?.["backup-round"], "null");
  });

  it("deleting the cluster garbage-collects what it owns; a PVC without ownerReferences survives", async () => {
    const pvcs = (await h.kubectl(["get", "pvc", "-n", NS, "-o", "name"])).trim().split("\n").filter((l) => l !== "").sort();
    assert.ok(pvcs.length >= 3);
    const keep = pvcs[0]?.replace("persistentvolumeclaim/", "") ?? "";
    await h.kubectl(["patch", "pvc", "-n", NS, keep, "--type=json", "-p", JSON.stringify([{ op: "remove", path: "/metadata/ownerReferences" }])]);
    await h.kubectl(["delete", "mysqlcluster", "-n", NS, NAME, "--wait=false"]);
    await eventually("the cluster to be gone", async () => (await h.kubectl(["get", "mysqlcluster", "-n", NS, "-o", "name"])).trim() === "");
    await eventually("the controller Secret to be gone", async () => (await h.kubectl(["get", "secret", "-n", SYS_NS, "-o", "name"])).split("\n").every((l) => !l.includes(`mysql-${NS}.${NAME}`)));
    await eventually("owned objects to be garbage-collected", async () => (await listOwnedKinds(h, NS)).length === 0, 120_000, 1000);
    const left = await eventually("the owned PVCs to be garbage-collected", async () => {
      const l = (await h.kubectl(["get", "pvc", "-n", NS, "-o", "name"])).trim().split("\n").filter((x) => x !== "");
      return l.length === 1 ? l : undefined;
    }, 120_000, 1000);
    assert.deepEqual(left, [`persistentvolumeclaim/${keep}`]);
    await eventually("the per-cluster series to be deleted", async () =>
      (await scrape(ctl, "moco_cluster_reconciliation_stopped", L)) === undefined && (await scrape(ctl, "moco_cluster_checks_total", L)) === undefined);
    assert.equal(await scrape(ctl, "moco_cluster_clustering_stopped", L), undefined);
  });

  it("no status write was refused by the API server (issue 19)", async () => {
    for (const writer of STATUS_WRITERS) assert.equal(await scrape(ctl, STATUS_WRITES_REFUSED, { writer }), 0, writer);
  });

  it("a status write the CRD schema refuses is logged and counted (the counter above can see one)", async () => {
    const name = "refused";
    await h.apply(clusterManifest(NS, name));
    await eventually("the first status write", async () =>
      (await getJson<Obj>(h, ["mysqlcluster", "-n", NS, name])).status?.reconcileInfo?.generation === 1);
    await waitIdle(ctl);
    // The schema now requires a status field no writer knows: the next status write is refused.
    const status = "/spec/versions/0/schema/openAPIV3Schema/properties/status";
    await h.kubectl(["patch", "crd", "mysqlclusters.moco.cybozu.com", "--type=json", "-p", JSON.stringify([
      { op: "add", path: `${status}/properties/neverWritten`, value: { type: "string" } },
      { op: "add", path: `${status}/required/-`, value: "neverWritten" },
    ])]);
    // A spec change bumps the generation, so the reconciler must write reconcileInfo.
    await eventually("a refused status write", async () => {
      await h.kubectl(["patch", "mysqlcluster", "-n", NS, name, "--type=merge", "-p", JSON.stringify({ spec: { maxDelaySeconds: 61 + Math.floor(Math.random() * 1000) } })]);
      return ((await scrape(ctl, STATUS_WRITES_REFUSED, { writer: "reconciler" })) ?? 0) >= 1 ? true : undefined;
    }, 60_000, 2000);
    await eventually("the error in the controller log", async () =>
      fs.readFileSync(h.logFile, "utf8").split("\n").some((l) => l.includes("refused a MySQLCluster status write") && l.includes("neverWritten")) ? true : undefined, 10_000);
  });
});
