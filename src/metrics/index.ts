// The controller's Prometheus metrics (docs/controller.md#metrics): every `moco_cluster_*` and
// `moco_backup_*` series with upstream's names and label order (`name`, `namespace`),
// the controller-runtime reconcile counters under their upstream names, and Node.js
// process metrics. One registry per controller instance (tests run several in a process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { tryParseGoDuration } from "../util/duration.ts";
import { nameAndNamespace } from "../util/object.ts";

export interface ClusterLabels {
  readonly name: string;
  readonly namespace: string;
}

/** Names of the per-cluster series the clustering manager owns (created on start, deleted on stop). */
export const MANAGER_COUNTERS = [
  "moco_cluster_checks_total",
  "moco_cluster_errors_total",
  "moco_cluster_switchover_total",
  "moco_cluster_failover_total",
  "moco_cluster_abandoned_passes_total",
] as const;
export const MANAGER_GAUGES = [
  "moco_cluster_available",
  "moco_cluster_healthy",
  "moco_cluster_replicas",
  "moco_cluster_ready_replicas",
  "moco_cluster_errant_replicas",
] as const;
export const MANAGER_HISTOGRAM = "moco_cluster_processing_time_seconds";
export const BACKUP_GAUGES = [
  "moco_backup_timestamp",
  "moco_backup_elapsed_seconds",
  "moco_backup_dump_bytes",
  "moco_backup_binlog_bytes",
  "moco_backup_workdir_usage_bytes",
  "moco_backup_warnings",
] as const;
/** Series the reconciler / partition controller own; the finalizer deletes them. */
export const FINALIZER_GAUGES = [
  "moco_cluster_clustering_stopped",
  "moco_cluster_reconciliation_stopped",
  "moco_cluster_current_replicas",
  "moco_cluster_updated_replicas",
  "moco_cluster_last_partition_updated",
] as const;
export const RECONCILER_COUNTERS = [
  "moco_cluster_volume_resized_total",
  "moco_cluster_volume_resized_errors_total",
  "moco_cluster_statefulset_recreate_total",
  "moco_cluster_statefulset_recreate_errors_total",
] as const;

const HELP: Record<string, string> = {
  moco_cluster_checks_total: "The number of times MOCO checked the cluster",
  moco_cluster_errors_total: "The number of times MOCO encountered errors when managing the cluster",
  moco_cluster_switchover_total: "The number of times MOCO changed the live primary instance subsequently",
  moco_cluster_failover_total: "The number of times MOCO changed the failed primary instance subsequently",
  moco_cluster_abandoned_passes_total: "The number of clustering passes abandoned because they outlived their deadline (moco-ts)",
  moco_cluster_available: "1 if the cluster is available, 0 otherwise",
  moco_cluster_healthy: "1 if the cluster is running without any problems, 0 otherwise",
  moco_cluster_replicas: "The number of mysqld instances in the cluster",
  moco_cluster_ready_replicas: "The number of ready mysqld Pods in the cluster",
  moco_cluster_errant_replicas: "The number of mysqld instances that have errant transactions",
  moco_cluster_processing_time_seconds: "The length of time in seconds processing the cluster",
  moco_cluster_current_replicas: "The number of current replicas",
  moco_cluster_updated_replicas: "The number of updated replicas",
  moco_cluster_last_partition_updated: "The timestamp of the last successful partition update",
  moco_cluster_clustering_stopped: "1 if the cluster is clustering stopped, 0 otherwise",
  moco_cluster_reconciliation_stopped: "1 if the cluster is reconciliation stopped, 0 otherwise",
  moco_cluster_volume_resized_total: "The number of successful volume resizes",
  moco_cluster_volume_resized_errors_total: "The number of failed volume resizes",
  moco_cluster_statefulset_recreate_total: "The number of times MOCO re-created the StatefulSet",
  moco_cluster_statefulset_recreate_errors_total: "The number of failed StatefulSet re-creations",
  moco_backup_timestamp: "The number of seconds since January 1, 1970 UTC of the last successful backup",
  moco_backup_elapsed_seconds: "The number of seconds taken for the last backup",
  moco_backup_dump_bytes: "The size of compressed full backup data",
  moco_backup_binlog_bytes: "The size of compressed binlog files",
  moco_backup_workdir_usage_bytes: "The maximum usage of the working directory",
  moco_backup_warnings: "The number of warnings in the last successful backup",
};

