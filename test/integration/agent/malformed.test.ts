// A malformed request target must not end moco-agent (issue #13, defect 1): the probe and
// metrics servers of a real agent (on a real mysqld) answer `GET http://[ HTTP/1.1`,
// which Node's HTTP parser accepts and `new URL` rejects, with 400 and keep answering.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import fs from "node:fs";

import { startMysqlds, type MysqldSet } from "../../env/mysqld.ts";
import type { RunningAgent } from "../../../src/agent/agent.ts";
import { rawHttpExchange } from "../../env/raw-http.ts";
import { agentTestCerts, httpGet, startTestAgent } from "./helpers.ts";
import { randomPasswords } from "../../env/random.ts";

const BAD_REQUEST = "GET http://[ HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n";

describe("moco-agent and malformed requests", () => {
  let set: MysqldSet;
  let agent: RunningAgent | undefined;
  const passwords = randomPasswords();
  const certs = agentTestCerts();
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);

  before(async () => {
    // node --test would report an uncaught exception as a failure of some other test;
    // record it here so the assertion names it.
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
    set = await startMysqlds(1);
    const inst = set.instances[0]!;
    agent = await startTestAgent(inst, passwords, certs);
  });
  after(async () => {
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
    await agent?.close();
    await set?.stopAll();
  });

  for (const server of ["probe", "metrics"] as const) {
    it(`the ${server} server answers 400 and keeps serving`, async () => {
      const port = server === "probe" ? agent!.probePort : agent!.metricsPort;
      const answer = await rawHttpExchange(net.connect(port, "127.0.0.1"), BAD_REQUEST);
      assert.match(answer, /^HTTP\/1\.1 400 /, answer);
      // Let a throw scheduled by the bad request surface before the good one.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(uncaught, []);
      const good = await httpGet(`http://127.0.0.1:${port}/${server === "probe" ? "healthz" : "metrics"}`);
      assert.equal(good.status, 200, good.body);
    });
  }

  it("the clone API answers 400 to an authenticated client and keeps serving", async () => {
    const asController = () =>
      tls.connect({
        host: "127.0.0.1",
        port: agent!.cloneServer.port,
        ca: fs.readFileSync(certs.ca),
        cert: fs.readFileSync(certs.controller.cert),
        key: fs.readFileSync(certs.controller.key),
        servername: "localhost",
      });
    const answer = await rawHttpExchange(asController(), BAD_REQUEST);
    assert.match(answer, /^HTTP\/1\.1 400 /, answer);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(uncaught, []);
    const notFound = await rawHttpExchange(asController(), "GET /nothing HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n");
    assert.match(notFound, /^HTTP\/1\.1 404 /, notFound);
  });
});
