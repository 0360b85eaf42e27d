// After a restore, super_read_only=1 and local_infile=0 are put back; a setting that cannot
// be put back is logged and named in the error the restore fails with (issue #13 review:
// it used to be swallowed). A scripted connection fails the chosen statements.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { PUT_BACK_TIMEOUT_MS, RESTORE_PUT_BACK, putBackRestoreSettings } from "../../../src/backup/restore.ts";
import type { Conn } from "../../../src/backup/db.ts";

function scripted(failing: ReadonlySet<string>) {
  const sent: Array<{ sql: string; timeout: number | undefined }> = [];
  const conn = {
    query: async (q: { sql: string; timeout?: number }) => {
      sent.push({ sql: q.sql, timeout: q.timeout });
      if (failing.has(q.sql)) throw Object.assign(new Error("Lock wait timeout exceeded; password=s3cret"), { code: "ER_LOCK_WAIT_TIMEOUT" });
      return [[], []];
    },
  } as unknown as Pick<Conn, "query">;
  return { conn, sent };
}

describe("putBackRestoreSettings", () => {
  const [superReadOnly, localInfile] = RESTORE_PUT_BACK.map((s) => s.sql) as [string, string];
  const cases: Array<[string, string[], string[]]> = [
    ["both put back", [], []],
    ["super_read_only fails", [superReadOnly], ["super_read_only"]],
    ["local_infile fails", [localInfile], ["local_infile"]],
    ["both fail", [superReadOnly, localInfile], ["super_read_only", "local_infile"]],
  ];
  for (const [name, failing, named] of cases) {
    it(name, async () => {
      const { conn, sent } = scripted(new Set(failing));
      const logged: Array<{ variable: string; err: string }> = [];
      const log = { error: (obj: { variable: string; err: string }) => void logged.push(obj) };
      const err = await putBackRestoreSettings(conn, log as never, ["s3cret"]);
      // Every statement is attempted, each with a bound, whatever failed before it.
      assert.deepEqual(sent, [
        { sql: superReadOnly, timeout: PUT_BACK_TIMEOUT_MS },
        { sql: localInfile, timeout: PUT_BACK_TIMEOUT_MS },
      ]);
      assert.deepEqual(logged.map((l) => l.variable), named);
      if (named.length === 0) {
        assert.equal(err, undefined);
        return;
      }
      assert.ok(err instanceof Error);
      for (const v of named) assert.match(err.message, new RegExp(`${v} \\(Lock wait timeout`));
      assert.ok(!err.message.includes("s3cret") && !logged.some((l) => l.err.includes("s3cret")), "a secret in the error or log");
    });
  }
});
