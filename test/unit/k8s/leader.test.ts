// The leader elector's algorithm against an in-memory Lease store with optimistic
// concurrency, on a fake clock (the real API server is exercised in test/integration/k8s).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { KubeClient, RequestOptions } from "../../../src/k8s/client.ts";
import { FakeClock } from "./fake-clock.ts";
import { ApiError } from "../../../src/k8s/errors.ts";
import { LeaderElector, type Lease } from "../../../src/k8s/leader.ts";

const silent = pino({ level: "silent" });

class LeaseStore {
  lease: Lease | undefined;
  rv = 1;
  /** Identities whose requests fail (a partitioned candidate). */
  down = new Set<string>();
  client(identity: string): KubeClient {
    return { request: (m: string, p: string, o: RequestOptions) => this.request(identity, m, p, o) } as unknown as KubeClient;
  }
  async request(identity: string, method: string, _path: string, o: RequestOptions = {}): Promise<Lease> {
    if (this.down.has(identity)) throw new Error("ECONNREFUSED");
    const body = structuredClone(o.body) as Lease | undefined;
    switch (method) {
      case "GET":
        if (!this.lease) throw new ApiError(method, _path, 404, { reason: "NotFound" });
        return structuredClone(this.lease);
      case "POST":
        if (this.lease) throw new ApiError(method, _path, 409, { reason: "AlreadyExists" });
        this.lease = { ...body, metadata: { ...body?.metadata, resourceVersion: String(++this.rv) } };
        return structuredClone(this.lease);
      case "PUT":
        if (body?.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) throw new ApiError(method, _path, 409, { reason: "Conflict" });
        this.lease = { ...body, metadata: { ...body?.metadata, resourceVersion: String(++this.rv) } };
        return structuredClone(this.lease);
    }
    throw new Error(`unexpected ${method}`);
  }
}

function candidate(store: LeaseStore, clock: FakeClock, identity: string, log: string[], releaseOnStop = true) {
  return new LeaderElector(store.client(identity), {
    namespace: "sys", name: "moco", identity, clock, logger: silent, releaseOnStop,
    leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000,
    onStartedLeading: () => { log.push(`${identity} started`); },
    onStoppedLeading: () => { log.push(`${identity} stopped`); },
  });
}

