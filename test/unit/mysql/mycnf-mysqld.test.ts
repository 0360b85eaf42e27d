// The generated my.cnf against the real mysqld 9.7 of the project's rootfs
// (test/env/mysql-rootfs.sh): `mysqld --validate-config` parses every option and exits
// without touching a data directory, so this stays a quick test. It needs the provisioned
// rootfs and root (chroot); without them it fails, naming what is missing (never skips).
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { generateMyCnf, generateUpstreamMyCnf } from "../../../src/mysql/mycnf.ts";

const rootfs = path.resolve(import.meta.dirname, "../../../.cache/rootfs/mysql");
const mysqld = path.join(rootfs, "usr/sbin/mysqld");
const missing =
  !existsSync(mysqld) ? `no MySQL rootfs at ${rootfs} (run test/env/mysql-rootfs.sh)`
  : process.getuid?.() !== 0 ? "chroot needs root"
  : undefined;

/** Run `mysqld --validate-config` on `text`; returns exit status and output. */
function validate(text: string): { status: number; output: string } {
  const dir = mkdtempSync(path.join(rootfs, "tmp", "mycnf-"));
  try {
    const inner = `/tmp/${path.basename(dir)}`;
    mkdirSync(path.join(dir, "conf.d"));
    // The included directory is created by moco-init in a Pod; point it at an empty one.
    writeFileSync(path.join(dir, "my.cnf"), text.replace("!includedir /etc/mysql-conf.d", `!includedir ${inner}/conf.d`));
    try {
      const output = execFileSync(
        "chroot",
        [rootfs, "/usr/sbin/mysqld", `--defaults-file=${inner}/my.cnf`, "--validate-config", "--user=root"],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      return { status: 0, output };
    } catch (err) {
      const e = err as { status?: number; stdout?: string; stderr?: string };
      return { status: e.status ?? -1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("generated my.cnf on mysqld 9.7", () => {
  before(() => {
    if (missing !== undefined) throw new Error(`prerequisite missing: ${missing}`);
  });

  it("moco-ts my.cnf (no ConfigMap) is accepted", () => {
    const r = validate(generateMyCnf(undefined, 1024 * 1024 * 1024));
    assert.equal(r.status, 0, r.output);
    assert.doesNotMatch(r.output, /\[ERROR\]/);
  });

  it("moco-ts my.cnf with user settings is accepted", () => {
    const r = validate(generateMyCnf({ "max-connections": "500", innodb_redo_log_capacity: "209715200" }, 0));
    assert.equal(r.status, 0, r.output);
  });

  it("upstream's text is rejected (this is why moco-ts diverges)", () => {
    const r = validate(generateUpstreamMyCnf(undefined, 100 * 1024 * 1024));
    assert.notEqual(r.status, 0);
    assert.match(r.output, /unknown variable '(innodb_log_file_size|innodb_log_files_in_group|temptable_use_mmap)=/);
  });
});
