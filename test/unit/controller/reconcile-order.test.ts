// Pure parts of the reconcile's ordering at scale (docs/performance.md "Controller at scale"):
// allOrFirstError (the objects a StatefulSet refers to are written concurrently, the first
// failure in task order is thrown only after every task ended) and needsFirstReconcile
// (which cluster events go to the work queue's first lane).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { allOrFirstError } from "../../../src/controller/mysqlcluster.ts";
import { needsFirstReconcile } from "../../../src/controller/main.ts";

describe("allOrFirstError", () => {
  const cases: { name: string; outcomes: (string | null)[]; want: string | null }[] = [
    { name: "all succeed", outcomes: [null, null, null], want: null },
    { name: "one fails", outcomes: [null, "b", null], want: "b" },
    { name: "several fail: the first in task order", outcomes: [null, "b", "c"], want: "b" },
    { name: "no tasks", outcomes: [], want: null },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const finished: number[] = [];
      let running = 0;
      let maxRunning = 0;
      // Later tasks end earlier: the error thrown is still the first in task order, after all ended.
      const tasks = c.outcomes.map((o, i) => async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, (c.outcomes.length - i) * 5));
        running--;
        finished.push(i);
        if (o !== null) throw new Error(o);
      });
      let got: string | null = null;
      try {
        await allOrFirstError(tasks);
      } catch (e) {
        got = (e as Error).message;
      }
      assert.equal(got, c.want);
      assert.equal(finished.length, c.outcomes.length, "every task ended before it returned");
      assert.equal(maxRunning, c.outcomes.length, "the tasks ran concurrently");
    });
  }
});

describe("needsFirstReconcile", () => {
  const cluster = (generation: number | undefined, reconciled: number | undefined, deleting = false): MySQLCluster => ({
    apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster",
    metadata: { name: "c", namespace: "ns", ...(generation === undefined ? {} : { generation }), ...(deleting ? { deletionTimestamp: new Date(0) } : {}) },
    ...(reconciled === undefined ? {} : { status: { reconcileInfo: { generation: reconciled, reconcileVersion: 1 } } }),
  }) as MySQLCluster;
  const cases: { name: string; c: MySQLCluster; want: boolean }[] = [
    { name: "new: no status", c: cluster(1, undefined), want: true },
    { name: "reconciled at its generation", c: cluster(3, 3), want: false },
    { name: "spec changed since", c: cluster(4, 3), want: true },
    { name: "being deleted", c: cluster(3, 3, true), want: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(needsFirstReconcile(c.c), c.want));
});
