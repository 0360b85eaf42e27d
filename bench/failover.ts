// Benchmark (not a test; issue #14): failover and switchover as the client sees them, on the
// real node (`npm run sandbox`), with the fault campaign's writer, sampler and checker
// (chaos/). Each kind runs N times (N rounds, every kind once per round in a seeded order)
// with moco-ts's shipped chart defaults, then, in the same run, N times with MOCO's default
// timing (the chart's checkInterval set to MOCO's `--check-interval` default of 1m by
// `helm upgrade`; the bench waits until every controller Pod runs the new flag and one of them
// leads). Prints per kind and half min / median / max client write gap and time back to
// Healthy, lost writes and dual-writable samples, and the ratio of the medians.
//
//   MOCO_TS_SANDBOX_NODE=moco-ts-x npm run sandbox
//   node bench/failover.ts --node moco-ts-x [--n 10] [--kinds full-partition,switchover]
//       [--no-baseline] [--json out.json] [--report docs/performance.md]
//
// Exits non-zero when an acknowledged write was lost, a dual-writable sample was seen or a
// fault did not come back to Healthy; the seed is printed (`--seed` repeats the order).
import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { repoRoot } from "../test/env/procs.ts";
import { reinitialiseErrant, runCampaign, waitHealthy, type Parts } from "../chaos/campaign.ts";
import { summarize, type FaultResult } from "../chaos/checker.ts";
import { faultKind } from "../chaos/faults.ts";
import { table, writeReport } from "../chaos/report.ts";
import { Rng } from "../chaos/rng.ts";
import { clusterOptions, inNodeNetns, openSession } from "../chaos/session.ts";
import { chartCheckIntervalArg, ensureCluster, installMoco } from "../chaos/setup.ts";
import { parseGoDuration } from "../src/util/duration.ts";
import { BENCH_KINDS, benchKindNames, benchOrder, benchReportText, failures, ratioTable, type Half } from "./failover-report.ts";

const program = clusterOptions(new Command("failover"))
  .option("--node <name>", "the real node", process.env["MOCO_TS_NODE"] ?? process.env["MOCO_TS_SANDBOX_NODE"] ?? "moco-ts-sandbox")
  .option("--n <n>", "runs of each kind per half", "10")
  .option("--kinds <list>", `comma-separated: ${Object.keys(BENCH_KINDS).join(", ")} (default: all)`)
  .option("--no-baseline", "only moco-ts's defaults, not the MOCO-timings half")
  .option("--seed <n>", "the seed of the fault order (printed)")
  .option("--settle <s>", "Healthy must hold this long (s; at least the check interval + 5 s is used)", "15")
  .option("--minutes <n>", "no new fault after this many minutes in each half")
  .option("--json <file>", "write the results as JSON (rewritten after every fault)")
  .option("--report <file>", "write the tables to this Markdown file (between failover markers)");
program.parse();
const o = program.opts<{
  node: string; n: string; kinds?: string; baseline: boolean; seed?: string; namespace: string; cluster: string;
  recoveryTimeout: string; settle: string; minutes?: string; json?: string; report?: string;
}>();

const kinds = benchKindNames(o.kinds).map(faultKind);
const n = Number(o.n);
const { layout, kube } = inNodeNetns(o.node, import.meta.filename);
const log = (m: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${m}`);
const seed = o.seed !== undefined ? Number(o.seed) : Math.floor(Math.random() * 2 ** 31);
const rng = new Rng(seed);
log(`failover bench: seed ${seed} (rerun with --seed ${seed}), N = ${n}, kinds: ${kinds.map((k) => k.name).join("; ")}, node ${o.node}`);

const settings: { label: string; values: Record<string, unknown> }[] = [
  { label: "moco-ts defaults", values: {} },
  ...(o.baseline ? [{ label: "MOCO timings", values: { checkInterval: "1m" } }] : []),
];
const halves: Half[] = [];
const finalLost: { label: string; lost: number }[] = [];
const started = Date.now();
const save = () => { if (o.json) fs.writeFileSync(o.json, JSON.stringify({ seed, n, halves, finalLost }, null, 2)); };

for (const s of settings) {
  const arg = chartCheckIntervalArg(s.values);
  const intervalMs = arg ? parseGoDuration(arg.slice("--check-interval=".length)) : 60_000;
  const label = `${s.label} (${arg ?? "--check-interval=1m (default)"})`;
  log(`== ${label}`);
  await installMoco(kube, s.values, log, { upgrade: true });
  await ensureCluster(kube, o.namespace, o.cluster, log);
  const session = await openSession({ layout, kube, namespace: o.namespace, cluster: o.cluster, seed, short: false, log });
  const settleMs = Math.max(Number(o.settle) * 1000, intervalMs + 5000);
  // The controller just restarted: start from a settled Healthy cluster.
  if (await waitHealthy(session, Date.now(), 600_000, settleMs) === undefined) throw new Error(`${label}: the cluster did not become Healthy before the faults`);
  const half: Half = { label, results: [] };
  halves.push(half);
  const order = benchOrder(kinds, n, rng);
  // A fault that did not recover because its old primary came back errant (it kept a commit
  // that was never acknowledged; docs/reliability.md) would spoil every later fault: the errant
  // instances are re-initialised, and the fault stays counted as not recovered.
  const repair = (p: Parts) => reinitialiseErrant(p, 900_000, settleMs);
  await runCampaign(session, {
    faults: order.length, kinds, order, repair, recoveryTimeoutMs: Number(o.recoveryTimeout) * 1000, settleMs,
    deadline: o.minutes ? Date.now() + Number(o.minutes) * 60_000 : undefined,
  }, (r: FaultResult) => {
    half.results.push(r);
    save();
    log(`${r.kind}: ${r.note ?? ""}; gap ${(r.gapMs / 1000).toFixed(1)} s, Healthy ${r.recoveredMs === undefined ? "NOT RECOVERED" : `after ${(r.recoveredMs / 1000).toFixed(1)} s`}, lost ${r.lost}, dual-writable samples ${r.dualWritable}`);
  });
  const fin = await session.finish();
  finalLost.push({ label, lost: fin.lostTotal });
  save();
  log(`${label}: ${session.writer.acked.length} acknowledged inserts, missing on the final primary ${fin.primary ?? "(none)"}: ${fin.lostTotal}; ` +
    `samples ${session.sampler.counter.samples}, dual-writable ${session.sampler.counter.total}`);
  console.log(`\n${label}:\n\n${table(summarize(half.results))}\n`);
}

// Leave the chart's default timing installed.
if (settings.length > 1) await installMoco(kube, settings[0]!.values, log, { upgrade: true });

const fails = failures(halves, finalLost);
if (halves.length >= 2) console.log(`Ratio (medians, ${halves[0]!.label} / ${halves[1]!.label}):\n\n${ratioTable(summarize(halves[0]!.results), summarize(halves[1]!.results))}\n`);
if (o.report) {
  const info = { seed, n, date: new Date().toISOString().slice(0, 10), durationS: (Date.now() - started) / 1000, setting: `real node ${o.node}, MySQLCluster ${o.namespace}/${o.cluster} (3 instances)` };
  writeReport(path.resolve(repoRoot, o.report), benchReportText(info, halves, fails), "failover");
}
if (fails.length > 0) {
  console.error(`FAILED (seed ${seed}):\n  ${fails.join("\n  ")}`);
  process.exit(1);
}
log(`clean (seed ${seed})`);
process.exit(0);
