// A malformed request target cannot end moco-controller (issue #13, defect 1): its health,
// metrics and webhook servers (a controller running against a real kube-apiserver) answer
// `GET http://[ HTTP/1.1` with 400 and go on serving.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import type { RunningController } from "../../../src/controller/main.ts";
import { startHarness, type Harness } from "../../env/controller-harness.ts";
import { rawHttpExchange } from "../../env/raw-http.ts";

const BAD = "GET http://[ HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n";
const good = (p: string) => `GET ${p} HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n`;

describe("moco-controller and malformed requests", { timeout: 300_000 }, () => {
  let h: Harness;
  let ctl: RunningController;
  const uncaught: unknown[] = [];
  const record = (e: unknown) => uncaught.push(e);

  before(async () => {
    process.on("uncaughtException", record);
    process.on("unhandledRejection", record);
    h = await startHarness();
    ctl = await h.startController({ webhookAddr: "127.0.0.1:0", certDir: path.join(h.cp.dir, "no-such-cert-dir") });
  });
  after(async () => {
    process.off("uncaughtException", record);
    process.off("unhandledRejection", record);
    await h?.stop();
  });

  const plain = (url: string | undefined) => () => {
    const u = new URL(url ?? "");
    return net.connect(Number(u.port), u.hostname);
  };
  const servers: Array<[string, () => () => net.Socket, string]> = [
    ["health", () => plain(ctl.healthUrl), "/healthz"],
    ["metrics", () => plain(ctl.metricsUrl), "/metrics"],
    ["webhook", () => () => tls.connect({ host: "127.0.0.1", port: ctl.webhook!.port, ca: ctl.webhookCa, servername: "127.0.0.1" }), "/healthz"],
  ];
  for (const [name, connector, okPath] of servers) {
    it(`the ${name} server answers 400 and keeps serving`, async () => {
      const connect = connector();
      const answer = await rawHttpExchange(connect(), BAD);
      assert.match(answer, /^HTTP\/1\.1 400 /, answer);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(uncaught, []);
      const ok = await rawHttpExchange(connect(), good(okPath));
      assert.match(ok, /^HTTP\/1\.1 200 /, ok.slice(0, 200));
    });
  }
});
