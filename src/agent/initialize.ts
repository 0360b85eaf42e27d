// First-boot initialization of mysqld (docs/agent.md#startup step 2, docs/objects.md#mysql-users) and
// the "external" initialization after a clone (docs/agent.md#clone-api step 7).
import type { Connection } from "mysql2/promise";

import {
  ACTIVE_PLUGINS_QUERY,
  ENABLE_PARTIAL_REVOKES,
  MOCO_USERS,
  ensureUserStatements,
  installPluginStatement,
  passwordFor,
  pluginsToInstall,
  userExistsQuery,
  type MocoPasswords,
} from "../mysql/users.ts";
import {
  ER_ACCESS_DENIED_ERROR,
  ER_PLUGIN_IS_NOT_LOADED,
  connectSocket,
  exec,
  execStatement,
  mysqlErrno,
  resetBinaryLogsStatement,
  serverVersion,
} from "./db.ts";
import { queryRows, type Queryable } from "../mysql/query.ts";
import { safeErrorMessage, type Logger } from "./log.ts";
import { setTimeout as sleep } from "node:timers/promises";

export interface EnsureUsersResult {
  readonly created: string[];
  readonly reset: string[];
}

/**
 * Creates the missing MOCO users (existing `'%'` users are left alone), or with
 * `resetPassword` also sets the password of existing ones to the given values.
 * Run ENABLE_PARTIAL_REVOKES first (done here).
 */
export async function ensureMocoUsers(
  db: Queryable,
  passwords: MocoPasswords,
  options: { readonly resetPassword: boolean },
): Promise<EnsureUsersResult> {
  await execStatement(db, ENABLE_PARTIAL_REVOKES);
  const created: string[] = [];
  const reset: string[] = [];
  for (const user of MOCO_USERS) {
    const q = userExistsQuery(user.name);
    const rows = await queryRows(db, q.sql, q.params);
    const exists = Number(rows[0]?.n ?? 0) === 1;
    const password = passwordFor(user, passwords);
    if (password === "" || password === undefined) throw new Error(`no password for ${user.name} (${user.passwordKey})`);
    for (const stmt of ensureUserStatements(user, password, { exists, resetPassword: options.resetPassword })) {
      await execStatement(db, stmt);
    }
    if (!exists) created.push(user.name);
    else if (options.resetPassword) reset.push(user.name);
  }
  return { created, reset };
}

/** Installs the semi-sync (current names) and clone plugins unless ACTIVE. Returns the installed names. */
export async function ensureMocoPlugins(db: Queryable): Promise<string[]> {
  const rows = await queryRows(db, ACTIVE_PLUGINS_QUERY.sql);
  const active = rows.map((r) => String(r.name));
  const installed: string[] = [];
  for (const plugin of pluginsToInstall(active)) {
    await execStatement(db, installPluginStatement(plugin));
    installed.push(plugin.name);
  }
  return installed;
}

export interface FirstBootOptions {
  readonly socketPath: string;
  readonly passwords: MocoPasswords;
  readonly logger: Logger;
  readonly connectTimeoutMs?: number;
  /** Root login attempts: every 3 s for up to 1 min (upstream). */
  readonly rootRetryIntervalMs?: number;
  readonly rootRetryBudgetMs?: number;
  /** moco-admin login attempts after the users exist: every 1 s for up to 1 min. */
  readonly adminRetryIntervalMs?: number;
  readonly adminRetryBudgetMs?: number;
}

export type FirstBootResult = "initialized" | "already-initialized";

async function connectWithRetry(
  what: string,
  connect: () => Promise<Connection>,
  opts: { intervalMs: number; budgetMs: number; logger: Logger; secrets: readonly string[]; stopOn?: (err: unknown) => boolean },
): Promise<Connection> {
  const deadline = Date.now() + opts.budgetMs;
  for (;;) {
    try {
      return await connect();
    } catch (err) {
      if (opts.stopOn?.(err)) throw err;
      const message = safeErrorMessage(err, opts.secrets);
      if (Date.now() + opts.intervalMs > deadline) throw new Error(`could not connect to mysqld as ${what}: ${message}`);
      opts.logger.info({ error: message }, `waiting for mysqld (${what})`);
      await sleep(opts.intervalMs);
    }
  }
}

/**
 * How often the first-boot initialization tries the socket while mysqld starts. Divergence:
 * upstream tries every 3 s; the agent starts with mysqld, which is usually up within a few
 * seconds, and each try costs one failed connect, so moco-ts tries every 0.5 s (same 1 min budget).
 */
export const ROOT_RETRY_INTERVAL_MS = 500;

