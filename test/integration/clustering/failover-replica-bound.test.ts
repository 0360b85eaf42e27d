// The failover's statements on the replicas are bounded (issue #14: a failover pass that
// hung up to the 60 s read timeout). Two real mysqld: instance 1 replicates from instance 0.
// - the source SIGSTOPped (its replica's IO thread blocked reading it): the failover's
//   STOP REPLICA IO_THREAD on the replica still returns, and the IO thread is stopped;
// - a replica that stops answering after the pass reached it (SIGSTOPped): the step fails
//   at its bound, naming the statement and the instance, not at the connection's 60 s
//   read timeout (the error says which timeout fired: no timing assertion).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RowDataPacket } from "mysql2/promise";

import { FAILOVER_REPLICA_STATEMENT_TIMEOUT_MS, stopReplicaIOThreads } from "../../../src/clustering/act.ts";
import { DEFAULT_READ_TIMEOUT_MS, PassConnections } from "../../../src/clustering/sql.ts";
import { startMysqlds, type MysqldSet } from "../../env/mysqld.ts";
import { eventually } from "../../env/eventually.ts";

describe("failover: bounded statements on the replicas", () => {
  let set: MysqldSet;
  before(async () => {
    set = await startMysqlds(2);
    const [src, rep] = [set.instances[0]!, set.instances[1]!];
    const s = await src.connect();
    const r = await rep.connect();
    try {
      await s.query("CREATE USER 'repl'@'%' IDENTIFIED BY 'replpw'");
      await s.query("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'");
      await r.query(
        "CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PORT=?, SOURCE_USER='repl', SOURCE_PASSWORD='replpw', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1",
        [src.host, src.port]);
      await r.query("START REPLICA");
      await s.query("CREATE DATABASE b");
      await eventually("the replica receiving from its source", async () => {
        const [[st]] = await r.query<RowDataPacket[]>("SHOW REPLICA STATUS");
        return st?.Replica_IO_Running === "Yes" && String(st.Retrieved_Gtid_Set) !== "" ? true : undefined;
      });
    } finally {
      s.destroy();
      r.destroy();
    }
  });
  after(async () => {
    for (const inst of set?.instances ?? []) {
      const pid = inst.pid();
      if (pid !== undefined) process.kill(pid, "SIGCONT");
    }
    await set?.stopAll();
  });

  function passConns(): PassConnections {
    const insts = set.instances;
    return new PassConnections((i) => ({ host: insts[i]!.host, port: insts[i]!.port }), { user: "root", password: insts[0]!.rootPassword }, { readTimeoutMs: DEFAULT_READ_TIMEOUT_MS, connectTimeoutMs: 5_000 });
  }

  it("the source SIGSTOPped: STOP REPLICA IO_THREAD on its replica returns and stops the IO thread", async () => {
    const src = set.instances[0]!;
    const conns = passConns();
    process.kill(src.pid()!, "SIGSTOP");
    try {
      const stoppedAt = await stopReplicaIOThreads(conns, [1], FAILOVER_REPLICA_STATEMENT_TIMEOUT_MS);
      assert.deepEqual([...stoppedAt.keys()], [1]);
      const [st] = await conns.with(1, (c) => c.query("SHOW REPLICA STATUS"));
      assert.equal(st?.Replica_IO_Running, "No");
    } finally {
      process.kill(src.pid()!, "SIGCONT");
      await conns.closeAll();
    }
  });

  it("a replica that stops answering: the step fails at its bound and names the statement and the instance", async () => {
    const rep = set.instances[1]!;
    const conns = passConns();
    const boundMs = 1_000;
    // The pass reached the replica (the connection is kept), then the replica hangs.
    await conns.with(1, (c) => c.query("SELECT 1"));
    process.kill(rep.pid()!, "SIGSTOP");
    try {
      await assert.rejects(stopReplicaIOThreads(conns, [1], boundMs), (e: Error) => {
        assert.match(e.message, new RegExp(`^STOP REPLICA IO_THREAD on ${rep.host.replace(/\./g, "\\.")}: no answer within ${boundMs} ms`));
        return true;
      });
    } finally {
      process.kill(rep.pid()!, "SIGCONT");
      await conns.closeAll();
    }
    // Resumed, the replica answers again on a new connection (the hung one was dropped).
    const again = passConns();
    try {
      const [row] = await again.with(1, (c) => c.query("SELECT 1 AS one"));
      assert.equal(Number(row?.one), 1);
    } finally {
      await again.closeAll();
    }
  });
});
