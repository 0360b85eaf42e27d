// Clone through the agent's HTTPS API (mutual TLS) between two real mysqld 9.7
// instances (docs/agent.md#tests-on-real-mysql-97 A2): the recipient gets the donor's rows and GTIDs,
// then the MOCO users' passwords are reset to the recipient cluster's values. With spec.tls
// (docs/tls.md), between two instances that require TLS: the clone verifies the donor
// against the recipient's CA (verify_donor_tls).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import fs from "node:fs";
import mysql from "mysql2/promise";
import type { Connection, RowDataPacket } from "mysql2/promise";

import { startMysqlds, type MysqldInstance, type MysqldOptions, type MysqldSet } from "../../env/mysqld.ts";
import { startAgent, type AgentOptions, type RunningAgent } from "../../../src/agent/agent.ts";
import { AgentCloneError, cloneFromDonor, type CloneClientTls } from "../../../src/shared/clone-client.ts";
import type { CloneRequest } from "../../../src/shared/clone-api.ts";
import { connectSocket } from "../../../src/agent/db.ts";
import { initializeOnFirstBoot } from "../../../src/agent/initialize.ts";
import { silentLogger } from "../../../src/util/log.ts";
import { agentEnv, agentTestCerts, httpGet, testAgentFlags } from "./helpers.ts";
import { randomPasswords } from "../../env/random.ts";
import { eventually } from "../../env/eventually.ts";
import { createCertificateAuthority, type CertificateAuthority } from "../../../src/controller/certs.ts";
import { ER_SECURE_TRANSPORT_REQUIRED, RELOAD_TLS_STATEMENTS } from "../../../src/mysql/tls.ts";
import { TLS_DIR, instanceTlsFiles, tlsMyCnfLines } from "../tls-fixtures.ts";
import type { MocoPasswords } from "../../../src/mysql/users.ts";

const DONOR_USER = "clone-donor";
const DONOR_PASSWORD = "donor-secret-6f1c2a";
const INIT_USER = "clone-init";
const INIT_PASSWORD = "init-secret-93bd0e";

/**
 * The donor: an instance of "another cluster" with its own MOCO passwords, 500 rows, a donor
 * user (also allowed on the admin port) and a socket-local init user. Returns the connection.
 */
async function prepareDonor(donor: MysqldInstance, donorPasswords: MocoPasswords, connect: () => Promise<Connection>): Promise<Connection> {
  await initializeOnFirstBoot({ socketPath: donor.socketPath, passwords: donorPasswords, logger: silentLogger(), rootRetryIntervalMs: 500 });
  const d = await connect();
  await d.query("SET GLOBAL super_read_only=OFF");
  await d.query("SET GLOBAL read_only=OFF");
  await d.query("CREATE DATABASE shop");
  await d.query("CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), qty INT)");
  const rows = Array.from({ length: 500 }, (_, i) => [i + 1, `item-${i + 1}`, (i * 7) % 13]);
  await d.query("INSERT INTO shop.items VALUES ?", [rows]);
  await d.query(`CREATE USER '${DONOR_USER}'@'%' IDENTIFIED BY '${DONOR_PASSWORD}'`);
  await d.query(`GRANT BACKUP_ADMIN, REPLICATION SLAVE, SERVICE_CONNECTION_ADMIN ON *.* TO '${DONOR_USER}'@'%'`);
  await d.query(`CREATE USER '${INIT_USER}'@'localhost' IDENTIFIED BY '${INIT_PASSWORD}'`);
  await d.query(`GRANT ALL ON *.* TO '${INIT_USER}'@'localhost' WITH GRANT OPTION`);
  return d;
}

/** A donor with data (prepareDonor) and a fresh recipient initialised by its agent; `request` clones the donor. */
class ClonePair {
  set!: MysqldSet;
  donor!: MysqldInstance;
  recipient!: MysqldInstance;
  agent: RunningAgent | undefined;
  d!: Connection;
  url = "";
  request!: CloneRequest;
  readonly donorPasswords = randomPasswords();
  readonly passwords = randomPasswords();
  readonly certs = agentTestCerts();
  readonly controllerTls: CloneClientTls = { ca: this.certs.ca, cert: this.certs.controller.cert, key: this.certs.controller.key };

