// The monitoring assets of charts/moco-ts (docs/monitoring.md): the alert rules pass
// `promtool check rules` and fire (or not) on synthetic series under `promtool test rules`;
// every metric the dashboard and the rules name is one moco-ts exports (controller, agent) or
// mysqld_exporter's; the chart wraps both files (PrometheusRule, dashboard ConfigMap) as its
// values say. That every expression returns data from a real scrape is in test/e2e/backup.test.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { ControllerMetrics } from "../../../src/metrics/index.ts";
import { createAgentMetrics } from "../../../src/agent/metrics.ts";
import { helmTemplate } from "../../env/helm.ts";
import { makeTmpDir } from "../../env/procs.ts";
import { alertRules, alertSignal, dashboardFile, dashboardQueries, rulesFile } from "../../env/monitoring-assets.ts";

const PROMTOOL = "/usr/bin/promtool";

function promtool(args: string[]): string {
  if (!fs.existsSync(PROMTOOL)) throw new Error(`${PROMTOOL} is missing: run test/env/apt-prometheus.sh`);
  try {
    return execFileSync(PROMTOOL, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args[0]} ${args[1]} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`, { cause: e });
  }
}

/** Metric names in a PromQL expression (identifiers followed by a selector, a range or an operator). */
function metricNames(expr: string): string[] {
  const names = expr.replace(/"[^"]*"/g, "\"\"").match(/\b(moco_[a-z_]+|mysql_[a-z_]+|controller_runtime_[a-z_]+|leader_election_[a-z_]+)\b/g) ?? [];
  return [...new Set(names)];
}

describe("alert rules (files/prometheus-rules.yaml)", () => {
  it("pass promtool check rules", () => {
    assert.match(promtool(["check", "rules", rulesFile]), /SUCCESS: 8 rules found/);
  });

  it("fail promtool check rules when an expression does not parse (the check can fail)", () => {
    const dir = makeTmpDir("rules-");
    const bad = path.join(dir, "bad.yaml");
    fs.writeFileSync(bad, fs.readFileSync(rulesFile, "utf8").replace("expr: moco_cluster_available == 0", "expr: moco_cluster_available == == 0"));
    assert.throws(() => promtool(["check", "rules", bad]), /promtool check rules/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("fire on synthetic series as documented (promtool test rules)", () => {
    const dir = makeTmpDir("rules-test-");
    // The rules without their annotations (promtool compares them too; their templates are
    // checked by promtool check rules above).
    const rules = parse(fs.readFileSync(rulesFile, "utf8")) as { groups: { rules: { annotations?: unknown }[] }[] };
    for (const g of rules.groups) for (const r of g.rules) delete r.annotations;
    const ruleCopy = path.join(dir, "rules.yaml");
    fs.writeFileSync(ruleCopy, JSON.stringify(rules));
    const lbl = 'name="db",namespace="shop"';
    const tests = {
      rule_files: [ruleCopy],
      evaluation_interval: "1m",
      tests: [
        {
          interval: "1m",
          input_series: [
            { series: `moco_cluster_available{${lbl}}`, values: "1 0x20" },
            { series: `moco_cluster_healthy{${lbl}}`, values: "1x5 0x20" },
            { series: `moco_cluster_errant_replicas{${lbl}}`, values: "0 0 1x10" },
            { series: `moco_cluster_replicas{${lbl}}`, values: "3x30" },
            { series: `moco_cluster_ready_replicas{${lbl}}`, values: "3 2x30" },
            { series: `moco_instance_replication_delay_seconds{name="db",namespace="shop",index="2"}`, values: "0 120x20" },
            { series: 'mysql_up{namespace="shop",pod="moco-db-0"}', values: "1 0x10" },
            { series: `moco_cluster_clustering_stopped{${lbl}}`, values: "0x30" },
          ],
          alert_rule_test: [
            { eval_time: "3m", alertname: "MOCOClusterUnavailable", exp_alerts: [] },
            { eval_time: "7m", alertname: "MOCOClusterUnavailable", exp_alerts: [{ exp_labels: { severity: "critical", name: "db", namespace: "shop" } }] },
            { eval_time: "12m", alertname: "MOCOClusterNotHealthy", exp_alerts: [] },
            { eval_time: "16m", alertname: "MOCOClusterNotHealthy", exp_alerts: [{ exp_labels: { severity: "warning", name: "db", namespace: "shop" } }] },
            { eval_time: "4m", alertname: "MOCOErrantReplicas", exp_alerts: [{ exp_labels: { severity: "critical", name: "db", namespace: "shop" } }] },
            { eval_time: "17m", alertname: "MOCOReplicasNotReady", exp_alerts: [{ exp_labels: { severity: "warning", name: "db", namespace: "shop" } }] },
            { eval_time: "7m", alertname: "MOCOReplicationDelay", exp_alerts: [{ exp_labels: { severity: "warning", name: "db", namespace: "shop", index: "2" } }] },
            { eval_time: "7m", alertname: "MOCOMySQLDown", exp_alerts: [{ exp_labels: { severity: "warning", namespace: "shop", pod: "moco-db-0" } }] },
            { eval_time: "20m", alertname: "MOCOClusteringStopped", exp_alerts: [] },
          ],
        },
        {
          // one backup at 1 h (then none), a cluster that never had one (0)
          interval: "5m",
          input_series: [
            { series: `moco_backup_timestamp{${lbl}}`, values: "3600x400" },
            { series: 'moco_backup_timestamp{name="fresh",namespace="shop"}', values: "0x400" },
          ],
          alert_rule_test: [
            { eval_time: "20h", alertname: "MOCOBackupTooOld", exp_alerts: [] },
            { eval_time: "30h", alertname: "MOCOBackupTooOld", exp_alerts: [{ exp_labels: { severity: "warning", name: "db", namespace: "shop" } }] },
          ],
        },
      ],
    };
    const file = path.join(dir, "tests.yaml");
    fs.writeFileSync(file, JSON.stringify(tests));
    try {
      assert.match(promtool(["test", "rules", file]), /SUCCESS/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("alertSignal drops comparisons against constants only", () => {
    const cases: [string, string][] = [
      ["moco_cluster_available == 0", "moco_cluster_available"],
      ["max by (namespace, name, index) (x) > 60", "max by (namespace, name, index) (x)"],
      ["(time() - t) > 93600 and t > 0", "(time() - t) and t"],
      ["a - b > 0", "a - b"],
      ["a < b", "a < b"],
    ];
    for (const [expr, want] of cases) assert.equal(alertSignal(expr), want, expr);
  });
});

describe("metric names of the dashboard and the rules", () => {
  const controller = new ControllerMetrics({ processMetrics: false });
  const agent = createAgentMetrics("c", 0, { defaultMetrics: false });
  agent.applyDelayGauge({ kind: "set", seconds: 1 });
  const exported = new Set<string>();
  for (const r of [controller.registry, agent.registry]) {
    for (const m of r.getMetricsAsArray()) {
      exported.add(m.name);
      if (m.constructor.name === "Histogram") exported.add(`${m.name}_bucket`);
    }
  }
  const exprs = [...dashboardQueries({ namespace: "ns", cluster: "c" }).map((q) => q.expr), ...alertRules().map((r) => r.expr)];

  it("every moco_*, controller_runtime_* and leader_election_* name is exported by moco-ts", () => {
    const unknown = exprs.flatMap(metricNames).filter((n) => !n.startsWith("mysql_") && !exported.has(n));
    assert.deepEqual([...new Set(unknown)], []);
  });

  it("the mysqld_exporter names are the exporter's (mysql_up, global status/variables)", () => {
    const mysql = [...new Set(exprs.flatMap(metricNames).filter((n) => n.startsWith("mysql_")))];
    assert.ok(mysql.includes("mysql_up"));
    for (const n of mysql) assert.match(n, /^mysql_(up|global_status_[a-z_]+|global_variables_[a-z_]+)$/, n);
  });

  it("the dashboard covers clusters, primary changes, errant replicas, replication lag, backups and mysqld", () => {
    const text = exprs.join("\n");
    for (const m of ["moco_cluster_available", "moco_cluster_healthy", "moco_cluster_failover_total", "moco_cluster_switchover_total",
      "moco_cluster_errant_replicas", "moco_instance_replication_delay_seconds", "moco_backup_timestamp", "moco_backup_elapsed_seconds", "mysql_up"]) {
      assert.ok(text.includes(m), m);
    }
  });
});

describe("the chart's monitoring objects", () => {
  interface Obj { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: unknown; data?: Record<string, string> }
  const render = (monitoring: Record<string, unknown>) =>
    parseAllDocuments(helmTemplate({ values: { monitoring } })).map((d) => d.toJSON() as Obj | null).filter((o): o is Obj => o !== null);

  it("a PrometheusRule with the rule file's groups and a ConfigMap with the dashboard, when monitoring.enabled", () => {
    const objs = render({ enabled: true, prometheusRule: { labels: { release: "prom" } }, grafanaDashboard: { namespace: "grafana", annotations: { grafana_folder: "MySQL" } } });
    const rule = objs.find((o) => o.kind === "PrometheusRule");
    assert.ok(rule);
    assert.equal(rule.metadata.namespace, "moco-system");
    assert.equal(rule.metadata.labels?.release, "prom");
    assert.deepEqual(rule.spec, parse(fs.readFileSync(rulesFile, "utf8")));
    const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === "moco-ts-grafana-dashboard");
    assert.ok(cm);
    assert.equal(cm.metadata.namespace, "grafana");
    assert.equal(cm.metadata.labels?.grafana_dashboard, "1");
    assert.deepEqual(cm.metadata.annotations, { grafana_folder: "MySQL" });
    assert.deepEqual(JSON.parse(cm.data!["moco-ts.json"]!), JSON.parse(fs.readFileSync(dashboardFile, "utf8")));
  });

  const toggles: { name: string; monitoring: Record<string, unknown>; rule: boolean; dashboard: boolean }[] = [
    { name: "nothing by default", monitoring: {}, rule: false, dashboard: false },
    { name: "both with monitoring.enabled", monitoring: { enabled: true }, rule: true, dashboard: true },
    { name: "no rule with prometheusRule.enabled=false", monitoring: { enabled: true, prometheusRule: { enabled: false } }, rule: false, dashboard: true },
    { name: "no dashboard with grafanaDashboard.enabled=false", monitoring: { enabled: true, grafanaDashboard: { enabled: false } }, rule: true, dashboard: false },
  ];
  for (const t of toggles) {
    it(t.name, () => {
      const objs = render(t.monitoring);
      assert.equal(objs.some((o) => o.kind === "PrometheusRule"), t.rule);
      assert.equal(objs.some((o) => o.kind === "ConfigMap" && o.metadata.name === "moco-ts-grafana-dashboard"), t.dashboard);
    });
  }

  it("the controller's PodMonitor keeps the clusters' namespace label (honorLabels)", () => {
    const pm = render({ enabled: true }).find((o) => o.kind === "PodMonitor" && o.metadata.name === "moco-controller") as Obj & { spec: { podMetricsEndpoints: { honorLabels?: boolean }[] } };
    assert.equal(pm.spec.podMetricsEndpoints[0]!.honorLabels, true);
  });
});
