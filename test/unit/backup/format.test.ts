import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import {
  TsvEncoder, columnEncoding, createCompressor, createDecompressor, defaultCompression, encodeRow, escapeField,
  loadDataStatement, quoteIdent, selectList,
} from "../../../src/backup/dump/format.ts";
import { buffer as readAll } from "node:stream/consumers";
import { contentTypeFor } from "../../../src/backup/bucket/types.ts";
import { s3PartSize } from "../../../src/backup/bucket/s3.ts";
import { emulatorBase } from "../../../src/backup/bucket/gcs.ts";
import { parseUserFilter, userSelected } from "../../../src/backup/dump/load.ts";
import { splitDefaultRoles } from "../../../src/backup/dump/schema.ts";
import { formatGoDuration } from "../../../src/backup/backup.ts";
import { redact } from "../../../src/backup/log.ts";
import { sortBinlogNames } from "../../../src/backup/binlog.ts";

test("TSV escaping for LOAD DATA: backslash, tab, newline, NUL; NULL as \\N", () => {
  assert.equal(escapeField(Buffer.from("plain")).toString(), "plain");
  assert.equal(escapeField(Buffer.from("a\\b\tc\nd\0e\r")).toString(), "a\\\\b\\tc\\nd\\0e\r");
  assert.equal(encodeRow([Buffer.from("x"), null, Buffer.from("")]).toString(), "x\t\\N\t\n");
  assert.equal(encodeRow([Buffer.from("\\N")]).toString(), "\\\\N\n", "a literal backslash-N is not NULL");
});

test("TsvEncoder batches rows and counts rows and bytes", async () => {
  const rows = Array.from({ length: 5000 }, (_, i) => [Buffer.from(String(i)), i % 2 ? null : Buffer.from("v\t")]);
  const enc = new TsvEncoder();
  const out = await readAll(Readable.from(rows).pipe(enc));
  assert.equal(enc.rows, 5000);
  assert.equal(enc.bytes, out.length);
  assert.equal(out.toString().split("\n")[1], "1\t\\N");
  assert.equal(out.toString().split("\n")[2], "2\tv\\t");
});

test("compression round-trip (zstd in Node 24)", async () => {
  assert.equal(defaultCompression(), "zstd");
  for (const c of ["zstd", "gzip"] as const) {
    const data = Buffer.from("x".repeat(100_000) + "end");
    const z = await readAll(Readable.from([data]).pipe(createCompressor(c)));
    assert.ok(z.length < data.length / 10);
    assert.deepEqual(await readAll(Readable.from([z]).pipe(createDecompressor(c))), data);
  }
});

test("column encodings, SELECT list and LOAD DATA statement", () => {
  assert.equal(columnEncoding("bit"), "hex");
  assert.equal(columnEncoding("POINT"), "hex");
  assert.equal(columnEncoding("json"), "json");
  assert.equal(columnEncoding("blob"), "text");
  const cols = [
    { name: "id", dataType: "int", encoding: "text" as const },
    { name: "b`x", dataType: "bit", encoding: "hex" as const },
    { name: "j", dataType: "json", encoding: "json" as const },
  ];
  assert.equal(quoteIdent("a`b"), "`a``b`");
  assert.equal(selectList(cols), "`id`, HEX(`b``x`), `j`");
  assert.equal(loadDataStatement("d b", "t", cols),
    "LOAD DATA LOCAL INFILE 'chunk' INTO TABLE `d b`.`t` CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' " +
    "LINES TERMINATED BY '\\n' (`id`, @v1, @v2) SET `b``x` = UNHEX(@v1), `j` = CONVERT(@v2 USING utf8mb4)");
});

test("users filter: user[@host], comma separated, empty means all", () => {
  assert.equal(parseUserFilter(""), undefined);
  assert.equal(parseUserFilter(" , "), undefined);
  const f = parseUserFilter("test_user2@%, app ,a@b@10.0.0.%");
  assert.deepEqual(f, [{ user: "test_user2", host: "%" }, { user: "app" }, { user: "a@b", host: "10.0.0.%" }]);
  assert.ok(userSelected({ user: "app", host: "localhost" }, f));
  assert.ok(userSelected({ user: "test_user2", host: "%" }, f));
  assert.ok(!userSelected({ user: "test_user2", host: "localhost" }, f));
  assert.ok(userSelected({ user: "any", host: "%" }, undefined));
});

test("DEFAULT ROLE is split off CREATE USER", () => {
  const r = splitDefaultRoles("CREATE USER `app`@`%` IDENTIFIED WITH 'caching_sha2_password' AS 0x24 DEFAULT ROLE `app_role`@`%` REQUIRE NONE PASSWORD EXPIRE DEFAULT");
  assert.equal(r.defaultRoles, "`app_role`@`%`");
  assert.equal(r.create, "CREATE USER `app`@`%` IDENTIFIED WITH 'caching_sha2_password' AS 0x24 REQUIRE NONE PASSWORD EXPIRE DEFAULT");
  assert.deepEqual(splitDefaultRoles("CREATE USER `x`@`%` REQUIRE NONE"), { create: "CREATE USER `x`@`%` REQUIRE NONE" });
});

test("small helpers: content types, S3 part size, emulator host, Go durations, binlog order, redaction", () => {
  assert.equal(contentTypeFor("a/dump.tar"), "application/x-tar");
  assert.equal(contentTypeFor("a/binlog.000001.zst"), "application/zstd");
  assert.equal(contentTypeFor("a/manifest.json"), "application/json");
  assert.equal(contentTypeFor("a/x"), "application/octet-stream");
  assert.equal(s3PartSize(undefined), 8 << 20);
  assert.equal(s3PartSize(100 << 20), 8 << 20);
  assert.equal(s3PartSize(200 * 1024 ** 3) % (1 << 20), 0);
  assert.ok(s3PartSize(200 * 1024 ** 3) * 9000 >= 200 * 1024 ** 3);
  assert.equal(emulatorBase("127.0.0.1:4443"), "http://127.0.0.1:4443");
  assert.equal(emulatorBase("http://h:1/storage/v1/"), "http://h:1");
  assert.equal(formatGoDuration(0), "0s");
  assert.equal(formatGoDuration(250), "250ms");
  assert.equal(formatGoDuration(61_500), "1m1.5s");
  assert.equal(formatGoDuration(3_723_000), "1h2m3s");
  assert.deepEqual(sortBinlogNames(["binlog.000010", "binlog.000009", "binlog.000100"]), ["binlog.000009", "binlog.000010", "binlog.000100"]);
  assert.equal(redact("mysql -psecret123 --password=abc x", []), "mysql -p[redacted] --password=[redacted] x");
  assert.equal(redact("AccountKey=abc;Other=1"), "AccountKey=[redacted];Other=1");
  assert.equal(redact("failed for hunter22"), "failed for hunter22");
  assert.equal(redact("failed for hunter22", ["hunter22"]), "failed for [redacted]");
});
