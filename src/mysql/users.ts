// The MySQL users and plugins MOCO manages (docs/objects.md#mysql-users, docs/agent.md#startup, docs/clustering.md#mysql-version-specifics),
// as data, plus builders for the SQL that creates and repairs them.
//
// Statement builders return {sql, params}. User names are fixed identifiers and are
// written into the SQL as quoted literals; passwords are always parameters, so a logged
// `sql` never carries a secret. The params are meant for client-side interpolation
// (mysql2 `query(sql, params)`), because CREATE USER / ALTER USER cannot take a
// server-side prepared-statement placeholder.

/** A statement with its parameters. `params` may hold secrets: never log them. */
export interface SqlStatement {
  readonly sql: string;
  readonly params: readonly (string | number)[];
}

export const MOCO_USER_NAMES = [
  "moco-admin",
  "moco-agent",
  "moco-repl",
  "moco-clone-donor",
  "moco-exporter",
  "moco-backup",
  "moco-readonly",
  "moco-writable",
] as const;
export type MocoUserName = (typeof MOCO_USER_NAMES)[number];

/** Keys of Secret `moco-<cluster>` (and env vars of the agent), one per user. */
export const PASSWORD_KEYS = [
  "ADMIN_PASSWORD",
  "AGENT_PASSWORD",
  "REPLICATION_PASSWORD",
  "CLONE_DONOR_PASSWORD",
  "EXPORTER_PASSWORD",
  "BACKUP_PASSWORD",
  "READONLY_PASSWORD",
  "WRITABLE_PASSWORD",
] as const;
export type PasswordKey = (typeof PASSWORD_KEYS)[number];

/** The eight passwords, keyed like the Secret. */
export type MocoPasswords = Readonly<Record<PasswordKey, string>>;

export interface MocoUser {
  readonly name: MocoUserName;
  /** Secret data key and agent environment variable holding the password. */
  readonly passwordKey: PasswordKey;
  /** Global privileges (`GRANT … ON *.*`), in upstream's order. */
  readonly privileges: readonly string[];
  readonly withGrantOption: boolean;
  /** `GRANT PROXY ON ''@'' TO … WITH GRANT OPTION` (moco-admin only). */
  readonly proxyGrant: boolean;
  /** Privileges partially revoked on `mysql.*` (moco-writable only; needs partial_revokes=ON). */
  readonly revokedOnMysqlSchema: readonly string[];
  /** A MOCO system user: excluded from user-facing lists and never killed by killConnections. */
  readonly system: boolean;
}

