// One retry layer per object-store request (issue #13 review): each bucket operation
// against a server that always fails makes exactly BUCKET_REQUEST_ATTEMPTS requests on a
// transient error (503) and one on a permanent one (403) — not the SDK's attempts inside
// moco-ts's own (5 × 5 = 25 before).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";

import { AzureBucket } from "../../../src/backup/bucket/azure.ts";
import { S3Bucket } from "../../../src/backup/bucket/s3.ts";
import { BUCKET_REQUEST_ATTEMPTS, BucketError, type Bucket } from "../../../src/backup/bucket/types.ts";
import { closeServer, listenOn } from "../../../src/http/server.ts";

// The fake server checks no signature: any account and base64 key will do.
const AZURE_ACCOUNT = "testaccount";
const AZURE_KEY = Buffer.from("not-a-real-key").toString("base64");

describe("bucket retries", () => {
  let server: http.Server;
  let port = 0;
  let status = 503;
  let requests = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      requests++;
      req.resume();
      req.on("end", () => {
        const code = status === 503 ? "ServiceUnavailable" : "AccessDenied";
        const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>no</Message></Error>`;
        const head = req.method === "HEAD";
        res.writeHead(status, { "content-type": "application/xml", "content-length": head ? 0 : Buffer.byteLength(body), "x-ms-error-code": code });
        res.end(head ? undefined : body);
      });
    });
    port = await listenOn(server, 0, "127.0.0.1");
  });
  after(() => closeServer(server));

  const backends: Array<[string, () => Bucket]> = [
    ["s3", () => new S3Bucket({ bucket: "b", endpoint: `http://127.0.0.1:${port}`, usePathStyle: true, credentials: { accessKeyId: "test", secretAccessKey: "test" } })],
    ["azure", () => new AzureBucket({
      container: "b",
      env: { AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${AZURE_ACCOUNT};AccountKey=${AZURE_KEY};BlobEndpoint=http://127.0.0.1:${port}/${AZURE_ACCOUNT};` },
    })],
  ];
  const operations: Array<[string, (b: Bucket) => Promise<unknown>]> = [
    ["get", (b) => b.get("k")],
    ["list", (b) => b.list("p/")],
    ["delete", (b) => b.delete("k")],
    ["checkAccess", (b) => b.checkAccess()],
    ["put of a Buffer", (b) => b.put("k", Buffer.from("data"))],
  ];
  const cases: Array<[number, number]> = [
    [503, BUCKET_REQUEST_ATTEMPTS],
    [403, 1],
  ];
  for (const [backend, make] of backends) {
    for (const [code, want] of cases) {
      for (const [name, op] of operations) {
        it(`${backend} ${name} on ${code}: ${want} request(s), then a BucketError`, async () => {
          status = code;
          requests = 0;
          const b = make();
          try {
            await assert.rejects(op(b), (e: unknown) => e instanceof BucketError);
          } finally {
            await b.close();
          }
          assert.equal(requests, want);
        });
      }
    }
  }
});
