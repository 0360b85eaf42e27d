// The informer's re-list path on a real API server: a TCP proxy cuts the informer off while
// objects change and etcd compacts (watch cache off, compaction every second), so the
// informer's resourceVersion is gone when it reconnects: the server answers 410, the
// informer lists again and delivers what it missed — including deletes whose final state it
// never saw (finalStateUnknown).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../../env/kube.ts";
import { KubeClient } from "../../../src/k8s/client.ts";
import { Informer } from "../../../src/k8s/informer.ts";
import { resources } from "../../../src/k8s/resource.ts";
import { eventually, quiet, sleep } from "./helpers.ts";

/** A TCP proxy that can cut every connection and refuse new ones. */
async function startProxy(target: URL): Promise<{ port: number; block(): void; unblock(): void; close(): Promise<void> }> {
  let blocked = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    if (blocked) { c.destroy(); return; }
    const u = net.connect(Number(target.port), target.hostname);
    for (const s of [c, u]) { sockets.add(s); s.on("close", () => sockets.delete(s)); s.on("error", () => undefined); }
    c.pipe(u); u.pipe(c);
    c.on("close", () => u.destroy()); u.on("close", () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    block() { blocked = true; for (const s of sockets) s.destroy(); },
    unblock() { blocked = false; },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

describe("informer re-list after 410 Gone (real API server)", () => {
  let cp: ControlPlane;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let core: k8s.CoreV1Api;
  before(async () => {
    cp = await startControlPlane({ controllerManager: false, apiserverFlags: ["--watch-cache=false", "--etcd-compaction-interval=1s"] });
    proxy = await startProxy(new URL(cp.server));
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "relist" } } });
  });
  after(async () => {
    await proxy?.close();
    await cp?.stop();
  });

  it("re-lists and delivers missed adds, updates and deletes (final state unknown)", async (t) => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(fs.readFileSync(cp.kubeconfig, "utf8").replace(cp.server, `https://127.0.0.1:${proxy.port}`));
    const client = new KubeClient(kc, { qps: 0, requestTimeoutMs: 5_000 });
    const inf = new Informer(client, resources.configMaps, { namespace: "relist", logger: quiet, backoff: { initialMs: 200, maxMs: 1_000 } });
    const log: string[] = [];
    inf.addHandler({
      onAdd: (o) => log.push(`add ${o.metadata?.name}`),
      onUpdate: (a, b) => log.push(`update ${b.metadata?.name} ${(a as { data?: { v?: string } }).data?.v}->${(b as { data?: { v?: string } }).data?.v}`),
      onDelete: (o, i) => log.push(`delete ${o.metadata?.name}${i.finalStateUnknown ? " (final state unknown)" : ""}`),
    });
    inf.start();
    await inf.waitForSync();
    for (const n of ["a", "b", "c"]) await core.createNamespacedConfigMap({ namespace: "relist", body: { metadata: { name: n }, data: { v: "1" } } });
    await eventually("a, b, c", () => inf.keys().length === 3);
    log.length = 0;

    proxy.block();
    await core.deleteNamespacedConfigMap({ namespace: "relist", name: "b" });
    await core.replaceNamespacedConfigMap({ namespace: "relist", name: "c", body: { metadata: { name: "c" }, data: { v: "2" } } });
    await core.createNamespacedConfigMap({ namespace: "relist", body: { metadata: { name: "d" }, data: { v: "1" } } });
    // Let the API server compact etcd past the informer's resourceVersion.
    for (let i = 0; i < 4; i++) {
      await core.replaceNamespacedConfigMap({ namespace: "relist", name: "a", body: { metadata: { name: "a" }, data: { v: "1" } } });
      await sleep(1_500);
    }
    const cut = inf.stats();
    proxy.unblock();
    const t0 = Date.now();
    // `gone` counts the 410 before the re-list completes (the store still holds a, b, c then):
    // wait for a list completed after the cut.
    await eventually("the re-list", () => inf.stats().gone > 0 && inf.stats().lists > cut.lists, 60_000, 50);
    const ms = Date.now() - t0;
    assert.deepEqual(inf.keys().sort(), ["relist/a", "relist/c", "relist/d"]);
    assert.equal((inf.get("c", "relist") as { data?: { v?: string } }).data?.v, "2");
    assert.ok(log.includes("delete b (final state unknown)"), log.join(", "));
    assert.ok(log.includes("update c 1->2"), log.join(", "));
    assert.ok(log.includes("add d"), log.join(", "));
    assert.ok(inf.stats().lists > cut.lists);
    // And it watches again afterwards.
    await core.createNamespacedConfigMap({ namespace: "relist", body: { metadata: { name: "e" } } });
    await eventually("e", () => inf.get("e", "relist"));
    const s = inf.stats();
    await inf.stop();
    t.diagnostic(`re-listed ${ms} ms after the connection came back; ${s.lists} lists, ${s.gone} after 410, ${s.watches} watches, ${s.errors} failed attempts`);
  });
});
