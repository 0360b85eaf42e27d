// A pass that outlives its deadline is abandoned, reported (Event PassAbandoned, metric
// moco_cluster_abandoned_passes_total) and followed by the next pass (issue #13, defect 3).
// The stuck step: the admin connection to an instance whose address accepts TCP and never
// answers (a half-dead Pod), with a connect timeout far longer than the pass deadline.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";

import { ClusterWorker, METRIC, type PassResult } from "../../../src/clustering/manager.ts";
import type { ClusterPorts, ClusteringMetrics } from "../../../src/clustering/ports.ts";
import type { MySQLClusterLike, PodView } from "../../../src/clustering/types.ts";
import { MYSQL_ADMIN_PORT, passAbandonedCondition } from "../../../src/clustering/decide.ts";
import { setTimeout as sleep } from "node:timers/promises";

// An address in 127/8 that nothing else here uses, listening on the admin port.
const SILENT_HOST = "127.88.13.1";

describe("pass deadline", () => {
  let server: net.Server;
  const sockets = new Set<net.Socket>();
  before(async () => {
    server = net.createServer((s) => { sockets.add(s); s.on("error", () => undefined); });
    await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(MYSQL_ADMIN_PORT, SILENT_HOST, resolve); });
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("abandons a stuck pass within its deadline, reports it, and runs the next pass", async () => {
    const cluster = {
      metadata: { name: "c", namespace: "ns" },
      spec: { replicas: 1, serverIDBase: 100 },
      status: { currentPrimaryIndex: 0 },
    } as unknown as MySQLClusterLike;
    const pod = { name: "moco-c-0", ready: true, deleting: false, demote: false, hasPreventDeleteAnnotation: false, role: "primary", ip: SILENT_HOST } as unknown as PodView;
    const events: Array<{ type: string; reason: string; message: string }> = [];
    const counters = new Map<string, number>();
    const metrics: ClusteringMetrics = {
      incCounter: (name, _l, v = 1) => void counters.set(name, (counters.get(name) ?? 0) + v),
      setGauge: () => undefined,
      observe: () => undefined,
      deleteCluster: () => undefined,
    };
    const noop = async () => undefined;
    const ports: ClusterPorts = {
      key: { namespace: "ns", name: "c" },
      source: { getCluster: async () => cluster, listPods: async () => [pod] },
      status: { writeStatus: noop, setCurrentPrimaryIndex: noop },
      pods: { setRoleLabel: noop, removeRoleLabel: noop, removeDemoteAnnotation: noop, setPreventDelete: noop, removePreventDelete: noop },
      events: { emit: (type, reason, message) => void events.push({ type, reason, message }) },
      credentials: { getPasswords: async () => ({ ADMIN_PASSWORD: "a" }) as never },
      cloner: { clone: noop },
      replicationSource: { read: async () => ({}) },
      addressing: { adminAddress: () => SILENT_HOST },
    };
    const passes: PassResult[] = [];
    const worker = new ClusterWorker(ports, {
      checkIntervalMs: 600_000,
      passTimeoutMs: 300,
      connectTimeoutMs: 120_000,
      fetchAttempts: 1,
      metrics,
      onPass: (r) => passes.push(r),
    });
    worker.start();
    worker.nudge("test");
    const started = performance.now();
    while (passes.length < 2) {
      await sleep(20);
      assert.ok(performance.now() - started < 20_000, `passes: ${JSON.stringify(passes)}`);
    }
    await worker.stop();
    const first = passes[0]!;
    assert.equal(first.state, null);
    assert.ok(first.error !== undefined);
    assert.ok(first.durationMs < 10_000, `the first pass took ${first.durationMs} ms (deadline 300 ms)`);
    assert.equal(passes[1]?.origin, "abandoned", "the next pass runs at once");
    assert.ok((counters.get(METRIC.abandonedPasses) ?? 0) >= 1);
    assert.ok(events.some((e) => e.type === "Warning" && e.reason === "PassAbandoned" && /did not finish within 0\.3 s/.test(e.message)), JSON.stringify(events));
    console.log(`stuck pass abandoned after ${first.durationMs.toFixed(0)} ms (deadline 300 ms)`);
  });
});

describe("passAbandonedCondition", () => {
  const cluster = (conditions?: Array<{ type: string; status: string }>) => ({ status: { conditions } }) as MySQLClusterLike;
  const cases: Array<[string, MySQLClusterLike, string | undefined, string | undefined]> = [
    ["never abandoned: no condition", cluster(), undefined, undefined],
    ["never abandoned, other conditions: no condition", cluster([{ type: "Healthy", status: "True" }]), undefined, undefined],
    ["the previous pass was abandoned: True", cluster(), "report", "True"],
    ["abandoned again: True", cluster([{ type: "PassAbandoned", status: "True" }]), "report", "True"],
    ["the previous pass was not abandoned while True is shown: False", cluster([{ type: "PassAbandoned", status: "True" }]), undefined, "False"],
    ["already False: nothing more", cluster([{ type: "PassAbandoned", status: "False" }]), undefined, undefined],
  ];
  for (const [name, c, previous, want] of cases) {
    it(name, () => {
      const got = passAbandonedCondition(c, previous);
      assert.equal(got?.status, want);
      if (want === "True") assert.equal(got?.message, previous);
      if (got !== undefined) assert.equal(got.type, "PassAbandoned");
    });
  }
});
