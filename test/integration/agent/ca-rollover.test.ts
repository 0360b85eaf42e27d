// The agents' side of a CA rollover (docs/certificates.md, "CA rollover"), on real mysqld
// 9.7 with two running agents and a real kube-apiserver holding the CA Secret. The test
// follows the documented procedure: it patches Secret moco-system/moco-grpc-ca with
// kubectl (1: ca.crt = old + new; 2: the new pair signs; 3: ca.crt = new only); the
// controller's CertificateStore re-reads it (as at every round) and gives the agent Secret
// data and its own client certificate; the test plays kubelet, swapping the files of each
// agent's certificate directory atomically (..data symlink) when it chooses, and the agents
// re-read their directory on their own timer (the hourly re-read, shortened). At every
// point of the overlap — the controller already switched, the agents not yet, and after
// they re-read — a clone API call with the controller's current client certificate is
// accepted by both agents (authenticated, then refused only for its invalid body); each
// agent serves the newly issued certificate without a restart; at the end a real clone
// runs between the two instances with certificates of the new CA only, and a client
// certificate of the old CA is refused.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import type { RowDataPacket } from "mysql2/promise";

import { startControlPlane, type ControlPlane } from "../../env/kube.ts";
import { startMysqlds, type MysqldInstance, type MysqldSet } from "../../env/mysqld.ts";
import { makeTmpDir } from "../../env/procs.ts";
import { randomPasswords } from "../../env/random.ts";
import { eventually } from "../../env/eventually.ts";
import { KubeClient } from "../../../src/k8s/client.ts";
import { CA_SECRET_NAME, CertificateStore, type ClientTls } from "../../../src/controller/cert-store.ts";
import { agentDnsNames, b64, bundleWith, createCertificateAuthority, issueCertificate, splitPemBundle, unb64, CONTROLLER_CLIENT_CN, type CertificateAuthority } from "../../../src/controller/certs.ts";
import { startAgent, type RunningAgent } from "../../../src/agent/agent.ts";
import { AgentCloneError, cloneFromDonor } from "../../../src/shared/clone-client.ts";
import { silentLogger } from "../../../src/util/log.ts";
import { agentEnv, testAgentFlags } from "./helpers.ts";

const SYS = "moco-system";
const CLUSTER = "roll";
const NS = "default";
/** The agent's re-read interval here (1 h in production: CERT_RELOAD_INTERVAL_MS). */
const RELOAD_MS = 200;
const serverName = (i: number) => `moco-${CLUSTER}-${i}.moco-${CLUSTER}.${NS}.svc`;

/** Writes `files` into `dir` as kubelet updates a Secret volume: a new directory, then one rename of the ..data symlink. */
function swapSecretVolume(dir: string, files: Record<string, string>): void {
  const ts = fs.mkdtempSync(path.join(dir, "..data-"));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(ts, name), content, { mode: 0o600 });
  const old = fs.existsSync(path.join(dir, "..data")) ? fs.readlinkSync(path.join(dir, "..data")) : undefined;
  fs.symlinkSync(path.basename(ts), path.join(dir, "..data_tmp"));
  fs.renameSync(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
  for (const name of Object.keys(files)) if (!fs.existsSync(path.join(dir, name))) fs.symlinkSync(path.join("..data", name), path.join(dir, name));
  if (old !== undefined) fs.rmSync(path.join(dir, old), { recursive: true, force: true });
}

/** Whether `pem` (a leaf) was signed by `ca` (signature check, not only the issuer name: both CAs are "CN=MOCO gRPC CA"). */
function signedBy(pem: string, ca: CertificateAuthority): boolean {
  return new X509Certificate(pem).verify(new X509Certificate(ca.cert).publicKey);
}

