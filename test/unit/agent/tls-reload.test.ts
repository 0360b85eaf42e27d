// TlsReloader (docs/tls.md): when it runs ALTER INSTANCE RELOAD TLS, with a scripted session.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { TlsReloader } from "../../../src/agent/tls-reload.ts";

function tempDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tls-reload-"));
  for (const [n, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, n), c);
  return dir;
}

const PAIR = { "ca.crt": "CA", "tls.crt": "CERT1", "tls.key": "KEY1" };

describe("TlsReloader", () => {
  it("runs the reload for both channels once per change, and retries a failed one at the next poll", async () => {
    const dir = tempDir(PAIR);
    const statements: string[] = [];
    let failNext = false;
    const r = new TlsReloader({
      dir,
      connect: async () => {
        if (failNext) {
          failNext = false;
          throw new Error("connect ECONNREFUSED");
        }
        return { query: async (sql: string) => { statements.push(sql); }, end: async () => undefined };
      },
    });
    const steps: { name: string; before?: () => void; want: string }[] = [
      { name: "first poll: load what is mounted", want: "reloaded" },
      { name: "no change", want: "unchanged" },
      { name: "mysqld unreachable during a change", before: () => { fs.writeFileSync(path.join(dir, "tls.crt"), "CERT2"); failNext = true; }, want: "failed" },
      { name: "next poll retries", want: "reloaded" },
      { name: "then quiet", want: "unchanged" },
      { name: "a file missing mid-swap", before: () => fs.rmSync(path.join(dir, "tls.key")), want: "missing" },
      { name: "back with a new key", before: () => fs.writeFileSync(path.join(dir, "tls.key"), "KEY2"), want: "reloaded" },
    ];
    for (const s of steps) {
      s.before?.();
      assert.equal(await r.check(), s.want, s.name);
    }
    assert.equal(r.reloads, 3);
    assert.deepEqual(statements, Array.from({ length: 3 }, () => [
      "ALTER INSTANCE RELOAD TLS FOR CHANNEL mysql_main",
      "ALTER INSTANCE RELOAD TLS FOR CHANNEL mysql_admin",
    ]).flat());
  });
});
