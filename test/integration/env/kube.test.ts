// Smoke tests: the control plane is a real kube-apiserver + kube-controller-manager.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, waitCrdsEstablished, type ControlPlane } from "../../env/kube.ts";
import { eventually } from "../../env/eventually.ts";


describe("real Kubernetes control plane", () => {
  let cp: ControlPlane;
  let kc: k8s.KubeConfig;
  before(async () => {
    cp = await startControlPlane();
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
  });
  after(async () => { await cp?.stop(); });

  it("is Kubernetes 1.34 and kubectl works against it", async () => {
    const out = JSON.parse(await cp.kubectl(["version", "-o", "json"]));
    assert.equal(out.serverVersion.major, "1");
    assert.equal(out.serverVersion.minor, "34");
    const ns = await cp.kubectl(["get", "ns", "-o", "name"]);
    assert.match(ns, /namespace\/kube-system/);
  });

  it("enforces RBAC: a service account without roles is forbidden", async () => {
    await cp.kubectl(["create", "serviceaccount", "nobody", "-n", "default"]);
    const can = await cp.kubectl(["auth", "can-i", "list", "secrets", "--as", "system:serviceaccount:default:nobody"]).catch((e: Error) => e.message);
    assert.match(String(can), /no/);
  });

  it("accepts a CRD and a custom resource of it, with schema validation", async () => {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition",
      metadata: { name: "widgets.smoke.moco-ts.test" },
      spec: {
        group: "smoke.moco-ts.test", scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
        versions: [{
          name: "v1", served: true, storage: true, subresources: { status: {} },
          schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object", properties: {
            size: { type: "integer", minimum: 1, default: 3 } } } } } },
        }],
      },
    };
    await cp.kubectl(["apply", "-f", "-"], JSON.stringify(crd));
    await waitCrdsEstablished(cp, ["widgets.smoke.moco-ts.test"]);
    const co = kc.makeApiClient(k8s.CustomObjectsApi);
    await co.createNamespacedCustomObject({ group: "smoke.moco-ts.test", version: "v1", namespace: "default", plural: "widgets",
      body: { apiVersion: "smoke.moco-ts.test/v1", kind: "Widget", metadata: { name: "w1" }, spec: {} } });
    const got = await co.getNamespacedCustomObject({ group: "smoke.moco-ts.test", version: "v1", namespace: "default", plural: "widgets", name: "w1" }) as { spec: { size: number } };
    assert.equal(got.spec.size, 3, "CRD default applied by the API server");
    await assert.rejects(co.createNamespacedCustomObject({ group: "smoke.moco-ts.test", version: "v1", namespace: "default", plural: "widgets",
      body: { apiVersion: "smoke.moco-ts.test/v1", kind: "Widget", metadata: { name: "w2" }, spec: { size: 0 } } }), /spec.size/);
  });

  it("kube-controller-manager turns a StatefulSet into (Pending) Pods", async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "smoke" } } });
    await eventually("default service account", async () =>
      (await core.readNamespacedServiceAccount({ name: "default", namespace: "smoke" })) ? true : undefined);
    await apps.createNamespacedStatefulSet({ namespace: "smoke", body: {
      metadata: { name: "web" },
      spec: {
        replicas: 2, serviceName: "web", podManagementPolicy: "Parallel", selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "example.invalid/none:1" }] } },
      },
    } });
    const pods = await eventually("two pods", async () => {
      const list = await core.listNamespacedPod({ namespace: "smoke", labelSelector: "app=web" });
      return list.items.length === 2 ? list.items : undefined;
    });
    assert.deepEqual(pods.map((p) => p.metadata?.name).sort(), ["web-0", "web-1"]);
    for (const p of pods) assert.equal(p.status?.phase, "Pending");
  });

  it("garbage-collects an object whose owner was deleted", async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const owner = await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "owner" }, data: { a: "1" } } });
    await core.createNamespacedConfigMap({ namespace: "default", body: {
      metadata: { name: "child", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata!.uid! }] },
      data: { b: "2" },
    } });
    await core.deleteNamespacedConfigMap({ name: "owner", namespace: "default" });
    await eventually("child to be garbage-collected", async () => {
      try {
        await core.readNamespacedConfigMap({ name: "child", namespace: "default" });
        return undefined;
      } catch (e) {
        return (e as { code?: number }).code === 404 ? true : undefined;
      }
    });
  });
});
