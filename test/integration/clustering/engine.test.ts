// Engine edges: observe against real mysqld (a dead or address-less instance is null, the
// docs/clustering.md#gathering-status queries read the current semi-sync names), error redaction, Go durations, Pod
// placement, and the worker loop (nudge coalescing, redo, errors, stop and pause metrics)
// with fake ports.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { podOrdinal } from "../../../src/util/pod-name.ts";

import { ClusterManager, newOperationId } from "../../../src/clustering/manager.ts";
import type { PassResult } from "../../../src/clustering/manager.ts";
import { familyFromVariableNames, fetchInstanceStatus } from "../../../src/clustering/instance.ts";
import {
  fetchInstanceStatusHedged,
  envDurationMs,
  fetchInstanceStatusWithRetry,
  placePods,
} from "../../../src/clustering/observe.ts";
import type { ClusterPorts } from "../../../src/clustering/ports.ts";
import { PassConnections, SqlConnection, toSqlError } from "../../../src/clustering/sql.ts";
import { configureReplica } from "../../../src/clustering/act.ts";
import type { PodView } from "../../../src/clustering/types.ts";
import { ClusterHarness, MemoryMetrics, sleep } from "./harness.ts";
import { randomPasswords } from "../../env/random.ts";

describe("observe on real mysqld", () => {
  let h: ClusterHarness;
  before(async () => {
    h = await ClusterHarness.start({ replicas: 2, name: "obs" });
  });
  after(async () => {
    await h?.close();
  });

  function conns(hosts: (string | null)[]): PassConnections {
    return new PassConnections((i) => ({ host: hosts[i] ?? null, port: 33062 }), {
      user: "moco-admin",
      password: h.passwords.ADMIN_PASSWORD,
    });
  }

  it("reads an initialised instance with the current semi-sync names", async () => {
    const c = conns([h.inst(0).host]);
    try {
      const st = await c.with(0, (conn) => fetchInstanceStatus(conn));
      assert.match(st.serverUuid, /^[0-9a-f-]{36}$/);
      assert.equal(st.gtidExecuted, "");
      assert.equal(st.readOnly, true);
      assert.equal(st.superReadOnly, true);
      assert.equal(st.semiSyncSourceEnabled, false);
      assert.equal(st.semiSyncReplicaEnabled, false);
      assert.equal(st.semiSyncSourceWaitForReplicaCount, 1);
      assert.equal(st.semiSyncSourceWaitSessions, 0);
      assert.deepEqual(st.replicaHosts, []);
      assert.equal(st.replicaStatus, null);
      assert.equal(st.cloneState, null);
      await h.query(0, "SET GLOBAL rpl_semi_sync_source_enabled=ON");
      await h.query(0, "SET GLOBAL rpl_semi_sync_source_wait_for_replica_count=2");
      const st2 = await c.with(0, (conn) => fetchInstanceStatus(conn));
      assert.equal(st2.semiSyncSourceEnabled, true);
      assert.equal(st2.semiSyncSourceWaitForReplicaCount, 2);
      await h.query(0, "SET GLOBAL rpl_semi_sync_source_enabled=OFF");
    } finally {
      await c.closeAll();
    }
    assert.equal(c.openCount, 0);
  });

  it("maps the legacy names only when the legacy family alone is active", () => {
    assert.equal(familyFromVariableNames(["rpl_semi_sync_source_enabled", "rpl_semi_sync_replica_enabled"]), "current");
    assert.equal(familyFromVariableNames(["rpl_semi_sync_master_enabled", "rpl_semi_sync_slave_enabled"]), "legacy");
    assert.equal(familyFromVariableNames([]), "current");
  });

  it("reports null, without throwing, for an instance without address or that is down", async () => {
    await h.inst(1).kill();
    const c = conns([null, h.inst(1).host]);
    // Count the connection attempts per ordinal: the no-address ("nop") case must not retry,
    // the down instance gets every try.
    const opens = [0, 0];
    const open = c.open.bind(c);
    c.open = (ordinal: number, connectTimeoutMs?: number) => {
      opens[ordinal] = (opens[ordinal] ?? 0) + 1;
      return open(ordinal, connectTimeoutMs);
    };
    try {
      assert.deepEqual(await fetchInstanceStatusHedged(c, 0, { attempts: 3, retryGapMs: 1000 }), { status: null, unreachable: false });
      assert.equal(opens[0], 1, "the nop case does not retry");
      assert.deepEqual(await fetchInstanceStatusHedged(c, 1, { attempts: 3, retryGapMs: 100 }), { status: null, unreachable: true });
      assert.equal(opens[1], 3, "a down instance gets every try");
      assert.equal(await fetchInstanceStatusWithRetry(c, 1, { attempts: 1 }), null);
    } finally {
      await c.closeAll();
      await h.inst(1).start();
    }
  });

  it("survives mysqld dying under an open connection", async () => {
    const c = conns([h.inst(0).host, h.inst(1).host]);
    try {
      assert.notEqual(await fetchInstanceStatusWithRetry(c, 1, { attempts: 1 }), null);
      await h.inst(1).kill();
      await sleep(100);
      assert.equal(await fetchInstanceStatusWithRetry(c, 1, { attempts: 2, retryGapMs: 50 }), null);
      await h.inst(1).start();
      assert.notEqual(await fetchInstanceStatusWithRetry(c, 1, { attempts: 3, retryGapMs: 200 }), null);
    } finally {
      await c.closeAll();
    }
  });

  it("keeps the replication password out of error messages", async () => {
    const secret = "p'w-" + "9f8e7d6c5b4a";
    const conn = await SqlConnection.open({ host: h.inst(0).host, port: 33062, user: "moco-admin", password: h.passwords.ADMIN_PASSWORD });
    try {
      // A syntax error quotes the statement text after the error point, password included.
      for (const sql of [
        "CHANGE REPLICATION SOURCE TO BOGUS SOURCE_PASSWORD=?",
        "CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD=? BOGUS",
      ]) {
        await assert.rejects(conn.exec(sql, [secret], { secrets: [secret] }), (e: Error) => {
          assert.match(e.message, /syntax/);
          assert.equal(e.message.includes("9f8e7d6c5b4a"), false, e.message);
          assert.equal(JSON.stringify(e).includes("9f8e7d6c5b4a"), false);
          return true;
        });
      }
      // A failing CHANGE REPLICATION SOURCE inside configureReplica: the password never shows.
      await assert.rejects(
        configureReplica(conn, { host: "h", port: -1, user: "moco-repl", password: secret }, true),
        (e: Error) => !e.message.includes("9f8e7d6c5b4a"),
      );
    } finally {
      await conn.close();
    }
    const redacted = toSqlError(new Error(`Access denied for ${secret}`), [secret]);
    assert.equal(redacted.message, "Access denied for ***");
  });
});