  async start(o: {
    mysqlds?: MysqldOptions;
    cluster: string;
    connectDonor: (donor: MysqldInstance, donorPasswords: MocoPasswords) => Promise<Connection>;
    agent?: (recipient: MysqldInstance) => Partial<AgentOptions>;
    request?: (donor: MysqldInstance) => Partial<CloneRequest>;
  }): Promise<void> {
    this.set = await startMysqlds(2, o.mysqlds);
    [this.donor, this.recipient] = this.set.instances as [MysqldInstance, MysqldInstance];
    this.d = await prepareDonor(this.donor, this.donorPasswords, () => o.connectDonor(this.donor, this.donorPasswords));
    this.agent = await startAgent({
      flags: testAgentFlags(this.recipient.socketPath, this.certs.serverDir),
      env: agentEnv(this.passwords, 1, o.cluster),
      logger: silentLogger(),
      mysqldHost: this.recipient.host,
      firstBoot: { rootRetryIntervalMs: 500 },
      defaultMetrics: false,
      ...o.agent?.(this.recipient),
    });
    this.url = `https://localhost:${this.agent.cloneServer.port}`;
    this.request = {
      host: this.donor.host, port: this.donor.port, user: DONOR_USER, password: DONOR_PASSWORD,
      init_user: INIT_USER, init_password: INIT_PASSWORD, boot_timeout_seconds: 120, ...o.request?.(this.donor),
    };
  }

  async stop(): Promise<void> {
    await this.d?.end().catch(() => undefined);
    await this.agent?.close();
    await this.set?.stopAll();
  }
}

