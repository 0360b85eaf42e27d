import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ACTIVE_PLUGINS_QUERY,
  CLI_USER_NAMES,
  ENABLE_PARTIAL_REVOKES,
  MOCO_USERS,
  MOCO_USER_NAMES,
  PASSWORD_KEYS,
  SEMISYNC_NAMES,
  SYSTEM_USER_NAMES,
  createUserStatements,
  ensureUserStatements,
  installPluginStatement,
  isProtectedConnection,
  mocoUser,
  passwordFor,
  pluginsToInstall,
  resetPasswordStatement,
  semiSyncFamily,
  userAccount,
  userExistsQuery,
} from "../../../src/mysql/users.ts";
import type { MocoPasswords, MocoUserName } from "../../../src/mysql/users.ts";

const SECRET = "0123456789abcdef0123456789abcdef";

describe("MOCO users as data (docs/objects.md#mysql-users)", () => {
  const expected: {
    name: MocoUserName;
    key: string;
    privs: string[];
    grant: boolean;
    proxy: boolean;
    system: boolean;
  }[] = [
    { name: "moco-admin", key: "ADMIN_PASSWORD", privs: ["ALL"], grant: true, proxy: true, system: true },
    {
      name: "moco-agent",
      key: "AGENT_PASSWORD",
      privs: ["BINLOG_ADMIN", "CLONE_ADMIN", "RELOAD", "REPLICATION CLIENT", "SELECT", "SERVICE_CONNECTION_ADMIN", "SYSTEM_VARIABLES_ADMIN"],
      grant: false,
      proxy: false,
      system: true,
    },
    { name: "moco-repl", key: "REPLICATION_PASSWORD", privs: ["REPLICATION CLIENT", "REPLICATION SLAVE"], grant: false, proxy: false, system: true },
    { name: "moco-clone-donor", key: "CLONE_DONOR_PASSWORD", privs: ["BACKUP_ADMIN", "SERVICE_CONNECTION_ADMIN"], grant: false, proxy: false, system: true },
    { name: "moco-exporter", key: "EXPORTER_PASSWORD", privs: ["PROCESS", "REPLICATION CLIENT", "SELECT"], grant: false, proxy: false, system: true },
    {
      name: "moco-backup",
      key: "BACKUP_PASSWORD",
      privs: ["BACKUP_ADMIN", "EVENT", "RELOAD", "SELECT", "SHOW VIEW", "TRIGGER", "REPLICATION CLIENT", "REPLICATION SLAVE", "SERVICE_CONNECTION_ADMIN"],
      grant: false,
      proxy: false,
      system: true,
    },
    {
      name: "moco-readonly",
      key: "READONLY_PASSWORD",
      privs: ["PROCESS", "REPLICATION CLIENT", "REPLICATION SLAVE", "SELECT", "SHOW DATABASES", "SHOW VIEW"],
      grant: false,
      proxy: false,
      system: false,
    },
  ];
  for (const e of expected) {
    it(e.name, () => {
      const u = mocoUser(e.name);
      assert.equal(u.passwordKey, e.key);
      assert.deepEqual(u.privileges, e.privs);
      assert.equal(u.withGrantOption, e.grant);
      assert.equal(u.proxyGrant, e.proxy);
      assert.equal(u.system, e.system);
      assert.deepEqual(u.revokedOnMysqlSchema, []);
    });
  }

  it("moco-writable: 25 privileges with grant option, 14 revoked on mysql.*", () => {
    const u = mocoUser("moco-writable");
    assert.equal(u.privileges.length, 25);
    assert.equal(u.withGrantOption, true);
    assert.equal(u.system, false);
    assert.ok(u.privileges.includes("CREATE USER") && u.privileges.includes("DROP ROLE"));
    assert.equal(u.revokedOnMysqlSchema.length, 14);
    // Everything revoked was granted, and the read/admin-ish ones stay.
    for (const p of u.revokedOnMysqlSchema) assert.ok(u.privileges.includes(p), p);
    for (const p of ["SELECT", "ALTER", "PROCESS", "SHOW VIEW"]) assert.ok(!u.revokedOnMysqlSchema.includes(p), p);
  });

  it("eight users, names and password keys line up with the Secret", () => {
    assert.deepEqual(MOCO_USERS.map((u) => u.name), [...MOCO_USER_NAMES]);
    assert.deepEqual(MOCO_USERS.map((u) => u.passwordKey), [...PASSWORD_KEYS]);
  });

  it("system users and CLI users", () => {
    assert.deepEqual(SYSTEM_USER_NAMES, ["moco-admin", "moco-agent", "moco-repl", "moco-clone-donor", "moco-exporter", "moco-backup"]);
    assert.deepEqual(CLI_USER_NAMES, ["moco-readonly", "moco-writable", "moco-admin"]);
  });

  it("passwordFor reads the user's key", () => {
    const passwords = Object.fromEntries(PASSWORD_KEYS.map((k) => [k, `pw-${k}`])) as unknown as MocoPasswords;
    assert.equal(passwordFor(mocoUser("moco-repl"), passwords), "pw-REPLICATION_PASSWORD");
    assert.equal(passwordFor(mocoUser("moco-writable"), passwords), "pw-WRITABLE_PASSWORD");
  });
});

