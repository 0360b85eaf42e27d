// THE OUTAGE TEST: an informer + work queue + worker that "reconciles" source ConfigMaps
// into derived ConfigMaps keeps working across a 30 s kube-apiserver outage. Changes made
// before the outage, right before the API server stops (possibly unseen or unreconciled
// when it goes), and after it is back are all reconciled; the informer survives without
// crashing, reconnects, and its cache matches the server again.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../../env/kube.ts";
import { KubeClient } from "../../../src/k8s/client.ts";
import { Informer } from "../../../src/k8s/informer.ts";
import { ItemExponentialRateLimiter, WorkQueue, runWorkers } from "../../../src/k8s/queue.ts";
import { resources } from "../../../src/k8s/resource.ts";
import { applyIfChanged } from "../../../src/k8s/apply.ts";
import { isNotFound } from "../../../src/k8s/errors.ts";
import { objectKey, splitKey, type KubeObject } from "../../../src/k8s/types.ts";
import { eventually, quiet, sleep } from "./helpers.ts";

type CM = KubeObject & { data?: Record<string, string> };
const ns = "outage";
const outageMs = 30_000;

describe("k8s layer across a kube-apiserver outage", () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let core: k8s.CoreV1Api; // the "user": an independent client
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => { unhandled.push(e); };

  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    cp = await startControlPlane({ controllerManager: false });
    client = KubeClient.fromFile(cp.kubeconfig, { qps: 0, requestTimeoutMs: 5_000 });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
  });
  after(async () => {
    process.off("unhandledRejection", onUnhandled);
    await cp?.stop();
  });

  it("reconciles every change made before, just before and after the outage", async (t) => {
    const informer = new Informer<CM>(client, resources.configMaps, { namespace: ns, labelSelector: "role=source", logger: quiet });
    // Per-item back-off capped at 2 s so that items failing during the outage are retried soon after it.
    const queue = new WorkQueue<string>({ name: "derive", rateLimiter: new ItemExponentialRateLimiter<string>(5, 2_000) });
    const enqueue = (o: CM) => queue.add(objectKey(o));
    informer.addHandler({ onAdd: enqueue, onUpdate: (_old, o) => enqueue(o), onDelete: enqueue });
    let reconciles = 0;
    let failures = 0;
    const reconcile = async (key: string) => {
      reconciles++;
      const { namespace, name } = splitKey(key);
      const src = informer.get(name, namespace);
      const derivedName = `derived-${name}`;
      try {
        if (!src) {
          await client.delete(resources.configMaps, derivedName, namespace).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
          return;
        }
        await applyIfChanged(client, {
          apiVersion: "v1", kind: "ConfigMap",
          metadata: { name: derivedName, namespace, labels: { role: "derived" } },
          data: { ...src.data, from: name },
        }, { fieldManager: "outage-test", resource: resources.configMaps });
      } catch (e) {
        failures++;
        throw e;
      }
    };
    const workers = runWorkers(queue, 2, reconcile, { logger: quiet });
    informer.start();
    await informer.waitForSync();

    const src = (name: string, v: string) => ({ metadata: { name, labels: { role: "source" } }, data: { v } });
    const put = (name: string, v: string) => core.replaceNamespacedConfigMap({ namespace: ns, name, body: src(name, v) });
    const derivedState = async (): Promise<Record<string, string>> => {
      const l = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: "role=derived" });
      return Object.fromEntries(l.items.map((c) => [c.metadata?.name ?? "", c.data?.v ?? ""]));
    };

    // Before.
    for (const [n, v] of [["s1", "1"], ["s2", "1"], ["s3", "1"], ["s4", "1"]] as const) await core.createNamespacedConfigMap({ namespace: ns, body: src(n, v) });
    await eventually("the derived objects before the outage", async () =>
      JSON.stringify(await derivedState()) === JSON.stringify({ "derived-s1": "1", "derived-s2": "1", "derived-s3": "1", "derived-s4": "1" }), 60_000);

    // Just before the API server stops: update, delete, create — the informer and the worker
    // may or may not see them before it goes.
    await put("s1", "2");
    await core.deleteNamespacedConfigMap({ namespace: ns, name: "s2" });
    await core.createNamespacedConfigMap({ namespace: ns, body: src("s5", "1") });
    const before = informer.stats();
    await cp.stopApiserver();
    const stoppedAt = Date.now();

    // During: the informer keeps retrying, never crashes, keeps serving its cache.
    await sleep(outageMs);
    const during = informer.stats();
    assert.ok(during.errors > before.errors, "the informer noticed the outage and retried");
    assert.equal(informer.hasSynced(), true);
    assert.ok(informer.get("s3", ns), "the cache is still served during the outage");

    await cp.startApiserver();
    const upAt = Date.now();
    // Reconnected: a new watch (or list) delivers a change made after the restart.
    await core.createNamespacedConfigMap({ namespace: ns, body: src("probe", "1") });
    await eventually("the informer to see a change after the restart", () => informer.get("probe", ns), 60_000, 50);
    const recoveredMs = Date.now() - upAt;

    // After.
    await put("s3", "3");
    await core.deleteNamespacedConfigMap({ namespace: ns, name: "s4" });
    await core.createNamespacedConfigMap({ namespace: ns, body: src("s6", "1") });
    await put("s5", "2");
    await core.deleteNamespacedConfigMap({ namespace: ns, name: "probe" });

    const want = { "derived-s1": "2", "derived-s3": "3", "derived-s5": "2", "derived-s6": "1" };
    await eventually("every change reconciled", async () => JSON.stringify(await derivedState()) === JSON.stringify(want), 90_000);
    const convergedMs = Date.now() - upAt;

    // The informer's cache matches the server.
    const server = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: "role=source" });
    const serverView = Object.fromEntries(server.items.map((c) => [c.metadata?.name, c.metadata?.resourceVersion]));
    await eventually("the cache to match the server", () =>
      JSON.stringify(Object.fromEntries(informer.list().map((c) => [c.metadata?.name, c.metadata?.resourceVersion])).valueOf()) ===
      JSON.stringify(Object.fromEntries(Object.entries(serverView).sort())) || undefined, 10_000);
    assert.deepEqual(Object.fromEntries(informer.list().map((c) => [c.metadata?.name, c.metadata?.resourceVersion]).sort()), Object.fromEntries(Object.entries(serverView).sort()));

    const end = informer.stats();
    assert.ok(end.watches > during.watches, "the watch was re-established");
    assert.deepEqual(unhandled, [], "no unhandled rejections");
    queue.shutdown();
    await informer.stop();
    await workers;
    t.diagnostic(`outage ${Math.round((upAt - stoppedAt) / 1000)} s; informer saw a post-restart change ${recoveredMs} ms after the API server was ready; ` +
      `all changes reconciled ${convergedMs} ms after it was ready; informer: ${end.lists} lists (${end.gone} after 410 Gone), ${end.watches} watches, ${end.errors} failed attempts; ` +
      `worker: ${reconciles} reconciles, ${failures} failed`);
  });
});
