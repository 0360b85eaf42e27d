// Benchmark (not a test): the cost of the liveness watch of the primary (issue #14,
// src/clustering/watch.ts) against one real mysqld 9.7 (test/env/mysqld.ts):
//   - one check's latency: COM_PING on a kept admin connection (what the watch does) against
//     a new connection per check (full handshake + ping + close);
//   - the controller-side memory of N watches (N kept connections, one check per second
//     each, all to the same mysqld's admin port, which max_connections does not limit);
//   - the heap of N open engine connections (src/clustering/sql.ts SqlConnection, with one
//     statement-cache slot) against N mysql2 connections with its default cache.
//
//   node bench/primary-watch.ts          # N = 500
//   BENCH_N=1000 node bench/primary-watch.ts
import mysql from "mysql2/promise";
import { setTimeout as sleep } from "node:timers/promises";

import { startMysqlds } from "../test/env/mysqld.ts";
import { PingProber, PrimaryWatch } from "../src/clustering/watch.ts";
import { SqlConnection } from "../src/clustering/sql.ts";
import type { SqlTarget } from "../src/clustering/sql.ts";

const N = Number(process.env["BENCH_N"] ?? 500);
const SAMPLES = 300;

function quantiles(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): string => (s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN).toFixed(2);
  return `median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms`;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

const set = await startMysqlds(1);
try {
  const inst = set.instances[0]!;
  const target: SqlTarget = { host: inst.host, port: inst.adminPort, user: "root", password: inst.rootPassword };

  // 1. One check: ping on a kept connection vs a new connection per check.
  const kept = new PingProber(target);
  await kept.check(1000);
  const pingMs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    const r = await kept.check(1000);
    if (r !== "ok") throw new Error(`ping: ${r}`);
    pingMs.push(performance.now() - t);
  }
  kept.close();
  const connectMs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    const c = await mysql.createConnection({ host: target.host, port: target.port, user: target.user, password: target.password, connectTimeout: 1000 });
    await c.ping();
    await c.end();
    connectMs.push(performance.now() - t);
  }

  // 2. N watches at the shipped interval (1 s) for 20 s.
  globalThis.gc?.();
  await sleep(500);
  const before = process.memoryUsage();
  let checks = 0;
  let failed = 0;
  const watch = new PrimaryWatch({ onCheck: (_k, _o, r) => { checks++; if (r !== "ok") failed++; } });
  for (let i = 0; i < N; i++) watch.set(`ns/c${i}`, { ordinal: 0, sql: target }, () => undefined);
  const t0 = Date.now();
  let peakRss = 0;
  while (Date.now() - t0 < 20_000) {
    await sleep(250);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const seconds = (Date.now() - t0) / 1000;
  globalThis.gc?.();
  const during = process.memoryUsage();
  watch.stopAll();

  console.log(`\nliveness watch cost (one mysqld 9.7 on loopback; ${process.env["BENCH_MACHINE"] ?? "this machine"})`);
  console.log(`one check, kept connection (COM_PING): ${quantiles(pingMs)} (${SAMPLES} checks)`);
  console.log(`one check, new connection each time (handshake, ping, close): ${quantiles(connectMs)} (${SAMPLES} checks)`);
  console.log(`${N} watches, 1 s interval, ${seconds.toFixed(0)} s: ${(checks / seconds).toFixed(0)} checks/s, ${failed} failed, ${watch.deferred} ticks deferred at the concurrency bound`);
  console.log(`process memory: RSS ${mib(before.rss)} → ${mib(during.rss)} MiB (peak ${mib(peakRss)}), heap used ${mib(before.heapUsed)} → ${mib(during.heapUsed)} MiB, ` +
    `i.e. ~${(((during.rss - before.rss) / N) / 1024).toFixed(0)} KiB RSS and ~${(((during.heapUsed - before.heapUsed) / N) / 1024).toFixed(0)} KiB heap per watched cluster`);

  // 3. N open connections: mysql2's default statement cache against the engine's.
  const heapOf = async (open: () => Promise<{ close(): Promise<void> }>): Promise<number> => {
    await sleep(1_000);
    globalThis.gc?.();
    const h0 = process.memoryUsage().heapUsed;
    const conns = [];
    for (let i = 0; i < N; i++) conns.push(await open());
    globalThis.gc?.();
    const h1 = process.memoryUsage().heapUsed;
    await Promise.all(conns.map((c) => c.close()));
    return (h1 - h0) / N;
  };
  const plain = await heapOf(async () => {
    const c = await mysql.createConnection({ host: target.host, port: target.port, user: target.user, password: target.password });
    return { close: () => c.end() };
  });
  const engine = await heapOf(() => SqlConnection.open(target));
  console.log(`${N} open connections, heap per connection: mysql2 default ${(plain / 1024).toFixed(0)} KiB, the engine's (SqlConnection) ${(engine / 1024).toFixed(0)} KiB`);
} finally {
  await set.stopAll();
}
