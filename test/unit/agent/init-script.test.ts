// buildInitScript: option validation, and the generated script run by the host's sh
// against stub mysqld / mysql / mysql_tzinfo_to_sql programs that record their calls.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { buildInitScript, shellQuote, type InitScriptOptions } from "../../../src/shared/init-script.ts";

const STUB_MYSQLD = `#!/bin/sh
printf 'mysqld %s\\n' "$*" >>"$STUB_LOG"
datadir=; pidfile=
for a in "$@"; do
  case $a in --datadir=*) datadir=\${a#--datadir=} ;; --pid-file=*) pidfile=\${a#--pid-file=} ;; esac
done
case " $* " in *" --initialize-insecure "*) mkdir "$datadir" && echo fresh >"$datadir/ibdata1" ;; esac
case " $* " in *" --daemonize "*) echo 999999 >"$pidfile" ;; esac
exit "\${STUB_MYSQLD_EXIT:-0}"
`;
const STUB_MYSQL = `#!/bin/sh
case " $* " in
  *" -e "*) printf 'mysql %s\\n' "$*" >>"$STUB_LOG" ;;
  *) printf 'mysql %s <%s bytes\\n' "$*" "$(wc -c | tr -d ' ')" >>"$STUB_LOG" ;;
esac
`;
const STUB_TZINFO = `#!/bin/sh
printf 'mysql_tzinfo_to_sql %s\\n' "$*" >>"$STUB_LOG"
echo "INSERT INTO time_zone_name VALUES ('UTC', 1);"
`;

