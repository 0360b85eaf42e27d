// mysql2 helpers for the clustering engine: admin connections with the timeouts of
// docs/clustering.md#gathering-status (connect 5 s, read 60 s, client-side interpolation), errors that
// never carry a statement's parameters (passwords), and the per-pass set of connections
// (one per instance, opened lazily, all closed at the end of the pass).
import mysql from "mysql2/promise";
import type { Connection, ConnectionOptions, RowDataPacket } from "mysql2/promise";

import { mysqlClientTlsOptions } from "../mysql/tls.ts";
import type { MysqlClientTls } from "../mysql/tls.ts";
import { setTimeout as delay } from "node:timers/promises";

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_READ_TIMEOUT_MS = 60_000;

/** MySQL error numbers the engine looks at. */
export { ER_NO_SUCH_THREAD } from "../mysql/fence.ts";
export const ER_NO_SUCH_TABLE = 1146;

export interface SqlTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Never logged. */
  readonly password: string;
  /** TLS with verification of the server (moco-ts addition, docs/tls.md); absent ⇒ plaintext. */
  readonly tls?: MysqlClientTls | undefined;
}

export interface SqlTimeouts {
  readonly connectTimeoutMs?: number | undefined;
  readonly readTimeoutMs?: number | undefined;
  /**
   * Aborts every statement of the connection: the socket is destroyed at once, the query
   * rejects with AbortedError, and the statement is killed on the server from a fresh
   * connection (close() waits for that), so nothing keeps running after the abort.
   */
  readonly signal?: AbortSignal | undefined;
}

/** Bound of the KILL sent for an aborted or timed-out statement. */
export const KILL_STATEMENT_TIMEOUT_MS = 5_000;

/** A database error without the statement or its parameters (they may hold passwords). */
export class SqlError extends Error {
  override name = "SqlError";
  readonly errno: number | undefined;
  readonly code: string | undefined;
  constructor(message: string, errno?: number, code?: string) {
    super(message);
    this.errno = errno;
    this.code = code;
  }
}

/** The instance has no address (no Pod, no IP): the "nop" operator of docs/clustering.md#gathering-status. */
export class NopError extends Error {
  override name = "NopError";
}

