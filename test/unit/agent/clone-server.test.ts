// The clone API's TLS layer: client certificate required, CN checked, certificates
// re-read (periodically and on demand), routes and body errors. The clone itself is
// covered against real mysqld in test/integration/agent/clone.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import https from "node:https";

import { ensureCa, ensureCert } from "../../env/pki.ts";
import { startCloneServer, type CloneServer } from "../../../src/agent/clone-server.ts";
import { CloneService } from "../../../src/agent/clone.ts";
import { AgentCloneError, cloneFromDonor } from "../../../src/shared/clone-client.ts";
import type { Queryable } from "../../../src/mysql/query.ts";
import { silentLogger } from "../../../src/util/log.ts";
import { createAgentMetrics } from "../../../src/agent/metrics.ts";
import { eventually } from "../../env/eventually.ts";

describe("clone API server (TLS layer)", () => {
  let tmp: string;
  let certDir: string;
  let server: CloneServer;
  let ca: { cert: string; key: string };
  let controller: { cert: string; key: string };
  let serverB: { cert: string; key: string };

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "moco-clone-server-"));
    ca = ensureCa(tmp);
    const serverA = ensureCert(tmp, "server-a", ca, { cn: "agent-a", sans: ["localhost", "127.0.0.1"], usage: "server" });
    serverB = ensureCert(tmp, "server-b", ca, { cn: "agent-b", sans: ["localhost", "127.0.0.1"], usage: "server" });
    controller = ensureCert(tmp, "controller", ca, { cn: "moco-controller", usage: "client" });
    certDir = path.join(tmp, "grpc-cert");
    fs.mkdirSync(certDir);
    fs.copyFileSync(serverA.cert, path.join(certDir, "tls.crt"));
    fs.copyFileSync(serverA.key, path.join(certDir, "tls.key"));
    fs.copyFileSync(ca.cert, path.join(certDir, "ca.crt"));
    // A service whose recipient always has data: every valid request ends in 412.
    const db = { query: async () => [[{ g: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1" }], []] } as unknown as Queryable;
    const service = new CloneService({
      agentDb: db, socketPath: "/x", agentPassword: "x",
      passwords: {
        ADMIN_PASSWORD: "a1", AGENT_PASSWORD: "a2", REPLICATION_PASSWORD: "a3", CLONE_DONOR_PASSWORD: "a4",
        EXPORTER_PASSWORD: "a5", BACKUP_PASSWORD: "a6", READONLY_PASSWORD: "a7", WRITABLE_PASSWORD: "a8",
      }, metrics: createAgentMetrics("c", 0, { defaultMetrics: false }), logger: silentLogger(),
    });
    server = await startCloneServer({ address: { host: "127.0.0.1", port: 0 }, certDir, service, logger: silentLogger(), reloadIntervalMs: 300 });
  });
  after(async () => {
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function servedCommonName(): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", ca: fs.readFileSync(ca.cert),
        cert: fs.readFileSync(controller.cert), key: fs.readFileSync(controller.key) }, () => {
        const cn = s.getPeerCertificate().subject.CN;
        s.end();
        resolve(String(cn));
      });
      s.on("error", reject);
    });
  }

  function raw(method: string, p: string, body: string): Promise<{ status: number; json: { code?: string; message?: string } }> {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: "127.0.0.1", port: server.port, servername: "localhost", method, path: p, ca: fs.readFileSync(ca.cert),
        cert: fs.readFileSync(controller.cert), key: fs.readFileSync(controller.key), agent: false }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => { text += c.toString(); });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { code?: string } }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  it("answers a valid controller request (here: 412 recipient not empty)", async () => {
    await assert.rejects(
      cloneFromDonor(`https://localhost:${server.port}`, { ca: ca.cert, cert: controller.cert, key: controller.key },
        { host: "donor", port: 3306, user: "u", password: "p", init_user: "i", init_password: "q" }),
      (e: unknown) => e instanceof AgentCloneError && e.code === "FAILED_PRECONDITION" && e.httpStatus === 412 && e.message === "recipient is not empty");
  });

  it("routes and bodies: 404, 405, 400", async () => {
    assert.deepEqual((await raw("POST", "/v1/other", "{}")).status, 404);
    const get = await raw("GET", "/v1/clone", "");
    assert.equal(get.status, 405);
    const bad = await raw("POST", "/v1/clone", "{not json");
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, "INVALID_ARGUMENT");
    const big = await raw("POST", "/v1/clone", JSON.stringify({ host: "x".repeat(70_000) }));
    assert.equal(big.status, 400);
  });

  it("refuses to talk to a client presenting a certificate from another CA", async () => {
    const otherCa = ensureCa(path.join(tmp, "other"), "other-ca");
    const foreign = ensureCert(path.join(tmp, "other"), "controller", otherCa, { cn: "moco-controller", usage: "client" });
    await assert.rejects(
      cloneFromDonor(`https://localhost:${server.port}`, { ca: ca.cert, cert: foreign.cert, key: foreign.key },
        { host: "donor", port: 3306, user: "u", password: "p", init_user: "i", init_password: "q" }),
      (e: unknown) => e instanceof AgentCloneError && e.code === "UNAVAILABLE");
  });

  it("re-reads its certificates periodically", async () => {
    assert.equal(await servedCommonName(), "agent-a");
    fs.copyFileSync(serverB.cert, path.join(certDir, "tls.crt"));
    fs.copyFileSync(serverB.key, path.join(certDir, "tls.key"));
    await eventually("the new certificate served", async () => (await servedCommonName()) === "agent-b", 10_000, 100);
  });

  it("keeps the old certificates when the new ones are unreadable", async () => {
    fs.writeFileSync(path.join(certDir, "tls.key"), "garbage");
    server.reloadCertificates();
    assert.equal(await servedCommonName(), "agent-b");
  });
});
