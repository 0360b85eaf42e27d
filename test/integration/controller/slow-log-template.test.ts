// A slowQueryLogConfigTmpl that moco-ts cannot render, stored before the admission check
// existed (a cluster adopted from MOCO, which executes any Go template): the reconcile
// reports it as a Warning Event and the ReconcileSuccess condition naming the field and
// the position, the controller keeps running, and once the template is fixed the
// slow-log ConfigMap carries the rendered text. Real kube-apiserver + kube-controller-manager.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningController } from "../../../src/controller/main.ts";
import { buildWebhookConfigurations } from "../../../src/controller/webhooks/index.ts";
import { slowLogConfigMapName } from "../../../src/controller/builders/configmaps.ts";
import { clusterManifest, eventually, getJson, startHarness, waitIdle, type Harness } from "../../env/controller-harness.ts";

const NS = "slowlog";
const NAME = "db";

interface Condition { type: string; status: string; message?: string }
interface ClusterJson { status?: { conditions?: Condition[] } }
interface EventJson { reason: string; type: string; message: string; involvedObject: { kind: string; name: string } }

describe("slowQueryLogConfigTmpl at reconcile", { timeout: 300_000 }, () => {
  let h: Harness;
  let ctl: RunningController;

  before(async () => {
    h = await startHarness();
    // The cluster predates moco-ts's admission check: remove the validating webhook.
    const { validating } = buildWebhookConfigurations({ target: { url: "https://127.0.0.1:1" }, caBundle: "" });
    await h.kubectl(["delete", "validatingwebhookconfiguration", validating.metadata?.name ?? ""]);
    await h.kubectl(["create", "namespace", NS]);
    ctl = await h.startController();
  });
  after(async () => {
    await h?.stop();
  });

  const condition = async (type: string) =>
    (await getJson<ClusterJson>(h, ["mysqlcluster", "-n", NS, NAME])).status?.conditions?.find((c) => c.type === type);

  it("an unsupported template: Warning Event and ReconcileSuccess=False naming the field and position; no ConfigMap", async () => {
    // Valid for MOCO (Go's html function), outside the moco-ts subset.
    await h.apply(clusterManifest(NS, NAME, { slowQueryLogConfigTmpl: "[INPUT]\n  Path {{ html .Path }}\n" }));
    const want = /spec\.slowQueryLogConfigTmpl: line 2, column 11: \{\{ html \.Path \}\}: function "html" is not supported by moco-ts$/;
    const cond = await eventually("ReconcileSuccess=False", async () => {
      const c = await condition("ReconcileSuccess");
      return c?.status === "False" ? c : undefined;
    });
    assert.match(cond.message ?? "", want);
    const events = await eventually("a ReconcileFailed event", async () => {
      const list = await getJson<{ items: EventJson[] }>(h, ["events", "-n", NS]);
      const found = list.items.filter((e) => e.reason === "ReconcileFailed" && e.involvedObject.kind === "MySQLCluster" && e.involvedObject.name === NAME);
      return found.length > 0 ? found : undefined;
    });
    assert.equal(events[0]?.type, "Warning");
    assert.match(events[0]?.message ?? "", want);
    assert.ok(ctl.isLeader(), "the controller keeps running");
    const cms = await h.kubectl(["get", "configmap", "-n", NS, "-o", "name"]);
    assert.doesNotMatch(cms, /moco-slow-log-agent-config-/);
  });

  it("fixed: the slow-log ConfigMap carries the rendered text and ReconcileSuccess=True", async () => {
    const template = "[INPUT]\n  Name tail\n{{- with .Path }}\n  Path {{ printf \"%s\" . }}\n{{- end }}\n";
    await h.kubectl(["patch", "mysqlcluster", "-n", NS, NAME, "--type=merge", "-p", JSON.stringify({ spec: { slowQueryLogConfigTmpl: template } })]);
    const name = slowLogConfigMapName(NAME, template);
    const cm = await eventually("the slow-log ConfigMap", () => getJson<{ data?: Record<string, string> }>(h, ["configmap", "-n", NS, name]).catch(() => undefined));
    assert.equal(cm.data?.["fluent-bit.conf"], "[INPUT]\n  Name tail\n  Path /var/log/mysql/mysql.slow\n");
    await waitIdle(ctl);
    assert.equal((await condition("ReconcileSuccess"))?.status, "True");
  });
});