/** A MySQL error message without the secrets (raw or escaped as in a statement) nor the quoted statement tail. */
function redactMysqlMessage(text: string, secrets: readonly string[]): string {
  if (secrets.length === 0) return text;
  // A syntax error quotes the statement after the error point (possibly a truncated,
  // escaped password): drop that quote altogether, then blank raw and escaped secrets.
  let out = text.replace(/ near '[\s\S]*$/, " near '…'");
  for (const s of secrets) {
    if (s === "") continue;
    const escaped = mysql.escape(s).slice(1, -1);
    out = out.split(s).join("***").split(escaped).join("***");
  }
  return out;
}

/** Turns anything thrown by mysql2 into a SqlError whose message has no secrets. */
export function toSqlError(e: unknown, secrets: readonly string[] = [], context = ""): SqlError {
  const err = e as { message?: unknown; errno?: unknown; code?: unknown };
  const raw = typeof err?.message === "string" ? err.message : String(e);
  const message = redactMysqlMessage(raw, secrets);
  return new SqlError(
    context === "" ? message : `${context}: ${message}`,
    typeof err?.errno === "number" ? err.errno : undefined,
    typeof err?.code === "string" ? err.code : undefined,
  );
}

export function errnoOf(e: unknown): number | undefined {
  const n = (e as { errno?: unknown } | null)?.errno;
  return typeof n === "number" ? n : undefined;
}

export type Row = Record<string, unknown>;
export type SqlParam = string | number | boolean | null;

export interface QueryOptions {
  /** Per-statement read timeout; 0 = none. Default: the connection's read timeout. */
  readonly timeoutMs?: number | undefined;
  /** Values to blank out of error messages (passwords among the params). */
  readonly secrets?: readonly string[] | undefined;
}

/**
 * mysql2 preallocates a prepared-statement cache of `maxPreparedStatements` slots (16 000 by
 * default: ~500 KiB per connection); the engine prepares nothing (query() only), so its
 * connections keep one slot.
 */
const NO_STATEMENT_CACHE = { maxPreparedStatements: 1 } as const;

/** mysql2 options of one connection to `target` (address, TLS, credentials, no statement cache). */
export function targetConnectionOptions(target: SqlTarget, connectTimeoutMs: number): ConnectionOptions {
  return {
    ...mysqlClientTlsOptions(target.host, target.port, target.tls), user: target.user, password: target.password,
    connectTimeout: connectTimeoutMs,
    ...NO_STATEMENT_CACHE,
  };
}

/**
 * Kills server thread `threadId` of `target` from a new connection (best effort: the
 * instance may be unreachable; the caller has already dropped its own socket).
 */
async function killServerThread(target: SqlTarget, threadId: number, connectTimeoutMs: number): Promise<void> {
  let conn: Connection | undefined;
  try {
    conn = await mysql.createConnection(targetConnectionOptions(target, Math.min(connectTimeoutMs, KILL_STATEMENT_TIMEOUT_MS)));
    conn.on("error", () => undefined);
    await conn.query({ sql: "KILL CONNECTION ?", timeout: KILL_STATEMENT_TIMEOUT_MS }, [threadId]);
  } catch {
    // ER_NO_SUCH_THREAD (already gone) or unreachable: nothing more to do.
  } finally {
    conn?.destroy();
  }
}

/**
 * Closes a mysql2 connection's socket now. mysql2's destroy() only half-closes it (the
 * server, busy with the statement, would keep it open) and leaves the running statement's
 * inactivity timer armed; both go here.
 */
function dropSocket(conn: Connection): void {
  const core = (conn as unknown as { connection?: { _command?: { queryTimeout?: NodeJS.Timeout | null } | null; stream?: { destroy?(): void } } }).connection;
  const command = core?._command;
  if (command?.queryTimeout) {
    clearTimeout(command.queryTimeout);
    command.queryTimeout = null;
  }
  conn.destroy();
  core?.stream?.destroy?.();
}

/**
 * The leading words of a statement (up to three, up to the first literal), to name a
 * statement that got no answer: the engine's statements carry their values as `?`
 * parameters, and a statement with secrets is never named.
 */
export function statementHint(sql: string): string {
  const words: string[] = [];
  for (const w of sql.trim().split(/\s+/).slice(0, 3)) {
    if (/['"`]/.test(w)) break; // a literal: never shown
    words.push(w.replace(/[^A-Za-z0-9_@.(),?*=]/g, ""));
  }
  return words.join(" ").slice(0, 60);
}

/** mysql2's error for a statement that outlived its `timeout`. */
function isStatementTimeout(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === "PROTOCOL_SEQUENCE_TIMEOUT";
}

/** One admin connection. Broken connections (fatal errors, server gone) report `broken`. */
export class SqlConnection {
  readonly host: string;
  private readonly conn: Connection;
  private readonly readTimeoutMs: number;
  private readonly target: SqlTarget;
  private readonly connectTimeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  private isBroken = false;
  /** Upper bound of every statement's read timeout while set (bounded()). */
  private capMs = Infinity;
  /** The server-side KILL of an interrupted statement, awaited by close(). */
  private killing: Promise<void> | undefined;

  private constructor(target: SqlTarget, conn: Connection, timeouts: SqlTimeouts) {
    this.host = target.host;
    this.target = target;
    this.conn = conn;
    this.readTimeoutMs = timeouts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    this.connectTimeoutMs = timeouts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.signal = timeouts.signal;
    // Without a listener, an error on an idle connection (mysqld killed) would be thrown
    // as an uncaught exception.
    conn.on("error", () => {
      this.isBroken = true;
    });
  }

  static async open(target: SqlTarget, timeouts: SqlTimeouts = {}): Promise<SqlConnection> {
    if (timeouts.signal?.aborted === true) throw new AbortedError("aborted");
    const connecting = mysql.createConnection({
      ...targetConnectionOptions(target, timeouts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
      multipleStatements: false,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
    });
    const signal = timeouts.signal;
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new AbortedError(`aborted connecting to ${target.host}:${target.port}`));
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    let conn: Connection;
    try {
      conn = signal === undefined ? await connecting : await Promise.race([connecting, aborted]);
    } catch (e) {
      // A connection that completes after the abort is dropped at once.
      connecting.then((c) => c.destroy(), () => undefined);
      if (e instanceof AbortedError) throw e;
      throw toSqlError(e, [target.password], `connect to ${target.host}:${target.port}`);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    return new SqlConnection(target, conn, timeouts);
  }

  /**
   * Stops the running statement for good: drops the socket now and kills the server thread
   * from another connection (a blocked statement would otherwise go on running server-side).
   */
  private interrupt(): void {
    if (this.killing !== undefined) return;
    this.isBroken = true;
    const threadId = this.conn.threadId;
    dropSocket(this.conn);
    this.killing = threadId === null ? Promise.resolve() : killServerThread(this.target, threadId, this.connectTimeoutMs);
  }

  get broken(): boolean {
    return this.isBroken;
  }

  /** Runs one statement (client-side interpolation of `params`) and returns its rows. */
  async query(sql: string, params: readonly SqlParam[] = [], options: QueryOptions = {}): Promise<Row[]> {
    const signal = this.signal;
    if (signal?.aborted === true || this.killing !== undefined) throw new AbortedError("aborted");
    const asked = options.timeoutMs ?? this.readTimeoutMs;
    const timeout = this.capMs === Infinity ? asked : asked > 0 ? Math.min(asked, this.capMs) : this.capMs;
    const running = this.conn.query<RowDataPacket[]>(timeout > 0 ? { sql, timeout } : { sql }, params as SqlParam[]);
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        this.interrupt();
        reject(new AbortedError(`aborted a statement on ${this.host}`));
      };
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const [rows] = signal === undefined ? await running : await Promise.race([running, aborted]);
      return Array.isArray(rows) ? (rows as Row[]) : [];
    } catch (e) {
      if (e instanceof AbortedError) throw e;
      if (isStatementTimeout(e)) {
        this.interrupt();
        // Which statement got no answer (docs/clustering.md "Failover"): the one that hung.
        const named = (options.secrets ?? []).length === 0 ? `${statementHint(sql)} on ${this.host}` : `a statement on ${this.host}`;
        throw toSqlError(e, options.secrets ?? [], `${named}: no answer within ${timeout} ms`);
      }
      const fatal = (e as { fatal?: unknown } | null)?.fatal === true;
      if (fatal || errnoOf(e) === undefined) this.isBroken = true;
      throw toSqlError(e, options.secrets ?? []);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      running.catch(() => undefined);
    }
  }

  /**
   * Runs `fn` with every statement's read timeout at most `ms` (a step that must fail fast
   * rather than wait the read timeout, e.g. a failover's statements on the replicas).
   */
  async bounded<T>(ms: number, fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    const previous = this.capMs;
    this.capMs = Math.min(previous, ms);
    try {
      return await fn(this);
    } finally {
      this.capMs = previous;
    }
  }

  async exec(sql: string, params: readonly SqlParam[] = [], options: QueryOptions = {}): Promise<void> {
    await this.query(sql, params, options);
  }

  async close(): Promise<void> {
    this.isBroken = true;
    if (this.killing !== undefined) {
      await this.killing;
      return;
    }
    try {
      await this.conn.end();
    } catch {
      this.conn.destroy();
    }
  }
}

export interface InstanceEndpoint {
  /** null ⇒ every call fails with NopError. */
  readonly host: string | null;
  readonly port: number;
  /** With the pass's CA: connect with TLS, the certificate carrying this name (absent ⇒ plaintext). */
  readonly serverName?: string | undefined;
}

/**
 * The connections of one pass: one cached admin connection per ordinal (re-opened when it
 * broke), plus extra ones for statements that may block (switchover's super_read_only).
 * `closeAll` at the end of the pass.
 */
export class PassConnections {
  private readonly cached = new Map<number, SqlConnection>();
  private readonly extras = new Set<SqlConnection>();
  private readonly endpoints: (ordinal: number) => InstanceEndpoint;
  private readonly user: string;
  private readonly password: string;
  private readonly timeouts: SqlTimeouts;
  private readonly caPem: string | undefined;
  private closed = false;

  /** `tls.ca`: verify each instance whose endpoint has a serverName against this CA (PEM) and that name. */
  constructor(
    endpoints: (ordinal: number) => InstanceEndpoint,
    credentials: { readonly user: string; readonly password: string },
    timeouts: SqlTimeouts = {},
    tls?: { readonly ca: string } | undefined,
  ) {
    this.endpoints = endpoints;
    this.user = credentials.user;
    this.password = credentials.password;
    this.timeouts = timeouts;
    this.caPem = tls?.ca;
  }

  /** Where and how the pass connects to `ordinal` (throws NopError without an address). */
  targetOf(ordinal: number): SqlTarget {
    const ep = this.endpoints(ordinal);
    if (ep.host === null || ep.host === "") throw new NopError(`instance ${ordinal} has no address`);
    const tls = this.caPem === undefined || ep.serverName === undefined ? undefined : { ca: this.caPem, serverName: ep.serverName };
    return { host: ep.host, port: ep.port, user: this.user, password: this.password, tls };
  }

  /** The cached connection to `ordinal`, opened (or re-opened) on demand. */
  async get(ordinal: number): Promise<SqlConnection> {
    if (this.closed) throw new Error("the pass is over");
    const have = this.cached.get(ordinal);
    if (have !== undefined && !have.broken) return have;
    if (have !== undefined) {
      this.cached.delete(ordinal);
      void have.close();
    }
    const conn = await SqlConnection.open(this.targetOf(ordinal), this.timeouts);
    if (this.closed) {
      await conn.close();
      throw new Error("the pass is over");
    }
    this.cached.set(ordinal, conn);
    return conn;
  }

  /** A separate connection to `ordinal`, closed by closeAll (or by the caller). */
  async extra(ordinal: number): Promise<SqlConnection> {
    const conn = await SqlConnection.open(this.targetOf(ordinal), this.timeouts);
    this.extras.add(conn);
    return conn;
  }

  /**
   * A new connection to `ordinal` that the pass does not hold yet: the caller either hands
   * it over with `adopt` or closes it. Several may be opening at once (hedged status tries).
   * `connectTimeoutMs` overrides the pass's connect timeout for this connection.
   */
  async open(ordinal: number, connectTimeoutMs?: number): Promise<SqlConnection> {
    if (this.closed) throw new Error("the pass is over");
    const timeouts = connectTimeoutMs === undefined ? this.timeouts : { ...this.timeouts, connectTimeoutMs };
    return SqlConnection.open(this.targetOf(ordinal), timeouts);
  }

  /** Makes `conn` (from `open`) the cached connection of `ordinal`; closes it when the pass is over. */
  async adopt(ordinal: number, conn: SqlConnection): Promise<void> {
    if (this.closed) {
      await conn.close();
      throw new Error("the pass is over");
    }
    const have = this.cached.get(ordinal);
    this.cached.set(ordinal, conn);
    if (have !== undefined && have !== conn) await have.close();
  }

  /** Drop the cached connection (after a clone restarted mysqld). */
  async discard(ordinal: number): Promise<void> {
    const have = this.cached.get(ordinal);
    this.cached.delete(ordinal);
    if (have !== undefined) await have.close();
  }

  /** Runs `fn` on the cached connection; a failure on a broken connection drops it. */
  async with<T>(ordinal: number, fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    const conn = await this.get(ordinal);
    try {
      return await fn(conn);
    } finally {
      if (conn.broken) await this.discard(ordinal);
    }
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const all = [...this.cached.values(), ...this.extras];
    this.cached.clear();
    this.extras.clear();
    await Promise.all(all.map((c) => c.close()));
  }

  /** Number of connections currently open (tests check that every one was closed). */
  get openCount(): number {
    return this.cached.size + this.extras.size;
  }
}

/** Thrown by `sleep` when its signal aborts (the worker is stopping). */
export class AbortedError extends Error {
  override name = "AbortedError";
}

/** Sleeps `ms` (node:timers/promises); rejects with AbortedError as soon as `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(Math.max(0, ms), undefined, { signal });
  } catch (e) {
    throw signal?.aborted === true ? new AbortedError("aborted") : e;
  }
}

/** Helpers to read result columns. */
export function str(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  return String(v);
}

export function num(v: unknown): number {
  if (v === null || v === undefined || v === "") return 0;
  const n = Number(Buffer.isBuffer(v) ? v.toString("utf8") : v);
  return Number.isFinite(n) ? n : 0;
}

export function numOrNull(v: unknown): number | null {
  if (v === null || v === undefined || v === "") return null;
  return num(v);
}

/** MySQL booleans: 1/0, "ON"/"OFF", "1"/"0". */
export function bool(v: unknown): boolean {
  const s = str(v).trim().toUpperCase();
  return s === "1" || s === "ON" || s === "YES" || s === "TRUE";
}
