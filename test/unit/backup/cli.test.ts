import assert from "node:assert/strict";
import { test } from "node:test";
import { buildProgram, type ParsedCommand } from "../../../src/backup/cli.ts";
import { isTransientError, withRetry } from "../../../src/backup/retry.ts";

async function parse(args: string[]): Promise<ParsedCommand> {
  let got: ParsedCommand | undefined;
  await buildProgram(async (c) => { got = c; }, { exitOverride: true, quiet: true }).parseAsync(args, { from: "user" });
  if (!got) throw new Error("no command");
  return got;
}

test("backup args as the builders write them (flags after the subcommand)", async () => {
  const c = await parse(["backup", "--threads=3", "--region=us-east-1", "--endpoint=http://minio:9000", "--use-path-style",
    "--backend-type=s3", "--ca-cert=/ca.pem", "my-bucket", "ns", "cluster"]);
  assert.equal(c.kind, "backup");
  assert.deepEqual(c, {
    kind: "backup", bucket: "my-bucket", namespace: "ns", name: "cluster",
    flags: { workDir: "/work", threads: 3, region: "us-east-1", endpoint: "http://minio:9000", usePathStyle: true,
      backendType: "s3", caCert: "/ca.pem", progressInterval: 10 },
  });
});

test("defaults, global flags before the subcommand, unknown backend → s3", async () => {
  const c = await parse(["--work-dir=/tmp/w", "--backend-type=ftp", "backup", "b", "n", "c"]);
  assert.equal(c.flags.workDir, "/tmp/w");
  assert.equal(c.flags.threads, 4);
  assert.equal(c.flags.backendType, "s3");
  assert.equal((await parse(["backup", "--backend-type=gcs", "b", "n", "c"])).flags.backendType, "gcs");
  assert.equal((await parse(["backup", "--backend-type=azure", "--chunk-rows=1000", "b", "n", "c"])).flags.chunkRows, 1000);
});

test("restore takes exactly 8 args; schema and users may be empty", async () => {
  const c = await parse(["restore", "--threads=2", "--backend-type=azure", "bkt", "sns", "sname", "ns", "name", "20210527-120000", "", ""]);
  assert.equal(c.kind, "restore");
  if (c.kind !== "restore") return;
  assert.equal(c.restorePoint.toISOString(), "2021-05-27T12:00:00.000Z");
  assert.equal(c.schema, undefined);
  assert.equal(c.users, undefined);
  assert.equal(c.flags.threads, 2);
  const d = await parse(["restore", "b", "s", "s", "n", "n", "20210527-120000", "test2", "test_user2@%"]);
  assert.ok(d.kind === "restore" && d.schema === "test2" && d.users?.[0]?.host === "%");
});

test("bad arguments are rejected", async () => {
  await assert.rejects(parse(["backup", "b", "n"]), /missing required argument/);
  await assert.rejects(parse(["backup", "b", "n", "c", "extra"]), /too many arguments/);
  await assert.rejects(parse(["restore", "b", "s", "s", "n", "n", "20210527-120000", ""]), /missing required argument/);
  await assert.rejects(parse(["restore", "b", "s", "s", "n", "n", "2021-05-27T12:00:00Z", "", ""]), /invalid restore point/);
  await assert.rejects(parse(["backup", "--threads=0", "b", "n", "c"]), /positive integer/);
  await assert.rejects(parse(["backup", "--endpoint=not a url", "b", "n", "c"]), /not a URL/);
});

test("retry: transient classification and capped exponential back-off", async () => {
  assert.ok(isTransientError({ code: "ECONNRESET" }));
  assert.ok(isTransientError({ $metadata: { httpStatusCode: 503 } }));
  assert.ok(isTransientError({ statusCode: 429 }));
  assert.ok(!isTransientError({ $metadata: { httpStatusCode: 403 } }));
  assert.ok(!isTransientError(new Error("boom")));
  assert.ok(isTransientError({ message: "x", cause: { code: "ETIMEDOUT" } }));
  const capped: number[] = [];
  await assert.rejects(withRetry(async () => { throw { code: "ECONNRESET" }; },
    { attempts: 6, baseDelayMs: 100, maxDelayMs: 1000, sleep: async (ms) => { capped.push(ms); } }));
  assert.deepEqual(capped, [100, 200, 400, 800, 1000]);
  const delays: number[] = [];
  let calls = 0;
  const v = await withRetry(async () => { if (++calls < 3) throw { code: "ECONNRESET" }; return "ok"; },
    { sleep: async (ms) => { delays.push(ms); }, baseDelayMs: 10 });
  assert.equal(v, "ok");
  assert.deepEqual(delays, [10, 20]);
  calls = 0;
  await assert.rejects(withRetry(async () => { calls++; throw new Error("permanent"); }, { sleep: async () => undefined }), /permanent/);
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(withRetry(async () => { calls++; throw { code: "ECONNRESET" }; }, { attempts: 4, sleep: async () => undefined }));
  assert.equal(calls, 4);
});
