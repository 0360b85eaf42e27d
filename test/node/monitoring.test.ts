// Monitoring assets and the kubectl-moco single executable on the real node (docs/monitoring.md,
// docs/cli.md): charts/moco-ts installed by helm, a 3-instance MySQLCluster with mysqld_exporter
// (spec.collectors), then
//   - the executable built by scripts/build-kubectl-moco.sh runs `version`, `mysql` (-e and
//     stdin, through the API server's exec endpoint: no kubectl anywhere) and `status --source
//     exec` against it;
//   - a real Prometheus (Debian's), started in the node's network namespace, scrapes exactly
//     what the chart's PodMonitors select (test/env/pod-monitors.ts; the node has no Prometheus
//     Operator), and every PromQL expression of the Grafana dashboard and of the alert rules
//     parses and returns data — except the backup panels, which by design draw nothing for a
//     cluster that has had no backup (asserted: they return nothing here).
// Needs test/env/provision-node.sh and test/env/apt-prometheus.sh. `bash test/run.sh node …`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import type { V1Pod } from "@kubernetes/client-node";
import { eventually } from "../env/eventually.ts";
import { makeTmpDir, repoRoot } from "../env/procs.ts";
import { chartDir, helmTemplate, runHelmAsync } from "../env/helm.ts";
import { startPrometheus, type Prometheus, type ScrapeJob } from "../env/prometheus.ts";
import { podMonitorJobs, podMonitorsOf } from "../env/pod-monitors.ts";
import { alertRules, dashboardQueries, dashboardVariables } from "../env/monitoring-assets.ts";
import { startRealNode, nodeLayout, type RealNode } from "../../sandbox/realnode/node.ts";
import { hostSnapshot, nodeLeftovers, type HostSnapshot } from "../../sandbox/realnode/host-check.ts";
import { mysqlClusterManifest } from "../../sandbox/cluster-manifest.ts";

const NAME = "moco-ts-node-test-mon";
const NS = "demo";
const CLUSTER = "test";
/** Dashboard expressions that only return data once the cluster has had a successful backup. */
const NEEDS_BACKUP = /moco_backup_/;
let node: RealNode;
let snapshot: HostSnapshot;
let prom: Prometheus | undefined;
let work: string;
let bin: string;

function cli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(bin, ["--kubeconfig", node.kubeconfig, "-n", NS, ...args], { env: {}, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? "");
  });
}

async function pods(): Promise<V1Pod[]> {
  return (JSON.parse(await node.kubectl(["get", "pods", "-A", "-o", "json"])) as { items: V1Pod[] }).items;
}

