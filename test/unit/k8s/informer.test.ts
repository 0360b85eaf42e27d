// The informer's list/watch state machine against a scripted fake API (the real API server
// is exercised in test/integration/k8s).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { KubeClient, QueryValue } from "../../../src/k8s/client.ts";
import { FakeClock, flushMicrotasks } from "./fake-clock.ts";
import { ApiError } from "../../../src/k8s/errors.ts";
import { Informer } from "../../../src/k8s/informer.ts";
import { resources } from "../../../src/k8s/resource.ts";
import type { KubeObject } from "../../../src/k8s/types.ts";

const silent = pino({ level: "silent" });

interface Watch { query: Record<string, QueryValue>; onLine: (o: unknown) => void; end: () => void; fail: (e: Error) => void }

class FakeApi {
  objects: KubeObject[] = [];
  rv = 10;
  lists = 0;
  listError: Error | undefined;
  watches: Watch[] = [];
  watchError: Error | undefined;
  failWatches = 0;
  watchAttempts: number[] = [];
  clock: FakeClock | undefined;

  cm(name: string, ns = "ns", labels: Record<string, string> = {}, rv = ++this.rv): KubeObject {
    return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns, labels, resourceVersion: String(rv) } };
  }

  async list() {
    this.lists++;
    if (this.listError) throw this.listError;
    return { metadata: { resourceVersion: String(this.rv) }, items: this.objects.map((o) => structuredClone(o)) };
  }

  watchStream(_path: string, query: Record<string, QueryValue>, onLine: (o: unknown) => void, wo: { signal?: AbortSignal }): Promise<void> {
    this.watchAttempts.push(this.clock?.now() ?? 0);
    if (this.failWatches > 0) { this.failWatches--; return Promise.reject(new Error("ECONNREFUSED")); }
    if (this.watchError) { const e = this.watchError; this.watchError = undefined; return Promise.reject(e); }
    return new Promise((resolve, reject) => {
      const w: Watch = { query, onLine, end: resolve, fail: reject };
      wo.signal?.addEventListener("abort", () => resolve(), { once: true });
      this.watches.push(w);
    });
  }

  get current(): Watch {
    const w = this.watches.at(-1);
    assert.ok(w, "a watch is open");
    return w;
  }

  client(): KubeClient { return this as unknown as KubeClient; }
}

function recorder(inf: Informer) {
  const log: string[] = [];
  inf.addHandler({
    onAdd: (o) => log.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
    onUpdate: (a, b) => log.push(`update ${b.metadata?.name}@${a.metadata?.resourceVersion}->${b.metadata?.resourceVersion}`),
    onDelete: (o, i) => log.push(`delete ${o.metadata?.name}${i.finalStateUnknown ? " (unknown)" : ""}`),
  });
  return log;
}

async function setup(opts: { resyncPeriodMs?: number; transform?: (o: KubeObject) => KubeObject } = {}) {
  const api = new FakeApi();
  api.objects = [api.cm("a", "ns", { app: "x" }), api.cm("b", "other", { app: "y" })];
  const clock = new FakeClock();
  api.clock = clock;
  const inf = new Informer(api.client(), resources.configMaps, { clock, logger: silent, backoff: { initialMs: 100, maxMs: 1000 }, ...opts });
  const log = recorder(inf);
  inf.start();
  await inf.waitForSync();
  await flushMicrotasks();
  return { api, clock, inf, log };
}

