// moco-init (the generated sh script) on an empty directory inside the real MySQL 9.7
// root filesystem, then the agent's first-boot initialization on the mysqld it made
// (docs/agent.md#tests-on-real-mysql-97 A1), and both again on the initialized directory (no change).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import mysql from "mysql2/promise";
import type { Connection, RowDataPacket } from "mysql2/promise";

import { runInMysqlRootfs, startMysqldProcess, startMysqlds, type MysqldInstance, type MysqldSet } from "../../env/mysqld.ts";
import type { ManagedProcess } from "../../env/procs.ts";
import { buildInitScript } from "../../../src/shared/init-script.ts";
import { initializeOnFirstBoot } from "../../../src/agent/initialize.ts";
import { connectSocket } from "../../../src/agent/db.ts";
import { silentLogger } from "../../../src/util/log.ts";
import { expectedGrantSet, grantSet, SPEC_PRIVILEGES } from "./helpers.ts";
import { randomPasswords } from "../../env/random.ts";

const POD_NAME = "moco-inittest-3";
const SERVER_ID_BASE = 500;

describe("moco-init script and first-boot initialization on real mysqld", () => {
  let set: MysqldSet;
  let inst: MysqldInstance;
  let proc: ManagedProcess | undefined;
  const passwords = randomPasswords();
  const script = buildInitScript({
    dataDir: "/mnt/inst",
    confDir: "/mnt/inst/conf.d",
    serverIdBase: SERVER_ID_BASE,
    initTimezones: true,
    defaultsFile: "/mnt/inst/my.cnf",
  });

  before(async () => {
    set = await startMysqlds(1, { init: "empty" });
    inst = set.instances[0]!;
    // The generated my.cnf is included like MOCO's main my.cnf does; the admin address
    // is then pinned to the test's loopback address (POD_NAME does not resolve here).
    // MOCO's my.cnf starts mysqld read-only; so does this one.
    fs.appendFileSync(path.join(inst.dir, "my.cnf"),
      `read_only=ON\nsuper_read_only=ON\n!includedir /mnt/inst/conf.d\n[mysqld]\nadmin_address=${inst.host}\n`);
    fs.mkdirSync(path.join(inst.dir, "conf.d"), { recursive: true });
  });
  after(async () => {
    await proc?.stop();
    await set?.stopAll();
  });

  async function runScript(): Promise<void> {
    const r = await runInMysqlRootfs(inst.dir, ["sh", "-c", script], { env: { POD_NAME } });
    assert.equal(r.code, 0, `moco-init failed:\n${r.output}\n${inst.errorLogTail()}`);
  }

  async function adminSocket(): Promise<Connection> {
    return connectSocket({ socketPath: inst.socketPath, user: "moco-admin", password: passwords.ADMIN_PASSWORD });
  }

  interface Snapshot {
    users: string[];
    grants: Record<string, string[]>;
    gtidExecuted: string;
    serverUuid: string;
    serverId: number;
    superReadOnly: number;
    readOnly: number;
    plugins: string[];
    timeZones: number;
    conf: string;
    autoCnfInode: number;
  }

  async function snapshot(): Promise<Snapshot> {
    const c = await adminSocket();
    try {
      const [users] = await c.query<RowDataPacket[]>("SELECT CONCAT(user, '@', host) AS u FROM mysql.user ORDER BY u");
      const grants: Record<string, string[]> = {};
      for (const u of Object.keys(SPEC_PRIVILEGES).concat("moco-admin")) grants[u] = await grantSet(c, u);
      const [[v]] = await c.query<RowDataPacket[]>(
        "SELECT @@gtid_executed AS g, @@server_uuid AS uuid, @@server_id AS id, @@super_read_only AS sro, @@read_only AS ro");
      const [plugins] = await c.query<RowDataPacket[]>(
        "SELECT CONCAT(PLUGIN_NAME, ':', PLUGIN_STATUS) AS p FROM information_schema.plugins WHERE PLUGIN_NAME IN ('rpl_semi_sync_source','rpl_semi_sync_replica','clone','rpl_semi_sync_master','rpl_semi_sync_slave') ORDER BY p");
      const [[tz]] = await c.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM mysql.time_zone_name");
      return {
        users: users.map((r) => String(r.u)),
        grants,
        gtidExecuted: String(v!.g),
        serverUuid: String(v!.uuid),
        serverId: Number(v!.id),
        superReadOnly: Number(v!.sro),
        readOnly: Number(v!.ro),
        plugins: plugins.map((r) => String(r.p)),
        timeZones: Number(tz!.n),
        conf: fs.readFileSync(path.join(inst.dir, "conf.d", "my.cnf"), "utf8"),
        autoCnfInode: fs.statSync(path.join(inst.dataDir, "auto.cnf")).ino,
      };
    } finally {
      await c.end();
    }
  }

  let first: Snapshot;

  it("the script initializes an empty directory and writes the marker and my.cnf", async () => {
    assert.equal(fs.existsSync(inst.dataDir), false);
    await runScript();
    assert.ok(fs.existsSync(path.join(inst.dataDir, "mysql.ibd")), "a data directory was created");
    assert.ok(fs.existsSync(path.join(inst.dir, "moco-initialized")));
    assert.equal(fs.existsSync(path.join(inst.dir, ".moco-initialized")), false);
    assert.equal(fs.readFileSync(path.join(inst.dir, "conf.d", "my.cnf"), "utf8"), `[mysqld]\nserver_id = ${SERVER_ID_BASE + 3}\nadmin_address = ${POD_NAME}\n`);
    assert.deepEqual(fs.readdirSync(inst.dir).filter((f) => f.startsWith("moco-init")), ["moco-initialized"], "no temporary files left");
  });

  it("the agent's first-boot initialization creates exactly the MOCO users, plugins and state", async () => {
    proc = await startMysqldProcess(inst);
    // An application account polls the instance over TCP the whole time (a new connection
    // each time, as a client that found the Pod would): it must never find it writable, though
    // read_only is OFF while the users are created (offline_mode keeps it out then).
    const seen = { writable: 0, answered: 0, answeredAfter: 0 };
    let done = false;
    const poll = (async () => {
      for (let last = false; !last;) {
        last = done;
        try {
          const c = await mysql.createConnection({ host: inst.host, port: inst.port, user: "moco-writable", password: passwords.WRITABLE_PASSWORD, connectTimeout: 2000 });
          try {
            const [[r]] = await c.query<RowDataPacket[]>("SELECT @@read_only AS ro, @@super_read_only AS sro");
            seen.answered++;
            if (last) seen.answeredAfter++;
            if (Number(r!.ro) === 0 && Number(r!.sro) === 0) seen.writable++;
          } finally { c.destroy(); }
        } catch { /* not there yet, or refused (offline_mode) */ }
      }
    })();
    const result = await initializeOnFirstBoot({ socketPath: inst.socketPath, passwords, logger: silentLogger(), rootRetryIntervalMs: 500 });
    done = true;
    await poll;
    assert.equal(result, "initialized");
    assert.equal(seen.answeredAfter, 1, "the poller reads the instance once it is initialized (offline_mode is OFF again)");
    assert.equal(seen.writable, 0, `an application account found the initializing instance writable ${seen.writable} times`);

    const snap = await snapshot();
    first = snap;
    assert.equal(snap.serverId, SERVER_ID_BASE + 3, "server_id comes from the generated my.cnf");
    assert.deepEqual(snap.users, [
      "moco-admin@%", "moco-agent@%", "moco-backup@%", "moco-clone-donor@%", "moco-exporter@%", "moco-readonly@%", "moco-repl@%", "moco-writable@%",
      "mysql.infoschema@localhost", "mysql.session@localhost", "mysql.sys@localhost",
    ], "the eight users and MySQL's own accounts, no root");
    for (const user of Object.keys(SPEC_PRIVILEGES)) {
      assert.deepEqual(snap.grants[user], expectedGrantSet(user), `grants of ${user}`);
    }
    assert.deepEqual(snap.plugins, ["clone:ACTIVE", "rpl_semi_sync_replica:ACTIVE", "rpl_semi_sync_source:ACTIVE"]);
    assert.equal(snap.gtidExecuted, "");
    assert.equal(snap.superReadOnly, 1);
    assert.equal(snap.readOnly, 1);
    assert.ok(snap.timeZones > 100, `time zone tables loaded (${snap.timeZones} names)`);
  });

  it("moco-admin has ALL with grant option plus PROXY, like a full administrator", async () => {
    const c = await adminSocket();
    try {
      // Compare with a reference account granted ALL WITH GRANT OPTION by the same server.
      await c.query("SET sql_log_bin=OFF");
      await c.query("SET GLOBAL super_read_only=OFF");
      await c.query("CREATE USER 'ref-all'@'%' IDENTIFIED BY 'x'");
      await c.query("GRANT ALL ON *.* TO 'ref-all'@'%' WITH GRANT OPTION");
      const expected = [...(await grantSet(c, "ref-all")), "GRANT PROXY ON ``@`` WITH GRANT OPTION"].sort();
      await c.query("DROP USER 'ref-all'@'%'");
      await c.query("SET GLOBAL super_read_only=ON");
      assert.deepEqual(first.grants["moco-admin"], expected);
    } finally {
      await c.end();
    }
  });

  it("every MOCO user logs in with its password", async () => {
    const users: Array<[string, string]> = [
      ["moco-admin", passwords.ADMIN_PASSWORD], ["moco-agent", passwords.AGENT_PASSWORD], ["moco-repl", passwords.REPLICATION_PASSWORD],
      ["moco-clone-donor", passwords.CLONE_DONOR_PASSWORD], ["moco-exporter", passwords.EXPORTER_PASSWORD], ["moco-backup", passwords.BACKUP_PASSWORD],
      ["moco-readonly", passwords.READONLY_PASSWORD], ["moco-writable", passwords.WRITABLE_PASSWORD],
    ];
    for (const [user, password] of users) {
      const c = await connectSocket({ socketPath: inst.socketPath, user, password });
      const [[row]] = await c.query<RowDataPacket[]>("SELECT CURRENT_USER() AS u");
      assert.equal(row!.u, `${user}@%`);
      await c.end();
    }
    await assert.rejects(connectSocket({ socketPath: inst.socketPath, user: "root", password: "" }), (e: { errno?: number }) => e.errno === 1045);
  });

  it("running the script and the initialization again changes nothing", async () => {
    assert.equal(await initializeOnFirstBoot({ socketPath: inst.socketPath, passwords, logger: silentLogger() }), "already-initialized");
    await proc!.stop();
    proc = undefined;
    await runScript();
    proc = await startMysqldProcess(inst);
    assert.equal(await initializeOnFirstBoot({ socketPath: inst.socketPath, passwords, logger: silentLogger() }), "already-initialized");
    const again = await snapshot();
    assert.deepEqual(again, first);
  });

  it("the script refuses a POD_NAME without an ordinal and leaves the directory alone", async () => {
    const r = await runInMysqlRootfs(inst.dir, ["sh", "-c", script], { env: { POD_NAME: "moco-inittest" } });
    assert.notEqual(r.code, 0);
    assert.match(r.output, /POD_NAME has no ordinal suffix/);
    assert.equal(fs.readFileSync(path.join(inst.dir, "conf.d", "my.cnf"), "utf8"), first.conf);
  });
});
