// The liveness watch of the primary (issue #14): its state machine, the "recently
// unreachable" rule of the next pass, the shared scheduler (one report per run of failures,
// no watch without a target, bounded concurrency) and the ping prober's classification
// against a silent listener and a refusing port on loopback.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

import { PingProber, PrimaryWatch, WATCH_START, stepWatch } from "../../../src/clustering/watch.ts";
import type { CheckResult, Prober, WatchReport, WatchState, WatchTarget } from "../../../src/clustering/watch.ts";
import { recentlyUnreachableFor } from "../../../src/clustering/manager.ts";
import { fetchPlanFor } from "../../../src/clustering/observe.ts";

function run(results: readonly CheckResult[], threshold = 2): { reports: (WatchReport | null)[]; last: WatchState } {
  let state = WATCH_START;
  const reports: (WatchReport | null)[] = [];
  for (const r of results) {
    const step = stepWatch(state, r, threshold);
    state = step.state;
    reports.push(step.report);
  }
  return { reports, last: state };
}

describe("stepWatch", () => {
  const S = { silent: true };
  const F = { silent: false };
  const cases: { name: string; results: CheckResult[]; threshold?: number; reports: (WatchReport | null)[] }[] = [
    { name: "answers never report", results: ["ok", "ok", "ok"], reports: [null, null, null] },
    { name: "one failure does not report", results: ["silent", "ok", "silent", "ok"], reports: [null, null, null, null] },
    { name: "two silent in a row report silent, once", results: ["silent", "silent", "silent", "silent"], reports: [null, S, null, null] },
    { name: "a refusal in the run makes it not silent", results: ["silent", "failed"], reports: [null, F] },
    { name: "refusals report not silent", results: ["failed", "failed", "failed"], reports: [null, F, null] },
    { name: "an answer re-arms the report", results: ["silent", "silent", "ok", "silent", "silent"], reports: [null, S, null, null, S] },
    { name: "failed then silent is not silent", results: ["failed", "silent"], reports: [null, F] },
    { name: "threshold 3", results: ["silent", "silent", "silent", "silent"], threshold: 3, reports: [null, null, S, null] },
    { name: "threshold 1", results: ["failed", "ok", "silent"], threshold: 1, reports: [F, null, S] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(run(c.results, c.threshold).reports, c.reports);
    });
  }
  it("an answer resets the state", () => {
    assert.deepEqual(run(["silent", "silent", "ok"]).last, WATCH_START);
  });
});

describe("recentlyUnreachableFor (the next pass's hint)", () => {
  const now = 1_000_000;
  const cases: { name: string; memo: { ordinals: number[]; until: number } | null; watch: number[]; want: number[] | undefined }[] = [
    { name: "nothing", memo: null, watch: [], want: undefined },
    { name: "an unexpired memo", memo: { ordinals: [0, 2], until: now + 1 }, watch: [], want: [0, 2] },
    { name: "an expired memo", memo: { ordinals: [0], until: now }, watch: [], want: undefined },
    { name: "the watch alone", memo: null, watch: [1], want: [1] },
    { name: "the watch and an expired memo", memo: { ordinals: [0], until: now - 5 }, watch: [1], want: [1] },
    { name: "both, merged", memo: { ordinals: [0, 1], until: now + 30_000 }, watch: [1, 2], want: [0, 1, 2] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const memo = c.memo === null ? null : { ordinals: new Set(c.memo.ordinals), until: c.memo.until };
      const got = recentlyUnreachableFor(memo, now, new Set(c.watch));
      assert.deepEqual(got === undefined ? undefined : [...got].sort(), c.want);
    });
  }
});

describe("fetchPlanFor (the remembered-unreachable rule)", () => {
  const cases: { ordinal: number; primary: number; hint: number[] | undefined; want: "full" | "short" | "skip" }[] = [
    { ordinal: 0, primary: 0, hint: undefined, want: "full" },
    { ordinal: 1, primary: 0, hint: [], want: "full" },
    { ordinal: 0, primary: 0, hint: [0], want: "short" },
    { ordinal: 0, primary: 1, hint: [0], want: "skip" },
    { ordinal: 2, primary: 1, hint: [0], want: "full" },
    { ordinal: 1, primary: 1, hint: [0, 1], want: "short" },
  ];
  for (const c of cases) {
    it(`ordinal ${c.ordinal}, primary ${c.primary}, hint ${JSON.stringify(c.hint)} → ${c.want}`, () => {
      assert.equal(fetchPlanFor(c.ordinal, c.primary, c.hint === undefined ? undefined : new Set(c.hint)), c.want);
    });
  }
});