describe("Informer (scripted API)", () => {
  it("lists, delivers adds, syncs, and watches from the list's resourceVersion with bookmarks", async () => {
    const { api, inf, log } = await setup();
    assert.equal(inf.hasSynced(), true);
    assert.deepEqual(log, ["add a@11", "add b@12"]);
    assert.equal(api.current.query.resourceVersion, "12");
    assert.equal(api.current.query.allowWatchBookmarks, true);
    assert.equal(inf.get("a", "ns")?.metadata?.resourceVersion, "11");
    assert.deepEqual(inf.list({ namespace: "other" }).map((o) => o.metadata?.name), ["b"]);
    assert.deepEqual(inf.list({ labelSelector: "app=x" }).map((o) => o.metadata?.name), ["a"]);
    assert.deepEqual(inf.list({ labelSelector: { matchLabels: { app: "y" } } }).map((o) => o.metadata?.name), ["b"]);
    await inf.stop();
  });

  it("applies watch events to the cache and handlers (update with old and new)", async () => {
    const { api, inf, log } = await setup();
    log.length = 0;
    api.current.onLine({ type: "ADDED", object: api.cm("c") });
    api.current.onLine({ type: "MODIFIED", object: api.cm("a", "ns", { app: "z" }) });
    api.current.onLine({ type: "DELETED", object: api.cm("b", "other") });
    api.current.onLine({ type: "BOOKMARK", object: { kind: "ConfigMap", metadata: { resourceVersion: "99" } } });
    assert.deepEqual(log, ["add c@13", "update a@11->14", "delete b"]);
    assert.deepEqual(inf.keys().sort(), ["ns/a", "ns/c"]);
    assert.deepEqual(inf.list({ labelSelector: "app=z" }).map((o) => o.metadata?.name), ["a"]);
    assert.equal(inf.stats().lastSyncResourceVersion, "99");
    await inf.stop();
  });

  it("a transform applies to listed and watched objects before the cache and the handlers see them", async () => {
    const strip = (o: KubeObject): KubeObject => {
      if (o.metadata?.labels !== undefined) delete o.metadata.labels;
      return o;
    };
    const seen: KubeObject[] = [];
    const { api, inf } = await setup({ transform: strip });
    inf.addHandler({ onAdd: (o) => seen.push(o), onUpdate: (_a, b) => seen.push(b) });
    api.current.onLine({ type: "ADDED", object: api.cm("c", "ns", { app: "w" }) });
    api.current.onLine({ type: "MODIFIED", object: api.cm("a", "ns", { app: "z" }) });
    for (const k of ["ns/a", "other/b", "ns/c"]) assert.equal(inf.getByKey(k)?.metadata?.labels, undefined, k);
    assert.deepEqual(seen.map((o) => `${o.metadata?.name}:${JSON.stringify(o.metadata?.labels)}`), ["a:undefined", "b:undefined", "c:undefined", "a:undefined"]);
    assert.equal(inf.get("a", "ns")?.metadata?.resourceVersion, "14");
    await inf.stop();
  });

  it("restarts a failed watch after a back-off from the last resourceVersion, without re-listing", async () => {
    const { api, clock, inf } = await setup();
    api.current.onLine({ type: "ADDED", object: api.cm("c") });
    api.current.fail(new Error("ECONNRESET"));
    await flushMicrotasks();
    assert.equal(api.watches.length, 1, "not before the back-off");
    await clock.advance(200);
    assert.equal(api.watches.length, 2);
    assert.equal(api.current.query.resourceVersion, "13");
    assert.equal(api.lists, 1);
    assert.equal(inf.stats().errors, 1);
    await inf.stop();
  });

  it("backs off exponentially (capped) while the server is down, and recovers", async () => {
    const { api, clock, inf } = await setup();
    api.failWatches = 5;
    const t0 = clock.now();
    api.watchAttempts = [];
    api.current.fail(new Error("socket hang up"));
    await clock.advance(10_000);
    const gaps = api.watchAttempts.map((t, i) => t - (i === 0 ? t0 : api.watchAttempts[i - 1] as number));
    assert.deepEqual(gaps, [100, 200, 400, 800, 1000, 1000], "100 ms doubling, capped at 1 s");
    assert.equal(inf.stats().errors, 6);
    api.current.onLine({ type: "ADDED", object: api.cm("after") });
    assert.ok(inf.get("after", "ns"));
    assert.equal(api.lists, 1, "connection errors alone do not force a re-list");
    await inf.stop();
  });

  it("re-lists on a 410 ERROR event: vanished objects are deleted (final state unknown), changed ones updated, unchanged ones silent", async () => {
    const { api, inf, log } = await setup();
    log.length = 0;
    api.objects = [api.objects[0] as KubeObject, api.cm("new")];
    api.current.onLine({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" } });
    await flushMicrotasks();
    assert.equal(api.lists, 2);
    assert.deepEqual(log, ["add new@13", "delete b (unknown)"]);
    assert.equal(inf.stats().gone, 1);
    assert.equal(api.current.query.resourceVersion, "13");
    await inf.stop();
  });

  it("re-lists on an HTTP 410 answer to the watch request", async () => {
    const { api, clock, inf, log } = await setup();
    log.length = 0;
    api.objects = [api.cm("a", "ns", { app: "x" })];
    api.watchError = new ApiError("GET", "/api/v1/configmaps", 410, { reason: "Gone" });
    api.current.end();
    await clock.advance(1000);
    assert.equal(api.lists, 2);
    assert.deepEqual(log, ["update a@11->13", "delete b (unknown)"]);
    await inf.stop();
  });

  it("retries a failing initial list and syncs once it succeeds", async () => {
    const api = new FakeApi();
    api.objects = [api.cm("a")];
    api.listError = new Error("ECONNREFUSED");
    const clock = new FakeClock();
    const inf = new Informer(api.client(), resources.configMaps, { clock, logger: silent, backoff: { initialMs: 100, maxMs: 1000 } });
    inf.start();
    await clock.advance(1000);
    assert.equal(inf.hasSynced(), false);
    assert.ok(api.lists >= 3);
    api.listError = undefined;
    await clock.advance(2000);
    assert.equal(inf.hasSynced(), true);
    await inf.stop();
  });

  it("resync re-delivers every cached object as an update at the configured period", async () => {
    const { clock, inf, log } = await setup({ resyncPeriodMs: 60_000 });
    log.length = 0;
    await clock.advance(59_999);
    assert.deepEqual(log, []);
    await clock.advance(1);
    assert.deepEqual(log.sort(), ["update a@11->11", "update b@12->12"]);
    await clock.advance(60_000);
    assert.equal(log.length, 4);
    assert.equal(inf.stats().resyncs, 2);
    await inf.stop();
  });

  it("a throwing handler does not stop delivery to others; a late handler gets adds for the cache", async () => {
    const { api, inf } = await setup();
    inf.addHandler({ onAdd: () => { throw new Error("bad handler"); } });
    const seen: string[] = [];
    inf.addHandler({ onAdd: (o) => seen.push(o.metadata?.name ?? "") });
    assert.deepEqual(seen.sort(), ["a", "b"]);
    api.current.onLine({ type: "ADDED", object: api.cm("c") });
    assert.deepEqual(seen.sort(), ["a", "b", "c"]);
    await inf.stop();
  });

  it("stop() ends the loop and pending waitForSync callers", async () => {
    const api = new FakeApi();
    api.listError = new Error("down");
    const clock = new FakeClock();
    const inf = new Informer(api.client(), resources.configMaps, { clock, logger: silent });
    inf.start();
    const w = inf.waitForSync();
    await inf.stop();
    await assert.rejects(w, /stopped before it synced/);
  });
});
