// FileWatch: the one poller of changing files (webhook certificate, mysqld's TLS files,
// the agent's password file).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileWatch, contentsFingerprint } from "../../../src/util/file-watch.ts";

function tmpDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moco-file-watch-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("calls back once per change, keeps the old contents when the callback throws, refuses or a file is missing", async (t) => {
  const dir = tmpDir(t);
  const f = path.join(dir, "tls.crt");
  fs.writeFileSync(f, "one");
  const seen: string[] = [];
  const errors: unknown[] = [];
  const readErrors: string[] = [];
  let verdict: "accept" | "throw" | "refuse" = "accept";
  const w = new FileWatch({
    files: [f],
    intervalMs: 60_000,
    onChange: async ([c]) => {
      if (verdict === "throw") throw new Error("bad pair");
      if (verdict === "refuse") return false;
      seen.push(String(c));
    },
    onError: (e) => errors.push(e),
    onReadError: (_e, file) => readErrors.push(path.basename(file)),
  });
  assert.equal(await w.check(), "changed");
  assert.equal(await w.check(), "unchanged");
  fs.writeFileSync(f, "two");
  verdict = "throw";
  assert.equal(await w.check(), "rejected", "callback threw");
  verdict = "refuse";
  assert.equal(await w.check(), "rejected", "callback refused");
  verdict = "accept";
  assert.equal(await w.check(), "changed", "retried on the next poll");
  fs.rmSync(f);
  assert.equal(await w.check(), "unreadable", "missing file");
  assert.deepEqual(seen, ["one", "two"]);
  assert.equal(errors.length, 1);
  assert.deepEqual(readErrors, ["tls.crt"]);
});

test("contents already in use (their fingerprint) are not offered again; polls do not overlap", async (t) => {
  const dir = tmpDir(t);
  const files = ["ca.crt", "tls.crt", "tls.key"].map((n) => path.join(dir, n));
  for (const f of files) fs.writeFileSync(f, path.basename(f));
  const initial = files.map((f) => fs.readFileSync(f));
  let calls = 0;
  let release: () => void = () => undefined;
  const w = new FileWatch({
    files,
    intervalMs: 60_000,
    onChange: () => { calls++; return new Promise<void>((r) => { release = r; }); },
  }, contentsFingerprint(files, initial));
  assert.equal(await w.check(), "unchanged");
  fs.writeFileSync(files[1]!, "renewed");
  const first = w.check();
  const second = w.check();
  assert.equal(first, second, "a poll in progress is joined");
  while (calls === 0) await new Promise<void>((r) => setImmediate(r));
  release();
  assert.equal(await first, "changed");
  assert.equal(calls, 1);
});

test("the fingerprint covers names and contents", () => {
  const a = contentsFingerprint(["/x/tls.crt"], [Buffer.from("1")]);
  assert.equal(a, contentsFingerprint(["/y/tls.crt"], [Buffer.from("1")]), "the directory does not count");
  assert.notEqual(a, contentsFingerprint(["/x/tls.key"], [Buffer.from("1")]));
  assert.notEqual(a, contentsFingerprint(["/x/tls.crt"], [Buffer.from("2")]));
});
