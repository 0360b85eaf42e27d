// The controller's own webhook serving certificate (no cert-manager): issued from the
// controller CA into Secret moco-controller-cert, caBundle injected into the two webhook
// configurations, and the real kube-apiserver calling the controller's webhook server.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import type { RunningController } from "../../../src/controller/main.ts";
import { SYS_NS, clusterManifest, eventually, getJson, startHarness, type Harness } from "../../env/controller-harness.ts";

interface Cfg { webhooks: { name: string; clientConfig: { url?: string; caBundle?: string } }[] }

describe("webhook serving certificate issued by the controller", { timeout: 300_000 }, () => {
  let h: Harness;
  let ctl: RunningController;

  before(async () => {
    h = await startHarness();
    ctl = await h.startController({ webhookAddr: "127.0.0.1:0", certDir: path.join(h.cp.dir, "no-such-cert-dir"), injectWebhookCaBundle: true });
  });
  after(async () => {
    await h?.stop();
  });

  it("stores the certificate in moco-controller-cert and injects the CA bundle", async () => {
    assert.ok(ctl.webhook !== undefined && ctl.webhookCa !== undefined);
    const s = await getJson<{ data: Record<string, string> }>(h, ["secret", "-n", SYS_NS, "moco-controller-cert"]);
    const cert = new X509Certificate(Buffer.from(s.data["tls.crt"] ?? "", "base64"));
    assert.ok(cert.checkHost(`moco-webhook-service.${SYS_NS}.svc`));
    assert.ok(cert.checkIP("127.0.0.1"));
    assert.ok(cert.verify(new X509Certificate(ctl.webhookCa).publicKey));
    const bundle = Buffer.from(ctl.webhookCa).toString("base64");
    for (const kind of ["mutatingwebhookconfiguration/moco-mutating-webhook-configuration", "validatingwebhookconfiguration/moco-validating-webhook-configuration"]) {
      await eventually(`${kind} caBundle`, async () => (await getJson<Cfg>(h, [kind])).webhooks.every((w) => w.clientConfig.caBundle === bundle));
    }
  });

  it("the API server calls the controller's webhook server with that certificate", async () => {
    const url = ctl.webhook?.url ?? "";
    for (const kind of ["mutatingwebhookconfiguration/moco-mutating-webhook-configuration", "validatingwebhookconfiguration/moco-validating-webhook-configuration"]) {
      const cfg = await getJson<Cfg>(h, [kind]);
      const ops = cfg.webhooks.map((w, i) => ({ op: "replace", path: `/webhooks/${i}/clientConfig/url`, value: url + new URL(w.clientConfig.url ?? "").pathname }));
      await h.kubectl(["patch", kind, "--type=json", "-p", JSON.stringify(ops)]);
    }
    await h.kubectl(["create", "namespace", "wh"]);
    const created = await eventually("a cluster admitted by the controller's webhooks", async () => {
      const out = await h.kubectl(["create", "--dry-run=server", "-o", "json", "-f", "-"], JSON.stringify(clusterManifest("wh", "c")));
      const o = JSON.parse(out) as { metadata: { finalizers?: string[] }; spec: { serverIDBase?: number } };
      return o.metadata.finalizers?.includes("moco.cybozu.com/mysqlcluster") === true ? o : undefined;
    });
    assert.ok((created.spec.serverIDBase ?? 0) > 0);
    const bad = clusterManifest("wh", "bad", { replicas: 2 });
    await assert.rejects(h.kubectl(["create", "--dry-run=server", "-f", "-"], JSON.stringify(bad)), /replicas/);
  });

  it("the webhook's API reads go through the controller's own client (its QPS limit), not a client of their own", async () => {
    // Every request of the controller's client passes KubeClient.request (where its token
    // bucket is); record the paths it sees from now on.
    const seen: string[] = [];
    const request = ctl.client.request.bind(ctl.client);
    ctl.client.request = (method, p, ro) => { seen.push(`${method} ${p}`); return request(method, p, ro); };
    await h.apply({ apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name: "wh-fixed" }, provisioner: "example.com/none", allowVolumeExpansion: false });
    const grown = clusterManifest("wh", "grow");
    ((grown["spec"] as { volumeClaimTemplates: { spec: Record<string, unknown> }[] }).volumeClaimTemplates[0] as { spec: Record<string, unknown> }).spec["storageClassName"] = "wh-fixed";
    await h.kubectl(["create", "-f", "-"], JSON.stringify(grown));
    // Growing a volume on a StorageClass without allowVolumeExpansion: the webhook reads the class.
    const grow = [{ op: "replace", path: "/spec/volumeClaimTemplates/0/spec/resources/requests/storage", value: "2Gi" }];
    await assert.rejects(h.kubectl(["patch", "--dry-run=server", "-n", "wh", "mysqlcluster/grow", "--type=json", "-p", JSON.stringify(grow)]), /StorageClass "wh-fixed" does not allow volume expansion/);
    assert.ok(seen.includes("GET /apis/storage.k8s.io/v1/storageclasses/wh-fixed"), seen.join("\n"));
    // Deleting a BackupPolicy: the webhook lists the namespace's MySQLClusters (the informers list cluster-wide).
    await h.apply({ apiVersion: "moco.cybozu.com/v1beta2", kind: "BackupPolicy", metadata: { name: "p", namespace: "wh" }, spec: { schedule: "@daily", jobConfig: { serviceAccountName: "backup-owner", bucketConfig: { bucketName: "moco" }, workVolume: { emptyDir: {} } } } });
    await h.kubectl(["delete", "--dry-run=server", "-n", "wh", "backuppolicy/p"]);
    assert.ok(seen.some((x) => x.startsWith("GET /apis/moco.cybozu.com/v1beta2/namespaces/wh/mysqlclusters")), seen.join("\n"));
  });
  it("stopping: the Lease is released at once, the webhook keeps answering (Connection: close) for the grace, then the port closes", async () => {
    const url = new URL(`${ctl.webhook?.url ?? ""}/healthz`);
    const ca = ctl.webhookCa;
    assert.ok(ca !== undefined);
    const get = () => new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = https.request({ host: url.hostname, port: url.port, path: url.pathname, ca, agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal((await get()).status, 200);
    let stopped = false;
    const stopping = ctl.stop({ webhookGraceMs: 3_000 }).then(() => { stopped = true; });
    await eventually("the leadership given up", async () => !ctl.isLeader());
    const during = await get();
    assert.equal(stopped, false, "stop() still waits for the grace");
    assert.deepEqual(during, { status: 200, connection: "close" }, "answered during the grace, drained");
    await stopping;
    await assert.rejects(get(), /ECONNREFUSED/, "the webhook port is closed after the grace");
  });
});
