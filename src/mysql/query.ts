// The one query helper of the mysql2 clients (agent, backup job).
import type { Connection, RowDataPacket } from "mysql2/promise";

/** Anything that can run a query: a connection or a pool. */
export type Queryable = Pick<Connection, "query">;

/** Runs a query and returns its rows. `timeoutMs` bounds the whole query (a read timeout). */
export async function queryRows<T = RowDataPacket>(db: Queryable, sql: string, params: readonly unknown[] = [], timeoutMs?: number): Promise<T[]> {
  const [rows] = await db.query<RowDataPacket[]>(timeoutMs === undefined ? { sql } : { sql, timeout: timeoutMs }, [...params]);
  return rows as T[];
}
