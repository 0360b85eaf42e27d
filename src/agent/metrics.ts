// Agent metrics (docs/agent.md#metrics): prefix moco_instance_, labels name (cluster) and
// index (ordinal), plus the default process and Node.js runtime metrics.
import { Counter, Gauge, Registry, Summary, collectDefaultMetrics } from "prom-client";

import type { DelayGaugeAction } from "./readiness.ts";

export const METRIC_PREFIX = "moco_instance_";

const LABELS = ["name", "index"] as const;
type Label = (typeof LABELS)[number];

export interface AgentMetrics {
  readonly registry: Registry;
  readonly cloneCount: Counter<Label>;
  readonly cloneFailureCount: Counter<Label>;
  readonly cloneDurationSeconds: Summary<Label>;
  readonly cloneInProgress: Gauge<Label>;
  readonly logRotationCount: Counter<Label>;
  readonly logRotationFailureCount: Counter<Label>;
  readonly logRotationDurationSeconds: Summary<Label>;
  /** Self-fences (docs/clustering.md#self-fencing-moco-ts-issue-13). */
  readonly selfFenceCount: Counter<Label>;
  readonly selfFenceFailureCount: Counter<Label>;
  /** Registered only while a replica has queued transactions (docs/agent.md#probes step 6). */
  readonly replicationDelaySeconds: Gauge<Label>;
  /** The label values of this instance. */
  readonly labels: Readonly<Record<Label, string>>;
  applyDelayGauge(action: DelayGaugeAction): void;
}

export function createAgentMetrics(clusterName: string, ordinal: number, opts: { readonly defaultMetrics?: boolean } = {}): AgentMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const labels = { name: clusterName, index: String(ordinal) };
  const counter = (name: string, help: string) => {
    const c = new Counter({ name: METRIC_PREFIX + name, help, labelNames: LABELS, registers: [registry] });
    c.labels(labels).inc(0);
    return c;
  };
  const summary = (name: string, help: string) =>
    new Summary({ name: METRIC_PREFIX + name, help, labelNames: LABELS, registers: [registry], percentiles: [0.5, 0.9, 0.99] });
  const cloneInProgress = new Gauge({ name: `${METRIC_PREFIX}clone_in_progress`, help: "1 while a clone is running", labelNames: LABELS, registers: [registry] });
  cloneInProgress.labels(labels).set(0);
  // Not registered until a replica reports queued transactions.
  const replicationDelaySeconds = new Gauge({
    name: `${METRIC_PREFIX}replication_delay_seconds`,
    help: "Replication delay: last queued minus last applied original commit timestamp, in seconds",
    labelNames: LABELS,
    registers: [],
  });
  let delayRegistered = false;
  return {
    registry,
    labels,
    cloneCount: counter("clone_count", "Number of clone operations"),
    cloneFailureCount: counter("clone_failure_count", "Number of failed clone operations"),
    cloneDurationSeconds: summary("clone_duration_seconds", "Duration of clone operations in seconds"),
    cloneInProgress,
    logRotationCount: counter("log_rotation_count", "Number of slow log rotations"),
    logRotationFailureCount: counter("log_rotation_failure_count", "Number of failed slow log rotations"),
    logRotationDurationSeconds: summary("log_rotation_duration_seconds", "Duration of slow log rotations in seconds"),
    selfFenceCount: counter("self_fence_count", "Number of times the agent fenced its instance (its peers stopped confirming, or a commit waited too long for a semi-sync acknowledgement)"),
    selfFenceFailureCount: counter("self_fence_failure_count", "Number of failed self-fence attempts"),
    replicationDelaySeconds,
    applyDelayGauge(action: DelayGaugeAction): void {
      if (action.kind === "keep") return;
      if (action.kind === "unregister") {
        if (delayRegistered) {
          registry.removeSingleMetric(`${METRIC_PREFIX}replication_delay_seconds`);
          delayRegistered = false;
        }
        return;
      }
      if (!delayRegistered) {
        registry.registerMetric(replicationDelaySeconds);
        delayRegistered = true;
      }
      replicationDelaySeconds.labels(labels).set(action.seconds);
    },
  };
}
