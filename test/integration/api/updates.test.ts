// Updates that must never be refused because of what a MySQLCluster already holds, on a
// REAL kube-apiserver with the moco-ts admission webhooks:
//   - issue 19: for every status shape the controller, the backup job and the restore
//     job write (and the shapes MOCO leaves behind), the status subresource accepts it,
//     and then a label, an annotation and the removal of the finalizer are accepted;
//   - issue 18: a cluster MOCO created with 7 instances (made here with the validating
//     webhook switched off, as under MOCO) can be labelled, edited without touching
//     `replicas` and deleted; growing it, or creating one, is refused naming 1, 3, 5.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { MYSQLCLUSTER_FINALIZER, type BackupStatus } from "../../../src/api/v1beta2/index.ts";
import { KubeClusterStore } from "../../../src/backup/kube.ts";
import { KubeClient } from "../../../src/k8s/client.ts";
import { buildWebhookConfigurations } from "../../../src/controller/webhooks/index.ts";
import { backupStatus, statusShapes } from "../../unit/api/fixtures.ts";
import { MYSQLCLUSTERS, eventually, rejection, startApiHarness, type ApiHarness, type Json, type RawResponse } from "./harness.ts";
import { clusterManifest } from "./fixtures.ts";

const NS = "updates";
const WEBHOOK_MYSQL = 'admission webhook "vmysqlcluster.kb.io" denied the request';

const clusterPath = (name: string, sub = "") =>
  `/apis/moco.cybozu.com/v1beta2/namespaces/${NS}/mysqlclusters/${name}${sub === "" ? "" : `/${sub}`}`;

function assertOk(res: RawResponse, what: string): void {
  assert.ok(res.status >= 200 && res.status < 300, `${what}: HTTP ${res.status} ${JSON.stringify(res.body["message"] ?? res.body)}`);
}

