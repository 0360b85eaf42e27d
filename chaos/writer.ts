// The campaign's acknowledged-writes writer (test/env/acked-writer.ts): it writes to
// whichever instance the sampler saw writable last (the labelled primary when several
// are), so a second writable instance would show as lost writes.
import mysql from "mysql2/promise";
import type { Instances } from "./instances.ts";
import type { Credentials } from "./sampler.ts";
import { AckedWriter } from "../test/env/acked-writer.ts";

export const DATABASE = "chaos";
const TABLE = `${DATABASE}.acked`;
const INSERT_TIMEOUT_MS = 2000;

export class ChaosWriter extends AckedWriter {
  readonly #instances: Instances;
  readonly #creds: Credentials;
  readonly #writable: () => string[];

  constructor(instances: Instances, creds: Credentials, writable: () => string[]) {
    super({
      target: () => {
        const t = this.#target();
        return t === undefined ? null : { key: t.pod, connect: () => this.#connect(t.ip) };
      },
      insertSql: `INSERT INTO ${TABLE} (id) VALUES (?)`,
      insertTimeoutMs: INSERT_TIMEOUT_MS,
      retryPauseMs: 50,
      // Later ids continue after the ones already there.
      firstId: async (c) => {
        const [[row]] = await c.query<mysql.RowDataPacket[]>(`SELECT COALESCE(MAX(id), 0) + 1000 AS n FROM ${TABLE}`);
        return Number(row!.n);
      },
    });
    this.#instances = instances;
    this.#creds = creds;
    this.#writable = writable;
  }

  #target(): { pod: string; ip: string } | undefined {
    const w = this.#writable();
    const labelled = this.#instances.labelledPrimary();
    const pick = w.length === 1 ? w[0] : w.length > 1 && labelled && w.includes(labelled.name) ? labelled.name : labelled?.name;
    const ip = this.#instances.pods.find((p) => p.name === pick)?.ip;
    return pick && ip ? { pod: pick, ip } : undefined;
  }

  #connect(ip: string): Promise<mysql.Connection> {
    return mysql.createConnection({ host: ip, port: 3306, user: this.#creds.user, password: this.#creds.password, connectTimeout: INSERT_TIMEOUT_MS });
  }

  /** Creates the tables on the writable primary. */
  async setup(): Promise<void> {
    const t = this.#target();
    if (!t) throw new Error("no writable primary to create the table on");
    const c = await this.#connect(t.ip);
    try {
      await c.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id BIGINT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${DATABASE}.lockme (id INT PRIMARY KEY)`);
    } finally { await c.end(); }
  }

  /** The acknowledged ids present on the instance at `ip` (read with a fresh connection). */
  async presentOn(ip: string): Promise<Set<number>> {
    const c = await this.#connect(ip);
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>({ sql: `SELECT id FROM ${TABLE}`, rowsAsArray: true, timeout: 60_000 });
      return new Set((rows as unknown as [number | string][]).map((r) => Number(r[0])));
    } finally { await c.end(); }
  }
}