describe("LeaderElector (in-memory Lease)", () => {
  it("one leader at a time; release on stop hands over at the next retry", async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const log: string[] = [];
    const a = candidate(store, clock, "a", log);
    const b = candidate(store, clock, "b", log);
    void a.start();
    await clock.advance(0);
    void b.start();
    await clock.advance(60_000);
    assert.deepEqual(log, ["a started"]);
    assert.equal(a.isLeader(), true);
    assert.equal(b.isLeader(), false);
    assert.equal(b.getLeader(), "a");
    assert.equal(store.lease?.spec?.holderIdentity, "a");
    await a.stop();
    assert.equal(store.lease?.spec?.holderIdentity, "", "released");
    await clock.advance(2_400 + 1);
    assert.deepEqual(log, ["a started", "a stopped", "b started"]);
    assert.equal(store.lease?.spec?.leaseTransitions, 1);
    await b.stop();
  });

  it("a leader that cannot renew stops leading after the renew deadline; the other takes over after the lease duration", async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const log: string[] = [];
    const a = candidate(store, clock, "a", log);
    const b = candidate(store, clock, "b", log);
    void a.start();
    await clock.advance(0);
    void b.start();
    await clock.advance(10_000);
    const cutAt = clock.now();
    store.down.add("a");
    const times: Record<string, number> = {};
    while (!(log.includes("a stopped") && log.includes("b started"))) {
      await clock.advance(100);
      for (const e of log) times[e] ??= clock.now() - cutAt;
      assert.ok(clock.now() - cutAt < 60_000, `no handover: ${log.join(", ")}`);
    }
    // a's last renewal was at most one retry period before the cut; it gives up within retry + renew deadline.
    assert.ok((times["a stopped"] ?? 0) <= 2_000 + 10_000 + 100, `a stopped after ${times["a stopped"]} ms`);
    // b must wait out the lease duration after it last saw a renewal.
    assert.ok((times["b started"] ?? 0) >= 15_000 - 2_400, `b started after ${times["b started"]} ms`);
    assert.ok(log.indexOf("a stopped") < log.indexOf("b started"), "never two leaders at once");
    assert.equal(store.lease?.spec?.holderIdentity, "b");
    await a.stop();
    await b.stop();
  });

  it("a candidate that stops without release leaves the lease to expire", async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const log: string[] = [];
    const a = candidate(store, clock, "a", log, false);
    void a.start();
    await clock.advance(0);
    await a.stop();
    assert.equal(store.lease?.spec?.holderIdentity, "a");
  });

  const timings: Array<{ leaseDurationMs?: number; want: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number } }> = [
    { want: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } },
    { leaseDurationMs: 60_000, want: { leaseDurationMs: 60_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } },
    { leaseDurationMs: 4_000, want: { leaseDurationMs: 4_000, renewDeadlineMs: 2_666, retryPeriodMs: 533 } },
    { leaseDurationMs: 1_000, want: { leaseDurationMs: 1_000, renewDeadlineMs: 666, retryPeriodMs: 133 } },
  ];
  for (const t of timings) {
    it(`default renew deadline and retry period for a ${t.leaseDurationMs ?? "default"} ms lease`, () => {
      const e = new LeaderElector(new LeaseStore().client("x"), { namespace: "s", name: "l", identity: "x", ...(t.leaseDurationMs === undefined ? {} : { leaseDurationMs: t.leaseDurationMs }) });
      assert.deepEqual(e.timings, t.want);
    });
  }

  it("validates its timing options", () => {
    const store = new LeaseStore();
    assert.throws(() => new LeaderElector(store.client("x"), { namespace: "s", name: "l", identity: "x", leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }), /leaseDuration/);
    assert.throws(() => new LeaderElector(store.client("x"), { namespace: "s", name: "l", identity: "x", renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }), /retryPeriod/);
  });

  /** A leader whose work ends only when the test says so (after its signal aborted, or never). */
  function slowLeader(store: LeaseStore, clock: FakeClock, identity: string, log: string[], opts: { onWorkNotStopped?: () => void } = {}) {
    let finish: () => void = () => undefined;
    const ended = new Promise<void>((r) => { finish = r; });
    const e = new LeaderElector(store.client(identity), {
      namespace: "sys", name: "moco", identity, clock, logger: silent,
      leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000,
      onStartedLeading: async (signal) => {
        log.push(`${identity} started`);
        signal.addEventListener("abort", () => log.push(`${identity} signalled`), { once: true });
        await ended;
        log.push(`${identity} work ended`);
      },
      ...(opts.onWorkNotStopped === undefined ? {} : { onWorkNotStopped: opts.onWorkNotStopped }),
    });
    return { e, finish };
  }

  /** A slow leader "a" (leading) and a candidate "b", 10 s into a's term. */
  async function slowLeaderAndCandidate() {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const log: string[] = [];
    const a = slowLeader(store, clock, "a", log);
    const b = candidate(store, clock, "b", log);
    void a.e.start();
    await clock.advance(0);
    void b.start();
    await clock.advance(10_000);
    return { store, clock, log, a, b };
  }

  it("on stop() the leader keeps renewing until its work has ended, and releases only after", async () => {
    const { store, clock, log, a, b } = await slowLeaderAndCandidate();
    const stopped = a.e.stop();
    await clock.advance(0);
    assert.deepEqual(log, ["a started", "a signalled"]);
    assert.equal(a.e.isLeader(), false, "not acting as leader once stopping");
    // The work drains for three lease durations: the Lease stays a's and is renewed.
    for (let t = 0; t < 45_000; t += 5_000) {
      const before = store.lease?.spec?.renewTime;
      await clock.advance(5_000);
      assert.equal(store.lease?.spec?.holderIdentity, "a", `held by a while its work runs (${t} ms)`);
      assert.notEqual(store.lease?.spec?.renewTime, before, `renewed while draining (${t} ms)`);
    }
    assert.ok(!log.includes("b started"), `b started while a's work ran: ${log.join(", ")}`);
    a.finish();
    await stopped;
    assert.equal(store.lease?.spec?.holderIdentity, "", "released after the work ended");
    await clock.advance(2_400 + 1);
    assert.deepEqual(log, ["a started", "a signalled", "a work ended", "b started"]);
    await b.stop();
  });

  it("on a lost lease the work is signalled at once, before anyone else can take the lease", async () => {
    const { store, clock, log, a, b } = await slowLeaderAndCandidate();
    store.down.add("a");
    while (!log.includes("a signalled")) {
      await clock.advance(100);
      assert.ok(!log.includes("b started"), `b started before a was signalled: ${log.join(", ")}`);
    }
    a.finish();
    await clock.advance(20_000);
    assert.deepEqual(log, ["a started", "a signalled", "a work ended", "b started"]);
    await a.e.stop();
    await b.stop();
  });

  it("work still running after a lost lease is reported to onWorkNotStopped once its bound has passed", async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const log: string[] = [];
    let notStoppedAt: number | undefined;
    const a = slowLeader(store, clock, "a", log, { onWorkNotStopped: () => { notStoppedAt = clock.now(); } });
    void a.e.start();
    await clock.advance(0);
    store.down.add("a");
    let signalledAt: number | undefined;
    while (notStoppedAt === undefined) {
      await clock.advance(100);
      if (log.includes("a signalled")) signalledAt ??= clock.now();
      assert.ok(clock.now() < 1_700_000_000_000 + 60_000, "never reported");
    }
    assert.ok(signalledAt !== undefined);
    // leaseDuration − renewDeadline = 5 s after the loss.
    assert.ok(notStoppedAt - signalledAt >= 5_000 && notStoppedAt - signalledAt <= 5_100, `reported ${notStoppedAt - signalledAt} ms after the loss`);
    a.finish();
    await a.e.stop();
  });
});
