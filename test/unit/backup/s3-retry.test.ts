// One retry layer for S3 (issue #13 review): each S3Bucket operation against a server that
// always fails makes exactly S3_MAX_ATTEMPTS requests on a transient error (503) and one
// on a permanent one (403) — not the SDK's attempts inside moco-ts's own.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";

import { S3Bucket, S3_MAX_ATTEMPTS } from "../../../src/backup/bucket/s3.ts";
import { BucketError } from "../../../src/backup/bucket/types.ts";
import { closeServer, listenOn } from "../../../src/http/server.ts";

describe("S3Bucket retries", () => {
  let server: http.Server;
  let port = 0;
  let status = 503;
  let requests = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      requests++;
      req.resume();
      req.on("end", () => {
        const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${status === 503 ? "ServiceUnavailable" : "AccessDenied"}</Code><Message>no</Message></Error>`;
        res.writeHead(status, { "content-type": "application/xml", "content-length": req.method === "HEAD" ? 0 : Buffer.byteLength(body) });
        res.end(req.method === "HEAD" ? undefined : body);
      });
    });
    port = await listenOn(server, 0, "127.0.0.1");
  });
  after(() => closeServer(server));

  const bucket = () =>
    new S3Bucket({
      bucket: "b",
      endpoint: `http://127.0.0.1:${port}`,
      usePathStyle: true,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
  const operations: Array<[string, (b: S3Bucket) => Promise<unknown>]> = [
    ["get", (b) => b.get("k")],
    ["list", (b) => b.list("p/")],
    ["delete", (b) => b.delete("k")],
    ["exists", (b) => b.exists("k")],
    ["checkAccess", (b) => b.checkAccess()],
    ["put of a Buffer", (b) => b.put("k", Buffer.from("data"))],
  ];
  const cases: Array<[number, number]> = [
    [503, S3_MAX_ATTEMPTS],
    [403, 1],
  ];
  for (const [code, want] of cases) {
    for (const [name, op] of operations) {
      it(`${name} on ${code}: ${want} request(s), then a BucketError`, async () => {
        status = code;
        requests = 0;
        const b = bucket();
        try {
          await assert.rejects(op(b), (e: unknown) => e instanceof BucketError);
        } finally {
          await b.close();
        }
        assert.equal(requests, want);
      });
    }
  }
});