describe("SQL builders", () => {
  it("userAccount quotes the fixed name", () => {
    assert.equal(userAccount("moco-clone-donor"), "'moco-clone-donor'@'%'");
    assert.throws(() => userAccount("x'; DROP USER root; --" as MocoUserName));
  });

  it("userExistsQuery takes the name as a parameter", () => {
    assert.deepEqual(userExistsQuery("moco-agent"), {
      sql: "SELECT COUNT(*) AS n FROM mysql.user WHERE user=? AND host='%'",
      params: ["moco-agent"],
    });
  });

  const createCases: { name: MocoUserName; sql: string[] }[] = [
    {
      name: "moco-admin",
      sql: [
        "CREATE USER IF NOT EXISTS 'moco-admin'@'%' IDENTIFIED BY ?",
        "GRANT ALL ON *.* TO 'moco-admin'@'%' WITH GRANT OPTION",
        "GRANT PROXY ON ''@'' TO 'moco-admin'@'%' WITH GRANT OPTION",
      ],
    },
    {
      name: "moco-repl",
      sql: [
        "CREATE USER IF NOT EXISTS 'moco-repl'@'%' IDENTIFIED BY ?",
        "GRANT REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO 'moco-repl'@'%'",
      ],
    },
    {
      name: "moco-writable",
      sql: [
        "CREATE USER IF NOT EXISTS 'moco-writable'@'%' IDENTIFIED BY ?",
        "GRANT ALTER, ALTER ROUTINE, CREATE, CREATE ROLE, CREATE ROUTINE, CREATE TEMPORARY TABLES, CREATE USER, CREATE VIEW, DELETE, DROP, DROP ROLE, EVENT, EXECUTE, INDEX, INSERT, LOCK TABLES, PROCESS, REFERENCES, REPLICATION CLIENT, REPLICATION SLAVE, SELECT, SHOW DATABASES, SHOW VIEW, TRIGGER, UPDATE ON *.* TO 'moco-writable'@'%' WITH GRANT OPTION",
        "REVOKE CREATE, CREATE ROUTINE, CREATE TEMPORARY TABLES, CREATE VIEW, DELETE, DROP, EVENT, EXECUTE, INDEX, INSERT, LOCK TABLES, REFERENCES, TRIGGER, UPDATE ON mysql.* FROM 'moco-writable'@'%'",
      ],
    },
  ];
  for (const c of createCases) {
    it(`createUserStatements(${c.name})`, () => {
      const stmts = createUserStatements(mocoUser(c.name), SECRET);
      assert.deepEqual(stmts.map((s) => s.sql), c.sql);
      assert.deepEqual(stmts[0]?.params, [SECRET]);
      for (const s of stmts.slice(1)) assert.deepEqual(s.params, []);
    });
  }

  it("no password ever appears in the SQL text", () => {
    for (const u of MOCO_USERS) {
      const all = [
        ...createUserStatements(u, SECRET),
        resetPasswordStatement(u, SECRET),
        ...ensureUserStatements(u, SECRET, { exists: true, resetPassword: true }),
      ];
      for (const s of all) assert.ok(!s.sql.includes(SECRET), s.sql);
    }
  });

  const ensureCases: { exists: boolean; reset: boolean; want: string[] }[] = [
    { exists: false, reset: false, want: ["CREATE USER IF NOT EXISTS 'moco-agent'@'%' IDENTIFIED BY ?", "GRANT"] },
    { exists: false, reset: true, want: ["CREATE USER IF NOT EXISTS 'moco-agent'@'%' IDENTIFIED BY ?", "GRANT"] },
    { exists: true, reset: false, want: [] },
    { exists: true, reset: true, want: ["ALTER USER 'moco-agent'@'%' IDENTIFIED BY ?"] },
  ];
  for (const c of ensureCases) {
    it(`ensureUserStatements exists=${c.exists} reset=${c.reset}`, () => {
      const stmts = ensureUserStatements(mocoUser("moco-agent"), SECRET, { exists: c.exists, resetPassword: c.reset });
      assert.equal(stmts.length, c.want.length);
      stmts.forEach((s, i) => assert.ok(s.sql.startsWith(c.want[i] ?? "\0"), s.sql));
      if (c.reset && c.exists) assert.deepEqual(stmts[0]?.params, [SECRET]);
    });
  }

  it("partial revokes statement", () => {
    assert.equal(ENABLE_PARTIAL_REVOKES.sql, "SET GLOBAL partial_revokes='ON'");
  });
});