describe("updates never refused because of the status or of MOCO's sizes", { timeout: 300_000 }, () => {
  let h: ApiHarness;

  const mergePatch = (name: string, patch: Json, sub = "") =>
    h.request("PATCH", clusterPath(name, sub), patch, "application/merge-patch+json");

  before(async () => {
    h = await startApiHarness();
    await h.core.createNamespace({ body: { metadata: { name: NS } } });
  });
  after(async () => {
    await h?.stop();
  });

  const shapes = statusShapes();
  shapes.forEach((shape, i) => {
    it(`status "${shape.name}": accepted, then a label, an annotation and the finalizer removal`, async () => {
      const name = `shape-${i}`;
      const created = (await h.custom.createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, body: clusterManifest(name, NS) })) as Json;
      assert.deepEqual((created["metadata"] as { finalizers?: string[] }).finalizers, [MYSQLCLUSTER_FINALIZER]);
      if (shape.status !== undefined) {
        const put = await h.request("PUT", clusterPath(name, "status"), { ...created, status: shape.status });
        assertOk(put, "the status write");
      }
      assertOk(await mergePatch(name, { metadata: { labels: { team: "db" } } }), "a label");
      assertOk(await mergePatch(name, { metadata: { annotations: { "moco.cybozu.com/reconciliation-stopped": "true" } } }), "an annotation");
      assertOk(await h.request("DELETE", clusterPath(name)), "the delete");
      const got = await h.request("GET", clusterPath(name));
      assert.equal(got.status, 200, "held by the finalizer");
      assert.ok((got.body["metadata"] as { deletionTimestamp?: string }).deletionTimestamp, "deletionTimestamp set");
      assertOk(await mergePatch(name, { metadata: { finalizers: null } }), "the finalizer removal");
      assert.equal((await h.request("GET", clusterPath(name))).status, 404, "the cluster is gone");
    });
  });

  it("the backup and restore jobs' own writer stores status.backup and restoredTime; the cluster still deletes", async () => {
    const name = "job-writer";
    await h.custom.createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, body: clusterManifest(name, NS) });
    const store = new KubeClusterStore(new KubeClient(h.kc));
    for (const warnings of [[], null, ["a warning"]]) {
      await store.updateBackupStatus(NS, name, backupStatus(warnings) as BackupStatus);
      const st = (await h.request("GET", clusterPath(name))).body["status"] as { backup?: { warnings?: unknown } };
      assert.deepEqual(st.backup?.warnings, warnings);
      assertOk(await mergePatch(name, { metadata: { labels: { round: String(warnings?.length ?? "null") } } }), "a label");
    }
    await store.setRestoredTime(NS, name, new Date("2026-01-02T03:04:05Z"));
    assertOk(await h.request("DELETE", clusterPath(name)), "the delete");
    assertOk(await mergePatch(name, { metadata: { finalizers: null } }), "the finalizer removal");
    assert.equal((await h.request("GET", clusterPath(name))).status, 404);
  });

  it("a status the schema refuses is refused by the API server on the status subresource, not by the webhook", async () => {
    const name = "bad-status";
    const created = (await h.custom.createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, body: clusterManifest(name, NS) })) as Json;
    const backup = backupStatus([]);
    delete backup["warnings"];
    const put = await h.request("PUT", clusterPath(name, "status"), { ...created, status: { currentPrimaryIndex: 0, backup } });
    assert.equal(put.status, 422);
    assert.match(String(put.body["message"]), /status\.backup\.warnings: Required value/);
    assert.doesNotMatch(String(put.body["message"]), /admission webhook/, "the webhook does not see status writes");
  });

  describe("a cluster MOCO created with 7 instances (issue 18)", () => {
    const name = "seven";

    before(async () => {
      // As under MOCO: created while moco-ts's validating webhook is not installed.
      await h.cp.kubectl(["delete", "validatingwebhookconfiguration", "moco-validating-webhook-configuration"]);
      const body = clusterManifest(name, NS, { replicas: 7 });
      await eventually("a 7-instance cluster created without the validating webhook", async () => {
        try {
          await h.custom.createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, body });
          return true;
        } catch {
          return undefined;
        }
      });
      const { validating } = buildWebhookConfigurations({ target: { url: h.webhook.url }, caBundle: Buffer.from(h.webhookCa).toString("base64") });
      await h.cp.kubectl(["apply", "--server-side", "-f", "-"], JSON.stringify(validating));
      await eventually("the validating webhook back", async () => {
        const res = await h.request("POST", `/apis/moco.cybozu.com/v1beta2/namespaces/${NS}/mysqlclusters?dryRun=All`, clusterManifest("probe-seven", NS, { replicas: 7 }));
        return res.status === 422 && String(res.body["message"]).includes(WEBHOOK_MYSQL) ? true : undefined;
      });
    });

    it("creating one is refused, naming the supported sizes", async () => {
      const e = await rejection(() => h.custom.createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, body: clusterManifest("another-seven", NS, { replicas: 7 }) }));
      assert.equal(e.code, 422);
      assert.ok(e.message.includes(WEBHOOK_MYSQL), e.message);
      assert.match(e.message, /spec\.replicas: Invalid value: 7: moco-ts supports replicas of 1, 3, 5 only/);
    });

    it("a label, an annotation and a spec change that keeps replicas are accepted", async () => {
      assertOk(await mergePatch(name, { metadata: { labels: { team: "db" } } }), "a label");
      assertOk(await mergePatch(name, { metadata: { annotations: { note: "from MOCO" } } }), "an annotation");
      assertOk(await mergePatch(name, { spec: { maxDelaySeconds: 30, offline: true } }), "a spec change");
      const got = (await h.request("GET", clusterPath(name))).body["spec"] as { replicas: number; maxDelaySeconds: number };
      assert.deepEqual([got.replicas, got.maxDelaySeconds], [7, 30]);
    });

    it("growing to 9 is refused, naming the supported sizes", async () => {
      const res = await mergePatch(name, { spec: { replicas: 9 } });
      assert.equal(res.status, 422);
      assert.match(String(res.body["message"]), /spec\.replicas: Invalid value: 9: moco-ts supports replicas of 1, 3, 5 only/);
    });

    it("it can be deleted: the finalizer removal is accepted", async () => {
      assertOk(await h.request("DELETE", clusterPath(name)), "the delete");
      assertOk(await mergePatch(name, { metadata: { finalizers: null } }), "the finalizer removal");
      assert.equal((await h.request("GET", clusterPath(name))).status, 404);
    });
  });
});