describe("observe helpers", () => {
  it("reads the MOCO_* duration overrides as Go durations, else the fallback", () => {
    const env = { A: "3s", B: "1m30s", C: " 250ms ", D: "0", E: "3", F: "", G: "-1s" };
    const got = ["A", "B", "C", "D", "E", "F", "G", "UNSET"].map((n) => envDurationMs(n, 7, env));
    assert.deepEqual(got, [3000, 90_000, 250, 0, 7, 7, 7, 7]);
  });

  const pod = (name: string): PodView => ({
    name,
    ready: true,
    deleting: false,
    demote: false,
    hasPreventDeleteAnnotation: false,
    roleLabel: null,
    ip: "10.0.0.1",
  });
  const cluster = (replicas: number, offline = false) => ({ metadata: { name: "c", namespace: "n" }, spec: { replicas, offline } });

  it("places Pods at their ordinals and fails on bad sets", () => {
    assert.equal(podOrdinal("moco-c-12"), 12);
    assert.equal(podOrdinal("moco-c-x"), undefined);
    const placed = placePods(cluster(3), [pod("moco-c-2"), pod("moco-c-0"), pod("moco-c-1")]);
    assert.deepEqual(placed.map((p) => p?.name), ["moco-c-0", "moco-c-1", "moco-c-2"]);
    assert.throws(() => placePods(cluster(3), [pod("moco-c-0")]), /too few pods/);
    assert.throws(() => placePods(cluster(2), [pod("moco-c-0"), pod("moco-c-x")]), /bad pod name/);
    assert.throws(() => placePods(cluster(2), [pod("moco-c-0"), pod("moco-c-5")]), /out of range/);
    assert.deepEqual(placePods(cluster(2, true), []), [null, null]);
  });
});