describe("clone through the agent's HTTPS API", () => {
  const p = new ClonePair();
  before(() => p.start({
    // The recipient: a fresh instance whose agent initializes it.
    cluster: "recipient",
    connectDonor: (donor) => donor.connect(),
  }));
  after(() => p.stop());

  function assertNoSecret(text: string): void {
    for (const s of [DONOR_PASSWORD, INIT_PASSWORD, ...Object.values(p.passwords), ...Object.values(p.donorPasswords)]) {
      assert.ok(!text.includes(s), "a password leaked into an error");
    }
  }

  async function cloneError(p: Promise<void>): Promise<AgentCloneError> {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof AgentCloneError, String(e));
      assertNoSecret(e.message);
      return e;
    }
    assert.fail("the request succeeded");
  }

  it("rejects clients without the moco-controller certificate", async () => {
    const other = await cloneError(cloneFromDonor(p.url, { ...p.controllerTls, cert: p.certs.other.cert, key: p.certs.other.key }, p.request));
    assert.equal(other.code, "UNAUTHENTICATED");
    assert.equal(other.httpStatus, 401);
    // No client certificate at all: the TLS handshake fails.
    const noCert = await new Promise<string>((resolve) => {
      const req = https.request(`${p.url}/v1/clone`, { method: "POST", ca: fs.readFileSync(p.certs.ca), agent: false }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on("error", (e) => resolve(`error ${e.message}`));
      req.end("{}");
    });
    assert.match(noCert, /^error /);
  });

  it("rejects invalid requests", async () => {
    const e = await cloneError(cloneFromDonor(p.url, p.controllerTls, { ...p.request, host: "fd00::1" }));
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.equal(e.httpStatus, 400);
    const port0 = await cloneError(cloneFromDonor(p.url, p.controllerTls, { ...p.request, port: 0 }));
    assert.equal(port0.code, "INVALID_ARGUMENT");
  });

  it("a wrong donor password fails without leaking it and counts a failure", async () => {
    const e = await cloneError(cloneFromDonor(p.url, p.controllerTls, { ...p.request, password: "wrong-donor-secret-77" }));
    assert.equal(e.code, "INTERNAL");
    assert.equal(e.httpStatus, 500);
    assert.ok(!e.message.includes("wrong-donor-secret-77"));
    const metrics = await httpGet(`http://127.0.0.1:${p.agent!.metricsPort}/metrics`);
    assert.match(metrics.body, /^moco_instance_clone_failure_count\{name="recipient",index="1"\} 1$/m);
  });

  it("clones the donor, one request at a time, and resets the MOCO passwords", async () => {
    const started = Date.now();
    const cloning = cloneFromDonor(p.url, p.controllerTls, p.request);
    // While it runs, a second request is refused.
    await eventually("clone in progress", async () => (p.agent!.cloneService.inProgress ? true : undefined), 30_000, 20);
    const busy = await cloneError(cloneFromDonor(p.url, p.controllerTls, p.request));
    assert.equal(busy.code, "RESOURCE_EXHAUSTED");
    assert.equal(busy.httpStatus, 429);
    // mysqld exits after the clone (error 3707: nothing supervises it); restart it like the kubelet.
    await p.recipient.waitExit(120_000);
    await p.recipient.start();
    await cloning;
    const seconds = (Date.now() - started) / 1000;
    console.log(`# clone of a small instance through the agent took ${seconds.toFixed(1)} s`);

    const r = await p.recipient.connect();
    try {
      const [[dr]] = await p.d.query<RowDataPacket[]>("SELECT COUNT(*) AS n, SUM(qty) AS s, @@gtid_executed AS g FROM shop.items");
      const [[rr]] = await r.query<RowDataPacket[]>("SELECT COUNT(*) AS n, SUM(qty) AS s, @@gtid_executed AS g, @@super_read_only AS sro FROM shop.items");
      assert.equal(Number(rr!.n), 500);
      assert.deepEqual([rr!.n, rr!.s, rr!.g], [dr!.n, dr!.s, dr!.g]);
      assert.equal(Number(rr!.sro), 1);
      const [[donorUuid]] = await p.d.query<RowDataPacket[]>("SELECT @@server_uuid AS u");
      const [[recipientUuid]] = await r.query<RowDataPacket[]>("SELECT @@server_uuid AS u");
      assert.notEqual(recipientUuid!.u, donorUuid!.u);
    } finally {
      await r.end();
    }
    // Passwords are the recipient cluster's now, not the donor's.
    for (const [user, key] of [["moco-admin", "ADMIN_PASSWORD"], ["moco-agent", "AGENT_PASSWORD"], ["moco-repl", "REPLICATION_PASSWORD"]] as const) {
      const c = await connectSocket({ socketPath: p.recipient.socketPath, user, password: p.passwords[key] });
      await c.end();
      await assert.rejects(connectSocket({ socketPath: p.recipient.socketPath, user, password: p.donorPasswords[key] }), (e: { errno?: number }) => e.errno === 1045);
    }
    const metrics = await httpGet(`http://127.0.0.1:${p.agent!.metricsPort}/metrics`);
    assert.match(metrics.body, /^moco_instance_clone_count\{name="recipient",index="1"\} 2$/m);
    assert.match(metrics.body, /^moco_instance_clone_in_progress\{name="recipient",index="1"\} 0$/m);
    assert.match(metrics.body, /^moco_instance_clone_duration_seconds_count\{name="recipient",index="1"\} 2$/m);
  });

  it("the cloned recipient is ready to replicate: healthy, and a second clone is refused as not empty", async () => {
    await eventually("healthy", async () => ((await httpGet(`http://127.0.0.1:${p.agent!.probePort}/healthz`)).status === 200 ? true : undefined));
    const e = await cloneError(cloneFromDonor(p.url, p.controllerTls, p.request));
    assert.equal(e.code, "FAILED_PRECONDITION");
    assert.equal(e.httpStatus, 412);
    assert.equal(e.message, "recipient is not empty");
  });

  it("replication from the donor starts on the clone without errant transactions", async () => {
    const r = await p.recipient.connect();
    try {
      await r.query(
        "CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PORT=?, SOURCE_USER='moco-repl', SOURCE_PASSWORD=?, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1",
        [p.donor.host, p.donor.port, p.donorPasswords.REPLICATION_PASSWORD]);
      await r.query("START REPLICA");
      await p.d.query("INSERT INTO shop.items VALUES (1001, 'after-clone', 1)");
      await eventually("row replicated", async () => {
        const [rows] = await r.query<RowDataPacket[]>("SELECT name FROM shop.items WHERE id = 1001");
        return rows.length === 1 ? true : undefined;
      });
      const [[g]] = await r.query<RowDataPacket[]>(
        "SELECT GTID_SUBSET(@@gtid_executed, ?) AS sub", [String((await p.d.query<RowDataPacket[]>("SELECT @@gtid_executed AS g"))[0][0]!.g)]);
      assert.equal(Number(g!.sub), 1, "no errant transactions on the clone");
      await eventually("ready as a replica", async () => ((await httpGet(`http://127.0.0.1:${p.agent!.probePort}/readyz`)).status === 200 ? true : undefined));
    } finally {
      await r.end();
    }
  });
});

