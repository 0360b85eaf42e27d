// guardedListener, the request listener every moco-ts HTTP server goes through: a
// malformed request target gets 400, a throwing or rejecting route gets 500, and the
// process sees neither an uncaught exception nor an unhandled rejection.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { Readable } from "node:stream";

import { rawHttpExchange } from "../../env/raw-http.ts";
import { closeServer, guardedListener, listenOn, parseRequestTarget, readBody } from "../../../src/http/server.ts";

describe("parseRequestTarget", () => {
  const cases: Array<[string, string | undefined]> = [
    ["/healthz", "/healthz"],
    ["/metrics?x=1", "/metrics"],
    ["http://[", undefined],
    ["http://a b/", undefined],
    ["//healthz", "//healthz"],
    ["http://agent/readyz", "/readyz"],
    ["*", undefined],
  ];
  for (const [target, path] of cases) {
    it(`${JSON.stringify(target)} → ${String(path)}`, () => {
      assert.equal(parseRequestTarget({ url: target })?.pathname, path);
    });
  }
});

describe("readBody (the body, or undefined once it exceeds the limit)", () => {
  const cases: Array<[string, string[], number, string | undefined]> = [
    ["empty body", [], 10, ""],
    ["one chunk under the limit", ["abc"], 10, "abc"],
    ["chunks exactly at the limit", ["abcde", "fghij"], 10, "abcdefghij"],
    ["one byte over the limit", ["abcde", "fghijk"], 10, undefined],
    ["first chunk over the limit", ["x".repeat(11)], 10, undefined],
    ["limit 0, empty body", [], 0, ""],
    ["limit 0, one byte", ["x"], 0, undefined],
  ];
  for (const [name, chunks, limit, want] of cases) {
    it(`${name} → ${want === undefined ? "undefined" : JSON.stringify(want)}`, async () => {
      const req = Readable.from(chunks.map((c) => Buffer.from(c))) as unknown as http.IncomingMessage;
      assert.equal((await readBody(req, limit))?.toString("utf8"), want);
    });
  }
});

describe("guardedListener on a real server", () => {
  let server: http.Server;
  let port = 0;
  const errors: string[] = [];
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);

  before(async () => {
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
    server = http.createServer(
      guardedListener((_req, res, url) => {
        if (url.pathname === "/throw") throw new Error("sync boom");
        if (url.pathname === "/reject") return Promise.reject(new Error("async boom"));
        if (url.pathname === "/half") {
          res.writeHead(200, { "content-length": "10" });
          res.write("12345");
          return Promise.reject(new Error("after headers"));
        }
        res.writeHead(200).end(url.pathname);
      }, (e) => errors.push((e as Error).message)),
    );
    port = await listenOn(server, 0, "127.0.0.1");
  });
  after(async () => {
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
    await closeServer(server);
  });

  const table: Array<[string, RegExp, string | undefined]> = [
    ["GET http://[ HTTP/1.1", /^HTTP\/1\.1 400 /, undefined],
    ["GET /throw HTTP/1.1", /^HTTP\/1\.1 500 /, "sync boom"],
    ["GET /reject HTTP/1.1", /^HTTP\/1\.1 500 /, "async boom"],
    ["GET /half HTTP/1.1", /^HTTP\/1\.1 200 [\s\S]*12345$/, "after headers"],
    ["GET /fine HTTP/1.1", /^HTTP\/1\.1 200 [\s\S]*\/fine\r\n0\r\n/, undefined],
  ];
  for (const [line, answer, error] of table) {
    it(`${line} → ${answer.source}`, async () => {
      errors.length = 0;
      const out = await rawHttpExchange(net.connect(port, "127.0.0.1"), `${line}\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(out, answer);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(errors, error === undefined ? [] : [error]);
      assert.deepEqual(uncaught, []);
    });
  }
});