/** The eight users, in the order the agent creates them. */
export const MOCO_USERS: readonly MocoUser[] = Object.freeze([
  {
    name: "moco-admin",
    passwordKey: "ADMIN_PASSWORD",
    privileges: ["ALL"],
    withGrantOption: true,
    proxyGrant: true,
    revokedOnMysqlSchema: [],
    system: true,
  },
  {
    name: "moco-agent",
    passwordKey: "AGENT_PASSWORD",
    privileges: [
      "BINLOG_ADMIN",
      "CLONE_ADMIN",
      "RELOAD",
      "REPLICATION CLIENT",
      "SELECT",
      "SERVICE_CONNECTION_ADMIN",
      "SYSTEM_VARIABLES_ADMIN",
    ],
    withGrantOption: false,
    proxyGrant: false,
    revokedOnMysqlSchema: [],
    system: true,
  },
  {
    name: "moco-repl",
    passwordKey: "REPLICATION_PASSWORD",
    privileges: ["REPLICATION CLIENT", "REPLICATION SLAVE"],
    withGrantOption: false,
    proxyGrant: false,
    revokedOnMysqlSchema: [],
    system: true,
  },
  {
    name: "moco-clone-donor",
    passwordKey: "CLONE_DONOR_PASSWORD",
    privileges: ["BACKUP_ADMIN", "SERVICE_CONNECTION_ADMIN"],
    withGrantOption: false,
    proxyGrant: false,
    revokedOnMysqlSchema: [],
    system: true,
  },
  {
    name: "moco-exporter",
    passwordKey: "EXPORTER_PASSWORD",
    privileges: ["PROCESS", "REPLICATION CLIENT", "SELECT"],
    withGrantOption: false,
    proxyGrant: false,
    revokedOnMysqlSchema: [],
    system: true,
  },
  {
    name: "moco-backup",
    passwordKey: "BACKUP_PASSWORD",
    privileges: [
      "BACKUP_ADMIN",
      "EVENT",
      "RELOAD",
      "SELECT",
      "SHOW VIEW",
      "TRIGGER",
      "REPLICATION CLIENT",
      "REPLICATION SLAVE",
      "SERVICE_CONNECTION_ADMIN",
    ],
    withGrantOption: false,
    proxyGrant: false,
    revokedOnMysqlSchema: [],
    system: true,
  },
  {
    name: "moco-readonly",
    passwordKey: "READONLY_PASSWORD",
    privileges: ["PROCESS", "REPLICATION CLIENT", "REPLICATION SLAVE", "SELECT", "SHOW DATABASES", "SHOW VIEW"],
    withGrantOption: false,
    proxyGrant: false,
    revokedOnMysqlSchema: [],
    system: false,
  },
  {
    name: "moco-writable",
    passwordKey: "WRITABLE_PASSWORD",
    privileges: [
      "ALTER",
      "ALTER ROUTINE",
      "CREATE",
      "CREATE ROLE",
      "CREATE ROUTINE",
      "CREATE TEMPORARY TABLES",
      "CREATE USER",
      "CREATE VIEW",
      "DELETE",
      "DROP",
      "DROP ROLE",
      "EVENT",
      "EXECUTE",
      "INDEX",
      "INSERT",
      "LOCK TABLES",
      "PROCESS",
      "REFERENCES",
      "REPLICATION CLIENT",
      "REPLICATION SLAVE",
      "SELECT",
      "SHOW DATABASES",
      "SHOW VIEW",
      "TRIGGER",
      "UPDATE",
    ],
    withGrantOption: true,
    proxyGrant: false,
    revokedOnMysqlSchema: [
      "CREATE",
      "CREATE ROUTINE",
      "CREATE TEMPORARY TABLES",
      "CREATE VIEW",
      "DELETE",
      "DROP",
      "EVENT",
      "EXECUTE",
      "INDEX",
      "INSERT",
      "LOCK TABLES",
      "REFERENCES",
      "TRIGGER",
      "UPDATE",
    ],
    system: false,
  },
] satisfies MocoUser[]);

/** Users whose connections killConnections spares (docs/clustering.md#operator-primitives), plus "system user". */
export const SYSTEM_USER_NAMES: readonly MocoUserName[] = Object.freeze(
  MOCO_USERS.filter((u) => u.system).map((u) => u.name),
);

/** Users `kubectl moco` can log in as. */
export const CLI_USER_NAMES: readonly MocoUserName[] = Object.freeze(["moco-readonly", "moco-writable", "moco-admin"]);

export function mocoUser(name: MocoUserName): MocoUser {
  const user = MOCO_USERS.find((u) => u.name === name);
  if (user === undefined) throw new Error(`unknown MOCO user ${name}`);
  return user;
}

/** True for a PROCESSLIST row killConnections must spare (docs/clustering.md#operator-primitives). */
export function isProtectedConnection(row: { readonly user: string; readonly host: string }): boolean {
  if (row.user === "system user") return true;
  // PROCESSLIST HOST is "host:port" for TCP clients and "localhost" for socket ones.
  if (row.host === "localhost") return true;
  return (SYSTEM_USER_NAMES as readonly string[]).includes(row.user);
}

const identifierPattern = /^[a-z][a-z-]*$/;

/** `'name'@'%'` for a MOCO user (names are fixed, checked against a strict pattern). */
export function userAccount(name: MocoUserName): string {
  if (!identifierPattern.test(name)) throw new Error(`refusing to quote user name ${JSON.stringify(name)}`);
  return `'${name}'@'%'`;
}

/** Run first: the revoke for moco-writable needs partial_revokes. */
export const ENABLE_PARTIAL_REVOKES: SqlStatement = Object.freeze({
  sql: "SET GLOBAL partial_revokes='ON'",
  params: [],
});

/** Returns one row with column `n`: 1 when `'name'@'%'` exists. */
export function userExistsQuery(name: MocoUserName): SqlStatement {
  return { sql: "SELECT COUNT(*) AS n FROM mysql.user WHERE user=? AND host='%'", params: [name] };
}

