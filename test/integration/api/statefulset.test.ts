// The StatefulSet mutating webhook (/mutate-apps-v1-statefulset, docs/objects.md#statefulset-mutating-webhook)
// registered in a real kube-apiserver: partition = replicas on create, a partition-only
// update (the partition controller's step) is kept, any other update resets it, and the
// force-rolling-update annotation removes rollingUpdate.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type * as k8s from "@kubernetes/client-node";
import { MYSQLCLUSTERS, startApiHarness, type ApiHarness, type Json } from "./harness.ts";
import { clusterManifest } from "./fixtures.ts";

const NS = "sts";
const FORCE = "moco.cybozu.com/force-rolling-update";

interface StsOptions {
  replicas?: number;
  updateStrategy?: Json;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Json[];
}

describe("StatefulSet mutating webhook through a real kube-apiserver", () => {
  let h: ApiHarness;
  let owner: Json;

  before(async () => {
    h = await startApiHarness();
    await h.core.createNamespace({ body: { metadata: { name: NS } } });
    const cluster = (await h.custom.createNamespacedCustomObject({
      ...MYSQLCLUSTERS,
      namespace: NS,
      body: clusterManifest("db", NS),
    })) as { metadata: { uid: string; name: string } };
    owner = {
      apiVersion: "moco.cybozu.com/v1beta2",
      kind: "MySQLCluster",
      name: cluster.metadata.name,
      uid: cluster.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    };
  });
  after(async () => {
    await h?.stop();
  });

  function manifest(name: string, opts: StsOptions = {}): Json {
    const labels = { "app.kubernetes.io/name": "mysql", "app.kubernetes.io/instance": "db" };
    return {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: {
        name,
        namespace: NS,
        labels: opts.labels ?? { ...labels, "app.kubernetes.io/created-by": "moco" },
        ...(opts.annotations ? { annotations: opts.annotations } : {}),
        ownerReferences: opts.ownerReferences ?? [owner],
      },
      spec: {
        replicas: opts.replicas ?? 3,
        serviceName: name,
        selector: { matchLabels: labels },
        // The controller's shape (docs/objects.md#statefulset-object: type RollingUpdate, partition owned by the webhook).
        updateStrategy: opts.updateStrategy ?? { type: "RollingUpdate" },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: "mysqld", image: "ghcr.io/cybozu-go/moco/mysql:8.4.8" }] },
        },
      },
    };
  }

  const path = (name: string) => `/apis/apps/v1/namespaces/${NS}/statefulsets/${name}`;

  async function create(name: string, opts?: StsOptions): Promise<k8s.V1StatefulSet> {
    const res = await h.request("POST", `/apis/apps/v1/namespaces/${NS}/statefulsets`, manifest(name, opts));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as k8s.V1StatefulSet;
  }
  async function mergePatch(name: string, patch: Json): Promise<k8s.V1StatefulSet> {
    const res = await h.request("PATCH", path(name), patch, "application/merge-patch+json");
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as k8s.V1StatefulSet;
  }
  async function read(name: string): Promise<k8s.V1StatefulSet> {
    return h.apps.readNamespacedStatefulSet({ name, namespace: NS });
  }
  const partition = (sts: k8s.V1StatefulSet) => sts.spec?.updateStrategy?.rollingUpdate?.partition;

  it("CREATE: partition = replicas", async () => {
    const sts = await create("moco-a", { replicas: 3 });
    assert.equal(partition(sts), 3);
    assert.equal(partition(await read("moco-a")), 3, "stored");
    const five = await create("moco-five", { replicas: 5 });
    assert.equal(partition(five), 5);
  });

  it("UPDATE that only lowers the partition keeps it (the partition controller's step)", async () => {
    let sts = await mergePatch("moco-a", { spec: { updateStrategy: { rollingUpdate: { partition: 2 } } } });
    assert.equal(partition(sts), 2);
    sts = await mergePatch("moco-a", { spec: { updateStrategy: { rollingUpdate: { partition: 1 } } } });
    assert.equal(partition(sts), 1);
    assert.equal(partition(await read("moco-a")), 1);
  });

  it("UPDATE that changes the spec resets the partition to replicas", async () => {
    const current = await read("moco-a");
    assert.equal(partition(current), 1);
    current.spec!.template.spec!.containers[0]!.image = "ghcr.io/cybozu-go/moco/mysql:8.4.9";
    const sts = await h.apps.replaceNamespacedStatefulSet({ name: "moco-a", namespace: NS, body: current });
    assert.equal(partition(sts), 3);
    assert.equal(sts.spec?.template.spec?.containers[0]?.image, "ghcr.io/cybozu-go/moco/mysql:8.4.9");
  });

  it("UPDATE of replicas and partition together resets the partition to the new replicas", async () => {
    const sts = await mergePatch("moco-a", { spec: { replicas: 5, updateStrategy: { rollingUpdate: { partition: 0 } } } });
    assert.equal(partition(sts), 5);
  });

  it("UPDATE that changes nothing in spec (metadata only) resets the partition too", async () => {
    await mergePatch("moco-a", { spec: { updateStrategy: { rollingUpdate: { partition: 2 } } } });
    const sts = await mergePatch("moco-a", { metadata: { labels: { extra: "yes" } } });
    assert.equal(partition(sts), 5);
  });

  it("the force-rolling-update annotation removes rollingUpdate; removing it restores partition = replicas", async () => {
    let sts = await mergePatch("moco-a", { metadata: { annotations: { [FORCE]: "true" } } });
    assert.equal(sts.spec?.updateStrategy?.type, "RollingUpdate");
    assert.equal(sts.spec?.updateStrategy?.rollingUpdate, undefined);
    // Lowering the partition is not possible while forced.
    sts = await mergePatch("moco-a", { spec: { updateStrategy: { rollingUpdate: { partition: 1 } } } });
    assert.equal(sts.spec?.updateStrategy?.rollingUpdate, undefined);
    sts = await mergePatch("moco-a", { metadata: { annotations: { [FORCE]: null } } });
    assert.equal(partition(sts), 5);

    const forced = await create("moco-forced", { annotations: { [FORCE]: "true" } });
    assert.equal(forced.spec?.updateStrategy?.rollingUpdate, undefined);
  });

  it("a StatefulSet not owned by exactly one MySQLCluster is left alone", async () => {
    const notOwned = await create("plain", { ownerReferences: [] });
    assert.equal(notOwned.spec?.updateStrategy?.rollingUpdate, undefined);
    const otherOwner = await create("other-owner", {
      ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "x", uid: "6b1c0a43-9d5e-4a84-8a3e-5c7a1b0d0001" }],
    });
    assert.equal(otherOwner.spec?.updateStrategy?.rollingUpdate, undefined);
    const twoOwners = await create("two-owners", {
      ownerReferences: [owner, { apiVersion: "v1", kind: "ConfigMap", name: "y", uid: "6b1c0a43-9d5e-4a84-8a3e-5c7a1b0d0002" }],
    });
    assert.equal(twoOwners.spec?.updateStrategy?.rollingUpdate, undefined);
  });

  it("a StatefulSet without the created-by=moco label is not sent to the webhook (objectSelector)", async () => {
    const before = h.log.reviews.filter((r) => r.path === "/mutate-apps-v1-statefulset").length;
    const sts = await create("unlabelled", { labels: { "app.kubernetes.io/name": "mysql" } });
    assert.equal(sts.spec?.updateStrategy?.rollingUpdate, undefined);
    const afterCount = h.log.reviews.filter((r) => r.path === "/mutate-apps-v1-statefulset").length;
    assert.equal(afterCount, before);
  });

  it("CREATE without any updateStrategy: the API server defaults partition 0 before the webhook runs", async () => {
    // apps/v1 defaulting turns an absent strategy into RollingUpdate with partition 0, so
    // the webhook sees a partition and (like MOCO) keeps it on CREATE. The controller
    // always sends type RollingUpdate without rollingUpdate, which gets partition = replicas.
    const sts = await create("moco-no-strategy", { updateStrategy: {} });
    assert.equal(sts.spec?.updateStrategy?.type, "RollingUpdate");
    assert.equal(partition(sts), 0);
    // Its next spec update resets the partition to replicas.
    const updated = await mergePatch("moco-no-strategy", { spec: { template: { metadata: { annotations: { a: "b" } } } } });
    assert.equal(partition(updated), 3);
  });

  it("the webhook server answered every StatefulSet review without an error", () => {
    const reviews = h.log.reviews.filter((r) => r.path === "/mutate-apps-v1-statefulset");
    assert.ok(reviews.length >= 10, String(reviews.length));
    assert.ok(reviews.every((r) => r.allowed));
    assert.deepEqual(h.log.errors, []);
  });
});
