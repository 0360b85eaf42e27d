// The acknowledged-writes writer the clustering tests, the e2e tests and the chaos campaign
// share: inserts increasing ids into the instance that is the target right now (the labelled
// primary, the one the sampler saw writable, ...) and records every insert the server
// acknowledged. An insert that fails or times out may or may not have committed: its id is
// never reused, and never counted. After a failover the test checks that every acknowledged
// id is present (missingFrom).
import { setTimeout as sleep } from "node:timers/promises";
import type { Connection } from "mysql2/promise";
import { errorMessage } from "../../src/util/errors.ts";

/**
 * A loop running in the background from start() until stop(), which waits for its last round:
 * the writer, the monitors and the tests' own probe loops.
 */
export abstract class BackgroundLoop {
  #running = false;
  #loop: Promise<void> | null = null;

  /** False once stop() was called: run() ends its loop then. */
  protected get running(): boolean {
    return this.#running;
  }

  start(): void {
    this.#running = true;
    this.#loop = this.run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  protected abstract run(): Promise<void>;
}

/** Where to write now: `key` names the instance (a Pod name, an ordinal). */
export interface AckedTarget<K> {
  readonly key: K;
  connect(): Promise<Connection>;
}

export interface AckedWriterOptions<K> {
  /** The instance to write to now; null when there is none (the writer pauses). */
  target(): AckedTarget<K> | null | Promise<AckedTarget<K> | null>;
  /**
   * Ask target() only when there is no connection (it is costly, e.g. an API request): the
   * connection is kept until an insert fails. Default: before every insert, reconnecting
   * when the key changes.
   */
  readonly targetOnReconnectOnly?: boolean;
  /** The INSERT, with `?` placeholders for `values(id, key)` (default: the id alone). */
  readonly insertSql: string;
  readonly insertValues?: (id: number, key: K) => unknown[];
  readonly insertTimeoutMs?: number;
  /** Pause after a failure or while there is no target. */
  readonly retryPauseMs: number;
  /** The first id, read on the first connection (continue after earlier writers); default 1. */
  readonly firstId?: (conn: Connection) => Promise<number>;
}

export class AckedWriter<K = string> extends BackgroundLoop {
  /** Acknowledged ids, in order. */
  readonly acked: number[] = [];
  /** Date.now() of each acknowledgement (same order as `acked`). */
  readonly ackTimes: number[] = [];
  /** Acknowledged inserts per target key. */
  readonly ackedBy = new Map<K, number>();
  /** Time of the first acknowledged insert per target key. */
  readonly firstAckOn = new Map<K, number>();
  /** Failed connects and inserts. */
  readonly errors: string[] = [];
  /** The last problem (a failure, or no target). */
  lastError = "";
  /** Connections opened (a new one after each error). */
  connects = 0;
  readonly #o: AckedWriterOptions<K>;
  #next: number | undefined;

  constructor(o: AckedWriterOptions<K>) {
    super();
    this.#o = o;
  }

  /** The acknowledged ids missing from `present` (the ids read from an instance). */
  missingFrom(present: ReadonlySet<number>): number[] {
    return this.acked.filter((id) => !present.has(id));
  }

  protected async run(): Promise<void> {
    let conn: Connection | null = null;
    let connKey: K | undefined;
    const drop = () => {
      conn?.destroy();
      conn = null;
    };
    while (this.running) {
      try {
        if (conn === null || this.#o.targetOnReconnectOnly !== true) {
          const t = await this.#o.target();
          if (t === null) {
            drop();
            this.lastError = "no target to write to";
            await sleep(this.#o.retryPauseMs);
            continue;
          }
          if (conn !== null && connKey !== t.key) drop();
          if (conn === null) {
            const c = await t.connect();
            c.on("error", () => undefined);
            conn = c;
            connKey = t.key;
            this.connects++;
          }
        }
        const c = conn as Connection;
        const key = connKey as K;
        this.#next ??= this.#o.firstId === undefined ? 1 : await this.#o.firstId(c);
        const id = this.#next++;
        const values = this.#o.insertValues?.(id, key) ?? [id];
        await c.query({ sql: this.#o.insertSql, ...(this.#o.insertTimeoutMs === undefined ? {} : { timeout: this.#o.insertTimeoutMs }) }, values);
        const now = Date.now();
        this.acked.push(id);
        this.ackTimes.push(now);
        this.ackedBy.set(key, (this.ackedBy.get(key) ?? 0) + 1);
        if (!this.firstAckOn.has(key)) this.firstAckOn.set(key, now);
      } catch (e) {
        this.lastError = errorMessage(e);
        this.errors.push(this.lastError);
        drop();
        await sleep(this.#o.retryPauseMs);
      }
    }
    drop();
  }
}
