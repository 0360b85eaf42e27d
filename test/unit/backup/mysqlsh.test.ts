// Pure parts of the MySQL Shell dump reader (src/backup/dump/mysqlsh.ts), table-driven.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  adaptStatement, checkMysqlshVersion, decodeName, encodeMysqlshName, idxDataBytes, parseAccount, parseInstanceMeta,
  parseSchemaMeta, parseTableMeta, parseUsersScript, splitSqlScript, tableDataFiles,
} from "../../../src/backup/dump/mysqlsh.ts";

test("format version: 1.0.x and 2.0.x are read, anything else is refused naming the version", () => {
  const cases: [unknown, string | RegExp][] = [
    ["1.0.0", "1.0.0"],
    ["1.0.2", "1.0.2"],
    ["2.0.0", "2.0.0"],
    ["2.0.1", "2.0.1"],
    ["2.1.0", /format 2\.1\.0 is not supported \(moco-ts reads 1\.0\.x and 2\.0\.x\)/],
    ["3.0.0", /format 3\.0\.0 is not supported/],
    ["0.9.0", /format 0\.9\.0 is not supported/],
    ["1.0", /"version" is "1\.0", not a MySQL Shell dump format version/],
    [undefined, /"version" is undefined/],
    [2, /"version" is 2,/],
  ];
  for (const [v, want] of cases) {
    if (typeof want === "string") assert.equal(checkMysqlshVersion(v, "@.json"), want);
    else assert.throws(() => checkMysqlshVersion(v, "@.json"), want, String(v));
  }
});

test("percent-encoded names decode, and encoding matches the dump's file names", () => {
  const cases: [string, string][] = [
    ["new%0Aline", "new\nline"],
    ["foo%60bar%28", "foo`bar("],
    ["%27%22", "'\""],
    ["%60", "`"],
    ["plain_name-1", "plain_name-1"],
    ["caf%C3%A9", "café"],
    ["a%40b", "a@b"],
  ];
  for (const [enc, dec] of cases) assert.equal(decodeName(enc), dec, enc);
  for (const [enc, dec] of cases.slice(0, 5)) assert.equal(encodeMysqlshName(dec), enc, JSON.stringify(dec));
  assert.throws(() => decodeName("bad%E0%A4"), /not valid percent-encoding/);
});

test("instance metadata: fields read, defaults applied, errors name the field", () => {
  const good = { version: "1.0.0", schemas: ["a", "b"], basenames: { a: "a", b: "b" }, users: ["'u'@'%'"], tzUtc: true, gtidExecuted: "u:1-5,\nv:1-2", defaultCharacterSet: "utf8mb4" };
  const m = parseInstanceMeta(JSON.stringify(good));
  assert.deepEqual([m.version, m.schemas, m.users, m.gtidExecuted, m.tzUtc], ["1.0.0", ["a", "b"], ["'u'@'%'"], "u:1-5,v:1-2", true]);
  const cases: [unknown, RegExp][] = [
    ["not json", /@\.json is not JSON/],
    [[1], /@\.json is not a JSON object/],
    [{ ...good, version: "9.9.9" }, /format 9\.9\.9 is not supported/],
    [{ ...good, schemas: "a" }, /"schemas" is not a list of strings/],
    [{ ...good, basenames: { a: 1 } }, /"basenames" is not a map of strings/],
    [{ ...good, gtidExecuted: 5 }, /"gtidExecuted" is missing or not a string/],
  ];
  for (const [body, want] of cases) assert.throws(() => parseInstanceMeta(typeof body === "string" ? body : JSON.stringify(body)), want);
  assert.equal(parseInstanceMeta(JSON.stringify({ version: "2.0.1", tzUtc: false })).tzUtc, false);
});

test("schema and table metadata", () => {
  const s = parseSchemaMeta(JSON.stringify({ schema: "x", tables: ["t"], views: ["v"], basenames: { t: "x@t", v: "x@v" } }), "x.json");
  assert.deepEqual([s.schema, s.tables, s.views, s.basenames["v"]], ["x", ["t"], ["v"], "x@v"]);
  const t = parseTableMeta(JSON.stringify({
    options: { schema: "x", table: "t", columns: ["c1", "g"], decodeColumns: { g: "FROM_BASE64" }, defaultCharacterSet: "utf8mb4" },
    extension: "tsv.zst", chunking: true, includesData: true, partitions: ["p0"],
  }), "x@t.json");
  assert.deepEqual([t.columns, t.decodeColumns, t.chunking, t.fieldsTerminatedBy, t.fieldsEscapedBy, t.partitions],
    [["c1", "g"], { g: "FROM_BASE64" }, true, "\t", "\\", ["p0"]]);
  assert.throws(() => parseTableMeta("{}", "x@t.json"), /x@t\.json: "options" is missing/);
  assert.throws(() => parseTableMeta(JSON.stringify({ options: { table: "t" } }), "x@t.json"), /"schema" is missing/);
});

