// Switchover under a write load on real mysqld 9.7, at the default timings: besides the
// autocommit writer, a second client keeps a transaction open on the primary most of the
// time (BEGIN, INSERT, 1.5 s of work, COMMIT), which blocks `SET GLOBAL super_read_only=1`
// until it ends. The switchover gives read-only a short grace, kills the client
// connections, and completes; every acknowledged insert of both clients is on the new
// primary and there are never two writable instances. Timings are printed (for
// docs/performance.md), not asserted.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import mysql, { type Connection } from "mysql2/promise";

import { SWITCHOVER_READ_ONLY_WAIT_MS } from "../../../src/clustering/act.ts";
import { ClusterHarness, Writer, WritableMonitor, createTestTable, idsOn, sleep } from "./harness.ts";

const HOLD_MS = 1500;

/** Keeps a transaction open on the labelled primary; records the ids of committed ones. */
class HoldingWriter {
  readonly acked: number[] = [];
  readonly errors: string[] = [];
  #next = 1_000_000;
  #running = false;
  #loop: Promise<void> | null = null;
  readonly #h: ClusterHarness;
  constructor(h: ClusterHarness) { this.#h = h; }

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const p = this.#h.labelledPrimary();
      if (p === null) { await sleep(20); continue; }
      let conn: Connection | null = null;
      try {
        conn = await mysql.createConnection({ host: this.#h.inst(p).host, port: 3306, user: "moco-writable", password: this.#h.passwords.WRITABLE_PASSWORD, connectTimeout: 1000 });
        conn.on("error", () => undefined);
        while (this.#running) {
          const id = this.#next++;
          await conn.query("BEGIN");
          await conn.query({ sql: "INSERT INTO test.t (id, via) VALUES (?, ?)", timeout: 5000 }, [id, p]);
          await conn.query({ sql: "SELECT SLEEP(?)", timeout: 5000 }, [HOLD_MS / 1000]);
          await conn.query({ sql: "COMMIT", timeout: 5000 });
          this.acked.push(id);
        }
      } catch (e) {
        this.errors.push((e as Error).message);
        await sleep(20);
      } finally {
        conn?.destroy();
      }
    }
  }
}

describe("switchover under a write load with a held transaction (default timings)", () => {
  let h: ClusterHarness;
  before(async () => {
    h = await ClusterHarness.start({ replicas: 3, name: "swload" });
    h.startManager();
    await h.waitHealthy();
    await createTestTable(h);
  });
  after(async () => {
    await h?.close();
  });

  it("switches without losing an acknowledged insert of either client", async () => {
    const from = h.cluster.status.currentPrimaryIndex;
    const writer = new Writer(h);
    const holder = new HoldingWriter(h);
    const monitor = new WritableMonitor(h);
    monitor.start();
    writer.start();
    holder.start();
    await h.waitFor("100 acknowledged inserts and 2 held transactions committed", () => writer.acked.length >= 100 && holder.acked.length >= 2, 30_000);
    // Request the switchover while the holder is inside a transaction.
    await sleep(HOLD_MS / 3);
    const tRequest = Date.now();
    h.pods[from]!.annotations.set("moco.cybozu.com/demote", "true");
    h.nudge("pod-watcher");
    await h.waitFor("a new primary accepting writes", () => [...writer.firstAckOn.keys()].some((p) => p !== from), 60_000);
    const to = h.cluster.status.currentPrimaryIndex;
    const tWrite = writer.firstAckOn.get(to) ?? NaN;
    const tEvent = h.events.find((e) => e.reason === "SwitchOver")?.at ?? NaN;
    const heldBefore = holder.acked.length;
    await h.waitFor("a held transaction committed on the new primary", () => holder.acked.length > heldBefore, 30_000);
    await writer.stop();
    await holder.stop();
    await h.waitHealthy();
    await monitor.stop();
    console.log(`switchover under load (read-only grace ${SWITCHOVER_READ_ONLY_WAIT_MS} ms, transactions held ${HOLD_MS} ms): ` +
      `SwitchOver event ${tEvent - tRequest} ms, new primary accepting writes ${tWrite - tRequest} ms after the request; ` +
      `writer ${writer.acked.length} acked / ${writer.errors.length} failed, holder ${holder.acked.length} committed / ${holder.errors.length} failed`);

    assert.notEqual(to, from);
    assert.deepEqual(monitor.violations, [], "two writable instances at once");
    assert.equal(h.events.filter((e) => e.reason === "SwitchOverFailed").length, 0, "the switchover failed at least once");
    const ids = await idsOn(h, to);
    assert.deepEqual(writer.acked.filter((id) => !ids.has(id)), [], "acknowledged inserts missing on the new primary");
    assert.deepEqual(holder.acked.filter((id) => !ids.has(id)), [], "committed held transactions missing on the new primary");
  });
});
