// The k8s layer against a real kube-apiserver: informers (core kinds, a CRD, label
// selectors, resync), server-side apply with ownedFieldsEqual, merge patch, events, and the
// Lease leader elector with two and three identities.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, waitCrdsEstablished, type ControlPlane } from "../../env/kube.ts";
import { KubeClient } from "../../../src/k8s/client.ts";
import { Informer, type InformerOptions } from "../../../src/k8s/informer.ts";
import { resources } from "../../../src/k8s/resource.ts";
import { applyIfChanged, mergePatch, serverSideApply } from "../../../src/k8s/apply.ts";
import { ownedFieldsDiff, ownedFieldsEqual } from "../../../src/k8s/fieldsv1.ts";
import { EventRecorder } from "../../../src/k8s/events.ts";
import { LeaderElector } from "../../../src/k8s/leader.ts";
import { isNotFound } from "../../../src/k8s/errors.ts";
import type { KubeObject } from "../../../src/k8s/types.ts";
import { eventually, quiet, sleep } from "./helpers.ts";

const repo = path.resolve(import.meta.dirname, "../../..");

describe("k8s layer on a real API server", () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let core: k8s.CoreV1Api; // an independent client for making changes
  const informers: Informer[] = [];

  before(async () => {
    cp = await startControlPlane({ controllerManager: false });
    client = KubeClient.fromFile(cp.kubeconfig, { qps: 0 });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    for (const ns of ["inf", "sel", "crd", "ssa", "ev", "sys"]) await core.createNamespace({ body: { metadata: { name: ns } } });
  });
  after(async () => {
    for (const i of informers) await i.stop();
    await cp?.stop();
  });

  function informer<T extends KubeObject>(r: typeof resources[keyof typeof resources], opts: InformerOptions<T> = {}): Informer<T> {
    const i = new Informer<T>(client, r, { logger: quiet, ...opts });
    informers.push(i as unknown as Informer);
    return i;
  }

  it("informer: sees ConfigMap adds, updates (old and new) and deletes", async () => {
    const inf = informer(resources.configMaps, { namespace: "inf" });
    const log: string[] = [];
    inf.addHandler({
      onAdd: (o) => log.push(`add ${o.metadata?.name}`),
      onUpdate: (a, b) => { if (a.metadata?.resourceVersion !== b.metadata?.resourceVersion) log.push(`update ${b.metadata?.name} ${JSON.stringify((a as { data?: unknown }).data)}->${JSON.stringify((b as { data?: unknown }).data)}`); },
      onDelete: (o, i) => log.push(`delete ${o.metadata?.name} ${i.finalStateUnknown}`),
    });
    await core.createNamespacedConfigMap({ namespace: "inf", body: { metadata: { name: "pre" }, data: { v: "0" } } });
    inf.start();
    await inf.waitForSync();
    assert.equal(inf.hasSynced(), true);
    assert.ok(inf.get("pre", "inf"), "listed before the watch");
    await core.createNamespacedConfigMap({ namespace: "inf", body: { metadata: { name: "a" }, data: { v: "1" } } });
    await core.patchNamespacedConfigMap({ namespace: "inf", name: "a", body: { data: { v: "2" } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
    await core.deleteNamespacedConfigMap({ namespace: "inf", name: "a" });
    await eventually("delete of a", () => log.includes("delete a false"));
    assert.deepEqual(log, ["add pre", "add a", `update a {"v":"1"}->{"v":"2"}`, "delete a false"]);
    assert.equal(inf.get("a", "inf"), undefined);
    assert.equal(inf.get("pre", "inf")?.kind, "ConfigMap", "list items get their kind filled in");
  });

  it("informer: label-selector informers see only matching objects, and an object that stops matching is deleted", async () => {
    const inf = informer(resources.configMaps, { namespace: "sel", labelSelector: "team=a" });
    const deleted: string[] = [];
    inf.addHandler({ onDelete: (o) => deleted.push(o.metadata?.name ?? "") });
    inf.start();
    await inf.waitForSync();
    await core.createNamespacedConfigMap({ namespace: "sel", body: { metadata: { name: "x", labels: { team: "a" } } } });
    await core.createNamespacedConfigMap({ namespace: "sel", body: { metadata: { name: "y", labels: { team: "b" } } } });
    await core.createNamespacedConfigMap({ namespace: "sel", body: { metadata: { name: "z", labels: { team: "a", tier: "db" } } } });
    await eventually("x and z", () => inf.keys().length === 2);
    assert.deepEqual(inf.keys().sort(), ["sel/x", "sel/z"]);
    assert.deepEqual(inf.list({ labelSelector: "tier=db" }).map((o) => o.metadata?.name), ["z"]);
    await core.patchNamespacedConfigMap({ namespace: "sel", name: "x", body: { metadata: { labels: { team: "b" } } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
    await eventually("x leaves the selection", () => deleted.includes("x"));
    assert.deepEqual(inf.keys(), ["sel/z"]);
  });

  it("informer: watches a CRD's custom resources (MySQLCluster v1beta2), and resyncs periodically", async () => {
    await cp.kubectl(["apply", "--server-side", "-f", path.join(repo, "deploy/crds/moco.cybozu.com_mysqlclusters.yaml")]);
    await waitCrdsEstablished(cp, ["mysqlclusters.moco.cybozu.com"]);
    const inf = informer(resources.mysqlClusters, { namespace: "crd", resyncPeriodMs: 1000 });
    const seen: string[] = [];
    let resyncs = 0;
    inf.addHandler({
      onAdd: (o) => seen.push(`add ${o.metadata?.name}`),
      onUpdate: (a, b) => { if (a === b) resyncs++; else seen.push(`update ${b.metadata?.name} gen ${b.metadata?.generation}`); },
    });
    inf.start();
    await inf.waitForSync();
    const cluster = {
      apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", metadata: { name: "c1", namespace: "crd" },
      spec: {
        replicas: 1,
        podTemplate: { spec: { containers: [{ name: "mysqld", image: "ghcr.io/cybozu-go/moco/mysql:8.4.8" }] } },
        volumeClaimTemplates: [{ metadata: { name: "mysql-data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
      },
    };
    await serverSideApply(client, cluster, { fieldManager: "test" });
    await eventually("the MySQLCluster", () => inf.get("c1", "crd"));
    await serverSideApply(client, { ...cluster, spec: { ...cluster.spec, replicas: 3 } }, { fieldManager: "test" });
    await eventually("the update", () => seen.includes("update c1 gen 2"));
    assert.equal(inf.get("c1", "crd")?.kind, "MySQLCluster");
    assert.equal((inf.get("c1", "crd") as unknown as { spec: { replicas: number } }).spec.replicas, 3);
    await eventually("a resync", () => resyncs >= 1, 10_000);
    assert.ok(inf.stats().resyncs >= 1);
  });

  it("server-side apply: creates, then skips (ownedFieldsEqual), keeps another manager's field, and applies real changes", async () => {
    const desired = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg", namespace: "ssa", labels: { "app.kubernetes.io/created-by": "moco" } }, data: { a: "1", b: "2" } };
    const first = await applyIfChanged(client, desired, { fieldManager: "moco-controller" });
    assert.equal(first.applied, true);
    const second = await applyIfChanged(client, desired, { fieldManager: "moco-controller" });
    assert.equal(second.applied, false, "no-op apply skipped");
    // Another manager adds its own field (a plain update and an apply).
    await mergePatch(client, { apiVersion: "v1", kind: "ConfigMap", namespace: "ssa", name: "cfg" }, { data: { byHand: "x" } }, { fieldManager: "kubectl-edit" });
    await serverSideApply(client, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg", namespace: "ssa", annotations: { other: "y" } } }, { fieldManager: "other-tool" });
    const third = await applyIfChanged(client, desired, { fieldManager: "moco-controller" });
    assert.equal(third.applied, false, "other managers' fields do not make our apply a change");
    const changed = await applyIfChanged(client, { ...desired, data: { a: "1", b: "3" } }, { fieldManager: "moco-controller" });
    assert.equal(changed.applied, true);
    assert.deepEqual(changed.changed, ["data.b"]);
    const live = await client.get<KubeObject & { data: Record<string, string> }>(resources.configMaps, "cfg", "ssa");
    assert.deepEqual(live.data, { a: "1", b: "3", byHand: "x" }, "another manager's field is kept");
    assert.equal(live.metadata?.annotations?.other, "y");
    // Dropping a field from the desired object removes it (we own it), still keeping theirs.
    const dropped = await applyIfChanged(client, { ...desired, data: { a: "1" } }, { fieldManager: "moco-controller" });
    assert.equal(dropped.applied, true);
    assert.deepEqual((dropped.object as unknown as { data: unknown }).data, { a: "1", byHand: "x" });
  });

  it("server-side apply: a StatefulSet and a Service with server defaults compare equal to what was applied", async () => {
    const sts = {
      apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "moco-c1", namespace: "ssa", labels: { app: "x" } },
      spec: {
        replicas: 3, serviceName: "moco-c1", selector: { matchLabels: { app: "x" } },
        template: {
          metadata: { labels: { app: "x" }, annotations: {} },
          spec: {
            containers: [{ name: "mysqld", image: "mysql:9.7", ports: [{ containerPort: 3306, name: "mysql" }, { containerPort: 33060, name: "mysqlx" }],
              env: [], resources: { requests: { cpu: "100m", memory: "1Gi" } } }],
            terminationGracePeriodSeconds: 300,
          },
        },
        // volumeClaimTemplates is an atomic list: the whole live value (with the API server's
        // defaults) is owned, so the desired value must carry those defaults to compare equal
        // (upstream MOCO's builders do the same).
        volumeClaimTemplates: [{
          apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "mysql-data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, volumeMode: "Filesystem" },
          status: { phase: "Pending" },
        }],
      },
    };
    const svc = {
      apiVersion: "v1", kind: "Service", metadata: { name: "moco-c1-primary", namespace: "ssa" },
      spec: { type: "ClusterIP", selector: { app: "x" }, ports: [{ name: "mysql", port: 3306, targetPort: "mysql" }] },
    };
    for (const d of [sts, svc]) {
      const a = await applyIfChanged(client, d, { fieldManager: "moco-controller" });
      assert.equal(a.applied, true);
      const live = await client.get(await client.resourceFor(d.apiVersion, d.kind), d.metadata.name, "ssa");
      assert.equal(ownedFieldsEqual(live, d, "moco-controller"), true, `${d.kind} equal after apply: ${ownedFieldsDiff(live, d, "moco-controller").join(", ")} ${JSON.stringify(live.metadata?.managedFields)}`);
      const again = await applyIfChanged(client, d, { fieldManager: "moco-controller" });
      assert.equal(again.applied, false, `${d.kind} not re-applied`);
    }
    const bare = structuredClone(sts);
    bare.spec.volumeClaimTemplates = [{ metadata: { name: "mysql-data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }] as typeof sts.spec.volumeClaimTemplates;
    const live = await client.get(resources.statefulSets, "moco-c1", "ssa");
    assert.deepEqual(ownedFieldsDiff(live, bare, "moco-controller").sort(), [
      "spec.volumeClaimTemplates[0].apiVersion", "spec.volumeClaimTemplates[0].kind",
      "spec.volumeClaimTemplates[0].spec.volumeMode", "spec.volumeClaimTemplates[0].status"], "atomic fields compare whole, defaults included");
    const bumped = structuredClone(sts);
    (bumped.spec.template.spec.containers[0] as { image: string }).image = "mysql:8.4";
    const r = await applyIfChanged(client, bumped, { fieldManager: "moco-controller" });
    assert.deepEqual(r.changed, ["spec.template.spec.containers[0].image"]);
  });

  it("events: written with source moco-controller, identical ones aggregated into count", async () => {
    const cm = await client.create<KubeObject>(resources.configMaps, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "subject", namespace: "ev" } });
    const rec = new EventRecorder(client, { logger: quiet, host: "test-host" });
    for (let i = 0; i < 3; i++) rec.event(cm, "Warning", "CloneFailed", "clone of instance 1 failed");
    rec.event(cm, "Normal", "Cloned", "cloned instance 1");
    rec.event({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "subject", namespace: "no-such-namespace" } }, "Normal", "X", "lost");
    await rec.flush();
    type Ev = KubeObject & { reason: string; count: number; type: string; source: { component: string }; reportingComponent: string; involvedObject: { name: string; uid: string } };
    const list = await client.list<Ev>(resources.events, { namespace: "ev", fieldSelector: "involvedObject.name=subject" });
    const byReason = Object.fromEntries(list.items.map((e) => [e.reason, e]));
    assert.equal(list.items.length, 2);
    assert.equal(byReason.CloneFailed?.count, 3);
    assert.equal(byReason.CloneFailed?.type, "Warning");
    assert.equal(byReason.CloneFailed?.source.component, "moco-controller");
    assert.equal(byReason.CloneFailed?.reportingComponent, "moco-controller");
    assert.equal(byReason.CloneFailed?.involvedObject.uid, cm.metadata?.uid);
    assert.equal(byReason.Cloned?.count, 1);
  });

  it("leader election: one leader among two; handover on release, then on expiry", async (t) => {
    const timing = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 };
    const log: string[] = [];
    const make = (identity: string, releaseOnStop: boolean) => new LeaderElector(client, {
      namespace: "sys", name: "moco", identity, releaseOnStop, logger: quiet, ...timing,
      onStartedLeading: () => { log.push(`${identity} started`); },
      onStoppedLeading: () => { log.push(`${identity} stopped`); },
    });
    const a = make("a", true);
    const b = make("b", false);
    void a.start();
    await eventually("a leads", () => a.isLeader());
    void b.start();
    await sleep(timing.leaseDurationMs * 2);
    assert.equal(b.isLeader(), false, "b cannot lead while a renews");
    assert.equal(b.getLeader(), "a");
    const lease = await client.get<KubeObject & { spec: { holderIdentity: string; leaseDurationSeconds: number } }>(resources.leases, "moco", "sys");
    assert.equal(lease.spec.holderIdentity, "a");
    assert.equal(lease.spec.leaseDurationSeconds, 4);

    let t0 = Date.now();
    await a.stop();
    await eventually("b leads after a released", () => b.isLeader(), 20_000, 50);
    const releaseHandover = Date.now() - t0;
    assert.deepEqual(log, ["a started", "a stopped", "b started"]);

    // b dies without releasing: c must wait for the lease to expire.
    const c = make("c", true);
    t0 = Date.now();
    await b.stop();
    void c.start();
    await eventually("c leads after b's lease expired", () => c.isLeader(), 30_000, 50);
    const expiryHandover = Date.now() - t0;
    assert.ok(expiryHandover >= timing.leaseDurationMs - timing.retryPeriodMs, `c took over after ${expiryHandover} ms, before the lease expired`);
    const final = await client.get<KubeObject & { spec: { holderIdentity: string; leaseTransitions: number } }>(resources.leases, "moco", "sys");
    assert.equal(final.spec.holderIdentity, "c");
    assert.equal(final.spec.leaseTransitions, 2);
    await c.stop();
    t.diagnostic(`handover on release: ${releaseHandover} ms; on expiry: ${expiryHandover} ms (lease ${timing.leaseDurationMs} ms)`);
  });

  it("errors: NotFound from get is recognized", async () => {
    await assert.rejects(client.get(resources.configMaps, "nope", "inf"), (e: unknown) => isNotFound(e));
  });
});
