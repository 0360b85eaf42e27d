import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { KubeClient } from "../../../src/k8s/client.ts";
import { FakeClock } from "./fake-clock.ts";
import { ApiError } from "../../../src/k8s/errors.ts";
import { EventRecorder } from "../../../src/k8s/events.ts";
import type { KubeObject } from "../../../src/k8s/types.ts";

const silent = pino({ level: "silent" });

interface Call { op: "create" | "patch"; name: string; namespace?: string; body: Record<string, unknown> }

class FakeEventsApi {
  calls: Call[] = [];
  fail: Error | undefined;
  missing = new Set<string>();
  async create(_r: unknown, obj: KubeObject) {
    if (this.fail) throw this.fail;
    this.calls.push({ op: "create", name: obj.metadata?.name ?? "", namespace: obj.metadata?.namespace, body: obj as Record<string, unknown> });
    return obj;
  }
  async patch(_r: unknown, name: string, namespace: string, _type: string, body: Record<string, unknown>) {
    if (this.fail) throw this.fail;
    if (this.missing.has(name)) throw new ApiError("PATCH", name, 404, { reason: "NotFound" });
    this.calls.push({ op: "patch", name, namespace, body });
    return {};
  }
  client(): KubeClient { return this as unknown as KubeClient; }
}

const cluster: KubeObject = { apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", metadata: { name: "c1", namespace: "ns", uid: "uid-1" } };

describe("EventRecorder", () => {
  it("writes a core/v1 Event with involvedObject, source moco-controller and count 1", async () => {
    const api = new FakeEventsApi();
    const rec = new EventRecorder(api.client(), { clock: new FakeClock(Date.UTC(2025, 0, 1)), host: "h1", logger: silent });
    rec.event(cluster, "Normal", "SwitchOver", "switched to 1");
    await rec.flush();
    assert.equal(api.calls.length, 1);
    const c = api.calls[0] as Call;
    assert.equal(c.op, "create");
    assert.equal(c.namespace, "ns");
    assert.match(c.name, /^c1\.[0-9a-f]+$/);
    assert.deepEqual(c.body.involvedObject, { apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", name: "c1", namespace: "ns", uid: "uid-1" });
    assert.deepEqual(c.body.source, { component: "moco-controller", host: "h1" });
    assert.equal(c.body.reportingComponent, "moco-controller");
    assert.equal(c.body.count, 1);
    assert.equal(c.body.type, "Normal");
    assert.equal(c.body.firstTimestamp, "2025-01-01T00:00:00Z");
  });

  it("host \"\" leaves source.host out; reportingInstance can be set apart (moco-controller: POD_NAME)", async () => {
    const api = new FakeEventsApi();
    const rec = new EventRecorder(api.client(), { clock: new FakeClock(), host: "", reportingInstance: "moco-controller-abc", logger: silent });
    rec.event(cluster, "Warning", "ReconcileFailed", "boom");
    await rec.flush();
    const c = api.calls[0] as Call;
    assert.deepEqual(c.body.source, { component: "moco-controller" });
    assert.equal(c.body.reportingComponent, "moco-controller");
    assert.equal(c.body.reportingInstance, "moco-controller-abc");
  });

  it("aggregates identical events within the window into count and lastTimestamp; a new window starts a new Event", async () => {
    const api = new FakeEventsApi();
    const clock = new FakeClock(Date.UTC(2025, 0, 1));
    const rec = new EventRecorder(api.client(), { clock, aggregationWindowMs: 60_000, logger: silent });
    rec.event(cluster, "Warning", "FailOverFailed", "boom");
    rec.event(cluster, "Warning", "FailOverFailed", "boom");
    await clock.advance(30_000);
    rec.event(cluster, "Warning", "FailOverFailed", "boom");
    rec.event(cluster, "Warning", "FailOverFailed", "other message");
    await rec.flush();
    const first = (api.calls[0] as Call).name;
    assert.deepEqual(api.calls.map((c) => [c.op, c.name === first, c.body.count]), [
      ["create", true, 1], ["patch", true, 2], ["patch", true, 3], ["create", false, 1],
    ]);
    assert.equal((api.calls[2] as Call).body.lastTimestamp, "2025-01-01T00:00:30Z");
    await clock.advance(120_000);
    rec.event(cluster, "Warning", "FailOverFailed", "boom");
    await rec.flush();
    assert.equal(api.calls.at(-1)?.op, "create");
    assert.notEqual(api.calls.at(-1)?.name, first);
  });

  it("creates a new Event when the aggregated one has expired (patch NotFound)", async () => {
    const api = new FakeEventsApi();
    const rec = new EventRecorder(api.client(), { clock: new FakeClock(), logger: silent });
    rec.event(cluster, "Normal", "Cloned", "cloned 2");
    await rec.flush();
    api.missing.add((api.calls[0] as Call).name);
    rec.event(cluster, "Normal", "Cloned", "cloned 2");
    await rec.flush();
    assert.deepEqual(api.calls.map((c) => c.op), ["create", "create"]);
  });

  it("never throws into the caller, even when the API fails or the object is incomplete", async () => {
    const api = new FakeEventsApi();
    api.fail = new Error("ECONNREFUSED");
    const rec = new EventRecorder(api.client(), { clock: new FakeClock(), logger: silent });
    assert.doesNotThrow(() => rec.event(cluster, "Normal", "Writable", "ok"));
    assert.doesNotThrow(() => rec.event({ metadata: {} }, "Normal", "Writable", "ok"));
    await rec.flush();
    assert.equal(api.calls.length, 0);
    api.fail = undefined;
    rec.event(cluster, "Normal", "Writable", "ok");
    await rec.flush();
    assert.equal(api.calls.length, 1, "recovers after failures");
  });

  it("truncates long messages to 1024 characters", async () => {
    const api = new FakeEventsApi();
    const rec = new EventRecorder(api.client(), { clock: new FakeClock(), logger: silent });
    rec.event(cluster, "Warning", "CloneFailed", "x".repeat(5000));
    await rec.flush();
    assert.equal(String((api.calls[0] as Call).body.message).length, 1024);
  });
});
