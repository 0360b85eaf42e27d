// Switchover by the demote annotation on real mysqld 9.7, under a writer, while a monitor
// polls read_only of every instance in a tight loop: nothing acknowledged is lost and
// there are never two writable instances at once. Also the Pod-deletion trigger.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";

import { ClusterHarness, Writer, WritableMonitor, createTestTable, idsOn } from "./harness.ts";

for (const n of [3, 5]) {
  describe(`switchover with ${n} instances`, () => {
    let h: ClusterHarness;
    before(async () => {
      h = await ClusterHarness.start({ replicas: n, name: `sw${n}` });
      h.startManager();
      await h.waitHealthy();
      await createTestTable(h);
    });
    after(async () => {
      await h?.close();
    });

    async function switchOnce(trigger: "demote" | "delete"): Promise<number> {
      const from = h.cluster.status.currentPrimaryIndex;
      const writer = new Writer(h);
      const monitor = new WritableMonitor(h);
      monitor.start();
      writer.start();
      await h.waitFor("100 acknowledged inserts", () => writer.acked.length >= 100, 30_000);
      const switchesBefore = h.events.filter((e) => e.reason === "SwitchOver").length;
      const tRequest = Date.now();
      const pod = h.pods[from];
      assert.ok(pod);
      if (trigger === "demote") pod.annotations.set("moco.cybozu.com/demote", "true");
      else pod.deleting = true;
      h.nudge("pod-watcher");
      await h.waitFor(
        "a new primary accepting writes",
        () => [...writer.firstAckOn.keys()].some((p) => p !== from),
        60_000,
      );
      const to = h.cluster.status.currentPrimaryIndex;
      const tWrite = writer.firstAckOn.get(to) ?? NaN;
      const ev = h.events.filter((e) => e.reason === "SwitchOver")[switchesBefore];
      const ackedAt = writer.acked.length;
      await h.waitFor("100 more acknowledged inserts", () => writer.acked.length >= ackedAt + 100, 30_000);
      await writer.stop();
      await h.waitHealthy();
      await monitor.stop();
      console.log(
        `${n} instances: switchover ${from} -> ${to} by ${trigger}: SwitchOver event ${(ev?.at ?? NaN) - tRequest} ms, ` +
          `new primary accepting writes ${tWrite - tRequest} ms after the request; ` +
          `${monitor.samples} read_only samples, ${writer.errors.length} failed inserts`,
      );

      assert.deepEqual(monitor.violations, [], "two writable instances at once");
      assert.ok(monitor.samples > 50, `too few monitor samples (${monitor.samples})`);
      assert.notEqual(to, from);
      const ids = await idsOn(h, to);
      assert.deepEqual(writer.acked.filter((id) => !ids.has(id)), [], "acknowledged inserts missing on the new primary");
      // Every instance ends with the same rows.
      for (let i = 0; i < n; i++) {
        await h.waitFor(`instance ${i} caught up`, async () => (await idsOn(h, i)).size === ids.size, 20_000);
      }
      assert.equal(h.labelledPrimary(), to);
      assert.equal(h.pods[from]?.role, "replica");
      assert.equal(pod.annotations.has("moco.cybozu.com/demote"), false);
      const [rs] = await h.query(from, "SHOW REPLICA STATUS");
      assert.equal(rs?.Source_Host, h.inst(to).host);
      assert.equal(rs?.Replica_IO_Running, "Yes");
      const v = await h.variables(to, ["read_only", "rpl_semi_sync_source_enabled", "rpl_semi_sync_source_wait_for_replica_count"]);
      assert.deepEqual(v, {
        read_only: "OFF",
        rpl_semi_sync_source_enabled: "ON",
        rpl_semi_sync_source_wait_for_replica_count: String(Math.floor(n / 2)),
      });
      const old = await h.variables(from, ["super_read_only", "rpl_semi_sync_source_enabled"]);
      assert.deepEqual(old, { super_read_only: "ON", rpl_semi_sync_source_enabled: "OFF" });
      pod.deleting = false;
      return to;
    }

    let firstTarget = -1;
    it("switches by the demote annotation without loss and never with two writable instances", async () => {
      const to = await switchOnce("demote");
      // Among the good replicas, the one with the fewest transactions left to apply (the
      // writer runs; compareSwitchCandidates, unit-tested in decide-state), so not always 1.
      assert.ok(to >= 1 && to < n, `a good replica is the target (got ${to})`);
      firstTarget = to;
      assert.equal(h.events.filter((e) => e.reason === "SwitchOver").length, 1);
      assert.equal(h.metrics.get("moco_cluster_switchover_total", h.key), 1);
      assert.equal(h.metrics.get("moco_cluster_failover_total", h.key), undefined);
    });

    it("switches again when the primary Pod is being deleted", async () => {
      const to = await switchOnce("delete");
      assert.notEqual(to, firstTarget, "the Pod being deleted is not the target");
      assert.equal(h.events.filter((e) => e.reason === "SwitchOverFailed").length, 0);
      assert.equal(h.metrics.get("moco_cluster_switchover_total", h.key), 2);
    });
  });
}
