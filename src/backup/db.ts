// mysql2 connections for the jobs and the server status read of docs/backup.md#backup-steps step 4.
import fs from "node:fs";
import mysql from "mysql2/promise";
import { queryRows } from "../mysql/query.ts";
import { mysqlClientTlsOptions } from "../mysql/tls.ts";
import type { MysqlClientTls } from "../mysql/tls.ts";
import type { Connection as CoreConnection } from "mysql2";

export interface MysqlTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  /** TLS (spec.tls, docs/tls.md): the CA as text and as a file (for mysqlbinlog / mysql), the Pod's name. */
  tls?: MysqlClientTls & { readonly caFile: string };
}

/** Client-program options for `t`'s TLS (the CA only: the programs connect to a Pod IP). */
export function toolTlsArgs(t: MysqlTarget): string[] {
  return t.tls === undefined ? [] : ["--ssl-mode=VERIFY_CA", `--ssl-ca=${t.tls.caFile}`];
}

/** The TLS of an instance's target: verified against the CA in `caFile` as `<pod>.moco-<name>.<ns>.svc`. */
export function instanceTls(caFile: string | undefined, podName: string, clusterName: string, namespace: string): MysqlTarget["tls"] {
  if (caFile === undefined || caFile === "") return undefined;
  return { ca: fs.readFileSync(caFile, "utf8"), caFile, serverName: `${podName}.moco-${clusterName}.${namespace}.svc` };
}

export type Conn = mysql.Connection;

export async function connect(t: MysqlTarget, opts: { connectTimeoutMs?: number; localInfile?: boolean } = {}): Promise<Conn> {
  const c = await mysql.createConnection({
    ...mysqlClientTlsOptions(t.host, t.port, t.tls),
    user: t.user,
    password: t.password,
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    charset: "utf8mb4_general_ci",
    timezone: "Z",
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    multipleStatements: false,
    ...(opts.localInfile ? { flags: ["+LOCAL_FILES"] } : {}),
  });
  c.on("error", () => { /* reported by the failing query */ });
  return c;
}

export async function queryArrays(c: Conn, sql: string, params: unknown[] = []): Promise<unknown[][]> {
  const [rows] = await c.query({ sql, rowsAsArray: true }, params);
  return rows as unknown[][];
}

export interface ServerStatus {
  version: string;
  currentBinlog: string;
  binlogPosition: number;
  superReadOnly: boolean;
  uuid: string;
  gtidExecuted: string;
}

/** VERSION() major.minor: 8.4 and 9.x use SHOW BINARY LOG STATUS; 8.0 SHOW MASTER STATUS. */
export async function readServerStatus(c: Conn): Promise<ServerStatus> {
  const [v] = await queryArrays(c, "SELECT VERSION(), @@super_read_only, @@server_uuid, @@GLOBAL.gtid_executed");
  if (!v) throw new Error("no answer to SELECT VERSION()");
  const version = String(v[0]);
  const mm = version.split(".").slice(0, 2).join(".");
  let statusSql: string;
  if (mm === "8.0") statusSql = "SHOW MASTER STATUS";
  else if (mm === "8.4" || /^9\./.test(mm)) statusSql = "SHOW BINARY LOG STATUS";
  else throw new Error(`unsupported MySQL version ${version}`);
  const rows = await queryRows<{ File?: string; Position?: string | number }>(c, statusSql);
  const r = rows[0];
  return {
    version,
    currentBinlog: r?.File ?? "",
    binlogPosition: Number(r?.Position ?? 0),
    superReadOnly: Number(v[1]) === 1,
    uuid: String(v[2]),
    gtidExecuted: String(v[3] ?? "").replace(/\s+/g, ""),
  };
}

/** The callback-API connection under a promise connection (for query streams). */
export function coreConnection(c: Conn): CoreConnection {
  return (c as unknown as { connection: CoreConnection }).connection;
}
