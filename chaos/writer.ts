// Inserts increasing ids, recording each insert the server acknowledged (id and time). It
// writes to whichever instance the sampler saw writable last (the labelled primary when
// several are), so a second writable instance would show as lost writes; an insert that
// fails or times out may or may not have committed: its id is never reused or counted.
import mysql from "mysql2/promise";
import type { Instances } from "./instances.ts";
import type { Credentials } from "./sampler.ts";
import { setTimeout as sleep } from "node:timers/promises";

export const DATABASE = "chaos";
const TABLE = `${DATABASE}.acked`;
const INSERT_TIMEOUT_MS = 2000;

export class AckedWriter {
  readonly ackedIds: number[] = [];
  readonly ackTimes: number[] = [];
  /** Acknowledged inserts per instance (Pod name). */
  readonly byPod = new Map<string, number>();
  lastError = "";
  private next = 1;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly instances: Instances;
  private readonly creds: Credentials;
  private readonly writable: () => string[];
  constructor(instances: Instances, creds: Credentials, writable: () => string[]) {
    this.instances = instances;
    this.creds = creds;
    this.writable = writable;
  }

  private target(): { pod: string; ip: string } | undefined {
    const w = this.writable();
    const labelled = this.instances.labelledPrimary();
    const pick = w.length === 1 ? w[0] : w.length > 1 && labelled && w.includes(labelled.name) ? labelled.name : labelled?.name;
    const ip = this.instances.pods.find((p) => p.name === pick)?.ip;
    return pick && ip ? { pod: pick, ip } : undefined;
  }

  private connect(ip: string): Promise<mysql.Connection> {
    return mysql.createConnection({ host: ip, port: 3306, user: this.creds.user, password: this.creds.password, connectTimeout: INSERT_TIMEOUT_MS });
  }

  /** Creates the table on the writable primary; later ids continue after the ones there. */
  async setup(): Promise<void> {
    const t = this.target();
    if (!t) throw new Error("no writable primary to create the table on");
    const c = await this.connect(t.ip);
    try {
      await c.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id BIGINT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${DATABASE}.lockme (id INT PRIMARY KEY)`);
      const [[row]] = await c.query<mysql.RowDataPacket[]>(`SELECT COALESCE(MAX(id), 0) + 1000 AS n FROM ${TABLE}`);
      this.next = Number(row!.n);
    } finally { await c.end(); }
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      let conn: mysql.Connection | undefined;
      let connPod = "";
      while (this.running) {
        const t = this.target();
        try {
          if (!t) throw new Error("no writable instance");
          if (conn && connPod !== t.pod) { conn.destroy(); conn = undefined; }
          if (!conn) { conn = await this.connect(t.ip); connPod = t.pod; }
          const id = this.next++;
          await conn.query({ sql: `INSERT INTO ${TABLE} (id) VALUES (?)`, timeout: INSERT_TIMEOUT_MS }, [id]);
          this.ackedIds.push(id);
          this.ackTimes.push(Date.now());
          this.byPod.set(connPod, (this.byPod.get(connPod) ?? 0) + 1);
        } catch (e) {
          this.lastError = (e as Error).message;
          conn?.destroy();
          conn = undefined;
          await sleep(50);
        }
      }
      conn?.destroy();
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The acknowledged ids present on the instance at `ip` (read with a fresh connection). */
  async presentOn(ip: string): Promise<Set<number>> {
    const c = await this.connect(ip);
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>({ sql: `SELECT id FROM ${TABLE}`, rowsAsArray: true, timeout: 60_000 });
      return new Set((rows as unknown as [number | string][]).map((r) => Number(r[0])));
    } finally { await c.end(); }
  }
}
