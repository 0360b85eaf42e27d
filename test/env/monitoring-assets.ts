// The monitoring assets the chart ships (charts/moco-ts/files, docs/monitoring.md), read as the
// tests check them: every PromQL expression of the Grafana dashboard (Grafana's variables
// replaced by concrete values) and of the alerting rules (with the "signal": the expression
// without its comparisons against constants, which returns data whether or not it fires).
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { repoRoot } from "./procs.ts";

export const monitoringFiles = path.join(repoRoot, "charts", "moco-ts", "files");
export const dashboardFile = path.join(monitoringFiles, "dashboards", "moco-ts.json");
export const rulesFile = path.join(monitoringFiles, "prometheus-rules.yaml");

interface Panel { type: string; title: string; panels?: Panel[]; targets?: { expr?: string }[] }
interface TemplateVar { name: string; type: string; query?: string | { query?: string } }
interface Dashboard { panels: Panel[]; templating: { list: TemplateVar[] } }

export interface DashboardQuery { readonly panel: string; readonly expr: string }

/** Values Grafana would put in the dashboard's variables (as for a 1 h range). */
export interface GrafanaValues { readonly namespace: string; readonly cluster: string }

export function readDashboard(): Dashboard {
  return JSON.parse(fs.readFileSync(dashboardFile, "utf8")) as Dashboard;
}

export function substituteGrafana(expr: string, v: GrafanaValues): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__range", "1h")
    .replaceAll("$__interval", "15s")
    .replaceAll("$namespace", v.namespace)
    .replaceAll("$cluster", v.cluster);
}

/** Every target expression of every panel (rows included), with the variables substituted. */
export function dashboardQueries(v: GrafanaValues): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const walk = (ps: readonly Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) {
        if (t.expr === undefined || t.expr === "") throw new Error(`panel "${p.title}": a target without expr`);
        out.push({ panel: p.title, expr: substituteGrafana(t.expr, v) });
      }
      walk(p.panels ?? []);
    }
  };
  walk(readDashboard().panels);
  return out;
}

/** The query variables: `label_values(SELECTOR, LABEL)` as label and series selector. */
export function dashboardVariables(v: GrafanaValues): { name: string; label: string; selector: string }[] {
  return readDashboard().templating.list.filter((t) => t.type === "query").map((t) => {
    const q = typeof t.query === "string" ? t.query : t.query?.query ?? "";
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q);
    if (!m) throw new Error(`variable ${t.name}: not a label_values(selector, label) query: ${q}`);
    return { name: t.name, selector: substituteGrafana(m[1]!, v), label: m[2]! };
  });
}

export interface AlertRule { readonly alert: string; readonly expr: string; readonly signal: string }

/** `expr` without its comparisons against numeric constants (`x > 60` → `x`). */
export function alertSignal(expr: string): string {
  return expr.replace(/\s*(==|!=|>=|<=|>|<)\s*-?[0-9][0-9.e+]*/g, "").trim();
}

export function alertRules(): AlertRule[] {
  const doc = YAML.parse(fs.readFileSync(rulesFile, "utf8")) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules).map((r) => ({ alert: r.alert ?? r.record ?? "", expr: r.expr, signal: alertSignal(r.expr) }));
}
