// What the Prometheus Operator would scrape for the chart's PodMonitors (rendered by
// `helm template` with monitoring.enabled), resolved against a list of Pods: per PodMonitor
// endpoint the matching Pods' container ports by name, the operator's target labels
// (namespace, pod, container, endpoint, job <namespace>/<podmonitor>) and the endpoint's
// relabelings on Pod labels. The real node has no Prometheus Operator; this lets a plain
// Prometheus (test/env/prometheus.ts) scrape exactly what the PodMonitors select.
import YAML from "yaml";
import type { V1Pod } from "@kubernetes/client-node";
import type { ScrapeJob } from "./prometheus.ts";

interface Relabeling { sourceLabels?: string[]; targetLabel?: string; regex?: string; replacement?: string; separator?: string }
export interface PodMonitor {
  metadata: { name: string; namespace: string };
  spec: {
    namespaceSelector?: { any?: boolean; matchNames?: string[] };
    selector: { matchLabels?: Record<string, string> };
    podMetricsEndpoints: { port: string; path?: string; honorLabels?: boolean; relabelings?: Relabeling[] }[];
  };
}

/** The PodMonitor documents of a rendered manifest stream. */
export function podMonitorsOf(manifests: string): PodMonitor[] {
  return YAML.parseAllDocuments(manifests).map((d) => d.toJSON() as { kind?: string } | null)
    .filter((d): d is PodMonitor & { kind: string } => d?.kind === "PodMonitor");
}

/** Prometheus's name for a Pod label in service discovery metadata. */
const metaLabel = (label: string) => `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, "_")}`;

function relabel(labels: Record<string, string>, meta: Record<string, string>, r: Relabeling): void {
  if (r.targetLabel === undefined) throw new Error(`relabeling without targetLabel: ${JSON.stringify(r)}`);
  const source = (r.sourceLabels ?? []).map((s) => meta[s] ?? labels[s] ?? "").join(r.separator ?? ";");
  const m = new RegExp(`^(?:${r.regex ?? "(.*)"})$`).exec(source);
  if (!m) return;
  const value = (r.replacement ?? "$1").replace(/\$(\d+)/g, (_, i: string) => m[Number(i)] ?? "");
  if (value === "") delete labels[r.targetLabel];
  else labels[r.targetLabel] = value;
}

/** One scrape job per PodMonitor endpoint, with the running Pods (with an IP) it selects. */
export function podMonitorJobs(monitors: readonly PodMonitor[], pods: readonly V1Pod[]): ScrapeJob[] {
  const jobs: ScrapeJob[] = [];
  for (const pm of monitors) {
    const nsSel = pm.spec.namespaceSelector;
    const selected = pods.filter((p) => {
      const ns = p.metadata?.namespace ?? "";
      if (!(nsSel?.any === true || (nsSel?.matchNames ?? [pm.metadata.namespace]).includes(ns))) return false;
      const labels = p.metadata?.labels ?? {};
      return Object.entries(pm.spec.selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v) && p.status?.podIP;
    });
    for (const [i, ep] of pm.spec.podMetricsEndpoints.entries()) {
      const job = `${pm.metadata.namespace}/${pm.metadata.name}`;
      const targets = selected.flatMap((p) => p.spec?.containers.flatMap((c) => (c.ports ?? [])
        .filter((port) => port.name === ep.port)
        .map((port) => {
          const meta = Object.fromEntries(Object.entries(p.metadata?.labels ?? {}).map(([k, v]) => [metaLabel(k), v]));
          const labels: Record<string, string> = {
            namespace: p.metadata?.namespace ?? "", pod: p.metadata?.name ?? "", container: c.name, endpoint: ep.port, job,
          };
          for (const r of ep.relabelings ?? []) relabel(labels, meta, r);
          return { address: `${p.status?.podIP}:${port.containerPort}`, labels };
        })) ?? []);
      jobs.push({ name: `podMonitor/${job}/${i}`, honorLabels: ep.honorLabels === true, targets });
    }
  }
  return jobs;
}