/** CREATE USER, GRANT, PROXY grant and partial revoke for one user (the "missing" path). */
export function createUserStatements(user: MocoUser, password: string): SqlStatement[] {
  const account = userAccount(user.name);
  const statements: SqlStatement[] = [
    { sql: `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ?`, params: [password] },
    {
      sql: `GRANT ${user.privileges.join(", ")} ON *.* TO ${account}${user.withGrantOption ? " WITH GRANT OPTION" : ""}`,
      params: [],
    },
  ];
  if (user.proxyGrant) {
    statements.push({ sql: `GRANT PROXY ON ''@'' TO ${account} WITH GRANT OPTION`, params: [] });
  }
  if (user.revokedOnMysqlSchema.length > 0) {
    statements.push({ sql: `REVOKE ${user.revokedOnMysqlSchema.join(", ")} ON mysql.* FROM ${account}`, params: [] });
  }
  return statements;
}

/** ALTER USER … IDENTIFIED BY (the "reset" path for an existing user). */
export function resetPasswordStatement(user: MocoUser, password: string): SqlStatement {
  return { sql: `ALTER USER ${userAccount(user.name)} IDENTIFIED BY ?`, params: [password] };
}

/**
 * What to run for one user once `userExistsQuery` has answered (docs/objects.md#mysql-users): create
 * and grant when missing; when present, nothing, or a password reset in reset mode (after
 * a clone from an external donor).
 */
export function ensureUserStatements(
  user: MocoUser,
  password: string,
  options: { readonly exists: boolean; readonly resetPassword: boolean },
): SqlStatement[] {
  if (!options.exists) return createUserStatements(user, password);
  return options.resetPassword ? [resetPasswordStatement(user, password)] : [];
}

/** The password of `user` from the Secret data / agent environment. */
export function passwordFor(user: MocoUser, passwords: MocoPasswords): string {
  return passwords[user.passwordKey];
}

// ---------------------------------------------------------------------------------
// Plugins (docs/clustering.md#mysql-version-specifics)

export interface MysqlPlugin {
  readonly name: string;
  readonly soname: string;
}

export const SEMISYNC_SOURCE_PLUGIN: MysqlPlugin = Object.freeze({ name: "rpl_semi_sync_source", soname: "semisync_source.so" });
export const SEMISYNC_REPLICA_PLUGIN: MysqlPlugin = Object.freeze({ name: "rpl_semi_sync_replica", soname: "semisync_replica.so" });
export const CLONE_PLUGIN: MysqlPlugin = Object.freeze({ name: "clone", soname: "mysql_clone.so" });
/** Installed by upstream MOCO; not shipped by MySQL 9.x. Detected, never installed. */
export const LEGACY_SEMISYNC_SOURCE_PLUGIN: MysqlPlugin = Object.freeze({ name: "rpl_semi_sync_master", soname: "semisync_master.so" });
export const LEGACY_SEMISYNC_REPLICA_PLUGIN: MysqlPlugin = Object.freeze({ name: "rpl_semi_sync_slave", soname: "semisync_slave.so" });

/** Returns column `name`: every ACTIVE plugin. */
export const ACTIVE_PLUGINS_QUERY: SqlStatement = Object.freeze({
  sql: "SELECT PLUGIN_NAME AS name FROM information_schema.plugins WHERE PLUGIN_STATUS='ACTIVE'",
  params: [],
});

export function installPluginStatement(plugin: MysqlPlugin): SqlStatement {
  if (!/^[a-z_]+$/.test(plugin.name) || !/^[a-z_]+\.so$/.test(plugin.soname)) {
    throw new Error(`refusing to build INSTALL PLUGIN for ${JSON.stringify(plugin)}`);
  }
  return { sql: `INSTALL PLUGIN ${plugin.name} SONAME '${plugin.soname}'`, params: [] };
}

/**
 * Plugins to install given the ACTIVE plugin names. A semi-sync role already served by
 * the legacy plugin (an instance initialised by upstream MOCO) is left alone: the two
 * families cannot be loaded together.
 */
export function pluginsToInstall(activePluginNames: readonly string[]): MysqlPlugin[] {
  const active = new Set(activePluginNames.map((n) => n.toLowerCase()));
  const out: MysqlPlugin[] = [];
  if (!active.has(SEMISYNC_SOURCE_PLUGIN.name) && !active.has(LEGACY_SEMISYNC_SOURCE_PLUGIN.name)) {
    out.push(SEMISYNC_SOURCE_PLUGIN);
  }
  if (!active.has(SEMISYNC_REPLICA_PLUGIN.name) && !active.has(LEGACY_SEMISYNC_REPLICA_PLUGIN.name)) {
    out.push(SEMISYNC_REPLICA_PLUGIN);
  }
  if (!active.has(CLONE_PLUGIN.name)) out.push(CLONE_PLUGIN);
  return out;
}

