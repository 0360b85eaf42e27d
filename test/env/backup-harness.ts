// Shared set-up of the backup integration tests: real mysqld 9.7 (source and restore
// targets), the MySQL client tools run chrooted in the MySQL root filesystem, an
// in-memory ClusterStore, and a data set with every kind of object the dump handles.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import type mysql from "mysql2/promise";
import type { Bucket } from "../../src/backup/bucket/types.ts";
import type { MySQLCluster } from "../../src/api/v1beta2/index.ts";
import { MemoryClusterStore } from "../../src/backup/kube.ts";
import { createLogger, type Logger } from "../../src/backup/log.ts";
import { silentLogger } from "../../src/util/log.ts";
import type { Tools } from "../../src/backup/tools.ts";
import { MOCO_USERS } from "../../src/mysql/users.ts";
import { mysqlRootfs, runInMysqlRootfs, type MysqldInstance } from "./mysqld.ts";
import { sleep } from "./procs.ts";

export const BACKUP_PASSWORD = "backup-" + randomBytes(8).toString("hex");
export const ADMIN_PASSWORD = "admin-" + randomBytes(8).toString("hex");

export function testLogger(): Logger {
  return process.env["BACKUP_TEST_LOG"] ? createLogger({ test: "backup" }, "debug") : silentLogger();
}

/**
 * A work directory inside the MySQL root filesystem and tools that run chrooted there
 * with the same working directory (paths are relative to it, or absolute host paths under
 * the root, e.g. `--ssl-ca=<root>/tmp/...`, which the wrapper maps into the chroot). The
 * root is resolved (.cache may be a symlink, as in a git worktree, and $PWD is the real path).
 */
export function makeWorkDir(): { workDir: string; tools: Tools; cleanup: () => void } {
  const base = path.join(mysqlRootfs, "tmp");
  fs.mkdirSync(base, { recursive: true });
  const workDir = fs.mkdtempSync(path.join(base, "moco-backup-test-"));
  const wrapper = path.join(workDir, "in-rootfs.sh");
  fs.writeFileSync(wrapper, `#!/bin/sh
root='${fs.realpathSync(mysqlRootfs)}'
rel="\${PWD#"$root"}"
for a do
  case "$a" in *"$root"/*) a="\${a%%"$root"/*}/\${a#*"$root"/}" ;; esac
  set -- "$@" "$a"
  shift
done
exec chroot "$root" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$rel" "$@"
`, { mode: 0o755 });
  const work = path.join(workDir, "w");
  fs.mkdirSync(work);
  return {
    workDir: work,
    tools: { mysqlbinlog: [wrapper, "mysqlbinlog"], mysql: [wrapper, "mysql"] },
    cleanup: () => fs.rmSync(workDir, { recursive: true, force: true }),
  };
}

export async function createBackupUser(inst: Pick<MysqldInstance, "connect">): Promise<void> {
  const u = MOCO_USERS.find((x) => x.name === "moco-backup");
  if (!u) throw new Error("no moco-backup user definition");
  const c = await inst.connect();
  try {
    await c.query("CREATE USER 'moco-backup'@'%' IDENTIFIED BY ?", [BACKUP_PASSWORD]);
    await c.query(`GRANT ${u.privileges.join(", ")} ON *.* TO 'moco-backup'@'%'`);
  } finally {
    await c.end();
  }
}

/** moco-admin as the agent creates it, and the target read-only like after agent initialisation. */
export async function prepareRestoreTarget(inst: Pick<MysqldInstance, "connect">): Promise<void> {
  const c = await inst.connect();
  try {
    await c.query("SET SESSION sql_log_bin = 0");
    await c.query("CREATE USER 'moco-admin'@'%' IDENTIFIED BY ?", [ADMIN_PASSWORD]);
    await c.query("GRANT ALL ON *.* TO 'moco-admin'@'%' WITH GRANT OPTION");
    await c.query("SET GLOBAL super_read_only = 1");
  } finally {
    await c.end();
  }
}

export function clusterObject(namespace: string, name: string, extra: Partial<NonNullable<MySQLCluster["spec"]>> = {}): MySQLCluster {
  return {
    apiVersion: "moco.cybozu.com/v1beta2",
    kind: "MySQLCluster",
    metadata: { name, namespace, uid: `uid-${name}` },
    spec: { replicas: 1, podTemplate: { spec: { containers: [] } }, volumeClaimTemplates: [], ...extra } as NonNullable<MySQLCluster["spec"]>,
    status: { currentPrimaryIndex: 0 },
  };
}