const LABELS = ["name", "namespace"] as const;
/** moco-ts counter of refused status writes (docs/controller.md "Metrics"). */
export const STATUS_WRITES_REFUSED = "moco_ts_status_writes_refused_total";
/** The controller's status writers: the reconciler's conditions and the clustering loop's. */
export const STATUS_WRITERS = ["reconciler", "clustering"] as const;
export type StatusWriter = (typeof STATUS_WRITERS)[number];
export const PROCESSING_TIME_BUCKETS = [0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 30];

type LabelNames = (typeof LABELS)[number];

/** The controller's metrics. Methods never throw on unknown names (they are ignored). */
export class ControllerMetrics {
  readonly registry: Registry;
  readonly #counters = new Map<string, Counter<LabelNames>>();
  readonly #gauges = new Map<string, Gauge<LabelNames>>();
  readonly #processing: Histogram<LabelNames>;
  readonly partitionUpdateRetries: Counter<"namespace">;
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller">;
  readonly reconcileTime: Histogram<"controller">;
  readonly activeWorkers: Gauge<"controller">;
  readonly leader: Gauge;
  /** moco-ts: status writes the API server refused (422/400), by writer; expected to stay 0. */
  readonly statusWritesRefused: Counter<"writer">;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    for (const name of [...MANAGER_COUNTERS, ...RECONCILER_COUNTERS]) {
      this.#counters.set(name, new Counter({ name, help: HELP[name] ?? name, labelNames: LABELS, registers: [registry] }));
    }
    for (const name of [...MANAGER_GAUGES, ...BACKUP_GAUGES, ...FINALIZER_GAUGES]) {
      this.#gauges.set(name, new Gauge({ name, help: HELP[name] ?? name, labelNames: LABELS, registers: [registry] }));
    }
    this.#processing = new Histogram({
      name: MANAGER_HISTOGRAM,
      help: HELP[MANAGER_HISTOGRAM] ?? MANAGER_HISTOGRAM,
      labelNames: LABELS,
      buckets: PROCESSING_TIME_BUCKETS,
      registers: [registry],
    });
    this.partitionUpdateRetries = new Counter({
      name: "moco_cluster_partition_update_retries_total",
      help: "The number of times the partition update was deferred by the rate limiter",
      labelNames: ["namespace"],
      registers: [registry],
    });
    this.reconcileTotal = new Counter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      labelNames: ["controller", "result"],
      registers: [registry],
    });
    this.reconcileErrors = new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames: ["controller"],
      registers: [registry],
    });
    this.reconcileTime = new Histogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames: ["controller"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60],
      registers: [registry],
    });
    this.activeWorkers = new Gauge({
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames: ["controller"],
      registers: [registry],
    });
    this.leader = new Gauge({
      name: "leader_election_master_status",
      help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.",
      labelNames: ["name"],
      registers: [registry],
    });
    this.statusWritesRefused = new Counter({
      name: STATUS_WRITES_REFUSED,
      help: "The number of MySQLCluster status writes the API server refused (moco-ts; a bug when not 0)",
      labelNames: ["writer"],
      registers: [registry],
    });
    for (const w of STATUS_WRITERS) this.statusWritesRefused.inc({ writer: w }, 0);
    for (const c of ["mysqlcluster", "statefulset", "pod"]) {
      for (const r of ["success", "error", "requeue", "requeue_after"]) this.reconcileTotal.inc({ controller: c, result: r }, 0);
      this.reconcileErrors.inc({ controller: c }, 0);
    }
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  }

  incCounter(name: string, labels: ClusterLabels, value = 1): void {
    this.#counters.get(name)?.inc(nameAndNamespace(labels), value);
  }

  setGauge(name: string, labels: ClusterLabels, value: number): void {
    this.#gauges.get(name)?.set(nameAndNamespace(labels), value);
  }

  observe(name: string, labels: ClusterLabels, value: number): void {
    if (name === MANAGER_HISTOGRAM) this.#processing.observe(nameAndNamespace(labels), value);
  }

  /** Creates the manager's series of one cluster (counters at 0, gauges at 0). */
  initManagerSeries(labels: ClusterLabels): void {
    const l = nameAndNamespace(labels);
    for (const name of MANAGER_COUNTERS) this.#counters.get(name)?.inc(l, 0);
    // inc by 0: creates a missing series at 0 and leaves an existing one's value alone.
    for (const name of [...MANAGER_GAUGES, ...BACKUP_GAUGES]) this.#gauges.get(name)?.inc(l, 0);
    this.#processing.zero(l);
  }

  /** Deletes the manager's series of one cluster (manager stop). */
  deleteManagerSeries(labels: ClusterLabels): void {
    const l = nameAndNamespace(labels);
    for (const name of MANAGER_COUNTERS) this.#counters.get(name)?.remove(l);
    for (const name of [...MANAGER_GAUGES, ...BACKUP_GAUGES]) this.#gauges.get(name)?.remove(l);
    this.#processing.remove(l);
  }

  /** Deletes the series the finalizer owns, and moco-ts also the reconciler's counters. */
  deleteFinalizerSeries(labels: ClusterLabels): void {
    const l = nameAndNamespace(labels);
    for (const name of FINALIZER_GAUGES) this.#gauges.get(name)?.remove(l);
    for (const name of RECONCILER_COUNTERS) this.#counters.get(name)?.remove(l);
  }

  /** The backup gauges from `status.backup`, only when `time` is set (docs/controller.md#metrics). */
  setBackupMetrics(labels: ClusterLabels, backup: BackupStatusView | undefined | null): void {
    if (backup === undefined || backup === null) return;
    const t = backup.time === undefined || backup.time === null ? Number.NaN : new Date(backup.time).getTime();
    if (!Number.isFinite(t) || t <= 0) return;
    this.setGauge("moco_backup_timestamp", labels, t / 1000);
    this.setGauge("moco_backup_elapsed_seconds", labels, goDurationSeconds(backup.elapsed));
    this.setGauge("moco_backup_dump_bytes", labels, Number(backup.dumpSize ?? 0));
    this.setGauge("moco_backup_binlog_bytes", labels, Number(backup.binlogSize ?? 0));
    this.setGauge("moco_backup_workdir_usage_bytes", labels, Number(backup.workDirUsage ?? 0));
    this.setGauge("moco_backup_warnings", labels, (backup.warnings ?? []).length);
  }

  /** The value of one series (tests), or undefined. */
  async value(name: string, labels: Readonly<Record<string, string>>): Promise<number | undefined> {
    const m = this.registry.getSingleMetric(name);
    if (m === undefined) return undefined;
    const data = await m.get();
    const want = Object.entries(labels);
    const hit = data.values.find(
      (v) => !String((v as { metricName?: string }).metricName ?? name).endsWith("_bucket") && want.every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
    );
    return hit?.value;
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface BackupStatusView {
  readonly time?: string | Date | null;
  readonly elapsed?: string | null;
  readonly dumpSize?: number | null;
  readonly binlogSize?: number | null;
  readonly workDirUsage?: number | null;
  readonly warnings?: readonly string[] | null;
}

/** Seconds of a Go duration string ("1h2m3.5s", "150ms"); 0 when absent, NaN when unparsable. */
function goDurationSeconds(d: string | null | undefined): number {
  if (d === undefined || d === null || d === "") return 0;
  return (tryParseGoDuration(d) ?? Number.NaN) / 1000;
}
