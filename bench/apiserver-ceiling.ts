// Benchmark (not a test): the control plane's own ceiling for the writes moco-controller makes
// per new MySQLCluster (issue #14), on the control plane bench/controller-scale.ts uses
// (test/env/controller-harness.ts: etcd, kube-apiserver, kube-controller-manager, the
// admission webhooks served by this process; no node).
//
//   node bench/apiserver-ceiling.ts                     # N = 1000, concurrency 8 and 64
//   BENCH_N=1000 BENCH_CONCURRENCY=8,32,128 BENCH_WAIT_PODS=1 node bench/apiserver-ceiling.ts
//
// For each concurrency C, on a fresh control plane: N one-instance MySQLClusters are created
// (32 in flight, through the webhooks: the bench's "apply", timed separately), then C
// workers each take the next cluster and write what a first reconcile writes for it, one
// request after the other as a reconcile does, with the objects of src/controller/builders:
//   - POST of the controller Secret (moco-system), and of a Secret of the agent certificate's size;
//   - server-side applies (field manager moco-controller, force) of the user and my.cnf
//     Secrets, the my.cnf and slow-log ConfigMaps, the ServiceAccount, 3 Services, the StatefulSet;
//   - one PUT of the MySQLCluster's status (ReconcileSuccess for its generation).
// No client rate limit. Printed: requests/s, latency median/p90/p99, the time the N
// clusters' writes took, and when kube-controller-manager had created the N Pods (its own
// writes: Pods, ControllerRevisions, StatefulSet status, PVCs, Events compete for the same
// API server; only with BENCH_WAIT_PODS=1). From it: the floor for N clusters × R requests per cluster on this machine.
import fs from "node:fs";
import type { V1Secret } from "@kubernetes/client-node";
import type { MySQLCluster } from "../src/api/v1beta2/index.ts";
import type { KubeClient } from "../src/k8s/client.ts";
import { resources } from "../src/k8s/resource.ts";
import type { KubeObject } from "../src/k8s/types.ts";
import { applyAsController } from "../src/controller/apply.ts";
import {
  RECONCILE_VERSION, buildControllerSecret, buildHeadlessService, buildMyCnfConfigMap, buildMyCnfSecret, buildPrimaryService,
  buildReplicaService, buildServiceAccount, buildSlowLogConfigMap, buildStatefulSet, buildUserSecret, generatePasswords,
  reconcileSuccessCondition, resolveBuilderOptions, setStatusCondition, type StatusCondition,
} from "../src/controller/builders/index.ts";
import { SYS_NS, clusterManifest, startHarness } from "../test/env/controller-harness.ts";
import { sleep } from "../test/env/procs.ts";

const N = Number(process.env["BENCH_N"] ?? 1000);
const LEVELS = (process.env["BENCH_CONCURRENCY"] ?? "8,64").split(",").map(Number).filter((n) => n > 0);
const CREATE_CONCURRENCY = 32;
const WAIT_PODS = process.env["BENCH_WAIT_PODS"] === "1";

interface LevelResult {
  c: number; createS: number; writesS: number; requests: number; rps: number;
  p50: number; p90: number; p99: number; podsS: number | undefined; byKind: Map<string, number[]>; load: string;
}

const pct = (xs: number[], p: number) => xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

async function pool(n: number, c: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: c }, async () => { for (let i = next++; i < n; i = next++) await fn(i); }));
}