export function memoryStore(): MemoryClusterStore {
  return new MemoryClusterStore();
}

export { sleep };

/** Waits until the wall clock enters a new second; returns that second. */
export async function nextSecond(): Promise<Date> {
  const now = Date.now();
  const next = Math.floor(now / 1000) * 1000 + 1000;
  await sleep(next - now + 30);
  return new Date(next);
}

/** The data set: tables of every shape (one large, chunked), views, routines, triggers, events, users. */
export async function populate(c: mysql.Connection, bigRows: number): Promise<void> {
  const q = (sql: string, params: unknown[] = []) => c.query(sql, params);
  await q("CREATE DATABASE db1 DEFAULT CHARACTER SET utf8mb4");
  await q("CREATE DATABASE `odd name-2` DEFAULT CHARACTER SET latin1");
  await q(`CREATE TABLE db1.big (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    s VARCHAR(64) NOT NULL, b VARBINARY(32), f DOUBLE, d DECIMAL(20,6), t DATETIME(6), ts TIMESTAMP NULL,
    n INT NULL, KEY (s)) ENGINE=InnoDB`);
  await q("SET SESSION cte_max_recursion_depth = 10000000");
  await q("USE db1");
  await q(`INSERT INTO db1.big (s, b, f, d, t, ts, n)
    WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
    SELECT CONCAT('row-', i, IF(i % 97 = 0, '\\t tab\\n nl \\\\ bs', '')), UNHEX(SHA2(i, 256)), i / 7, i * 1.000001,
      TIMESTAMPADD(SECOND, i, '2020-01-01 00:00:00.123456'), IF(i % 5 = 0, NULL, FROM_UNIXTIME(1600000000 + i)),
      IF(i % 3 = 0, NULL, i) FROM seq`, [bigRows]);
  await q("ANALYZE TABLE db1.big");
  await q(`CREATE TABLE db1.nopk (a TEXT, b BLOB, c JSON, e ENUM('x','y'), st SET('p','q'), y YEAR, tm TIME(3))`);
  await q(`INSERT INTO db1.nopk VALUES
    ('tab\\there, newline\\nthere, backslash \\\\ and nul \\0 end', UNHEX('00FF5C090A0D'), '{"k": [1, "two", null]}', 'y', 'p,q', 2024, '-12:34:56.789'),
    ('émoji 🐬 ünïcode', NULL, NULL, NULL, '', NULL, NULL),
    (NULL, '', 'null', 'x', 'q', 1999, '00:00:00'),
    ('\\\\N', 'N', '"str"', 'x', 'p', 2000, '838:59:59')`);
  await q(`CREATE TABLE db1.special (id INT PRIMARY KEY, bits BIT(10), g GEOMETRY NOT NULL SRID 0, p POINT,
    gen INT AS (id * 2) STORED, vgen INT AS (id + 1) VIRTUAL, inv INT INVISIBLE DEFAULT 7, z INT)`);
  await q(`INSERT INTO db1.special (id, bits, g, p, inv, z) VALUES
    (0, b'1010101010', ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), ST_GeomFromText('POINT(1 2)'), 5, 0),
    (1, b'0', ST_GeomFromText('LINESTRING(0 0,2 2)'), NULL, 6, NULL),
    (2, NULL, ST_GeomFromText('POINT(3 4)'), ST_GeomFromText('POINT(-1.5 2.25)'), 8, 2)`);
  await q("CREATE TABLE db1.parent (id INT PRIMARY KEY) ENGINE=InnoDB");
  await q("CREATE TABLE db1.child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES db1.parent(id)) ENGINE=InnoDB");
  await q("INSERT INTO db1.parent VALUES (1), (2)");
  await q("INSERT INTO db1.child VALUES (10, 1), (20, 2)");
  await q("CREATE TABLE db1.empty (id INT PRIMARY KEY, v VARCHAR(10))");
  await q("CREATE TABLE db1.audit (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(100))");
  await q("CREATE TABLE db1.pitr (id INT PRIMARY KEY, label VARCHAR(32))");
  await q("INSERT INTO db1.pitr VALUES (1, 'in-dump')");
  await q("CREATE VIEW db1.v_base AS SELECT id, s FROM db1.big WHERE id <= 10");
  await q("CREATE VIEW db1.a_view_of_view AS SELECT COUNT(*) AS n FROM db1.v_base");
  await q("CREATE PROCEDURE db1.p_count(OUT n INT) BEGIN SELECT COUNT(*) INTO n FROM db1.big; END");
  await q("CREATE FUNCTION db1.f_double(x INT) RETURNS INT DETERMINISTIC RETURN x * 2");
  await q("CREATE TRIGGER db1.tr_pitr AFTER INSERT ON db1.pitr FOR EACH ROW INSERT INTO db1.audit (msg) VALUES (CONCAT('pitr ', NEW.id))");
  await q("CREATE EVENT db1.ev_noop ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO SELECT 1");
  await q("CREATE TABLE `odd name-2`.`tbl.with/odd` (id INT PRIMARY KEY, v VARCHAR(20)) DEFAULT CHARSET=latin1");
  await q("INSERT INTO `odd name-2`.`tbl.with/odd` VALUES (1, _latin1 X'636166E9'), (2, 'x')");
  await q("CREATE ROLE 'app_role'");
  await q("GRANT SELECT, INSERT ON db1.* TO 'app_role'");
  await q("CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret-1'");
  await q("GRANT 'app_role' TO 'app'@'%'");
  await q("SET DEFAULT ROLE 'app_role' TO 'app'@'%'");
  await q("GRANT EXECUTE ON PROCEDURE db1.p_count TO 'app'@'%'");
  await q("CREATE USER 'other'@'10.0.0.%' IDENTIFIED BY 'other-secret-2'");
  await q("GRANT SELECT ON `odd name-2`.* TO 'other'@'10.0.0.%'");
}

