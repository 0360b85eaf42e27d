// TLS on every MySQL connection (issue #17, docs/tls.md) on real mysqld 9.7: the engine's
// admin sessions and the replication channels are encrypted and verified; with
// require_secure_transport a plaintext client is refused; a certificate renewal under a
// write load (the agent's TlsReloader: ALTER INSTANCE RELOAD TLS) loses no acknowledged
// write and does not restart mysqld.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import mysql from "mysql2/promise";
import type { Connection } from "mysql2/promise";

import { ClusterHarness, Writer, createTestTable, idsOn, sleep } from "./harness.ts";
import { startMysqlds } from "../../env/mysqld.ts";
import type { MysqldSet } from "../../env/mysqld.ts";
import { createCertificateAuthority } from "../../../src/controller/certs.ts";
import type { CertificateAuthority } from "../../../src/controller/certs.ts";
import { ER_SECURE_TRANSPORT_REQUIRED, mysqlClientTlsOptions } from "../../../src/mysql/tls.ts";
import { TLS_DIR, instanceTlsFiles, presentedSerial, serialOf, tlsMyCnfLines } from "../tls-fixtures.ts";
import { TlsReloader } from "../../../src/agent/tls-reload.ts";
import type { ClusterTls } from "../../../src/clustering/ports.ts";
import { SqlConnection } from "../../../src/clustering/sql.ts";