test("data files of a table: whole, chunked (last marked @@), per partition; other tables' files ignored", () => {
  const files = [
    "w@City@@0.tsv.zst", "w@City@@0.tsv.zst.idx", "w@Country@0.tsv.zst", "w@Country@1.tsv.zst", "w@Country@@2.tsv.zst",
    "w@t.tsv.zst", "w@t2.tsv.zst", "w@p@p0@0.tsv.zst", "w@p@p0@@1.tsv.zst", "w@p@p%231@@0.tsv.zst", "w@City.json",
  ];
  const cases: [string, string[]][] = [
    ["w@City", ["w@City@@0.tsv.zst"]],
    ["w@Country", ["w@Country@0.tsv.zst", "w@Country@1.tsv.zst", "w@Country@@2.tsv.zst"]],
    ["w@t", ["w@t.tsv.zst"]],
    ["w@p", ["w@p@p%231@@0.tsv.zst", "w@p@p0@0.tsv.zst", "w@p@p0@@1.tsv.zst"]],
    ["w@none", []],
  ];
  for (const [base, want] of cases) assert.deepEqual(tableDataFiles(files, base, "tsv.zst").map((f) => f.file), want, base);
  const p = tableDataFiles(files, "w@p", "tsv.zst");
  assert.deepEqual(p.map((f) => [f.partition, f.chunk, f.last]), [["p#1", 0, true], ["p0", 0, false], ["p0", 1, true]]);
});

test(".idx: the last 8 bytes (big-endian) are the data size", () => {
  const idx = Buffer.alloc(16);
  idx.writeBigUInt64BE(100n, 0);
  idx.writeBigUInt64BE(78n, 8);
  assert.equal(idxDataBytes(idx, "x.idx"), 78);
  assert.throws(() => idxDataBytes(Buffer.alloc(5), "x.idx"), /x\.idx: not an index file \(5 bytes\)/);
  assert.throws(() => idxDataBytes(Buffer.alloc(0), "x.idx"), /not an index file/);
});

