// Fencing primitives shared by the clustering engine (docs/clustering.md#operator-primitives, moco-ts fencing)
// and the agent's self-fencing (docs/clustering.md "Self-fencing"): make an instance
// read-only, killing client sessions, also when its commits wait for semi-sync
// acknowledgements that never come.
import { isProtectedConnection } from "./users.ts";

/** ER_NO_SUCH_THREAD: the session to kill is already gone. */
export const ER_NO_SUCH_THREAD = 1094;

/**
 * Bound of `SET GLOBAL super_read_only=1` (it waits for running commits and for other
 * sessions' table locks). On expiry the statement is killed on the server and the caller
 * fails; the next attempt starts over.
 */
export const SUPER_READ_ONLY_TIMEOUT_MS = 30_000;

/**
 * What the fencing statements need from a connection: the engine's SqlConnection and the
 * agent's socket connection both provide it. `timeoutMs` bounds one statement.
 */
export interface FenceConnection {
  exec(sql: string, params?: readonly (string | number | boolean | null)[], options?: { readonly timeoutMs?: number | undefined }): Promise<void>;
  query(sql: string): Promise<Record<string, unknown>[]>;
}

function errnoOf(e: unknown): number | undefined {
  const n = (e as { errno?: unknown } | null)?.errno;
  return typeof n === "number" ? n : undefined;
}

export async function setSuperReadOnly(conn: FenceConnection, timeoutMs = SUPER_READ_ONLY_TIMEOUT_MS): Promise<void> {
  await conn.exec("SET GLOBAL super_read_only=1", [], { timeoutMs });
}

/**
 * Kills every connection but the MOCO system users', socket-local ones, `system user`
 * threads and the event scheduler (docs/clustering.md#operator-primitives). Returns how many were killed.
 */
export async function killConnections(conn: FenceConnection): Promise<number> {
  const rows = await conn.query("SELECT ID AS id, USER AS user, HOST AS host FROM information_schema.PROCESSLIST");
  let killed = 0;
  for (const r of rows) {
    const user = String(r.user ?? "");
    const host = String(r.host ?? "");
    if (isProtectedConnection({ user, host }) || user === "event_scheduler") continue;
    try {
      await conn.exec("KILL CONNECTION ?", [Number(r.id)]);
      killed++;
    } catch (e) {
      if (errnoOf(e) !== ER_NO_SUCH_THREAD) throw e;
    }
  }
  return killed;
}

/**
 * Fences a writable instance whose commits wait for semi-sync acknowledgements that will never
 * come (an old primary back from a partition, or one cut off from its replicas): SET GLOBAL
 * super_read_only would wait behind those commits. Clients are shut out first (offline_mode:
 * users without CONNECTION_ADMIN are refused; the others are killed), so when semi-sync is
 * switched off and the waiting commits end, nobody is left to be told they succeeded; then
 * super_read_only, and clients back in (read-only). The controller's pass undoes it for an
 * instance that is still the primary: semi-sync source back on, then read_only=0.
 */
export async function fenceHungUp(conn: FenceConnection): Promise<void> {
  await conn.exec("SET GLOBAL offline_mode=ON");
  await killConnections(conn);
  await conn.exec("SET GLOBAL rpl_semi_sync_source_enabled=OFF");
  await setSuperReadOnly(conn);
  await conn.exec("SET GLOBAL offline_mode=OFF");
}
