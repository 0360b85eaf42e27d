// 200 MySQLClusters in one namespace, reconciled by one in-process controller: every
// cluster converges (its objects exist, ReconcileSuccess=True for its generation) with no
// reconcile error. Prints the time to converge and the peak RSS of this process (the
// controller plus the test's own webhook server and client; kube-apiserver, etcd and
// kube-controller-manager are separate processes). No speed assertion.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningController } from "../../../src/controller/main.ts";
import { clusterManifest, eventually, getJson, scrape, startHarness, waitIdle, type Harness } from "../../env/controller-harness.ts";

const NS = "scale";
const N = Number(process.env["MOCO_SCALE_CLUSTERS"] ?? 200);
const QPS = Number(process.env["MOCO_SCALE_QPS"] ?? 50);

describe(`${N} MySQLClusters in one namespace`, { timeout: 600_000 }, () => {
  let h: Harness;
  let ctl: RunningController;

  before(async () => {
    // 400 ClusterIP Services: the harness's default /24 service range is too small.
    h = await startHarness({ apiserverFlags: ["--service-cluster-ip-range", "10.0.0.0/16"] });
    await h.kubectl(["create", "namespace", NS]);
  });
  after(async () => {
    await h?.stop();
  });

  it("all reconcile without errors", async () => {
    let peakRss = process.memoryUsage().rss;
    const baseRss = peakRss;
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 200);
    try {
      ctl = await h.startController({ qps: QPS, maxConcurrentReconciles: 8, processMetrics: true });
      await eventually("leadership", async () => ctl.isLeader(), 30_000);
      const docs = Array.from({ length: N }, (_, i) => JSON.stringify(clusterManifest(NS, `s${i}`, { replicas: 1 }))).join("\n---\n");
      const t0 = Date.now();
      await h.kubectl(["apply", "-f", "-"], docs);
      const tApplied = Date.now();
      await eventually("every cluster reconciled", async () => {
        const list = await getJson<{ items: { metadata: { generation: number }; status?: { reconcileInfo?: { generation?: number }; conditions?: { type: string; status: string }[] } }[] }>(h, ["mysqlcluster", "-n", NS]);
        return list.items.length === N && list.items.every((c) =>
          c.status?.reconcileInfo?.generation === c.metadata.generation &&
          c.status.conditions?.some((x) => x.type === "ReconcileSuccess" && x.status === "True"));
      }, 480_000, 1000);
      const tConverged = Date.now();
      await waitIdle(ctl, 2000, 300_000);
      const sts = (await h.kubectl(["get", "sts", "-n", NS, "-o", "name"])).trim().split("\n").filter((l) => l !== "");
      assert.equal(sts.length, N);
      const errors = await scrape(ctl, "controller_runtime_reconcile_errors_total", { controller: "mysqlcluster" });
      const total = await scrape(ctl, "controller_runtime_reconcile_total", { controller: "mysqlcluster", result: "success" });
      const stats = ctl.leaderState()?.reconciler.stats;
      console.log(`scale: ${N} clusters (replicas 1), client QPS ${QPS}: kubectl apply took ${tApplied - t0} ms; ` +
        `all reconciled ${tConverged - t0} ms after the apply started; ` +
        `reconciles ${total ?? "?"} (errors ${errors ?? "?"}); writes ${JSON.stringify(stats)}; ` +
        `RSS before ${(baseRss / 2 ** 20).toFixed(0)} MiB, peak ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
      assert.equal(errors, 0, "no reconcile error");
    } finally {
      clearInterval(sampler);
    }
  });
});