test("SQL scripts split on the delimiter, respecting DELIMITER, quotes and comments", () => {
  const cases: [string, string, string[]][] = [
    ["plain", "SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]],
    ["comments only are dropped", "-- header\n--\n/* c */;\n# hash\nSELECT 1;", ["# hash\nSELECT 1"]],
    ["executable comments kept", "/*!50003 SET x = 1 */;", ["/*!50003 SET x = 1 */"]],
    ["quotes hide the delimiter", "SELECT ';', \"a;b\", `c;d`;", ["SELECT ';', \"a;b\", `c;d`"]],
    ["escaped quotes", "SELECT 'it''s; \\' ;';", ["SELECT 'it''s; \\' ;'"]],
    ["DELIMITER", "DELIMITER ;;\nCREATE TRIGGER t BEGIN SELECT 1; END ;;\nDELIMITER ;\nSELECT 2;",
      ["CREATE TRIGGER t BEGIN SELECT 1; END", "SELECT 2"]],
    ["no final delimiter", "SELECT 1", ["SELECT 1"]],
    ["commented-out statement", "/* ALTER USER 'a'@'b' */\n-- end\n", []],
  ];
  for (const [name, script, want] of cases) assert.deepEqual(splitSqlScript(script), want, name);
});

test("users script: accounts between begin/end user and grants markers (quoted or not), grants kept apart", () => {
  const script = [
    "-- Dumping user accounts", "",
    "-- begin user 'app'@'%'", "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED WITH 'caching_sha2_password' AS 'x';",
    "/* ALTER USER 'app'@'%' ... */", "-- end user 'app'@'%'", "",
    "-- begin user o'k@localhost", "CREATE USER IF NOT EXISTS 'o''k'@'localhost';", "GRANT SELECT ON *.* TO 'o''k'@'localhost';",
    "-- end user o'k@localhost",
    "-- begin grants 'app'@'%'", "GRANT SELECT ON `db`.* TO 'app'@'%';", "-- end grants 'app'@'%'",
    "FLUSH PRIVILEGES;",
  ].join("\n");
  const { blocks, other } = parseUsersScript(script);
  assert.deepEqual(blocks.map((b) => [b.user, b.host, b.create.length, b.grants]), [
    ["app", "%", 1, ["GRANT SELECT ON `db`.* TO 'app'@'%'"]],
    ["o'k", "localhost", 1, ["GRANT SELECT ON *.* TO 'o''k'@'localhost'"]],
  ]);
  assert.deepEqual(other, ["FLUSH PRIVILEGES"]);
});

test("account names", () => {
  const cases: [string, { user: string; host: string }][] = [
    ["'root'@'%'", { user: "root", host: "%" }],
    ["'o''k'@'10.0.0.%'", { user: "o'k", host: "10.0.0.%" }],
    ["root@localhost", { user: "root", host: "localhost" }],
    ["a@b@c", { user: "a@b", host: "c" }],
  ];
  for (const [s, want] of cases) assert.deepEqual(parseAccount(s), want, s);
  assert.throws(() => parseAccount("nobody"), /not an account name/);
});

test("adaptations to MySQL 9.7: removed sql_mode values, mysql_native_password accounts", () => {
  const cases: [string, string, string[]][] = [
    ["/*!50003 SET sql_mode = 'STRICT_TRANS_TABLES,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION' */",
      "/*!50003 SET sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION' */", ["removed sql_mode NO_AUTO_CREATE_USER"]],
    ["SET sql_mode='NO_AUTO_CREATE_USER'", "SET sql_mode=''", ["removed sql_mode NO_AUTO_CREATE_USER"]],
    ["SET sql_mode = 'ANSI_QUOTES'", "SET sql_mode = 'ANSI_QUOTES'", []],
    ["CREATE USER IF NOT EXISTS 'u'@'%' IDENTIFIED WITH 'mysql_native_password' AS '*94BD' REQUIRE NONE ACCOUNT UNLOCK",
      "CREATE USER IF NOT EXISTS 'u'@'%' IDENTIFIED WITH 'caching_sha2_password' REQUIRE NONE ACCOUNT LOCK",
      ["mysql_native_password account created locked without a password"]],
    ["CREATE USER 'u'@'%' IDENTIFIED WITH mysql_native_password",
      "CREATE USER 'u'@'%' IDENTIFIED WITH 'caching_sha2_password' ACCOUNT LOCK", ["mysql_native_password account created locked without a password"]],
    ["CREATE USER 'u'@'%' IDENTIFIED WITH 'caching_sha2_password' AS 'x'", "CREATE USER 'u'@'%' IDENTIFIED WITH 'caching_sha2_password' AS 'x'", []],
  ];
  for (const [sql, want, changes] of cases) assert.deepEqual(adaptStatement(sql), { sql: want, changes }, sql);
});

test("adaptation to the MOCO target: a DEFINER account the target lacks becomes CURRENT_USER", () => {
  const has = new Set(["app@%", "o'brien@localhost", "we`ird@10.0.0.%"]);
  const exists = (u: string, h: string) => has.has(`${u}@${h}`);
  const missing = (a: string) => [`definer ${a} does not exist on the target: defined by the restoring user (DEFINER=CURRENT_USER)`];
  const cases: [string, string, string[]][] = [
    ["/*!50001 CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v2` AS select 1 */",
      "/*!50001 CREATE ALGORITHM=UNDEFINED DEFINER=CURRENT_USER SQL SECURITY DEFINER VIEW `v2` AS select 1 */", missing("'root'@'localhost'")],
    ["CREATE DEFINER=`app`@`%` PROCEDURE p() BEGIN END", "CREATE DEFINER=`app`@`%` PROCEDURE p() BEGIN END", []],
    ["CREATE DEFINER='o''brien'@'localhost' TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a = 1",
      "CREATE DEFINER='o''brien'@'localhost' TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a = 1", []],
    ["CREATE DEFINER=`we``ird`@`10.0.0.%` EVENT e ON SCHEDULE EVERY 1 DAY DO SELECT 1",
      "CREATE DEFINER=`we``ird`@`10.0.0.%` EVENT e ON SCHEDULE EVERY 1 DAY DO SELECT 1", []],
    ["CREATE DEFINER = gone@localhost FUNCTION f() RETURNS INT RETURN 1", "CREATE DEFINER=CURRENT_USER FUNCTION f() RETURNS INT RETURN 1", missing("'gone'@'localhost'")],
    ["CREATE VIEW v AS SELECT 'DEFINER' AS d", "CREATE VIEW v AS SELECT 'DEFINER' AS d", []],
  ];
  for (const [sql, want, changes] of cases) assert.deepEqual(adaptStatement(sql, exists), { sql: want, changes }, sql);
  // Without the target's accounts (the users script itself), definers are left alone.
  assert.deepEqual(adaptStatement("CREATE DEFINER=`root`@`localhost` VIEW v AS SELECT 1").changes, []);
});