/**
 * docs/agent.md#startup step 2. Connects through the socket as root without a password;
 * if mysqld refuses (1045 / 1524) the instance was initialized before and nothing is
 * done. Otherwise creates the users, installs the plugins, drops root@localhost (as
 * moco-admin), empties the binary logs and GTIDs and sets super_read_only=ON; offline_mode
 * is ON from before read_only=OFF until after super_read_only=ON (moco-ts).
 *
 * Divergence: the sessions run with sql_log_bin=OFF, so a crash between dropping
 * root@localhost and the reset cannot leave GTIDs behind.
 */
export async function initializeOnFirstBoot(opts: FirstBootOptions): Promise<FirstBootResult> {
  const log = opts.logger;
  const secrets = Object.values(opts.passwords);
  let root: Connection;
  try {
    root = await connectWithRetry(
      "root",
      () => connectSocket({ socketPath: opts.socketPath, user: "root", password: "", connectTimeoutMs: opts.connectTimeoutMs }),
      {
        intervalMs: opts.rootRetryIntervalMs ?? ROOT_RETRY_INTERVAL_MS,
        budgetMs: opts.rootRetryBudgetMs ?? 60_000,
        logger: log,
        secrets,
        stopOn: (err) => {
          const errno = mysqlErrno(err);
          return errno === ER_ACCESS_DENIED_ERROR || errno === ER_PLUGIN_IS_NOT_LOADED;
        },
      },
    );
  } catch (err) {
    const errno = mysqlErrno(err);
    if (errno === ER_ACCESS_DENIED_ERROR || errno === ER_PLUGIN_IS_NOT_LOADED) {
      log.info({ errno }, "mysqld is already initialized (root without password refused)");
      return "already-initialized";
    }
    throw err;
  }

  log.info("first-boot initialization of mysqld");
  try {
    await exec(root, "SET sql_log_bin=OFF");
    // moco-ts: offline_mode first. read_only=OFF (needed to create the users) makes the
    // instance writable until super_read_only=ON below, and the users it creates can connect
    // over the network meanwhile: offline_mode refuses every account without
    // CONNECTION_ADMIN/SUPER (moco-writable, applications) for that window. The fault
    // campaign saw a re-initialised instance writable beside the primary for ~1 s.
    await exec(root, "SET GLOBAL offline_mode=ON");
    await exec(root, "SET GLOBAL read_only=OFF");
    const users = await ensureMocoUsers(root, opts.passwords, { resetPassword: false });
    const plugins = await ensureMocoPlugins(root);
    log.info({ createdUsers: users.created, installedPlugins: plugins }, "users and plugins ensured");
  } finally {
    await root.end().catch(() => undefined);
  }

  const admin = await connectWithRetry(
    "moco-admin",
    () => connectSocket({ socketPath: opts.socketPath, user: "moco-admin", password: opts.passwords.ADMIN_PASSWORD, connectTimeoutMs: opts.connectTimeoutMs }),
    { intervalMs: opts.adminRetryIntervalMs ?? 1000, budgetMs: opts.adminRetryBudgetMs ?? 60_000, logger: log, secrets },
  );
  try {
    await exec(admin, "SET sql_log_bin=OFF");
    await exec(admin, "DROP USER IF EXISTS 'root'@'localhost'");
    await exec(admin, "FLUSH PRIVILEGES");
    const version = await serverVersion(admin);
    await exec(admin, resetBinaryLogsStatement(version));
    await exec(admin, "SET GLOBAL super_read_only=ON");
    await exec(admin, "SET GLOBAL offline_mode=OFF");
  } finally {
    await admin.end().catch(() => undefined);
  }
  log.info("first-boot initialization done");
  return "initialized";
}

/**
 * The "external" initialization after a clone (docs/agent.md#clone-api step 7), on a
 * connection as the donor's init user: users created or their passwords reset to this
 * cluster's values, plugins installed, super_read_only=ON; nothing is binlogged.
 */
export async function initializeAfterClone(db: Queryable, passwords: MocoPasswords): Promise<EnsureUsersResult> {
  await exec(db, "SET sql_log_bin=OFF");
  // moco-ts: the cloned instance holds the donor's accounts; offline_mode keeps them out while
  // read_only is OFF (as in initializeOnFirstBoot).
  await exec(db, "SET GLOBAL offline_mode=ON");
  await exec(db, "SET GLOBAL read_only=OFF");
  const users = await ensureMocoUsers(db, passwords, { resetPassword: true });
  await ensureMocoPlugins(db);
  await exec(db, "SET GLOBAL super_read_only=ON");
  await exec(db, "SET GLOBAL offline_mode=OFF");
  await exec(db, "SET sql_log_bin=ON");
  return users;
}
