// ControllerMetrics.initManagerSeries: creates a cluster's missing gauge series at 0 and leaves
// the value of an existing one alone (a manager restarted for a cluster must not reset them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ControllerMetrics } from "../../../src/metrics/index.ts";

const L = { name: "c", namespace: "ns" };

test("initManagerSeries: absent gauges appear at 0, a set value survives, deleteManagerSeries removes", async () => {
  const m = new ControllerMetrics({ processMetrics: false });
  assert.equal(await m.value("moco_cluster_replicas", L), undefined);
  m.initManagerSeries(L);
  for (const name of ["moco_cluster_available", "moco_cluster_replicas", "moco_backup_timestamp"]) {
    assert.equal(await m.value(name, L), 0, name);
  }
  m.setGauge("moco_cluster_replicas", L, 3);
  m.setGauge("moco_backup_timestamp", L, 1_700_000_000);
  m.initManagerSeries(L);
  assert.equal(await m.value("moco_cluster_replicas", L), 3);
  assert.equal(await m.value("moco_backup_timestamp", L), 1_700_000_000);
  m.deleteManagerSeries(L);
  assert.equal(await m.value("moco_cluster_replicas", L), undefined);
});
