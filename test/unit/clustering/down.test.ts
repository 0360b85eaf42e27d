// A primary that is down for everyone (issue #14; docs/clustering.md "A mysqld that is down"):
// the status tries of a pass end at once when they are refused and the kubelet reports the
// mysqld container not running (fetchInstanceStatusHedged's `isStopped`), and only then.
// The tries of a primary the liveness watch reports silent during the pass end at once
// (`abandonWhen`), and only then.
// Loopback: a port nothing listens on (refused) and a listener that never greets (silent).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";

import { fetchInstanceStatusHedged, isRefused } from "../../../src/clustering/observe.ts";
import type { ClusteringLogger } from "../../../src/clustering/ports.ts";
import { PassConnections } from "../../../src/clustering/sql.ts";

// Addresses in 127/8 that nothing else here uses.
const SILENT_HOST = "127.88.15.1";
const REFUSING_HOST = "127.88.15.2";

/** Counts the tries a fetch started (its debug log lines); `infos` keeps the info messages. */
function countingLogger(): { logger: ClusteringLogger; tries: () => number; infos: string[]; debugs: string[] } {
  let n = 0;
  const infos: string[] = [];
  const debugs: string[] = [];
  const logger: ClusteringLogger = {
    debug: (_o, msg) => {
      if (msg === "trying the instance status") n++;
      debugs.push(msg ?? "");
    },
    info: (_o, msg) => void infos.push(msg ?? ""),
    warn: () => undefined,
    error: () => undefined,
  };
  return { logger, tries: () => n, infos, debugs };
}

describe("fetchInstanceStatusHedged: down (refused, and the kubelet says mysqld is not running)", () => {
  let server: net.Server;
  let silentPort = 0;
  let refusingPort = 0;
  const sockets = new Set<net.Socket>();
  before(async () => {
    server = net.createServer((s) => { sockets.add(s); s.on("error", () => undefined); });
    await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(0, SILENT_HOST, resolve); });
    silentPort = (server.address() as net.AddressInfo).port;
    // A port just freed on the refusing address: nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => { probe.once("error", reject); probe.listen(0, REFUSING_HOST, resolve); });
    refusingPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const cases: {
    name: string;
    host: () => [string, number];
    stopped: boolean | undefined;
    attempts: number;
    want: { down: boolean; tries: number };
  }[] = [
    { name: "refused, container not running: down after the first try", host: () => [REFUSING_HOST, refusingPort], stopped: true, attempts: 3, want: { down: true, tries: 1 } },
    { name: "refused, container running (a restart in progress): every try, not down", host: () => [REFUSING_HOST, refusingPort], stopped: false, attempts: 3, want: { down: false, tries: 3 } },
    { name: "refused, no kubelet word (isStopped absent): every try, not down", host: () => [REFUSING_HOST, refusingPort], stopped: undefined, attempts: 3, want: { down: false, tries: 3 } },
    { name: "refused, a single short try, container not running: down", host: () => [REFUSING_HOST, refusingPort], stopped: true, attempts: 1, want: { down: true, tries: 1 } },
    { name: "silent (no greeting: a partition, a hung process), container not running: not down", host: () => [SILENT_HOST, silentPort], stopped: true, attempts: 2, want: { down: false, tries: 2 } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const [host, port] = c.host();
      const conns = new PassConnections(() => ({ host, port }), { user: "moco-admin", password: "x" }, { connectTimeoutMs: 300 });
      const { logger, tries } = countingLogger();
      try {
        const out = await fetchInstanceStatusHedged(conns, 0, {
          attempts: c.attempts,
          retryGapMs: 400,
          logger,
          ...(c.stopped === undefined ? {} : { isStopped: () => c.stopped === true }),
        });
        assert.equal(out.status, null);
        assert.equal(out.status === null && out.unreachable, true, "unreachable");
        assert.equal(out.status === null && out.down === true, c.want.down, "down");
        assert.equal(tries(), c.want.tries, "tries started");
      } finally {
        await conns.closeAll();
      }
    });
  }

  const abandonCases: { name: string; reportAfterMs: number | null; want: { tries: number; abandoned: boolean } }[] = [
    { name: "silent, the watch reports it during the first try: no more hedged tries, one short try (silent too: unreachable)", reportAfterMs: 100, want: { tries: 1, abandoned: true } },
    { name: "silent, the watch never reports it: every try", reportAfterMs: null, want: { tries: 3, abandoned: false } },
  ];
  for (const c of abandonCases) {
    it(`abandonWhen: ${c.name}`, async () => {
      const conns = new PassConnections(() => ({ host: SILENT_HOST, port: silentPort }), { user: "moco-admin", password: "x" }, { connectTimeoutMs: c.reportAfterMs === null ? 300 : 30_000 });
      const { logger, tries, infos, debugs } = countingLogger();
      const t0 = performance.now();
      try {
        const out = await fetchInstanceStatusHedged(conns, 0, {
          attempts: 3,
          retryGapMs: 400,
          logger,
          abandonWhen: () => c.reportAfterMs !== null && performance.now() - t0 >= c.reportAfterMs,
          abandonTryMs: 300,
        });
        assert.equal(out.status, null);
        assert.equal(out.status === null && out.unreachable, true, "unreachable");
        assert.equal(out.status === null && out.down === true, false, "not down");
        assert.equal(tries(), c.want.tries, "tries started");
        assert.equal(infos.some((m) => m.includes("its tries end")), c.want.abandoned, "abandoned");
        assert.equal(debugs.includes("the short try failed"), c.want.abandoned, "the short try after the report");
      } finally {
        await conns.closeAll();
      }
    });
  }

  it("isRefused: only ECONNREFUSED", () => {
    const table: [unknown, boolean][] = [
      [{ code: "ECONNREFUSED" }, true],
      [{ code: "ETIMEDOUT" }, false],
      [{ code: "ECONNRESET" }, false],
      [new Error("x"), false],
      [null, false],
    ];
    for (const [e, want] of table) assert.equal(isRefused(e), want, JSON.stringify(e));
  });
});