describe("worker loop with fake ports", () => {
  function fakePorts(getCluster: () => Promise<null>): ClusterPorts {
    const fail = async (): Promise<never> => {
      throw new Error("unused");
    };
    return {
      key: { namespace: "ns", name: "fake" },
      source: { getCluster, listPods: async () => [] },
      status: { writeStatus: fail, setCurrentPrimaryIndex: fail },
      pods: { setRoleLabel: fail, removeRoleLabel: fail, removeDemoteAnnotation: fail, setPreventDelete: fail, removePreventDelete: fail },
      events: { emit: () => undefined },
      credentials: { getPasswords: async () => randomPasswords() },
      cloner: { clone: fail },
      replicationSource: { read: fail },
    };
  }

  it("coalesces nudges, ticks on the interval, counts errors, and stop/pause handle metrics", async () => {
    let calls = 0;
    let release: (() => void) | null = null;
    let failNext = false;
    const passes: PassResult[] = [];
    const metrics = new MemoryMetrics();
    const ports = fakePorts(async () => {
      calls++;
      if (failNext) {
        failNext = false;
        throw new Error("apiserver unavailable");
      }
      if (calls === 1) await new Promise<void>((r) => (release = r));
      return null;
    });
    const m = new ClusterManager(() => ports, { checkIntervalMs: 400, metrics, onPass: (p) => passes.push(p) });
    const key = ports.key;
    m.updateNoStart(key, "nobody");
    assert.equal(m.has(key), false);
    m.update(key, "r1");
    await sleep(50);
    assert.equal(calls, 1);
    // Five nudges during a pass leave a single pending pass.
    for (let i = 0; i < 5; i++) m.update(key, `r${i + 2}`);
    (release as (() => void) | null)?.();
    await sleep(100);
    assert.equal(calls, 2);
    assert.deepEqual(passes.map((p) => p.origin), ["r1", "r2"]);
    assert.match(passes[0]?.opId ?? "", /^op-[a-z0-9]{5}$/);
    // The periodic tick.
    await sleep(500);
    assert.ok(passes.some((p) => p.origin === "interval"));
    // An error is counted and the loop goes on.
    failNext = true;
    m.update(key, "fail");
    await sleep(100);
    assert.equal(passes.at(-1)?.error, "apiserver unavailable");
    const l = { name: "fake", namespace: "ns" };
    assert.equal(metrics.get("moco_cluster_errors_total", l), 1);
    assert.ok((metrics.get("moco_cluster_checks_total", l) ?? 0) >= 4);
    assert.ok((metrics.get("moco_cluster_processing_time_seconds_count", l) ?? 0) >= 4);
    metrics.setGauge("moco_cluster_available", l, 1);
    await m.pause(key);
    assert.equal(m.has(key), false);
    assert.ok(Number.isNaN(metrics.get("moco_cluster_available", l)));
    assert.equal(metrics.get("moco_cluster_replicas", l), undefined);
    const n = calls;
    await sleep(500);
    assert.equal(calls, n, "a paused worker does not run");
    m.update(key, "again");
    await sleep(50);
    await m.stop(key);
    assert.equal(metrics.get("moco_cluster_checks_total", l), undefined);
    await m.stopAll();
    assert.notEqual(newOperationId(), newOperationId());
  });
});