describe("killConnections protection (docs/clustering.md#operator-primitives)", () => {
  const cases: { user: string; host: string; protectedRow: boolean }[] = [
    { user: "moco-admin", host: "10.0.0.1:5555", protectedRow: true },
    { user: "moco-agent", host: "10.0.0.1:5555", protectedRow: true },
    { user: "moco-repl", host: "10.0.0.1:5555", protectedRow: true },
    { user: "moco-clone-donor", host: "10.0.0.1:5555", protectedRow: true },
    { user: "moco-exporter", host: "10.0.0.1:5555", protectedRow: true },
    { user: "moco-backup", host: "10.0.0.1:5555", protectedRow: true },
    { user: "system user", host: "", protectedRow: true },
    { user: "app", host: "localhost", protectedRow: true },
    { user: "moco-readonly", host: "10.0.0.1:5555", protectedRow: false },
    { user: "moco-writable", host: "10.0.0.1:5555", protectedRow: false },
    { user: "app", host: "10.0.0.1:5555", protectedRow: false },
    { user: "event_scheduler", host: "localhost", protectedRow: true },
  ];
  for (const c of cases) {
    it(`${c.user}@${c.host || "(none)"}`, () => assert.equal(isProtectedConnection(c), c.protectedRow));
  }
});

describe("plugins (docs/clustering.md#mysql-version-specifics)", () => {
  it("moco-ts installs the current semi-sync plugins and clone on a new instance", () => {
    assert.deepEqual(
      pluginsToInstall([]).map((p) => installPluginStatement(p).sql),
      [
        "INSTALL PLUGIN rpl_semi_sync_source SONAME 'semisync_source.so'",
        "INSTALL PLUGIN rpl_semi_sync_replica SONAME 'semisync_replica.so'",
        "INSTALL PLUGIN clone SONAME 'mysql_clone.so'",
      ],
    );
    assert.match(ACTIVE_PLUGINS_QUERY.sql, /information_schema\.plugins/);
  });

  const cases: { active: string[]; install: string[]; family: "current" | "legacy" }[] = [
    { active: [], install: ["rpl_semi_sync_source", "rpl_semi_sync_replica", "clone"], family: "current" },
    { active: ["InnoDB", "clone"], install: ["rpl_semi_sync_source", "rpl_semi_sync_replica"], family: "current" },
    { active: ["rpl_semi_sync_source", "rpl_semi_sync_replica", "clone"], install: [], family: "current" },
    { active: ["rpl_semi_sync_source"], install: ["rpl_semi_sync_replica", "clone"], family: "current" },
    { active: ["rpl_semi_sync_master", "rpl_semi_sync_slave", "clone"], install: [], family: "legacy" },
    { active: ["RPL_SEMI_SYNC_MASTER", "rpl_semi_sync_slave"], install: ["clone"], family: "legacy" },
    { active: ["rpl_semi_sync_master"], install: ["rpl_semi_sync_replica", "clone"], family: "legacy" },
  ];
  for (const c of cases) {
    it(`active=[${c.active.join(",")}]`, () => {
      assert.deepEqual(pluginsToInstall(c.active).map((p) => p.name), c.install);
      assert.equal(semiSyncFamily(c.active), c.family);
    });
  }

  it("variable names per family", () => {
    assert.deepEqual(SEMISYNC_NAMES.current, {
      sourceEnabled: "rpl_semi_sync_source_enabled",
      sourceTimeout: "rpl_semi_sync_source_timeout",
      sourceWaitForReplicaCount: "rpl_semi_sync_source_wait_for_replica_count",
      replicaEnabled: "rpl_semi_sync_replica_enabled",
      sourceWaitSessionsStatus: "Rpl_semi_sync_source_wait_sessions",
    });
    assert.equal(SEMISYNC_NAMES.legacy.sourceWaitForReplicaCount, "rpl_semi_sync_master_wait_for_slave_count");
    assert.equal(SEMISYNC_NAMES.legacy.replicaEnabled, "rpl_semi_sync_slave_enabled");
  });

  it("refuses odd plugin names", () => {
    assert.throws(() => installPluginStatement({ name: "x; DROP", soname: "a.so" }));
  });
});
