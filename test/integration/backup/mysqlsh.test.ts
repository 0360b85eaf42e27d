// A genuine MySQL Shell 8.0.21 dump (of a 5.7.33 server: 8 schemas, partitions, views,
// triggers, routines, events, users, odd charsets and names) loaded into real mysqld 9.7
// by the moco-ts loader: every table's rows and checksum as the dump holds them, every
// object present, the adaptations 9.7 forces reported, the dump's GTID set adopted, and
// an unknown format version refused before the target is touched.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { loadMysqlshDump } from "../../../src/backup/dump/mysqlsh-load.ts";
import { startMysqlds, type MysqldSet } from "../../env/mysqld.ts";
import { makeTmpDir } from "../../env/procs.ts";
import { ADMIN_PASSWORD, prepareRestoreTarget, testLogger } from "../../env/backup-harness.ts";
import { expectedObjects, expectedTables, exportedTable, extractFixture, rewriteAsFormat2, sortedNames } from "../../env/mysqlsh-fixture.ts";

let mysqlds: MysqldSet;
let tmp: string;
let dumpDir: string;

before(async () => {
  tmp = makeTmpDir("mysqlsh-load-");
  dumpDir = extractFixture(tmp);
  mysqlds = await startMysqlds(2);
  for (const inst of mysqlds.instances) {
    await prepareRestoreTarget(inst);
    const c = await inst.connect();
    try { await c.query("SET GLOBAL local_infile = 1, GLOBAL super_read_only = 0, GLOBAL read_only = 0"); } finally { await c.end(); }
  }
});