describe("monitoring assets and kubectl-moco on the real node", { timeout: 1_800_000 }, () => {
  before(async () => {
    work = makeTmpDir("node-monitoring-");
    bin = path.join(work, "kubectl-moco");
    // The build runs while the node starts (asynchronously: the node's API server forward is
    // served by this process, so nothing here may block the event loop).
    const build = new Promise<void>((resolve, reject) => {
      execFile("bash", [path.join(repoRoot, "scripts", "build-kubectl-moco.sh"), work], { timeout: 900_000 }, (e, _out, stderr) => {
        if (e) reject(new Error(`build-kubectl-moco.sh failed: ${stderr}`, { cause: e }));
        else resolve();
      });
    });
    build.catch(() => undefined);
    snapshot = hostSnapshot();
    node = await startRealNode({ name: NAME });
    // upgrade --install, retried: on a loaded machine helm's first request can time out.
    await eventually("helm install of the chart", async () => {
      await runHelmAsync(["upgrade", "--install", "moco", chartDir, "--namespace", "moco-system", "--create-namespace", "--kubeconfig", node.kubeconfig, "--wait", "--timeout", "300s"]);
      return true;
    }, 900_000, 5000);
    await node.kubectl(["create", "namespace", NS]);
    const cluster = YAML.parse(mysqlClusterManifest({ name: CLUSTER, namespace: NS, replicas: 3 })) as { spec: Record<string, unknown> };
    // mysqld_exporter is added to the Pods only when spec.collectors is not empty (as MOCO).
    cluster.spec.collectors = ["engine_innodb_status", "info_schema.innodb_metrics"];
    await eventually("the MySQLCluster accepted", () => node.kubectl(["apply", "-f", "-"], JSON.stringify(cluster)), 120_000, 2000);
    await eventually("Available and Healthy", async () => {
      const c = JSON.parse(await node.kubectl(["-n", NS, "get", "mysqlcluster", CLUSTER, "-o", "json"])) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      const is = (t: string) => c.status?.conditions?.some((x) => x.type === t && x.status === "True") ?? false;
      return is("Available") && is("Healthy") ? true : undefined;
    }, 900_000, 3000);
    await build;
  });

  after(async () => {
    await prom?.stop();
    if (node) {
      await node.down();
      assert.deepEqual(nodeLeftovers(nodeLayout(NAME), snapshot), [], "the node left this on the host");
    }
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("the single executable runs mysql and status through exec (no kubectl, no Node.js on PATH)", async () => {
    const v = await cli(["version"]);
    assert.match(v.stdout, /\(single executable\)\n$/);
    const one = await cli(["mysql", CLUSTER, "--", "-N", "-e", "SELECT 1"]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, "1\n");
    // A write on the primary: the replicas then queue and apply it (the agents' replication
    // delay gauge appears, see below).
    const write = await cli(["mysql", "-u", "moco-writable", CLUSTER, "--", "-e",
      "CREATE DATABASE mon; CREATE TABLE mon.t (id INT PRIMARY KEY); INSERT INTO mon.t VALUES (1), (2), (3)"]);
    assert.equal(write.code, 0, write.stderr);
    const stdin = await cli(["mysql", "-i", "--index", "2", CLUSTER, "--", "-N"], "SELECT COUNT(*) FROM mon.t;\n");
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.equal(stdin.stdout, "3\n");
    const failed = await cli(["mysql", CLUSTER, "--", "-e", "SELECT nosuch"]);
    assert.equal(failed.code, 1, "the remote exit code");
    assert.match(failed.stderr, /Unknown column 'nosuch'/);
    const status = await cli(["status", "--source", "exec", "-o", "json", CLUSTER]);
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as { instances: { pod: string; role: string; probeError?: string; readOnly?: string }[] };
    assert.deepEqual(report.instances.map((i) => [i.pod, i.probeError ?? ""]), [0, 1, 2].map((i) => [`moco-${CLUSTER}-${i}`, ""]));
  });

  it("Prometheus scraping the PodMonitors' targets answers every dashboard and alert expression", async () => {
    const monitors = podMonitorsOf(helmTemplate({ values: { monitoring: { enabled: true } } }));
    const jobs: ScrapeJob[] = podMonitorJobs(monitors, await pods());
    const targets = Object.fromEntries(jobs.map((j) => [j.name, j.targets.length]));
    assert.deepEqual(targets, {
      "podMonitor/moco-system/moco-controller/0": 2, "podMonitor/moco-system/moco-agent/0": 3, "podMonitor/moco-system/moco-mysql/0": 3,
    });
    prom = await startPrometheus({ dir: path.join(work, "prometheus"), netns: node.netns, jobs });
    const p = prom;
    await eventually("every target scraped", async () => {
      const up = await p.query("up == 1");
      return up.length === 8 && (await p.unhealthyTargets()).length === 0 ? true : undefined;
    }, 120_000, 2000);

    const values = { namespace: NS, cluster: CLUSTER };
    const queries = dashboardQueries(values);
    assert.ok(queries.length >= 30, `${queries.length} dashboard expressions`);
    const withData = queries.filter((q) => !NEEDS_BACKUP.test(q.expr));
    // Rates need two samples in their window: wait until every expression has data.
    await eventually("every dashboard expression returns data", async () => {
      for (const q of withData) if ((await p.query(q.expr)).length === 0) return undefined;
      return true;
    }, 240_000, 5000).catch(async (e: unknown) => {
      const empty: string[] = [];
      for (const q of withData) if ((await p.query(q.expr)).length === 0) empty.push(`${q.panel}: ${q.expr}`);
      throw new Error(`${String(e)}\nwithout data:\n${empty.join("\n")}`);
    });
    for (const q of queries.filter((x) => NEEDS_BACKUP.test(x.expr))) {
      assert.deepEqual(await p.query(q.expr), [], `${q.panel}: nothing drawn before the first backup (${q.expr})`);
    }
    const primary = await p.query(queries.find((q) => q.panel === "Primary instance")!.expr);
    assert.deepEqual(primary.map((s) => s.metric.index), ["0"], "the primary is instance 0");
    for (const v of dashboardVariables(values)) {
      assert.deepEqual(await p.labelValues(v.label, v.selector), [v.name === "namespace" ? NS : CLUSTER], `variable ${v.name}`);
    }

    const rules = alertRules();
    assert.ok(rules.length >= 8);
    for (const r of rules) {
      await p.query(r.expr); // parses and evaluates
      assert.notEqual((await p.query(r.signal)).length, 0, `${r.alert}: its signal ${r.signal} returns data`);
    }
    // A Healthy cluster fires none of the state alerts.
    for (const a of ["MOCOClusterUnavailable", "MOCOClusterNotHealthy", "MOCOErrantReplicas", "MOCOMySQLDown", "MOCOBackupTooOld", "MOCOClusteringStopped"]) {
      assert.deepEqual(await p.query(rules.find((r) => r.alert === a)!.expr), [], `${a} does not fire`);
    }
  });
});
