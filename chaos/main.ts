// `npm run chaos -- [options]`: the fault campaign (issue #13) against a running real node
// (`npm run sandbox`), installing moco-ts and a 3-instance
// MySQLCluster there first when missing. It runs inside the node's network namespace (Pod
// addresses are reachable only there): started outside, it starts itself again in it.
import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { repoRoot } from "../test/env/procs.ts";
import { reinitialiseErrant, runCampaign, type Parts } from "./campaign.ts";
import { errantReplicas, reinitialiseInstance } from "./kube.ts";
import { summarize, type FaultResult } from "./checker.ts";
import { CHECK_KINDS, FAILOVER_KINDS, FAULT_KINDS, faultKind } from "./faults.ts";
import { faultLine, reportText, table, writeReport } from "./report.ts";
import { clusterOptions, inNodeNetns, openSession } from "./session.ts";
import { ensureCluster, installMoco } from "./setup.ts";

const program = clusterOptions(new Command("chaos"))
  .option("--node <name>", "the real node (default: the one `npm run sandbox` starts)", process.env.MOCO_TS_SANDBOX_NODE ?? "moco-ts-sandbox")
  .option("--seed <n>", "the random seed (printed; the same seed picks the same faults)")
  .option("--faults <n>", "how many faults", "200")
  .option("--clusters <n>", "run against this many 3-instance clusters at once (--cluster, --cluster-2, ...): their own faults overlap, the node's and the controller's run alone", "1")
  .option("--kinds <list>", "only these fault kinds (comma-separated names)")
  .option("--minutes <n>", "no new fault after this many minutes (the run reports what ran)")
  .option("--each", "every kind (of --kinds) once, in a seeded random order, instead of --faults random picks")
  .option("--check-interval <d>", "the chart's checkInterval when installing", "10s")
  .option("--settle <s>", "Healthy must hold this long before the next fault (s; more than the check interval)", "15")
  .option("--no-repair", "leave an instance reported errant as it is (every later fault of its cluster then fails to come back)")
  .option("--short", "short faults (10 s partitions and stops): the test suite's version")
  .option("--report <file>", "write the table to this Markdown file (between chaos markers)")
  .option("--json <file>", "write the results as JSON")
  .option("--list", "list the fault kinds");
program.parse();
const o = program.opts<{
  node: string; seed?: string; faults: string; clusters: string; kinds?: string; each?: boolean; minutes?: string; namespace: string; cluster: string; checkInterval: string;
  recoveryTimeout: string; settle: string; repair: boolean; short?: boolean; report?: string; json?: string; list?: boolean;
}>();

if (o.list) {
  for (const k of FAULT_KINDS) console.log(k.name);
  for (const k of FAILOVER_KINDS) console.log(`${k.name} (only with --kinds; bench/failover.ts)`);
  for (const k of CHECK_KINDS) console.log(`${k.name} (only with --kinds)`);
  process.exit(0);
}

const { layout, kube } = inNodeNetns(o.node, import.meta.filename);

const log = (m: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${m}`);
const seed = o.seed !== undefined ? Number(o.seed) : Math.floor(Math.random() * 2 ** 31);
const kinds = o.kinds ? o.kinds.split(",").map((k) => faultKind(k.trim())) : FAULT_KINDS;
log(`chaos: seed ${seed}, ${o.each ? `each of ${kinds.length} kinds once` : `${o.faults} faults`}${o.minutes ? ` (at most ${o.minutes} min)` : ""} on node ${o.node} (rerun with --seed ${seed})`);

await installMoco(kube, { checkInterval: o.checkInterval }, log);
const names = Array.from({ length: Number(o.clusters) }, (_, i) => (i === 0 ? o.cluster : `${o.cluster}-${i + 1}`));
await Promise.all(names.map(async (c) => {
  // Left errant by an earlier run: re-initialised first (it would never become Healthy).
  const errant = o.repair ? await errantReplicas(kube, o.namespace, c).catch(() => []) : [];
  for (const i of errant) await reinitialiseInstance(kube, o.namespace, c, i);
  if (errant.length) log(`MySQLCluster ${o.namespace}/${c}: errant [${errant.join(",")}] re-initialised (PVC and Pod deleted)`);
  await ensureCluster(kube, o.namespace, c, log);
}));
// Each cluster's faults come from its own generator (seed, seed + 1, ...).
const sessions = await Promise.all(names.map((c, i) => openSession({ layout, kube, namespace: o.namespace, cluster: c, seed: seed + i, short: o.short ?? false, log })));
const settleMs = Number(o.settle) * 1000;
const recoveryTimeoutMs = Number(o.recoveryTimeout) * 1000;
// An old primary that kept a commit nobody acknowledged comes back errant and stays so until it is
// re-initialised (docs/reliability.md): the campaign does that, and the fault counts as not recovered.
const repair = o.repair ? (p: Parts) => reinitialiseErrant(p, recoveryTimeoutMs, settleMs) : undefined;
const started = Date.now();
const progress: FaultResult[] = [];
const results = await runCampaign(sessions, {
  faults: Number(o.faults), kinds, recoveryTimeoutMs, each: o.each ?? false, repair,
  deadline: o.minutes ? Date.now() + Number(o.minutes) * 60_000 : undefined, settleMs,
}, (r) => {
  log(faultLine(r));
  // Kept up to date as the run goes: a run stopped early still leaves what it measured.
  if (o.json) { progress.push(r); fs.writeFileSync(o.json, JSON.stringify({ seed, clusters: names, partial: true, results: progress }, null, 2)); }
});

// The final check: every acknowledged insert on each cluster's final primary.
const finals = await Promise.all(sessions.map((x) => x.finish()));
const lostTotal = finals.some((f) => f.lostTotal < 0) ? -1 : finals.reduce((a, f) => a + f.lostTotal, 0);
const primary = finals.map((f) => f.primary ?? "(none)").join(", ");
const sum = (f: (x: (typeof sessions)[number]) => number) => sessions.reduce((a, x) => a + f(x), 0);

const info = {
  seed, date: new Date().toISOString().slice(0, 10), acked: sum((x) => x.writer.acked.length), lostTotal,
  dualTotal: sum((x) => x.sampler.counter.total), samples: sum((x) => x.sampler.counter.samples), durationS: (Date.now() - started) / 1000,
  setting: `real node, ${names.length === 1 ? "one 3-instance cluster" : `${names.length} 3-instance clusters at once`}, moco-ts chart with checkInterval ${o.checkInterval}${o.short ? ", short faults" : ""}`,
};
const dualExamples = sessions.flatMap((x) => x.sampler.counter.examples);
console.log(`\n${table(summarize(results))}\n`);
log(`acknowledged inserts ${info.acked}, missing on the final primary (${primary}): ${lostTotal}; ` +
  `samples ${info.samples}, dual-writable ${info.dualTotal}${dualExamples.length ? ` e.g. ${JSON.stringify(dualExamples.slice(0, 3))}` : ""}`);
if (o.report) writeReport(path.resolve(repoRoot, o.report), reportText(info, results));
if (o.json) fs.writeFileSync(o.json, JSON.stringify({ info, results, dualExamples }, null, 2));
process.exit(lostTotal === 0 && info.dualTotal === 0 && results.every((r) => r.recoveredMs !== undefined) ? 0 : 1);