describe("clone between two instances that require TLS (spec.tls)", () => {
  const p = new ClonePair();
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;

  before(async () => {
    ca = await createCertificateAuthority();
    otherCa = await createCertificateAuthority();
    await p.start({
      // The donor first presents a certificate from a CA the recipient does not trust.
      mysqlds: { mycnf: tlsMyCnfLines(true), files: (i, host) => instanceTlsFiles(i === 0 ? otherCa : ca, "test", 2, host) },
      cluster: "test",
      connectDonor: (donor, donorPasswords) => connectSocket({ socketPath: donor.socketPath, user: "moco-admin", password: donorPasswords.ADMIN_PASSWORD }),
      agent: (recipient) => ({ tlsDir: `${recipient.dir}/tls`, mysqldTlsDir: TLS_DIR }),
      // As the controller asks for a clone from the primary: its admin port, TLS verified.
      request: (donor) => ({ port: donor.adminPort, verify_donor_tls: true }),
    });
  });
  after(() => p.stop());

  async function recipientGtids(): Promise<string> {
    const r = await connectSocket({ socketPath: p.recipient.socketPath, user: "moco-admin", password: p.passwords.ADMIN_PASSWORD });
    try {
      const [[row]] = await r.query<RowDataPacket[]>("SELECT @@GLOBAL.gtid_executed AS g");
      return String(row!.g);
    } finally {
      await r.end();
    }
  }

  it("both instances refuse plaintext on the admin port", async () => {
    const accounts = [[p.donor, DONOR_USER, DONOR_PASSWORD], [p.recipient, "moco-admin", p.passwords.ADMIN_PASSWORD]] as const;
    for (const [inst, user, password] of accounts) {
      await assert.rejects(
        mysql.createConnection({ host: inst.host, port: inst.adminPort, user, password, connectTimeout: 5000 }),
        (e: { errno?: number }) => e.errno === ER_SECURE_TRANSPORT_REQUIRED,
      );
    }
  });

  it("fails when the donor's certificate is not from the recipient's CA, leaving the recipient empty", async () => {
    let err: unknown;
    try {
      await cloneFromDonor(p.url, p.controllerTls, p.request);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof AgentCloneError, `the clone failed: ${String(err)}`);
    assert.equal(err.code, "INTERNAL");
    assert.match(err.message, /CLONE INSTANCE failed: .*(SSL|certificate)/i);
    console.log(`# clone from an untrusted donor: ${err.message}`);
    for (const s of [DONOR_PASSWORD, INIT_PASSWORD, ...Object.values(p.passwords), ...Object.values(p.donorPasswords)]) {
      assert.ok(!err.message.includes(s), "a password leaked into an error");
    }
    assert.equal(await recipientGtids(), "", "the recipient is untouched");
    assert.ok(p.recipient.running(), "mysqld was not restarted by a failed clone");
  });

  it("clones over verified TLS once the donor presents a certificate from that CA", async () => {
    const files = await instanceTlsFiles(ca, "test", 2, p.donor.host);
    for (const [rel, content] of Object.entries(files)) fs.writeFileSync(`${p.donor.dir}/${rel}`, content);
    for (const sql of RELOAD_TLS_STATEMENTS) await p.d.query(sql);
    const cloning = cloneFromDonor(p.url, p.controllerTls, p.request);
    await p.recipient.waitExit(120_000);
    await p.recipient.start();
    await cloning;
    const [[dr]] = await p.d.query<RowDataPacket[]>("SELECT COUNT(*) AS n, SUM(qty) AS s, @@gtid_executed AS g FROM shop.items");
    const r = await connectSocket({ socketPath: p.recipient.socketPath, user: "moco-admin", password: p.passwords.ADMIN_PASSWORD });
    try {
      const [[rr]] = await r.query<RowDataPacket[]>("SELECT COUNT(*) AS n, SUM(qty) AS s, @@gtid_executed AS g FROM shop.items");
      assert.equal(Number(rr!.n), 500);
      assert.deepEqual([rr!.n, rr!.s, rr!.g], [dr!.n, dr!.s, dr!.g]);
    } finally {
      await r.end();
    }
    await eventually("healthy", async () => ((await httpGet(`http://127.0.0.1:${p.agent!.probePort}/healthz`)).status === 200 ? true : undefined));
  });
});
