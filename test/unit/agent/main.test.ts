// The moco-agent entry point as a process: usage, flag and environment errors and
// their exit codes, and that no password reaches its output.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";

const main = path.resolve(import.meta.dirname, "../../../src/agent/main.ts");

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [main, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe("moco-agent entry point", () => {
  it("--help prints the usage and exits 0", () => {
    const r = run(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.out, /Usage: moco-agent/);
    assert.match(r.out, /--transaction-queueing-wait/);
  });

  it("a bad flag exits 2 with the flag's name", () => {
    const r = run(["--max-delay=soon"]);
    assert.equal(r.code, 2);
    assert.match(r.out, /--max-delay/);
  });

  it("a missing environment exits 1", () => {
    const r = run([], { POD_NAME: "moco-c-0", CLUSTER_NAME: "c" });
    assert.equal(r.code, 1);
    assert.match(r.out, /AGENT_PASSWORD is not set/);
  });

  it("an unreachable mysqld fails the start without printing passwords", () => {
    const env = {
      POD_NAME: "moco-c-0", CLUSTER_NAME: "c", AGENT_PASSWORD: "agent-secret-1", ADMIN_PASSWORD: "admin-secret-2", REPLICATION_PASSWORD: "r-secret",
      CLONE_DONOR_PASSWORD: "d-secret", EXPORTER_PASSWORD: "e-secret", BACKUP_PASSWORD: "b-secret", READONLY_PASSWORD: "ro-secret", WRITABLE_PASSWORD: "w-secret",
    };
    // No socket: the first-boot connection is retried every 3 s for a minute; watch the
    // first 4 s of output.
    const r = spawnSync(process.execPath, [main, "--socket-path=/nonexistent/mysqld.sock", "--probe-address=127.0.0.1:0", "--metrics-address=127.0.0.1:0", "--address=127.0.0.1:0"], {
      env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 4000,
    });
    const out = r.stdout + r.stderr;
    assert.match(out, /waiting for mysqld \(root\)/);
    for (const s of Object.values(env).filter((v) => v.includes("secret"))) assert.ok(!out.includes(s), "password in the output");
  });
});
