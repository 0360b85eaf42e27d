// The status queries of one instance (docs/clustering.md, "SQL details"): observe
// runs them on every instance of a pass, act re-reads an instance with them mid-operation.
import { SEMISYNC_NAMES } from "../mysql/users.ts";
import type { SemiSyncFamily, SemiSyncNames } from "../mysql/users.ts";
import { ER_NO_SUCH_TABLE, bool, errnoOf, num, numOrNull, str } from "./sql.ts";
import type { SqlConnection } from "./sql.ts";
import type { CloneState, InstanceStatus, ReplicaHostRow, ReplicaStatusRow } from "./types.ts";

/**
 * Connect timeout of the single try given to an instance the previous pass could not
 * reach at all (observe: ObserveOptions.recentlyUnreachable).
 */
export const UNREACHABLE_PROBE_CONNECT_TIMEOUT_MS = 1_000;

/**
 * Connect timeout (and statement bound; the whole try is bounded by twice this) of the old
 * primary's last try before a failover (act, step 0). Longer than the probe above: the fault
 * campaign under load (load average ~80 on 2 cores) saw a primary that answered again after a
 * 29 s cut of the controller miss a 1 s connect, and a needless failover followed. It runs
 * beside the IO threads' stop and ends before the failover guard's wait would (6 s bound), so
 * it does not delay a real failover.
 */
export const OLD_PRIMARY_LAST_TRY_MS = 2_000;

const ALL_SEMISYNC_VARIABLES = [
  SEMISYNC_NAMES.current.sourceEnabled,
  SEMISYNC_NAMES.current.sourceWaitForReplicaCount,
  SEMISYNC_NAMES.current.replicaEnabled,
  SEMISYNC_NAMES.legacy.sourceEnabled,
  SEMISYNC_NAMES.legacy.sourceWaitForReplicaCount,
  SEMISYNC_NAMES.legacy.replicaEnabled,
];

/**
 * The semi-sync family whose variables exist (a variable exists exactly while its plugin
 * is ACTIVE): "legacy" only when the legacy plugins are loaded and the current ones are not.
 */
export function familyFromVariableNames(names: readonly string[]): SemiSyncFamily {
  const set = new Set(names.map((n) => n.toLowerCase()));
  const current = set.has(SEMISYNC_NAMES.current.sourceEnabled) || set.has(SEMISYNC_NAMES.current.replicaEnabled);
  const legacy = set.has(SEMISYNC_NAMES.legacy.sourceEnabled) || set.has(SEMISYNC_NAMES.legacy.replicaEnabled);
  return legacy && !current ? "legacy" : "current";
}

async function semiSyncVariables(conn: SqlConnection): Promise<{ family: SemiSyncFamily; values: Map<string, string> }> {
  const rows = await conn.query(
    `SELECT VARIABLE_NAME AS name, VARIABLE_VALUE AS value FROM performance_schema.global_variables WHERE VARIABLE_NAME IN (${ALL_SEMISYNC_VARIABLES.map(() => "?").join(",")})`,
    ALL_SEMISYNC_VARIABLES,
  );
  const values = new Map<string, string>();
  for (const r of rows) values.set(str(r.name).toLowerCase(), str(r.value));
  return { family: familyFromVariableNames([...values.keys()]), values };
}

/** The semi-sync variable names to use on this connection's instance (docs/clustering.md#mysql-version-specifics). */
export async function semiSyncNamesOf(conn: SqlConnection): Promise<SemiSyncNames> {
  return SEMISYNC_NAMES[(await semiSyncVariables(conn)).family];
}

const CLONE_STATES: readonly CloneState[] = ["Not Started", "In Progress", "Completed", "Failed"];

/** Runs the docs/clustering.md#gathering-status queries on one instance. Throws on any error. */
export async function fetchInstanceStatus(conn: SqlConnection): Promise<InstanceStatus> {
  const [g] = await conn.query(
    "SELECT @@server_uuid AS uuid, @@gtid_executed AS executed, @@gtid_purged AS purged, @@read_only AS ro, @@super_read_only AS sro, @@offline_mode AS om",
  );
  if (g === undefined) throw new Error("no row for global variables");
  const { family, values } = await semiSyncVariables(conn);
  const names = SEMISYNC_NAMES[family];

  const statusRows = await conn.query(
    "SELECT VARIABLE_VALUE AS value FROM performance_schema.global_status WHERE VARIABLE_NAME=?",
    [names.sourceWaitSessionsStatus],
  );
  const waitSessions = statusRows.length === 0 ? 0 : num(statusRows[0]?.value);

  const replicaHosts: ReplicaHostRow[] = (await conn.query("SHOW REPLICAS")).map((r) => ({
    serverId: num(r.Server_Id),
    host: str(r.Host),
    port: num(r.Port),
    sourceId: num(r.Source_Id),
    replicaUuid: str(r.Replica_UUID),
  }));

  const rsRows = await conn.query("SHOW REPLICA STATUS");
  const rs = rsRows.find((r) => str(r.Channel_Name) === "") ?? rsRows[0];
  const replicaStatus: ReplicaStatusRow | null =
    rs === undefined
      ? null
      : {
          sourceHost: str(rs.Source_Host),
          replicaIORunning: str(rs.Replica_IO_Running),
          replicaSQLRunning: str(rs.Replica_SQL_Running),
          retrievedGtidSet: str(rs.Retrieved_Gtid_Set),
          executedGtidSet: str(rs.Executed_Gtid_Set),
          secondsBehindSource: numOrNull(rs.Seconds_Behind_Source),
          lastIOErrno: num(rs.Last_IO_Errno),
          lastIOError: str(rs.Last_IO_Error),
          lastSQLErrno: num(rs.Last_SQL_Errno),
          lastSQLError: str(rs.Last_SQL_Error),
        };

  let cloneState: CloneState | null = null;
  try {
    const rows = await conn.query("SELECT state FROM performance_schema.clone_status");
    const state = rows.length === 0 ? "" : str(rows[0]?.state);
    if (state !== "") {
      if (!(CLONE_STATES as readonly string[]).includes(state)) throw new Error(`unknown clone state ${state}`);
      cloneState = state as CloneState;
    }
  } catch (e) {
    // Without the clone plugin the table does not exist: no clone state.
    if (errnoOf(e) !== ER_NO_SUCH_TABLE) throw e;
  }

  return {
    serverUuid: str(g.uuid),
    gtidExecuted: str(g.executed),
    gtidPurged: str(g.purged),
    readOnly: bool(g.ro),
    superReadOnly: bool(g.sro),
    offlineMode: bool(g.om),
    semiSyncSourceWaitForReplicaCount: num(values.get(names.sourceWaitForReplicaCount)),
    semiSyncSourceEnabled: bool(values.get(names.sourceEnabled)),
    semiSyncReplicaEnabled: bool(values.get(names.replicaEnabled)),
    semiSyncSourceWaitSessions: waitSessions,
    replicaHosts,
    replicaStatus,
    cloneState,
  };
}