/** The writes of one first reconcile of `cluster`, each timed into `lat` by kind. */
async function reconcileWrites(client: KubeClient, cluster: MySQLCluster, lat: Map<string, number[]>): Promise<void> {
  const timed = async <T>(kind: string, p: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const r = await p();
    const l = lat.get(kind) ?? [];
    l.push(performance.now() - t);
    lat.set(kind, l);
    return r;
  };
  const options = resolveBuilderOptions({ controllerNamespace: SYS_NS });
  const passwords = generatePasswords();
  const ns = cluster.metadata?.namespace ?? "";
  await timed("create controller Secret", () => client.create(resources.secrets, buildControllerSecret(cluster, passwords, options)));
  await timed("apply Secret", () => applyAsController(client, resources.secrets, buildUserSecret(cluster, passwords), undefined));
  await timed("apply Secret", () => applyAsController(client, resources.secrets, buildMyCnfSecret(cluster, passwords), undefined));
  const tls: V1Secret = {
    apiVersion: "v1", kind: "Secret",
    metadata: { name: `moco-${cluster.metadata?.name ?? ""}-grpc`, namespace: ns },
    data: { "ca.crt": Buffer.alloc(1200, 1).toString("base64"), "tls.crt": Buffer.alloc(1400, 2).toString("base64"), "tls.key": Buffer.alloc(1700, 3).toString("base64") },
  };
  await timed("create agent TLS Secret", () => client.create(resources.secrets, tls));
  const mycnf = buildMyCnfConfigMap(cluster, undefined);
  await timed("apply ConfigMap", () => applyAsController(client, resources.configMaps, mycnf.configMap, undefined));
  const slow = buildSlowLogConfigMap(cluster);
  if (slow !== undefined) await timed("apply ConfigMap", () => applyAsController(client, resources.configMaps, slow.configMap, undefined));
  await timed("apply ServiceAccount", () => applyAsController(client, resources.serviceAccounts, buildServiceAccount(cluster), undefined));
  for (const s of [buildHeadlessService(cluster), buildPrimaryService(cluster), buildReplicaService(cluster)]) {
    await timed("apply Service", () => applyAsController(client, resources.services, s, undefined));
  }
  await timed("apply StatefulSet", () => applyAsController(client, resources.statefulSets, buildStatefulSet(cluster, { userMyCnf: undefined, live: undefined }, options), undefined));
  const generation = cluster.metadata?.generation ?? 1;
  const conds = setStatusCondition(undefined, reconcileSuccessCondition(undefined, generation), new Date()) as StatusCondition[];
  await timed("PUT MySQLCluster status", () => client.update(resources.mysqlClusters, {
    ...cluster, status: { currentPrimaryIndex: 0, conditions: conds, reconcileInfo: { generation, reconcileVersion: RECONCILE_VERSION } },
  } as KubeObject & MySQLCluster, { subresource: "status" }));
}

async function main(): Promise<void> {
  const results: LevelResult[] = [];
  for (const c of LEVELS) {
    // A fresh control plane per level: kube-controller-manager's work for the previous level
    // (Pods, PVCs, ControllerRevisions of 1000 StatefulSets) would still be running.
    const h = await startHarness({ apiserverFlags: ["--service-cluster-ip-range", "10.0.0.0/16"] });
    try {
      const ns = `ceiling-${c}`;
      await h.kubectl(["create", "namespace", ns]);
      const clusters: MySQLCluster[] = [];
      const t0 = performance.now();
      await pool(N, CREATE_CONCURRENCY, async (i) => {
        clusters[i] = await h.client.create(resources.mysqlClusters, clusterManifest(ns, `c${i}`, { replicas: 1 }) as MySQLCluster, { namespace: ns });
      });
      const createS = (performance.now() - t0) / 1000;
      process.stderr.write(`ceiling: C=${c}: created ${N} clusters in ${createS.toFixed(1)} s; writing\n`);
      const lat = new Map<string, number[]>();
      const t1 = performance.now();
      await pool(N, c, (i) => reconcileWrites(h.client, clusters[i] as MySQLCluster, lat));
      const writesS = (performance.now() - t1) / 1000;
      // BENCH_WAIT_PODS=1: when had kube-controller-manager's StatefulSet controller created the N Pods?
      let podsS: number | undefined;
      for (let k = 0; WAIT_PODS && k < 600; k++) {
        const pods = await h.client.list(resources.pods, { namespace: ns });
        if (pods.items.length >= N) { podsS = (performance.now() - t1) / 1000; break; }
        await sleep(2000);
      }
      const all = [...lat.values()].flat();
      results.push({ c, createS, writesS, requests: all.length, rps: all.length / writesS, p50: pct(all, 0.5), p90: pct(all, 0.9), p99: pct(all, 0.99), podsS, byKind: lat, load: fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0] ?? "" });
      process.stderr.write(`ceiling: C=${c}: ${all.length} writes in ${writesS.toFixed(1)} s\n`);
    } finally {
      await h.stop();
    }
  }
  console.log(`\nkube-apiserver ceiling for moco-controller's writes (N = ${N} one-instance clusters per level; load average at the end: ${fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")})`);
  console.log("| concurrency | load average (1 min) after | create N clusters s | N clusters' writes s | writes | writes/s | latency median / p90 / p99 ms | N Pods by kcm after s |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(`| ${r.c} | ${r.load} | ${r.createS.toFixed(1)} | ${r.writesS.toFixed(1)} | ${r.requests} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(0)} / ${r.p90.toFixed(0)} / ${r.p99.toFixed(0)} | ${r.podsS === undefined ? (WAIT_PODS ? "> 1200" : "not measured") : r.podsS.toFixed(1)} |`);
  }
  for (const r of results) {
    console.log(`per kind at C=${r.c} (count, median ms): ${[...r.byKind].map(([k, v]) => `${k} ${v.length} ${pct(v, 0.5).toFixed(0)}`).join("; ")}`);
  }
}

main().then(() => process.exit(0), (e: unknown) => { console.error(e); process.exit(1); });
