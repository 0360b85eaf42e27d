// Asks every instance for @@read_only/@@super_read_only every 100 ms (one connection per
// instance, a short timeout; an instance that does not answer counts as unknown, not as
// writable) and feeds each sample to the checker.
import mysql from "mysql2/promise";
import { DualWritableCounter, writablePods, type InstanceFlags, type Sample } from "./checker.ts";
import type { Instances } from "./instances.ts";
import { setTimeout as sleep } from "node:timers/promises";

export const SAMPLE_INTERVAL_MS = 100;
const QUERY_TIMEOUT_MS = 1000;
const FRESH_MS = 300;

export interface Credentials { user: string; password: string }

export class Sampler {
  readonly counter = new DualWritableCounter();
  /** The pods writable in the last sample. */
  writable: string[] = [];
  private readonly conns = new Map<string, { ip: string; conn: Promise<mysql.Connection> }>();
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly instances: Instances;
  private readonly creds: Credentials;
  private readonly listeners: ((s: Sample) => void)[] = [];
  constructor(instances: Instances, creds: Credentials) {
    this.instances = instances;
    this.creds = creds;
  }

  onSample(f: (s: Sample) => void): void { this.listeners.push(f); }

  private connection(pod: string, ip: string): Promise<mysql.Connection> {
    const c = this.conns.get(pod);
    if (c && c.ip === ip) return c.conn;
    if (c) void c.conn.then((x) => x.destroy(), () => undefined);
    const conn = mysql.createConnection({ host: ip, port: 3306, user: this.creds.user, password: this.creds.password, connectTimeout: QUERY_TIMEOUT_MS });
    conn.catch(() => undefined);
    this.conns.set(pod, { ip, conn });
    return conn;
  }

  private drop(pod: string): void {
    const c = this.conns.get(pod);
    this.conns.delete(pod);
    if (c) void c.conn.then((x) => x.destroy(), () => undefined);
  }

  private async flags(pod: string, ip: string | undefined): Promise<InstanceFlags> {
    if (!ip) return { pod, readOnly: null, superReadOnly: null };
    try {
      const conn = await this.connection(pod, ip);
      const [rows] = await conn.query<mysql.RowDataPacket[]>({ sql: "SELECT @@read_only AS ro, @@super_read_only AS sro", timeout: QUERY_TIMEOUT_MS });
      return { pod, readOnly: Number(rows[0]!.ro) === 1, superReadOnly: Number(rows[0]!.sro) === 1 };
    } catch {
      this.drop(pod);
      return { pod, readOnly: null, superReadOnly: null };
    }
  }

  /** One sample now: every instance asked at once (also what each tick of start() records). */
  async sampleOnce(): Promise<Sample> {
    const at = Date.now();
    const instances = await Promise.all(this.instances.pods.map((p) => this.flags(p.name, p.ip)));
    return this.record({ at, instances });
  }

  private record(s: Sample): Sample {
    this.counter.add(s);
    this.writable = writablePods(s);
    for (const f of this.listeners) f(s);
    return s;
  }

  /**
   * Each instance is asked in a loop of its own (a partitioned one that times out does not slow
   * the others); every 100 ms a sample takes each instance's last answer if it is at most
   * FRESH_MS old, else counts it unknown.
   */
  start(): void {
    this.running = true;
    const last = new Map<string, { flags: InstanceFlags; at: number }>();
    const pollers = new Map<string, Promise<void>>();
    const poll = async (pod: string) => {
      while (this.running) {
        const info = this.instances.pods.find((p) => p.name === pod);
        if (!info) break;
        const t = Date.now();
        const flags = await this.flags(pod, info.ip);
        last.set(pod, { flags, at: Date.now() });
        await sleep(Math.max(0, SAMPLE_INTERVAL_MS - (Date.now() - t)));
      }
      pollers.delete(pod);
    };
    this.loop = (async () => {
      while (this.running) {
        const at = Date.now();
        for (const p of this.instances.pods) if (!pollers.has(p.name)) pollers.set(p.name, poll(p.name));
        const instances = this.instances.pods.map((p): InstanceFlags => {
          const l = last.get(p.name);
          return l && at - l.at <= FRESH_MS ? l.flags : { pod: p.name, readOnly: null, superReadOnly: null };
        });
        this.record({ at, instances });
        await sleep(Math.max(0, SAMPLE_INTERVAL_MS - (Date.now() - at)));
      }
      await Promise.all(pollers.values());
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    for (const pod of [...this.conns.keys()]) this.drop(pod);
  }
}