describe("TLS with 3 instances driven by the engine", () => {
  const name = "tls";
  let h: ClusterHarness;
  let ca: CertificateAuthority;
  const tlsOf = (i: number): string => `moco-${name}-${i}.moco-${name}.default.svc`;

  before(async () => {
    ca = await createCertificateAuthority();
    const clusterTls: ClusterTls = {
      ca: ca.cert,
      serverName: tlsOf,
      replication: { caFile: `${TLS_DIR}/ca.crt`, verifyServerName: true },
    };
    h = await ClusterHarness.start({
      replicas: 3,
      name,
      checkIntervalMs: 300,
      mycnf: tlsMyCnfLines(false),
      files: (_i, host) => instanceTlsFiles(ca, name, 3, host),
      tls: { get: async () => clusterTls },
    });
    h.startManager();
    await h.waitHealthy();
    await createTestTable(h);
  });
  after(async () => {
    await h?.close();
  });

  it("encrypts and verifies every admin session of the engine and every replication channel", async () => {
    const primary = h.cluster.status.currentPrimaryIndex;
    // Sample the sessions of moco-admin (the engine) and moco-repl (replication) on every
    // instance over a few passes.
    const seen = new Map<string, Set<string>>();
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      for (let i = 0; i < 3; i++) {
        const rows = await h.query(
          i,
          "SELECT PROCESSLIST_USER AS u, CONNECTION_TYPE AS t FROM performance_schema.threads WHERE PROCESSLIST_USER IN ('moco-admin', 'moco-repl')",
        );
        for (const r of rows) {
          const key = `${String(r.u)}@${i}`;
          if (!seen.has(key)) seen.set(key, new Set());
          seen.get(key)?.add(String(r.t));
        }
      }
      await sleep(50);
    }
    console.log(`sessions seen: ${[...seen].map(([k, v]) => `${k}=${[...v].join("/")}`).join(", ")}`);
    for (let i = 0; i < 3; i++) assert.ok(seen.has(`moco-admin@${i}`), `no engine session seen on instance ${i}`);
    assert.ok(seen.has(`moco-repl@${primary}`), "no replication session on the primary");
    // CONNECTION_TYPE is NULL while a session is being set up or torn down; a plaintext
    // session would show TCP/IP (the control below).
    for (const [k, types] of seen) {
      assert.ok(types.has("SSL/TLS"), `${k}: no encrypted session`);
      assert.deepEqual([...types].filter((t) => t !== "SSL/TLS" && t !== "null"), [], `${k} has a session that is not encrypted`);
    }
    const [control] = await h.query(0, "SELECT CONNECTION_TYPE AS t FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID()");
    assert.equal(control?.t, "TCP/IP", "the test's own plaintext session is seen as such");

    // The cipher of the replicas' binlog dump sessions, as the primary sees them.
    const dump = await h.query(
      primary,
      "SELECT t.PROCESSLIST_COMMAND AS c, s.VARIABLE_VALUE AS cipher FROM performance_schema.threads t JOIN performance_schema.status_by_thread s USING (THREAD_ID) WHERE s.VARIABLE_NAME = 'Ssl_cipher' AND t.PROCESSLIST_USER = 'moco-repl'",
    );
    assert.equal(dump.length, 2, "two replicas stream from the primary");
    for (const r of dump) assert.notEqual(String(r.cipher), "", `binlog dump session (${String(r.c)}) without a cipher`);

    for (let i = 0; i < 3; i++) {
      if (i === primary) continue;
      const [cfg] = await h.query(
        i,
        "SELECT SSL_ALLOWED AS a, SSL_CA_FILE AS ca, SSL_VERIFY_SERVER_CERTIFICATE AS v FROM performance_schema.replication_connection_configuration WHERE CHANNEL_NAME = ''",
      );
      assert.deepEqual({ a: cfg?.a, ca: cfg?.ca, v: cfg?.v }, { a: "YES", ca: `${TLS_DIR}/ca.crt`, v: "YES" });
      const [st] = await h.query(i, "SELECT SERVICE_STATE AS s FROM performance_schema.replication_connection_status WHERE CHANNEL_NAME = ''");
      assert.equal(st?.s, "ON", `replica ${i}'s receiver is not connected`);
    }
  });

  it("refuses a server whose certificate lacks the expected name or comes from another CA", async () => {
    const target = { host: h.inst(0).host, port: 33062, user: "moco-admin", password: h.passwords.ADMIN_PASSWORD };
    await assert.rejects(SqlConnection.open({ ...target, tls: { ca: ca.cert, serverName: "moco-other-0.moco-other.default.svc" } }), /altnames|Hostname|does not match/i);
    const other = await createCertificateAuthority();
    await assert.rejects(SqlConnection.open({ ...target, tls: { ca: other.cert, serverName: tlsOf(0) } }), /certificate|self.signed|issuer/i);
    const ok = await SqlConnection.open({ ...target, tls: { ca: ca.cert, serverName: tlsOf(0) } });
    const [row] = await ok.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    assert.notEqual(String(row?.Value ?? ""), "");
    await ok.close();
  });

  it("renews the certificates under a write load: no acknowledged write lost, no mysqld restart", async () => {
    const primary = h.cluster.status.currentPrimaryIndex;
    const pidsBefore = h.instances.map((inst) => inst.pid());
    const uptimeBefore = await Promise.all(h.instances.map(async (_inst, i) => Number((await h.query(i, "SHOW GLOBAL STATUS LIKE 'Uptime'"))[0]?.Value)));
    const writer = new Writer(h, { ca: ca.cert, serverName: tlsOf(primary) });
    writer.start();
    await h.waitFor("100 acknowledged inserts", () => writer.acked.length >= 100, 30_000);

    // Short-validity certificates (1 day) replace the year-long ones, as the controller's
    // renewal would (the Secret volume's files change under mysqld).
    const fresh: string[] = [];
    for (let i = 0; i < 3; i++) {
      const inst = h.inst(i);
      const reloader = new TlsReloader({
        dir: `${inst.dir}/tls`,
        connect: async () => {
          const c = await mysql.createConnection({ socketPath: inst.socketPath, user: "moco-admin", password: h.passwords.ADMIN_PASSWORD });
          return { query: (sql: string) => c.query(sql), end: () => c.end() };
        },
      });
      assert.equal(await reloader.check(), "reloaded", "the first poll makes mysqld load what is mounted");
      assert.equal(await reloader.check(), "unchanged");
      const files = await instanceTlsFiles(ca, name, 3, inst.host, 364);
      for (const [rel, content] of Object.entries(files)) writeFileSync(`${inst.dir}/${rel}`, content);
      fresh.push(serialOf(files["tls/tls.crt"] ?? ""));
      assert.equal(await reloader.check(), "reloaded");
      assert.equal(reloader.reloads, 2);
    }
    for (let i = 0; i < 3; i++) {
      for (const port of [3306, 33062]) {
        const serial = await presentedSerial(h.inst(i).host, port, "moco-admin", h.passwords.ADMIN_PASSWORD, { ca: ca.cert, serverName: tlsOf(i) });
        assert.equal(serial, fresh[i], `instance ${i} port ${port} presents the renewed certificate`);
      }
    }
    // The writer's session predates the renewal: drop it so that it reconnects with the
    // new certificate, and replication reconnects too.
    const connectsBefore = writer.connects;
    await h.query(primary, "SELECT 1");
    for (const r of await h.query(primary, "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER IN ('moco-writable')")) {
      await h.query(primary, "KILL ?", [Number(r.id)]).catch(() => undefined);
    }
    for (let i = 0; i < 3; i++) {
      if (i === primary) continue;
      await h.query(i, "STOP REPLICA IO_THREAD");
      await h.query(i, "START REPLICA IO_THREAD");
    }
    const ackedAt = writer.acked.length;
    await h.waitFor("100 more acknowledged inserts", () => writer.acked.length >= ackedAt + 100, 30_000);
    await writer.stop();
    assert.ok(writer.connects > connectsBefore, "the writer reconnected after the renewal");
    await h.waitHealthy();

    assert.deepEqual(h.instances.map((inst) => inst.pid()), pidsBefore, "no mysqld restarted");
    for (let i = 0; i < 3; i++) {
      const uptime = Number((await h.query(i, "SHOW GLOBAL STATUS LIKE 'Uptime'"))[0]?.Value);
      assert.ok(uptime >= (uptimeBefore[i] ?? Infinity), `instance ${i} restarted (Uptime ${uptime})`);
      // The primary has every acknowledged insert at once; a replica once it has applied
      // what it received (semi-sync waits for one replica's receipt, not its apply).
      if (i !== primary) {
        await h.waitFor(`replica ${i} caught up`, async () => {
          const have = await idsOn(h, i);
          return writer.acked.every((id) => have.has(id));
        }, 30_000);
      }
      const ids = await idsOn(h, i);
      assert.deepEqual(writer.acked.filter((id) => !ids.has(id)), [], `acknowledged inserts missing on instance ${i}`);
      if (i !== primary) {
        const [st] = await h.query(i, "SELECT SERVICE_STATE AS s FROM performance_schema.replication_connection_status WHERE CHANNEL_NAME = ''");
        assert.equal(st?.s, "ON");
      }
    }
    console.log(`renewal under load: ${writer.acked.length} acknowledged inserts, ${writer.errors.length} failed (around the session killed to force a reconnect), 0 lost`);
  });

  it("clones an emptied replica from the primary with the donor verified against the CA (verify_donor_tls)", async () => {
    const primary = h.cluster.status.currentPrimaryIndex;
    const replica = primary === 0 ? 1 : 0;
    const clonesBefore = h.clones.length;
    await h.reinitialize(replica);
    await h.waitFor("the replica cloned", () => h.clones.length > clonesBefore, 120_000);
    assert.deepEqual(h.clones.slice(clonesBefore).map((c) => [c.ordinal, c.donor, c.verifyDonorTls]), [[replica, h.inst(primary).host, true]]);
    await h.waitHealthy();
    const want = await idsOn(h, primary);
    await h.waitFor("the clone has the primary's rows", async () => (await idsOn(h, replica)).size === want.size, 30_000);
    assert.ok(want.size > 0);
  });
});

