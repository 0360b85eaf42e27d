// Certificate renewal, reload and CA rollover of the webhook server, under load, through
// the real kube-apiserver (docs/certificates.md). A loop of admission requests
// (server-side dry-run creates of a MySQLCluster: the mutating and the validating
// webhook, both served by moco-controller over TLS that the API server verifies against
// caBundle) runs through each case and must see no failed request:
//  1. renewal: certificates living 20 s, re-issued 10 s before the end; the webhook
//     serving certificate (and the agent certificate of a cluster) are renewed several
//     times and swapped in without a restart;
//  2. CA rollover of the controller CA (Secret moco-grpc-ca): ca.crt holds both CAs, then
//     the new CA signs, then ca.crt holds only the new one; the controller keeps caBundle
//     equal to ca.crt and re-issues the serving certificate;
//  3. a mounted certificate (--cert-dir, as cert-manager writes it) is reloaded when the
//     files change, and a configuration annotated cert-manager.io/inject-ca-from keeps the
//     caBundle someone else (here the test, as cainjector) writes, through a CA rollover.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { pino } from "pino";
import { startControlPlane, waitCrdsEstablished, type ControlPlane } from "../../env/kube.ts";
import { eventually } from "../../env/eventually.ts";
import { freePort, sleep } from "../../env/procs.ts";
import { KubeClient } from "../../../src/k8s/client.ts";
import { startController, type RunningController } from "../../../src/controller/main.ts";
import { buildWebhookConfigurations } from "../../../src/controller/webhooks/index.ts";
import { createCertificateAuthority, issueCertificate, splitPemBundle, type CertificateAuthority } from "../../../src/controller/certs.ts";
import { CA_SECRET_NAME } from "../../../src/controller/cert-store.ts";
import { REPO_ROOT, clusterManifest } from "../../env/controller-harness.ts";
import { errorMessage } from "../../../src/util/errors.ts";

const SYS = "moco-system";
const NS = "load";
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

interface Load { stop(): Promise<{ ok: number; failed: string[] }> }

/** Runs `fn` under admissionLoad and returns the load's result (the load stops even when `fn` throws). */
async function underLoad(client: KubeClient, fn: () => Promise<void>): Promise<{ ok: number; failed: string[] }> {
  const load = admissionLoad(client);
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  const result = await load.stop();
  if (err !== undefined) throw err;
  return result;
}

/** `workers` loops of server-side dry-run MySQLCluster creates until stopped. */
function admissionLoad(client: KubeClient, workers = 2): Load {
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const loop = async (w: number) => {
    for (let i = 0; running; i++) {
      const body = clusterManifest(NS, `load-${w}-${i}`);
      try {
        const out = await client.request<{ metadata?: { finalizers?: string[] } }>("POST", `/apis/moco.cybozu.com/v1beta2/namespaces/${NS}/mysqlclusters`, { query: { dryRun: "All" }, body });
        // The mutating webhook ran (it adds the finalizer).
        if (out.metadata?.finalizers?.includes("moco.cybozu.com/mysqlcluster") === true) ok++;
        else failed.push("no finalizer: the mutating webhook did not run");
      } catch (e) {
        failed.push(errorMessage(e));
      }
    }
  };
  const loops = Array.from({ length: workers }, (_, w) => loop(w));
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failed };
    },
  };
}

/** The certificate the webhook server serves to a new connection. */
function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, servername: "moco-webhook-service.moco-system.svc" }, () => {
      const raw = s.getPeerCertificate().raw;
      s.end();
      resolve(new X509Certificate(raw));
    });
    s.on("error", reject);
  });
}

const signedBy = (cert: X509Certificate, ca: CertificateAuthority) => cert.verify(new X509Certificate(ca.cert).publicKey);