/** Ordered hash of every row of every table in the schemas (CHECKSUM TABLE misses invisible columns on some versions). */
export async function contentHashes(c: mysql.Connection, schemas: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const s of schemas) {
    const [tables] = await c.query(
      "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", [s]);
    for (const { t } of tables as { t: string }[]) {
      const [cs] = await c.query(`CHECKSUM TABLE \`${s}\`.\`${t}\` EXTENDED`);
      const [cnt] = await c.query(`SELECT COUNT(*) AS n FROM \`${s}\`.\`${t}\``);
      out[`${s}.${t}`] = `${(cs as { Checksum: unknown }[])[0]?.Checksum}/${(cnt as { n: number }[])[0]?.n}`;
    }
  }
  return out;
}

export async function objectInventory(c: mysql.Connection): Promise<Record<string, string[]>> {
  const list = async (sql: string) => ((await c.query({ sql, rowsAsArray: true }))[0] as unknown[][]).map((r) => r.map(String).join("."));
  return {
    views: await list("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN ('db1','odd name-2') ORDER BY 1,2"),
    routines: await list("SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'db1' ORDER BY 1,2"),
    triggers: await list("SELECT TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'db1' ORDER BY 1,2"),
    events: await list("SELECT EVENT_SCHEMA, EVENT_NAME, STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'db1' ORDER BY 1,2"),
    users: await list("SELECT User, Host FROM mysql.user WHERE User IN ('app', 'app_role', 'other') ORDER BY 1,2"),
  };
}

export async function runRootfs(dir: string, argv: string[]): Promise<string> {
  const r = await runInMysqlRootfs(dir, argv, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.output}`);
  return r.output;
}

/**
 * Unpacks a backup archive from the bucket with the system's GNU tar (an independent
 * check that it is a standard tar), zstd-decompressed first when `zstd`. Returns the
 * entry names in archive order.
 */
export async function untarObject(bucket: Bucket, key: string, dest: string, zstd: boolean): Promise<string[]> {
  fs.mkdirSync(dest, { recursive: true });
  const child = spawn("tar", ["-xv", "-f", "-", "-C", dest], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => { out += b.toString(); });
  child.stderr.on("data", (b: Buffer) => { err += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const body = await bucket.get(key);
  await (zstd ? pipeline(body, zlib.createZstdDecompress(), child.stdin) : pipeline(body, child.stdin));
  const code = await exited;
  if (code !== 0) throw new Error(`tar -x of ${key} failed (${code}): ${err}`);
  return out.split("\n").filter((l) => l !== "");
}