after(async () => {
  await mysqlds?.stopAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const target = (i: number) => {
  const inst = mysqlds.instances[i];
  if (!inst) throw new Error(`no instance ${i}`);
  return { host: inst.host, port: inst.port, user: "moco-admin", password: ADMIN_PASSWORD };
};

test("mysqlsh dump: an unknown format version is refused before the target is touched", async () => {
  const bad = path.join(tmp, "bad");
  fs.cpSync(dumpDir, bad, { recursive: true });
  const meta = JSON.parse(fs.readFileSync(path.join(bad, "@.json"), "utf8")) as Record<string, unknown>;
  fs.writeFileSync(path.join(bad, "@.json"), JSON.stringify({ ...meta, version: "3.0.0" }));
  await assert.rejects(
    loadMysqlshDump({ target: { ...target(1), host: "127.0.0.1", port: 1 }, dumpDir: bad, threads: 2, log: testLogger() }),
    /MySQL Shell dump format 3\.0\.0 is not supported \(moco-ts reads 1\.0\.x and 2\.0\.x\)/,
  );
  fs.rmSync(path.join(bad, "@.done.json"));
  fs.writeFileSync(path.join(bad, "@.json"), JSON.stringify(meta));
  await assert.rejects(
    loadMysqlshDump({ target: { ...target(1), host: "127.0.0.1", port: 1 }, dumpDir: bad, threads: 2, log: testLogger() }),
    /has no @\.done\.json: MySQL Shell did not finish it/,
  );
});

test("mysqlsh dump 8.0.21 (from 5.7.33) → mysqld 9.7: every table's rows and checksum, objects, accounts, GTIDs", async () => {
  const expected = expectedTables(dumpDir);
  assert.ok(expected.length >= 60, `the fixture has ${expected.length} tables`);
  const res = await loadMysqlshDump({ target: target(0), dumpDir, threads: 3, log: testLogger() });
  assert.equal(res.meta.version, "1.0.0");
  const c = await mysqlds.instances[0]!.connect();
  try {
    for (const t of expected) {
      const key = `${t.schema}.${t.table}`;
      assert.equal(res.tableRows[key], t.rows, `${key}: rows loaded`);
      const got = await exportedTable(c, t);
      assert.equal(got.rows, t.rows, `${key}: rows on the target`);
      assert.equal(got.checksum, t.checksum, `${key}: checksum of the rows as MySQL Shell writes them`);
    }
    assert.equal(res.rows, expected.reduce((n, t) => n + t.rows, 0));
    const list = async (sql: string) => sortedNames(((await c.query({ sql, rowsAsArray: true }))[0] as unknown[][]).map((r) => r.map(String).join(".")));
    const schemas = await list("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql','sys','information_schema','performance_schema') ORDER BY 1");
    assert.deepEqual(schemas, ["all_features", "all_features2", "crazy_names_db", "mysqlaas_compat", "mysqldump_test_db", "test", "world", "xtest"]);
    assert.ok((await list("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'crazy_names_db'")).includes("new\nline"));
    assert.ok((await list("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'crazy_names_db'")).includes("foo`bar("));
    const views = await list("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS ORDER BY 1, 2");
    assert.ok(views.includes("all_features.v1") && views.includes("crazy_names_db.new\nlinev"), views.join(","));
    const triggers = await list("SELECT TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS ORDER BY 1, 2");
    assert.ok(triggers.includes("all_features.mytrigger"), triggers.join(","));
    const objects = expectedObjects(dumpDir);
    assert.deepEqual(await list("SELECT EVENT_SCHEMA, EVENT_NAME FROM information_schema.EVENTS ORDER BY 1, 2"), objects.events);
    assert.deepEqual(await list("SELECT ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA NOT IN ('sys') ORDER BY 1, 2"), objects.routines);
    assert.deepEqual(await list("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA NOT IN ('sys') ORDER BY 1, 2"), objects.views);
    assert.ok(objects.events.length > 0 && objects.routines.length > 0 && objects.views.length > 0);
    const partitions = await list("SELECT TABLE_NAME, PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = 'mysqlaas_compat' AND PARTITION_NAME IS NOT NULL ORDER BY 1, 2");
    assert.ok(partitions.includes("partition_tbl2.p2"), partitions.join(","));
    const users = await list("SELECT User, Host, account_locked FROM mysql.user WHERE User LIKE 'test%' ORDER BY 1, 2");
    assert.ok(users.includes("test.%.Y"), `mysql_native_password accounts are created locked: ${users.join(",")}`);
    const grants = await list("SHOW GRANTS FOR 'test'@'%'");
    assert.ok(grants.some((g) => g.includes("GRANT SELECT ON `test`.*")), grants.join(";"));
    assert.ok(res.warnings.some((w) => /mysql_native_password account created locked/.test(w)), res.warnings.join("\n"));
    assert.ok(res.warnings.some((w) => /removed sql_mode NO_AUTO_CREATE_USER/.test(w)), res.warnings.join("\n"));
    const [g] = (await c.query({ sql: "SELECT @@GLOBAL.gtid_executed", rowsAsArray: true }))[0] as string[][];
    assert.equal(String(g?.[0]).replace(/\s+/g, ""), res.meta.gtidExecuted);
  } finally {
    await c.end();
  }
});

test("the same dump in format 2.0.x's forms (synthetic: quoted account markers, a per-partition data file) → mysqld 9.7", async () => {
  const v2 = path.join(tmp, "v2");
  fs.cpSync(dumpDir, v2, { recursive: true });
  rewriteAsFormat2(v2);
  const expected = expectedTables(dumpDir);
  const res = await loadMysqlshDump({ target: target(1), dumpDir: v2, threads: 2, log: testLogger() });
  assert.equal(res.meta.version, "2.0.1");
  assert.ok(fs.readdirSync(v2).includes("mysqlaas_compat@partition_tbl2@p1@@0.tsv.zst"));
  const c = await mysqlds.instances[1]!.connect();
  try {
    for (const t of expected) {
      const got = await exportedTable(c, t);
      assert.deepEqual([got.rows, got.checksum], [t.rows, t.checksum], `${t.schema}.${t.table}`);
    }
    const grants = ((await c.query({ sql: "SHOW GRANTS FOR 'testusr6'@'localhost'", rowsAsArray: true }))[0] as string[][]).map((r) => r[0]);
    assert.ok(grants.some((g) => g?.includes("ON `mysqlaas_compat`.*")), grants.join(";"));
  } finally {
    await c.end();
  }
});