describe("webhook and agent certificates: renewal, reload and CA rollover under admission load", () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let ctl: RunningController | undefined;
  let port: number;
  const logFile = () => path.join(cp.dir, "controller.log");
  const configurations = async (): Promise<{ annotations?: Record<string, string>; caBundles: string[] }[]> => {
    const out = JSON.parse(await cp.kubectl(["get", "mutatingwebhookconfiguration,validatingwebhookconfiguration", "-o", "json"])) as { items: { metadata: { annotations?: Record<string, string> }; webhooks: { clientConfig: { caBundle?: string } }[] }[] };
    return out.items.map((i) => ({ ...(i.metadata.annotations === undefined ? {} : { annotations: i.metadata.annotations }), caBundles: i.webhooks.map((w) => w.clientConfig.caBundle ?? "") }));
  };
  const caBundleIs = async (pem: string) => {
    const want = JSON.stringify(splitPemBundle(pem));
    return (await configurations()).every((c) => c.caBundles.every((b) => JSON.stringify(splitPemBundle(Buffer.from(b, "base64").toString("utf8"))) === want));
  };
  const installConfigurations = async (caBundle: string, annotations?: Record<string, string>) => {
    const { mutating, validating } = buildWebhookConfigurations({ target: { url: `https://127.0.0.1:${port}` }, caBundle, ...(annotations === undefined ? {} : { annotations }) });
    for (const o of [mutating, validating]) await cp.kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], JSON.stringify(o));
  };
  const start = async (extra: Parameters<typeof startController>[0] extends infer O ? Partial<O> : never) => {
    await ctl?.stop();
    ctl = undefined;
    ctl = await startController({
    kubeconfig: cp.kubeconfig, namespace: SYS, metricsAddr: "127.0.0.1:0", healthProbeAddr: "127.0.0.1:0",
    webhookAddr: `127.0.0.1:${port}`, leaseDurationMs: 4_000, processMetrics: false, qps: 0,
    logger: pino({ level: "info", base: undefined }, pino.destination({ dest: logFile(), sync: false, append: true })),
    manager: { fetchAttempts: 1, fetchRetryGapMs: 100, connectTimeoutMs: 500 },
    ...extra,
    });
    return ctl;
  };

  before(async () => {
    cp = await startControlPlane({ controllerManager: false });
    client = KubeClient.fromFile(cp.kubeconfig, { qps: 0 });
    await cp.kubectl(["apply", "--server-side", "-f", path.join(REPO_ROOT, "deploy", "crds")]);
    await waitCrdsEstablished(cp, ["mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com"]);
    for (const n of [SYS, NS]) await cp.kubectl(["create", "namespace", n]);
    port = await freePort();
  });
  after(async () => {
    await ctl?.stop().catch(() => undefined);
    if (process.env["MOCO_KEEP_LOGS"] !== undefined && cp !== undefined) fs.copyFileSync(logFile(), path.join(REPO_ROOT, ".cache", `cert-rotation-${Date.now()}.log`));
    await cp?.stop();
  });

  it("renews the webhook and agent certificates before they expire, with no failed admission request", async () => {
    await installConfigurations("");
    const certDir = path.join(cp.dir, "empty-cert-dir");
    fs.mkdirSync(certDir);
    const c = await start({ certDir, injectWebhookCaBundle: true, certLifetimes: { validityMs: 20_000, renewBeforeMs: 10_000 }, certCheckIntervalMs: 1_000 });
    await eventually("caBundle injected", async () => (await configurations()).every((x) => x.caBundles.every((b) => b.length > 100)), 30_000);
    await eventually("leadership", async () => c.isLeader(), 30_000);
    // A real cluster for its agent Secret moco-<name>-grpc.
    await cp.kubectl(["apply", "-f", "-"], JSON.stringify(clusterManifest(NS, "db")));
    const agentCert = async () => {
      const s = JSON.parse(await cp.kubectl(["-n", NS, "get", "secret", "moco-db-grpc", "-o", "json"])) as { data: Record<string, string> };
      return Buffer.from(s.data["tls.crt"] ?? "", "base64").toString("utf8");
    };
    await eventually("the agent Secret", () => agentCert().then((p) => p.includes("BEGIN CERTIFICATE")), 30_000);

    const served = new Set<string>();
    const agents = new Set<string>();
    const firstServed = await servedCertificate(port);
    served.add(firstServed.serialNumber);
    const expiredServed: string[] = [];
    const result = await underLoad(client, async () => {
    // Until the serving certificate was swapped 3 times (and its first one has expired).
    await eventually("3 renewals of the webhook serving certificate", async () => {
      const cert = await servedCertificate(port);
      if (Date.parse(cert.validTo) <= Date.now()) expiredServed.push(cert.validTo);
      served.add(cert.serialNumber);
      agents.add(await agentCert());
      return served.size >= 4 && Date.now() > Date.parse(firstServed.validTo);
    }, 120_000, 500);
    });
    process.stdout.write(`# renewal: ${result.ok} admission requests, ${result.failed.length} failed; ${served.size} serving certificates, ${agents.size} agent certificates seen\n`);
    assert.deepEqual(result.failed, []);
    assert.deepEqual(expiredServed, [], "an expired certificate was served");
    assert.ok(result.ok > 20, `admission requests ran (${result.ok})`);
    assert.ok(agents.size >= 3, `the agent certificate was renewed (${agents.size} seen)`);
    assert.equal(c.webhook?.port, port, "the same server, never restarted");
  });

  it("rolls the controller CA over (both CAs trusted during the overlap) with no failed admission request", async () => {
    const c = ctl;
    assert.ok(c !== undefined);
    const secret = JSON.parse(await cp.kubectl(["-n", SYS, "get", "secret", CA_SECRET_NAME, "-o", "json"])) as { data: Record<string, string> };
    const oldPem = Buffer.from(secret.data["tls.crt"] ?? "", "base64").toString("utf8");
    const oldCa = { cert: oldPem } as CertificateAuthority;
    const newCa = await createCertificateAuthority();
    const setCaSecret = (data: Record<string, string>) => cp.kubectl(["-n", SYS, "patch", "secret", CA_SECRET_NAME, "--type=merge", "-p", JSON.stringify({ data })]);
    const result = await underLoad(client, async () => {
    // 1. Trust both: ca.crt = old + new; the controller injects it as caBundle.
    await setCaSecret({ "ca.crt": b64(oldPem + newCa.cert) });
    await eventually("caBundle = old + new", () => caBundleIs(oldPem + newCa.cert), 60_000);
    await sleep(3_000); // the API server's webhook informer takes the new caBundle
    // 2. Sign with the new CA: the serving certificate is re-issued from it.
    await setCaSecret({ "tls.crt": b64(newCa.cert), "tls.key": b64(newCa.key) });
    await eventually("a serving certificate from the new CA", async () => signedBy(await servedCertificate(port), newCa), 60_000, 500);
    assert.equal(signedBy(await servedCertificate(port), oldCa), false);
    await sleep(3_000);
    // 3. Drop the old CA.
    await setCaSecret({ "ca.crt": b64(newCa.cert) });
    await eventually("caBundle = new", () => caBundleIs(newCa.cert), 60_000);
    await sleep(3_000);
    });
    process.stdout.write(`# controller CA rollover: ${result.ok} admission requests, ${result.failed.length} failed\n`);
    assert.deepEqual(result.failed, []);
    assert.ok(result.ok > 20, `admission requests ran (${result.ok})`);
    await c.stop();
    ctl = undefined;
  });

  it("reloads a mounted --cert-dir when its files change and leaves a cert-manager-injected caBundle alone, through a CA rollover", async () => {
    const a = await createCertificateAuthority();
    const b = await createCertificateAuthority();
    const leaf = (ca: CertificateAuthority) => issueCertificate(ca, { commonName: "moco-webhook-service.moco-system.svc", dnsNames: ["moco-webhook-service.moco-system.svc"], ipAddresses: ["127.0.0.1"], usage: "server" });
    const dir = path.join(cp.dir, "mounted-cert-dir");
    fs.mkdirSync(dir);
    // As kubelet updates a Secret volume: new files, then one rename each.
    const writeFiles = (pair: { cert: string; key: string }, ca: string) => {
      for (const [name, text] of [["tls.key", pair.key], ["tls.crt", pair.cert], ["ca.crt", ca]] as const) {
        fs.writeFileSync(path.join(dir, `.${name}.tmp`), text);
        fs.renameSync(path.join(dir, `.${name}.tmp`), path.join(dir, name));
      }
    };
    writeFiles(await leaf(a), a.cert);
    const annotations = { "cert-manager.io/inject-ca-from": `${SYS}/moco-serving-cert` };
    await installConfigurations(b64(a.cert), annotations);
    const c = await start({ certDir: dir, injectWebhookCaBundle: true, certCheckIntervalMs: 1_000 });
    assert.ok(signedBy(await servedCertificate(port), a), "serves the mounted certificate");
    const result = await underLoad(client, async () => {
    await sleep(3_000);
    // cainjector's part: both CAs.
    await installConfigurations(b64(`${a.cert}\n${b.cert}`), annotations);
    await sleep(3_000);
    // cert-manager's part: the Secret (the mounted files) now holds a certificate from the new CA.
    writeFiles(await leaf(b), `${a.cert}\n${b.cert}`);
    await eventually("the mounted certificate reloaded", async () => signedBy(await servedCertificate(port), b), 60_000, 500);
    await sleep(3_000);
    await installConfigurations(b64(b.cert), annotations);
    await sleep(3_000);
    });
    process.stdout.write(`# --cert-dir reload and cert-manager CA rollover: ${result.ok} admission requests, ${result.failed.length} failed\n`);
    assert.deepEqual(result.failed, []);
    assert.ok(result.ok > 20, `admission requests ran (${result.ok})`);
    // The controller never wrote caBundle (it would have written ca.crt = a + b).
    assert.ok(await caBundleIs(b.cert), "caBundle is what cainjector (the test) wrote last");
    assert.match(fs.readFileSync(logFile(), "utf8"), /caBundle is injected by cert-manager; not touching it/);
    await c.stop();
    ctl = undefined;
  });
});