/** A prober that answers from a script (the last entry repeats) and counts its checks. */
class ScriptedProber implements Prober {
  checks = 0;
  inFlight = 0;
  maxInFlight = 0;
  closed = false;
  private readonly script: readonly CheckResult[];
  private readonly holdMs: number;
  constructor(script: readonly CheckResult[], holdMs = 0) {
    this.script = script;
    this.holdMs = holdMs;
  }
  async check(): Promise<CheckResult> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.holdMs > 0) await sleep(this.holdMs);
    this.inFlight--;
    return this.script[Math.min(this.checks++, this.script.length - 1)]!;
  }
  close(): void {
    this.closed = true;
  }
}

const target = (ordinal: number, host = "10.0.0.1"): WatchTarget => ({ ordinal, sql: { host, port: 33062, user: "moco-admin", password: "x" } });

describe("PrimaryWatch (the shared scheduler)", () => {
  it("reports once after two failures in a row, keeps checking without spinning, re-arms on an answer", async () => {
    const prober = new ScriptedProber(["ok", "silent", "silent", "silent", "silent", "ok", "failed", "failed"]);
    const w = new PrimaryWatch({ intervalMs: 20, prober: () => prober });
    const reports: { ordinal: number; report: WatchReport }[] = [];
    w.set("ns/a", target(0), (ordinal, report) => reports.push({ ordinal, report }));
    try {
      while (prober.checks < 10) await sleep(10);
    } finally {
      w.stopAll();
    }
    assert.deepEqual(reports, [{ ordinal: 0, report: { silent: true } }, { ordinal: 0, report: { silent: false } }]);
    assert.ok(prober.closed);
    assert.equal(w.size, 0);
  });

  it("the same target keeps its watch; another target or null replaces or ends it", () => {
    const made: ScriptedProber[] = [];
    const w = new PrimaryWatch({ intervalMs: 60_000, prober: () => { const p = new ScriptedProber(["ok"]); made.push(p); return p; } });
    const noop = (): void => undefined;
    w.set("ns/a", target(0), noop);
    w.set("ns/a", target(0), noop);
    assert.equal(made.length, 1);
    w.set("ns/a", target(1, "10.0.0.2"), noop);
    assert.equal(made.length, 2);
    assert.ok(made[0]!.closed);
    w.set("ns/a", null, noop);
    assert.ok(made[1]!.closed);
    assert.equal(w.size, 0);
    // A cluster without a reachable primary is never watched.
    w.set("ns/b", null, noop);
    assert.equal(w.size, 0);
    assert.equal(made.length, 2);
  });

  it("interval 0 watches nothing", () => {
    const w = new PrimaryWatch({ intervalMs: 0, prober: () => assert.fail("no prober without a watch") });
    w.set("ns/a", target(0), () => undefined);
    assert.equal(w.size, 0);
  });

  it("bounds the checks in flight over all clusters and defers the ticks beyond", async () => {
    const probers: ScriptedProber[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const w = new PrimaryWatch({
      intervalMs: 30,
      concurrency: 3,
      prober: () => {
        const p = new ScriptedProber(["ok"], 25);
        const check = p.check.bind(p);
        p.check = async () => {
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          try {
            return await check();
          } finally {
            inFlight--;
          }
        };
        probers.push(p);
        return p;
      },
    });
    for (let i = 0; i < 20; i++) w.set(`ns/c${i}`, target(0, `10.0.1.${i}`), () => undefined);
    await sleep(300);
    w.stopAll();
    assert.ok(maxInFlight <= 3, `at most 3 checks at once, saw ${maxInFlight}`);
    assert.ok(w.deferred > 0, "ticks beyond the bound were deferred");
    assert.ok(probers.every((p) => p.maxInFlight <= 1), "one check at a time per cluster");
    assert.ok(probers.some((p) => p.checks > 0));
  });
});

describe("PingProber classification (loopback)", () => {
  // Addresses in 127/8 that nothing else here uses.
  const SILENT_HOST = "127.88.14.1";
  const REFUSING_HOST = "127.88.14.2";
  let server: net.Server;
  let port = 0;
  const sockets = new Set<net.Socket>();
  before(async () => {
    // Accepts TCP and never sends the MySQL greeting: a hung (SIGSTOPped) mysqld.
    server = net.createServer((s) => { sockets.add(s); s.on("error", () => undefined); });
    await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(0, SILENT_HOST, resolve); });
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("no greeting within the timeout is silent", async () => {
    const p = new PingProber({ host: SILENT_HOST, port, user: "moco-admin", password: "x" });
    try {
      assert.equal(await p.check(200), "silent");
    } finally {
      p.close();
    }
  });

  it("a refused connection is failed (not silent)", async () => {
    const p = new PingProber({ host: REFUSING_HOST, port, user: "moco-admin", password: "x" });
    try {
      assert.equal(await p.check(2_000), "failed");
    } finally {
      p.close();
    }
  });
});