describe("CA rollover: the agents follow it without a restart", () => {
  let cp: ControlPlane;
  let store: CertificateStore;
  let set: MysqldSet;
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  /** Each agent's Secret data as the controller last issued it (moco-roll-grpc; one per agent here, as each sits in its own Pod). */
  const secrets: (Record<string, string> | undefined)[] = [];
  const passwords = randomPasswords();
  let oldCa: CertificateAuthority;
  let newCa: CertificateAuthority;

  const kubectl = (args: string[]) => cp.kubectl(args);
  const patchCaSecret = (data: Record<string, string>) =>
    kubectl(["-n", SYS, "patch", "secret", CA_SECRET_NAME, "--type=merge", "-p", JSON.stringify({ data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) })]);

  /** The controller's round for agent `i`: re-issue its Secret data when due; true when it did. */
  async function reconcileAgentSecret(i: number): Promise<boolean> {
    const data = await store.agentSecretData(agentDnsNames(CLUSTER, NS), secrets[i] === undefined ? undefined : { data: secrets[i] });
    if (data === undefined) return false;
    secrets[i] = data;
    return true;
  }
  /** kubelet's sync of agent `i`'s mounted Secret. */
  function kubeletSync(i: number): void {
    const d = secrets[i] ?? {};
    swapSecretVolume(dirs[i] ?? "", { "ca.crt": unb64(d["ca.crt"]), "tls.crt": unb64(d["tls.crt"]), "tls.key": unb64(d["tls.key"]) });
  }
  const issuedLeaf = (i: number) => unb64(secrets[i]?.["tls.crt"]);

  /** The serial of the certificate agent `i`'s clone API serves on a new connection (verified against `client.ca`). */
  function servedSerial(i: number, client: ClientTls): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port: agents[i]?.cloneServer.port, servername: serverName(i), ca: client.ca, cert: client.cert, key: client.key }, () => {
        const serial = s.getPeerCertificate().serialNumber.toLowerCase();
        s.destroy();
        resolve(serial);
      });
      s.on("error", reject);
    });
  }
  const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase();

  /** A clone API call to agent `i` with `client`: accepted (authenticated) when it is refused only for its invalid body. */
  async function apiCall(i: number, client: ClientTls): Promise<AgentCloneError> {
    const url = `https://127.0.0.1:${agents[i]?.cloneServer.port}`;
    const req = { host: "fd00::1", port: 3306, user: "u", password: "p", init_user: "i", init_password: "p" };
    try {
      await cloneFromDonor(url, client, req, { serverName: serverName(i) });
    } catch (e) {
      assert.ok(e instanceof AgentCloneError, String(e));
      return e;
    }
    assert.fail("an invalid clone request was accepted");
  }
  async function assertAccepted(what: string, client: ClientTls): Promise<void> {
    for (const i of [0, 1]) {
      const e = await apiCall(i, client);
      assert.equal(e.code, "INVALID_ARGUMENT", `${what}: agent ${i} did not accept the controller (${e.code}: ${e.message})`);
    }
  }
  /** kubelet syncs both agents; each serves its new certificate after its own re-read. */
  async function syncAndWaitServed(client: ClientTls): Promise<void> {
    for (const i of [0, 1]) kubeletSync(i);
    for (const i of [0, 1]) {
      const want = serialOf(issuedLeaf(i));
      await eventually(`agent ${i} serving its new certificate`, async () => ((await servedSerial(i, client)) === want ? true : undefined), 10_000, 50);
    }
  }

  before(async () => {
    cp = await startControlPlane({ controllerManager: false });
    await kubectl(["create", "namespace", SYS]);
    store = new CertificateStore(KubeClient.fromFile(cp.kubeconfig, { qps: 0 }), SYS);
    oldCa = await store.ca(); // creates moco-grpc-ca, as the controller's first round does
    set = await startMysqlds(2);
    for (const [i, inst] of (set.instances as MysqldInstance[]).entries()) {
      dirs[i] = makeTmpDir(`ca-rollover-${i}-`);
      assert.ok(await reconcileAgentSecret(i));
      kubeletSync(i);
      agents[i] = await startAgent({
        flags: testAgentFlags(inst.socketPath, dirs[i] ?? ""),
        env: agentEnv(passwords, i, CLUSTER),
        logger: silentLogger(),
        mysqldHost: inst.host,
        firstBoot: { rootRetryIntervalMs: 500 },
        defaultMetrics: false,
        cloneCertReloadIntervalMs: RELOAD_MS,
      });
    }
  });
  after(async () => {
    for (const a of agents) await a.close().catch(() => undefined);
    await set?.stopAll();
    await cp?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("before: both agents serve a certificate of the old CA and accept the controller", async () => {
    const client = await store.clientTls();
    for (const i of [0, 1]) {
      assert.ok(signedBy(issuedLeaf(i), oldCa));
      assert.equal(await servedSerial(i, client), serialOf(issuedLeaf(i)));
    }
    await assertAccepted("before the rollover", client);
  });

  it("1. trust both: ca.crt = old + new; the agents re-read the bundle and then accept a client certificate of the new CA", async () => {
    newCa = await createCertificateAuthority();
    const before = await store.clientTls();
    await patchCaSecret({ "ca.crt": bundleWith(oldCa.cert, newCa.cert) });
    assert.equal(await store.refreshCa(), true, "the controller sees the new bundle");
    const client = await store.clientTls();
    assert.equal(splitPemBundle(client.ca).length, 2, "the controller trusts both CAs");
    assert.ok(signedBy(client.cert, oldCa), "the old CA still signs");
    assert.notEqual(client.cert, before.cert);
    // The controller switched, kubelet has not synced the agents yet.
    await assertAccepted("step 1, agents not re-read", client);
    for (const i of [0, 1]) assert.equal(await reconcileAgentSecret(i), true, `agent ${i}'s Secret re-issued for the new bundle`);
    for (const i of [0, 1]) assert.equal(splitPemBundle(unb64(secrets[i]?.["ca.crt"])).length, 2);
    await syncAndWaitServed(client);
    await assertAccepted("step 1, agents re-read", client);
    // What step 2 relies on: the agents already trust a client certificate of the new CA.
    const fromNew = await issueCertificate(newCa, { commonName: CONTROLLER_CLIENT_CN, usage: "client" });
    await assertAccepted("step 1, a client certificate of the new CA", { ca: client.ca, ...fromNew });
  });

  it("2. sign with the new CA: the controller's new client certificate is accepted before and after the agents re-read", async () => {
    await patchCaSecret({ "tls.crt": newCa.cert, "tls.key": newCa.key });
    assert.equal(await store.refreshCa(), true);
    const client = await store.clientTls();
    assert.ok(signedBy(client.cert, newCa), "the controller's client certificate comes from the new CA");
    assert.equal(splitPemBundle(client.ca).length, 2);
    // The agents still serve certificates of the old CA and hold the step-1 bundle.
    for (const i of [0, 1]) assert.ok(signedBy(issuedLeaf(i), oldCa));
    await assertAccepted("step 2, agents not re-read", client);
    for (const i of [0, 1]) assert.equal(await reconcileAgentSecret(i), true);
    for (const i of [0, 1]) assert.ok(signedBy(issuedLeaf(i), newCa), `agent ${i}'s certificate re-issued by the new CA`);
    await syncAndWaitServed(client);
    await assertAccepted("step 2, agents re-read", client);
  });

  it("3. drop the old CA: accepted throughout; then a real clone works and a client certificate of the old CA is refused", async () => {
    // A client certificate of the old CA (the controller's of step 1 was one), trusting both for the agents' side.
    const oldClient = { ca: bundleWith(oldCa.cert, newCa.cert), ...(await issueCertificate(oldCa, { commonName: CONTROLLER_CLIENT_CN, usage: "client" })) };
    await assertAccepted("step 3, the old CA still trusted before the agents re-read", oldClient);
    await patchCaSecret({ "ca.crt": newCa.cert });
    assert.equal(await store.refreshCa(), true);
    const client = await store.clientTls();
    assert.equal(splitPemBundle(client.ca).length, 1, "the controller trusts the new CA only");
    assert.ok(signedBy(client.cert, newCa));
    await assertAccepted("step 3, agents not re-read", client);
    for (const i of [0, 1]) assert.equal(await reconcileAgentSecret(i), true);
    await syncAndWaitServed(client);
    await assertAccepted("step 3, agents re-read", client);
    // The old CA is no longer trusted by the agents: its client certificate is refused.
    for (const i of [0, 1]) {
      const refused = await apiCall(i, oldClient);
      assert.ok(["UNAVAILABLE", "UNAUTHENTICATED"].includes(refused.code), `agent ${i} did not refuse a client certificate of the old CA (${refused.code}: ${refused.message})`);
    }
    // A real clone (instance 1 from instance 0) with the new CA only, as the controller calls it.
    const [donor, recipient] = set.instances as [MysqldInstance, MysqldInstance];
    const d = await donor.connect();
    try {
      await d.query("SET GLOBAL super_read_only=OFF");
      await d.query("SET GLOBAL read_only=OFF");
      await d.query("CREATE DATABASE IF NOT EXISTS roll");
      await d.query("CREATE TABLE roll.t (id INT PRIMARY KEY)");
      await d.query("INSERT INTO roll.t VALUES (1), (2), (3)");
    } finally {
      await d.end();
    }
    const cloning = cloneFromDonor(`https://127.0.0.1:${agents[1]?.cloneServer.port}`, client, {
      host: donor.host, port: donor.port, user: "moco-clone-donor", password: passwords.CLONE_DONOR_PASSWORD,
      init_user: "moco-admin", init_password: passwords.ADMIN_PASSWORD, boot_timeout_seconds: 120,
    }, { serverName: serverName(1) });
    // mysqld exits after a clone (nothing supervises it here); start it again as kubelet would.
    await recipient.waitExit(120_000);
    await recipient.start();
    await cloning;
    const r = await recipient.connect();
    try {
      const [[row]] = await r.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM roll.t");
      assert.equal(Number(row?.n), 3, "the recipient holds the donor's rows");
    } finally {
      await r.end();
    }
  });
});