describe("buildInitScript", () => {
  let tmp: string;
  let stubBin: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "moco-init-test-"));
    stubBin = path.join(tmp, "bin");
    fs.mkdirSync(stubBin);
    for (const [name, text] of [["mysqld", STUB_MYSQLD], ["mysql", STUB_MYSQL], ["mysql_tzinfo_to_sql", STUB_TZINFO]] as const) {
      fs.writeFileSync(path.join(stubBin, name), text, { mode: 0o755 });
    }
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  let caseNo = 0;
  function newCase(): { dataDir: string; confDir: string; log: string } {
    caseNo++;
    const dir = path.join(tmp, `case ${caseNo} it's`);
    fs.mkdirSync(dir);
    return { dataDir: path.join(dir, "var mysql"), confDir: path.join(dir, "conf.d"), log: path.join(dir, "calls.log") };
  }

  function run(opts: InitScriptOptions, env: Record<string, string | undefined>, log: string, pathDirs = [stubBin, "/usr/bin", "/bin"]) {
    const script = buildInitScript(opts);
    const r = spawnSync("sh", ["-c", script], {
      env: { PATH: pathDirs.join(":"), STUB_LOG: log, ...env },
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
      input: "",
    });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trimEnd().split("\n") : [];
    fs.rmSync(log, { force: true });
    return { code: r.status, stderr: r.stderr, calls };
  }

  it("initializes an empty directory, writes the marker crash-safely and my.cnf", () => {
    const c = newCase();
    const r = run({ dataDir: c.dataDir, confDir: c.confDir, serverIdBase: 1000 }, { POD_NAME: "moco-mycluster-2" }, c.log);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.calls, [`mysqld --datadir=${c.dataDir}/data --initialize-insecure`]);
    assert.equal(fs.readFileSync(path.join(c.dataDir, "data", "ibdata1"), "utf8"), "fresh\n");
    assert.deepEqual(fs.readdirSync(c.dataDir).sort(), ["data", "moco-initialized"]);
    assert.equal(fs.readFileSync(path.join(c.confDir, "my.cnf"), "utf8"), "[mysqld]\nserver_id = 1002\nadmin_address = moco-mycluster-2\n");
    assert.deepEqual(fs.readdirSync(c.confDir), ["my.cnf"]);
  });

  it("on an initialized directory only rewrites my.cnf", () => {
    const c = newCase();
    assert.equal(run({ dataDir: c.dataDir, confDir: c.confDir, serverIdBase: 10 }, { POD_NAME: "moco-a-0" }, c.log).code, 0);
    fs.writeFileSync(path.join(c.dataDir, "data", "ibdata1"), "user data\n");
    const r = run({ dataDir: c.dataDir, confDir: c.confDir, serverIdBase: 20, mysqldLocalhost: true }, { POD_NAME: "moco-a-0" }, c.log);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.calls, [], "mysqld is not run again");
    assert.equal(fs.readFileSync(path.join(c.dataDir, "data", "ibdata1"), "utf8"), "user data\n");
    assert.equal(fs.readFileSync(path.join(c.confDir, "my.cnf"), "utf8"), "[mysqld]\nserver_id = 20\nadmin_address = localhost\n");
  });

  it("without the marker (a crash during a previous run) starts over from an empty data directory", () => {
    const c = newCase();
    fs.mkdirSync(path.join(c.dataDir, "data"), { recursive: true });
    fs.writeFileSync(path.join(c.dataDir, "data", "half-written"), "x");
    fs.writeFileSync(path.join(c.dataDir, ".moco-initialized"), "");
    const r = run({ dataDir: c.dataDir, confDir: c.confDir, serverIdBase: 0 }, { POD_NAME: "moco-a-1" }, c.log);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(path.join(c.dataDir, "data")), ["ibdata1"]);
    assert.deepEqual(fs.readdirSync(c.dataDir).sort(), ["data", "moco-initialized"]);
  });

  it("passes the defaults file first, then basedir and lower_case_table_names", () => {
    const c = newCase();
    const r = run(
      { dataDir: c.dataDir, confDir: c.confDir, serverIdBase: 1, lowerCaseTableNames: 1, baseDir: "/usr/local/mysql", defaultsFile: "/etc/mysql/my.cnf" },
      { POD_NAME: "x-0" },
      c.log,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.calls, [
      `mysqld --defaults-file=/etc/mysql/my.cnf --datadir=${c.dataDir}/data --initialize-insecure --basedir=/usr/local/mysql --lower_case_table_names=1`,
    ]);
  });

  it("loads time zones through a temporary mysqld on a private socket and cleans up", () => {
    const c = newCase();
    const r = run({ dataDir: c.dataDir, confDir: c.confDir, serverIdBase: 1, initTimezones: true, zoneinfoDir: "/zones" }, { POD_NAME: "x-0" }, c.log);
    assert.equal(r.code, 0, r.stderr);
    const sock = `${c.dataDir}/moco-init.sock`;
    assert.deepEqual(r.calls, [
      `mysqld --datadir=${c.dataDir}/data --initialize-insecure`,
      `mysqld --datadir=${c.dataDir}/data --socket=${sock} --pid-file=${c.dataDir}/moco-init.pid --skip-networking --mysqlx=OFF --skip-log-bin --read_only=OFF --super_read_only=OFF --daemonize`,
      `mysql --no-defaults --protocol=SOCKET --socket=${sock} --user=root -e SELECT 1`,
      "mysql_tzinfo_to_sql /zones",
      `mysql --no-defaults --protocol=SOCKET --socket=${sock} --user=root mysql <46 bytes`,
      `mysql --no-defaults --protocol=SOCKET --socket=${sock} --user=root -e SHUTDOWN`,
    ]);
    assert.deepEqual(fs.readdirSync(c.dataDir).sort(), ["data", "moco-initialized"]);
  });

  it("fails without writing anything on a bad POD_NAME or server_id overflow", () => {
    for (const [podName, base, message] of [
      [undefined, 1, /POD_NAME is not set/],
      ["moco", 1, /no ordinal suffix/],
      ["moco-a-b", 1, /no ordinal suffix/],
      ["moco-a-01", 1, /no ordinal suffix/],
      ["moco-a-", 1, /no ordinal suffix/],
      ["moco-a-1", 4294967295, /exceeds uint32/],
    ] as const) {
      const c = newCase();
      const r = run({ dataDir: c.dataDir, confDir: c.confDir, serverIdBase: base }, { POD_NAME: podName }, c.log);
      assert.notEqual(r.code, 0, String(podName));
      assert.match(r.stderr, message);
      assert.deepEqual(r.calls, []);
      assert.equal(fs.existsSync(c.dataDir), false);
    }
  });

  it("fails when mysqld is missing or --initialize fails (no marker)", () => {
    const c = newCase();
    const noMysqld = path.join(tmp, "empty-bin");
    fs.mkdirSync(noMysqld, { recursive: true });
    const hostHasMysqld = spawnSync("sh", ["-c", "command -v mysqld"], { env: { PATH: "/usr/bin:/bin" } }).status === 0;
    if (!hostHasMysqld) {
      const r = run({ dataDir: c.dataDir, confDir: c.confDir, serverIdBase: 1 }, { POD_NAME: "x-0" }, c.log, [noMysqld, "/usr/bin", "/bin"]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /mysqld not found in PATH/);
    }
    const r = run({ dataDir: c.dataDir, confDir: c.confDir, serverIdBase: 1 }, { POD_NAME: "x-0", STUB_MYSQLD_EXIT: "1" }, c.log);
    assert.notEqual(r.code, 0);
    assert.equal(fs.existsSync(path.join(c.dataDir, "moco-initialized")), false);
    assert.equal(fs.existsSync(path.join(c.confDir, "my.cnf")), false);
  });

  it("is deterministic and validates its options", () => {
    assert.equal(buildInitScript({ serverIdBase: 5 }), buildInitScript({ serverIdBase: 5 }));
    assert.notEqual(buildInitScript({ serverIdBase: 5 }), buildInitScript({ serverIdBase: 6 }));
    assert.match(buildInitScript({ serverIdBase: 5 }), /^DATA_DIR='\/var\/lib\/mysql'$/m);
    assert.match(buildInitScript({ serverIdBase: 5 }), /^CONF_DIR='\/etc\/mysql-conf.d'$/m);
    assert.throws(() => buildInitScript({ serverIdBase: -1 }), /serverIdBase/);
    assert.throws(() => buildInitScript({ serverIdBase: 2 ** 32 }), /serverIdBase/);
    assert.throws(() => buildInitScript({ serverIdBase: 1.5 }), /serverIdBase/);
    assert.throws(() => buildInitScript({ serverIdBase: 1, dataDir: "relative" }), /dataDir must be an absolute path/);
    assert.throws(() => buildInitScript({ serverIdBase: 1, confDir: "/a\nb" }), /confDir/);
    assert.throws(() => buildInitScript({ serverIdBase: 1, lowerCaseTableNames: 3 as 0 }), /lowerCaseTableNames/);
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });
});
