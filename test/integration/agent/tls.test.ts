// The agent with spec.tls (docs/tls.md) on real mysqld 9.7 with require_secure_transport=ON:
// its pool reaches mysqld over verified TLS (a plaintext pool would be refused), and it
// makes mysqld reload a renewed certificate without a restart.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import mysql from "mysql2/promise";

import { startMysqlds, type MysqldInstance, type MysqldSet } from "../../env/mysqld.ts";
import type { RunningAgent } from "../../../src/agent/agent.ts";
import { createCertificateAuthority, type CertificateAuthority } from "../../../src/controller/certs.ts";
import { ER_SECURE_TRANSPORT_REQUIRED } from "../../../src/mysql/tls.ts";
import { agentTestCerts, httpGet, startTestAgent } from "./helpers.ts";
import { randomPasswords } from "../../env/random.ts";
import { eventually } from "../../env/eventually.ts";
import { instanceTlsFiles, presentedSerial, serialOf, tlsMyCnfLines } from "../tls-fixtures.ts";

describe("agent with spec.tls", () => {
  let set: MysqldSet;
  let inst: MysqldInstance;
  let agent: RunningAgent | undefined;
  let ca: CertificateAuthority;
  const passwords = randomPasswords();
  const certs = agentTestCerts();

  before(async () => {
    ca = await createCertificateAuthority();
    set = await startMysqlds(1, { mycnf: tlsMyCnfLines(true), files: (_i, host) => instanceTlsFiles(ca, "test", 1, host) });
    inst = set.instances[0] as MysqldInstance;
    agent = await startTestAgent(inst, passwords, certs, { tlsDir: `${inst.dir}/tls`, tlsReloadIntervalMs: 200 });
  });
  after(async () => {
    await agent?.close();
    await set?.stopAll();
  });

  it("probes mysqld over verified TLS although plaintext is refused", async () => {
    const res = await httpGet(`http://127.0.0.1:${agent?.probePort}/healthz`);
    assert.equal(res.status, 200, res.body);
    await assert.rejects(
      mysql.createConnection({ host: inst.host, port: 33062, user: "moco-agent", password: passwords.AGENT_PASSWORD, connectTimeout: 5000 }),
      (e: { errno?: number }) => e.errno === ER_SECURE_TRANSPORT_REQUIRED,
    );
    const [rows] = await (agent as RunningAgent).pool.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    assert.notEqual(String((rows as { Value?: string }[])[0]?.Value ?? ""), "", "the pool's session is encrypted");
  });

  it("reloads a renewed certificate without restarting mysqld", async () => {
    const pid = inst.pid();
    const reloader = agent?.tlsReloader;
    assert.ok(reloader, "the agent runs a reloader with tlsDir");
    await eventually("the first reload", async () => (reloader.reloads >= 1 ? true : undefined), 10_000, 100);
    const before = reloader.reloads;
    const files = await instanceTlsFiles(ca, "test", 1, inst.host, 364);
    for (const [rel, content] of Object.entries(files)) writeFileSync(`${inst.dir}/${rel}`, content);
    const want = serialOf(files["tls/tls.crt"] ?? "");
    await eventually("mysqld presenting the new certificate", async () => {
      const got = await presentedSerial(inst.host, 33062, "moco-admin", passwords.ADMIN_PASSWORD, { ca: ca.cert, serverName: "moco-test-0.moco-test.default.svc" });
      return got === want ? true : undefined;
    }, 15_000, 200);
    assert.equal(reloader.reloads, before + 1);
    assert.equal(inst.pid(), pid, "mysqld was not restarted");
    const res = await httpGet(`http://127.0.0.1:${agent?.probePort}/healthz`);
    assert.equal(res.status, 200, res.body);
  });
});
