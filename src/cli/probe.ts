// What `kubectl moco status` reads from each mysqld: one read-only query as moco-readonly,
// answered as (key, value) rows, and the two ways to run it:
//
// - exec:   `mysql --defaults-extra-file=/mysql-credentials/moco-readonly-my.cnf -N -B -e
//           <query>` in the mysqld container through the exec subprotocol (exec.ts, as
//           `kubectl exec` does) — the credentials file is the one MOCO mounts in the Pod, so
//           no password leaves the cluster. Works wherever exec works (any real cluster).
// - pod-ip: a direct MySQL connection to <podIP>:3306 with READONLY_PASSWORD from Secret
//           moco-<cluster>; works when this machine can route to Pod IPs (the sandbox, where
//           Pod IPs are loopback addresses, or a shell inside the cluster network).
import { PATH_MY_CNF_SECRET } from "../shared/names.ts";
import { MYSQLD_CONTAINER } from "../api/v1beta2/index.ts";
import { mysqlClientTlsOptions } from "../mysql/tls.ts";
import type { MysqlClientTls } from "../mysql/tls.ts";
import type { PodExecutor } from "./exec.ts";

/** The query: every row is (key, value). Only performance_schema reads; works on 8.4 and 9.7. */
export const PROBE_QUERY = [
  "SELECT VARIABLE_NAME, REPLACE(VARIABLE_VALUE, '\\n', '') FROM performance_schema.global_variables",
  " WHERE VARIABLE_NAME IN ('gtid_executed', 'server_uuid', 'read_only', 'super_read_only',",
  " 'rpl_semi_sync_source_enabled', 'rpl_semi_sync_replica_enabled')",
  " UNION ALL SELECT VARIABLE_NAME, VARIABLE_VALUE FROM performance_schema.global_status",
  " WHERE VARIABLE_NAME IN ('Rpl_semi_sync_source_status', 'Rpl_semi_sync_replica_status')",
  " UNION ALL SELECT 'replication_io', SERVICE_STATE FROM performance_schema.replication_connection_status",
  " WHERE CHANNEL_NAME = ''",
  " UNION ALL SELECT 'replication_sql', SERVICE_STATE FROM performance_schema.replication_applier_status",
  " WHERE CHANNEL_NAME = ''",
].join("");

/** What one instance reported; fields are undefined when the server did not report them. */
export interface InstanceProbe {
  gtidExecuted?: string;
  serverUuid?: string;
  readOnly?: boolean;
  superReadOnly?: boolean;
  semiSyncSourceEnabled?: boolean;
  semiSyncSourceStatus?: boolean;
  semiSyncReplicaEnabled?: boolean;
  semiSyncReplicaStatus?: boolean;
  /** SERVICE_STATE of the replication receiver / applier ("ON", "OFF", "CONNECTING"). */
  replicationIo?: string;
  replicationSql?: string;
}

/** Undoes mysql --batch escaping (\\n, \\t, \\0, \\\\). */
export function unescapeBatchField(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c === "0" ? "\0" : c));
}

/** Rows of `mysql -N -B` output: tab-separated fields per line, unescaped. */
export function parseBatchOutput(text: string): [string, string][] {
  const rows: [string, string][] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    rows.push([unescapeBatchField(line.slice(0, tab)), unescapeBatchField(line.slice(tab + 1))]);
  }
  return rows;
}

function flag(v: string): boolean {
  const u = v.trim().toUpperCase();
  return u === "ON" || u === "1" || u === "TRUE";
}

/** The probe from (key, value) rows of PROBE_QUERY (keys compared case-insensitively). */
export function probeFromRows(rows: readonly (readonly [string, string])[]): InstanceProbe {
  const p: InstanceProbe = {};
  for (const [k, v] of rows) {
    switch (k.toLowerCase()) {
      case "gtid_executed": p.gtidExecuted = v.replace(/\s+/g, ""); break;
      case "server_uuid": p.serverUuid = v.trim(); break;
      case "read_only": p.readOnly = flag(v); break;
      case "super_read_only": p.superReadOnly = flag(v); break;
      case "rpl_semi_sync_source_enabled": p.semiSyncSourceEnabled = flag(v); break;
      case "rpl_semi_sync_replica_enabled": p.semiSyncReplicaEnabled = flag(v); break;
      case "rpl_semi_sync_source_status": p.semiSyncSourceStatus = flag(v); break;
      case "rpl_semi_sync_replica_status": p.semiSyncReplicaStatus = flag(v); break;
      case "replication_io": p.replicationIo = v.trim(); break;
      case "replication_sql": p.replicationSql = v.trim(); break;
    }
  }
  return p;
}

/** The command that runs PROBE_QUERY in the mysqld container (as moco-readonly, from the Pod's file). */
export const PROBE_COMMAND: readonly string[] = [
  "mysql", `--defaults-extra-file=${PATH_MY_CNF_SECRET}/moco-readonly-my.cnf`, "-N", "-B", "-e", PROBE_QUERY,
];

/** PROBE_QUERY through the exec subprotocol. */
export async function probeViaExec(exec: PodExecutor, namespace: string, pod: string, timeoutMs: number): Promise<InstanceProbe> {
  const out = await exec.collect({ namespace, pod, container: MYSQLD_CONTAINER, command: PROBE_COMMAND }, timeoutMs);
  return probeFromRows(parseBatchOutput(out));
}

/** PROBE_QUERY over a direct connection to `host:port` as moco-readonly (TLS when `tls`: spec.tls). */
export async function probeViaSql(host: string, port: number, password: string, timeoutMs: number, tls?: MysqlClientTls): Promise<InstanceProbe> {
  const mysql = await import("mysql2/promise");
  const conn = await mysql.createConnection({
    ...mysqlClientTlsOptions(host, port, tls), user: "moco-readonly", password, connectTimeout: timeoutMs, rowsAsArray: true,
  });
  try {
    const [rows] = await conn.query({ sql: PROBE_QUERY, timeout: timeoutMs });
    const pairs = (rows as unknown[][]).map((r) => [String(r[0] ?? ""), String(r[1] ?? "")] as [string, string]);
    return probeFromRows(pairs);
  } finally {
    await conn.end().catch(() => undefined);
  }
}
