// The liveness watch of the primary (issue #14): its state machine, the "recently
// unreachable" rule of the next pass, the shared scheduler (one report per run of failures,
// re-armed by the end of a pass that left the same primary watched, with a back-off between
// reports; no watch without a target, bounded concurrency) and the ping prober's classification
// against a silent listener and a refusing port on loopback.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

import { PRIMARY_WATCH_RENUDGE_MS, PingProber, PrimaryWatch, WATCH_START, rearmWatch, stepWatch } from "../../../src/clustering/watch.ts";
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
  const S = { silent: true, repeat: false };
  const F = { silent: false, repeat: false };
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

describe("re-nudge: rearmWatch on a pass's end, stepWatch's back-off", () => {
  // A timeline on the watch's clock (ms): a check and its result, or the end of a pass that
  // started at `started` and left the same primary watched. Threshold 2, back-off 3 000 ms.
  type Ev = { at: number; check: CheckResult } | { at: number; passEnded: number };
  const silentEvery = (from: number, to: number): Ev[] => {
    const out: Ev[] = [];
    for (let at = from; at <= to; at += 1_000) out.push({ at, check: "silent" });
    return out;
  };
  const timeline = (evs: Ev[]): Ev[] => [...evs].sort((a, b) => a.at - b.at || ("passEnded" in a ? -1 : 1));
  function replay(evs: Ev[], renudgeMs = 3_000): { at: number; repeat: boolean; silent: boolean }[] {
    let state = WATCH_START;
    const out: { at: number; repeat: boolean; silent: boolean }[] = [];
    for (const e of timeline(evs)) {
      if ("passEnded" in e) {
        state = rearmWatch(state, e.passEnded);
        continue;
      }
      const step = stepWatch(state, e.check, 2, { now: e.at, renudgeMs });
      state = step.state;
      if (step.report !== null) out.push({ at: e.at, ...step.report });
    }
    return out;
  }
  const cases: { name: string; evs: Ev[]; renudgeMs?: number; want: { at: number; repeat: boolean; silent?: boolean }[] }[] = [
    {
      name: "no pass ends: one report per run (as before)",
      evs: silentEvery(1_000, 20_000),
      want: [{ at: 2_000, repeat: false }],
    },
    {
      name: "the nudged pass fails fast: the next report waits out the back-off",
      evs: [...silentEvery(1_000, 10_000), { at: 2_500, passEnded: 2_100 }],
      want: [{ at: 2_000, repeat: false }, { at: 5_000, repeat: true }],
    },
    {
      name: "the nudged pass hangs 60 s and fails: a report at the next check after its end",
      evs: [...silentEvery(1_000, 70_000), { at: 62_300, passEnded: 2_100 }],
      want: [{ at: 2_000, repeat: false }, { at: 63_000, repeat: true }],
    },
    {
      name: "every pass fails fast: at most one report per back-off, each after a pass ended",
      evs: [
        ...silentEvery(1_000, 12_000),
        { at: 2_200, passEnded: 2_100 },
        { at: 5_200, passEnded: 5_100 },
        { at: 8_200, passEnded: 8_100 },
      ],
      want: [{ at: 2_000, repeat: false }, { at: 5_000, repeat: true }, { at: 8_000, repeat: true }, { at: 11_000, repeat: true }],
    },
    {
      name: "a pass that started before the report does not re-arm it (its nudge is pending)",
      evs: [...silentEvery(1_000, 10_000), { at: 2_500, passEnded: 1_500 }],
      want: [{ at: 2_000, repeat: false }],
    },
    {
      name: "a pass that ends while the primary answers again: an answer re-arms anyway, no back-off",
      evs: [{ at: 1_000, check: "silent" }, { at: 2_000, check: "silent" }, { at: 2_500, passEnded: 2_100 }, { at: 3_000, check: "ok" }, ...silentEvery(4_000, 6_000)],
      want: [{ at: 2_000, repeat: false }, { at: 5_000, repeat: false }],
    },
    {
      name: "a repeat keeps the run's silence: a refusal in the run makes it not silent",
      evs: [{ at: 1_000, check: "silent" }, { at: 2_000, check: "silent" }, { at: 2_500, passEnded: 2_100 }, { at: 3_000, check: "failed" }, ...silentEvery(4_000, 6_000)],
      want: [{ at: 2_000, repeat: false, silent: true }, { at: 5_000, repeat: true, silent: false }],
    },
    {
      name: "back-off 0: the first check after the pass's end reports",
      evs: [...silentEvery(1_000, 4_000), { at: 2_500, passEnded: 2_100 }],
      renudgeMs: 0,
      want: [{ at: 2_000, repeat: false }, { at: 3_000, repeat: true }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = replay(c.evs, c.renudgeMs);
      assert.deepEqual(
        got.map((r) => ({ at: r.at, repeat: r.repeat, ...(c.want.some((w) => w.silent !== undefined) ? { silent: r.silent } : {}) })),
        c.want.map((w) => ({ at: w.at, repeat: w.repeat, ...(c.want.some((x) => x.silent !== undefined) ? { silent: w.silent ?? true } : {}) })),
      );
    });
  }
  it("the shipped back-off lies between 2 and 5 s", () => {
    assert.ok(PRIMARY_WATCH_RENUDGE_MS >= 2_000 && PRIMARY_WATCH_RENUDGE_MS <= 5_000);
  });
  it("rearmWatch leaves an unreported state alone", () => {
    const s = stepWatch(WATCH_START, "silent", 2, { now: 1_000 }).state;
    assert.equal(rearmWatch(s, 5_000), s);
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
    assert.deepEqual(reports, [{ ordinal: 0, report: { silent: true, repeat: false } }, { ordinal: 0, report: { silent: false, repeat: false } }]);
    assert.ok(prober.closed);
    assert.equal(w.size, 0);
  });

  it("a pass's end re-arms the watch of a primary that stays silent (after the back-off)", async () => {
    const prober = new ScriptedProber(["silent"]);
    const w = new PrimaryWatch({ intervalMs: 10, renudgeMs: 40, prober: () => prober });
    const reports: WatchReport[] = [];
    const reportedAt: number[] = [];
    let passStartedAt = -1;
    w.set("ns/a", target(0), (_ordinal, report) => {
      reports.push(report);
      reportedAt.push(performance.now());
      passStartedAt = performance.now();
    });
    try {
      while (reports.length < 1) await sleep(5);
      // No pass ended: however long the primary stays silent, no second report.
      const checks = prober.checks;
      while (prober.checks < checks + 10) await sleep(5);
      assert.equal(reports.length, 1);
      // The nudged pass ends, the primary unchanged: the watch reports again, once.
      w.passEnded("ns/a", passStartedAt);
      while (reports.length < 2) await sleep(5);
      assert.deepEqual(reports[1], { silent: true, repeat: true });
      // The back-off is a lower bound the watch enforces (not a speed measurement).
      // (1 ms of slack: the times here are taken just after the watch's own.)
      assert.ok(reportedAt[1]! - reportedAt[0]! >= 39, `second report ${reportedAt[1]! - reportedAt[0]!} ms after the first`);
      const after2 = prober.checks;
      while (prober.checks < after2 + 10) await sleep(5);
      assert.equal(reports.length, 2, "one report per ended pass");
    } finally {
      w.stopAll();
    }
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