describe("require_secure_transport", () => {
  let set: MysqldSet;
  let ca: CertificateAuthority;
  before(async () => {
    ca = await createCertificateAuthority();
    set = await startMysqlds(1, {
      mycnf: tlsMyCnfLines(true),
      files: (_i, host) => instanceTlsFiles(ca, "req", 1, host),
    });
  });
  after(async () => {
    await set?.stopAll();
  });

  it("refuses a client without TLS and accepts a verified TLS client", async () => {
    const inst = set.instances[0];
    assert.ok(inst);
    for (const port of [3306, 33062]) {
      await assert.rejects(
        mysql.createConnection({ host: inst.host, port, user: "root", password: inst.rootPassword, connectTimeout: 5000 }),
        (e: { errno?: number }) => e.errno === ER_SECURE_TRANSPORT_REQUIRED,
        `plaintext on ${port} is refused`,
      );
      const c: Connection = await mysql.createConnection({
        ...mysqlClientTlsOptions(inst.host, port, { ca: ca.cert, serverName: "moco-req-0.moco-req.default.svc" }),
        user: "root",
        password: inst.rootPassword,
      });
      const [rows] = await c.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
      assert.match(String((rows as { Value: string }[])[0]?.Value), /^TLSv1\.[23]$/);
      await c.end();
    }
    // The Unix socket stays usable (moco-init, the agent's first boot, kubectl moco mysql).
    const s = await mysql.createConnection({ socketPath: inst.socketPath, user: "root", password: "" });
    await s.query("SELECT 1");
    await s.end();
  });
});