/** Which semi-sync plugin family an instance runs. */
export type SemiSyncFamily = "current" | "legacy";

/** The family of the ACTIVE semi-sync plugins; "current" when none or the current ones are loaded. */
export function semiSyncFamily(activePluginNames: readonly string[]): SemiSyncFamily {
  const active = new Set(activePluginNames.map((n) => n.toLowerCase()));
  const current = active.has(SEMISYNC_SOURCE_PLUGIN.name) || active.has(SEMISYNC_REPLICA_PLUGIN.name);
  const legacy = active.has(LEGACY_SEMISYNC_SOURCE_PLUGIN.name) || active.has(LEGACY_SEMISYNC_REPLICA_PLUGIN.name);
  return legacy && !current ? "legacy" : "current";
}

/** Variable and status names of one semi-sync family. */
export interface SemiSyncNames {
  readonly sourceEnabled: string;
  readonly sourceTimeout: string;
  readonly sourceWaitForReplicaCount: string;
  readonly replicaEnabled: string;
  /** A global *status* variable (performance_schema.global_status). */
  readonly sourceWaitSessionsStatus: string;
}

export const SEMISYNC_NAMES: Readonly<Record<SemiSyncFamily, SemiSyncNames>> = Object.freeze({
  current: Object.freeze({
    sourceEnabled: "rpl_semi_sync_source_enabled",
    sourceTimeout: "rpl_semi_sync_source_timeout",
    sourceWaitForReplicaCount: "rpl_semi_sync_source_wait_for_replica_count",
    replicaEnabled: "rpl_semi_sync_replica_enabled",
    sourceWaitSessionsStatus: "Rpl_semi_sync_source_wait_sessions",
  }),
  legacy: Object.freeze({
    sourceEnabled: "rpl_semi_sync_master_enabled",
    sourceTimeout: "rpl_semi_sync_master_timeout",
    sourceWaitForReplicaCount: "rpl_semi_sync_master_wait_for_slave_count",
    replicaEnabled: "rpl_semi_sync_slave_enabled",
    sourceWaitSessionsStatus: "Rpl_semi_sync_master_wait_sessions",
  }),
});

// ---------------------------------------------------------------------------------
// Password rotation (moco-ts addition, docs/password-rotation.md): MySQL's dual passwords.

/**
 * `ALTER USER … IDENTIFIED BY ? RETAIN CURRENT PASSWORD`: the new password becomes the
 * primary one, the current one stays valid as the secondary. Not idempotent by itself
 * (a second run would retain the *new* password and drop the old one): run it only when
 * the new password is not accepted yet.
 */
export function retainPasswordStatement(user: MocoUser, newPassword: string): SqlStatement {
  return { sql: `ALTER USER ${userAccount(user.name)} IDENTIFIED BY ? RETAIN CURRENT PASSWORD`, params: [newPassword] };
}

/** `ALTER USER … DISCARD OLD PASSWORD` (idempotent). */
export function discardOldPasswordStatement(user: MocoUser): SqlStatement {
  return { sql: `ALTER USER ${userAccount(user.name)} DISCARD OLD PASSWORD`, params: [] };
}

/**
 * The replication password stored on a replica (default channel), compared in code, never
 * logged. Returns column `p`; no row when the instance has never been a replica.
 */
export const REPLICATION_STORED_PASSWORD_QUERY: SqlStatement = Object.freeze({
  sql: "SELECT User_password AS p FROM mysql.slave_master_info WHERE Channel_name=''",
  params: [],
});

/**
 * Hands a replica a new replication password: the receiver thread is stopped only for the
 * CHANGE (the applier keeps running) and restarted with the new password.
 */
export function replicationPasswordStatements(newPassword: string): SqlStatement[] {
  return [
    { sql: "STOP REPLICA IO_THREAD", params: [] },
    { sql: "CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD=?", params: [newPassword] },
    { sql: "START REPLICA IO_THREAD", params: [] },
  ];
}
