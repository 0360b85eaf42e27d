// mysqld access for the agent: socket connections for initialization and clone, the
// working pool to the admin port as moco-agent, and small query helpers.
import mysql from "mysql2/promise";
import type { Connection, Pool } from "mysql2/promise";

import { queryRows, type Queryable } from "../mysql/query.ts";
import type { SqlStatement } from "../mysql/users.ts";
import { mysqlClientTlsOptions } from "../mysql/tls.ts";
import type { MysqlClientTls } from "../mysql/tls.ts";

/** MySQL error numbers the agent reacts to. */
export const ER_ACCESS_DENIED_ERROR = 1045;
export const ER_PLUGIN_IS_NOT_LOADED = 1524;
/** CLONE finished but mysqld could not restart itself (no supervisor): success. */
export const ER_CLONE_RESTART_FAILED = 3707;

/** The MySQL error number of a mysql2 error, if any. */
export function mysqlErrno(err: unknown): number | undefined {
  const errno = (err as { errno?: unknown } | null)?.errno;
  return typeof errno === "number" && errno > 0 ? errno : undefined;
}

/** True when a connection failed for good (mysqld went away): retrying on a new one may help. */
export function isConnectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === "string" &&
    ["PROTOCOL_CONNECTION_LOST", "ECONNRESET", "EPIPE", "ECONNREFUSED", "ENOENT", "PROTOCOL_SEQUENCE_TIMEOUT", "ER_SERVER_SHUTDOWN"].includes(code)
  );
}

export interface SocketConnectOptions {
  readonly socketPath: string;
  readonly user: string;
  readonly password: string;
  readonly connectTimeoutMs?: number;
}

/** A new connection over the Unix socket. */
export function connectSocket(opts: SocketConnectOptions): Promise<Connection> {
  return mysql.createConnection({
    socketPath: opts.socketPath,
    user: opts.user,
    password: opts.password,
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    multipleStatements: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
  });
}

export interface AgentPoolOptions {
  /** TLS verified against this CA, the certificate carrying `host` (spec.tls; docs/tls.md). */
  readonly tls?: MysqlClientTls | undefined;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly connectTimeoutMs: number;
  readonly maxIdleTimeMs: number;
}

/** The working pool (docs/agent.md#startup step 3): at most one idle connection, dropped after maxIdleTime. */
export function createAgentPool(opts: AgentPoolOptions): Pool {
  return mysql.createPool({
    ...mysqlClientTlsOptions(opts.host, opts.port, opts.tls),
    user: opts.user,
    password: opts.password,
    connectTimeout: opts.connectTimeoutMs,
    connectionLimit: 4,
    maxIdle: 1,
    idleTimeout: Math.max(1000, opts.maxIdleTimeMs),
    enableKeepAlive: true,
    multipleStatements: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
}

/** Runs a statement built by src/mysql (its params may hold secrets and are never logged). */
export async function execStatement(db: Queryable, stmt: SqlStatement): Promise<void> {
  await db.query(stmt.sql, [...stmt.params]);
}

/** Runs a statement without parameters. */
export async function exec(db: Queryable, sql: string, params: readonly unknown[] = []): Promise<void> {
  await db.query(sql, [...params]);
}

/** The server's "major.minor" as numbers. */
export async function serverVersion(db: Queryable): Promise<{ major: number; minor: number; text: string }> {
  const rows = await queryRows(db, "SELECT VERSION() AS v");
  const text = String(rows[0]?.v ?? "");
  const m = /^(\d+)\.(\d+)/.exec(text);
  if (m === null) throw new Error(`cannot parse server version ${JSON.stringify(text)}`);
  return { major: Number(m[1]), minor: Number(m[2]), text };
}

/** RESET BINARY LOGS AND GTIDS from 8.4 on, RESET MASTER before (docs/objects.md#mysql-users). */
export function resetBinaryLogsStatement(version: { major: number; minor: number }): string {
  return version.major > 8 || (version.major === 8 && version.minor >= 4) ? "RESET BINARY LOGS AND GTIDS" : "RESET MASTER";
}
