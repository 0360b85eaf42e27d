// `kubectl moco status CLUSTER` (a moco-ts extension): one line per instance with role,
// readiness, GTID lag behind the primary, errant flag, semi-sync and replication state,
// plus the cluster's conditions and last backup. The report is a pure function of the
// MySQLCluster, its Pods and what each mysqld answered (probe.ts), so it is unit-tested.
import type { V1Pod } from "@kubernetes/client-node";
import type { MySQLCluster } from "../api/v1beta2/index.ts";
import { errantGtids, formatGtidSet, gtidCount, gtidIsEmpty, gtidSubtract } from "../mysql/index.ts";
import {
  ANNOTATION_CLUSTERING_STOPPED,
  ANNOTATION_DEMOTE,
  ANNOTATION_PREVENT_DELETE,
  ANNOTATION_RECONCILIATION_STOPPED,
  LABEL_ROLE,
  annotationIsTrue,
  names,
} from "../shared/names.ts";
import { formatTable } from "./format.ts";
import type { InstanceProbe } from "./probe.ts";

export type ProbeSource = "exec" | "pod-ip";

/** The outcome of probing one instance. */
export interface ProbeOutcome {
  probe?: InstanceProbe;
  source?: ProbeSource;
  /** Why no probe is available (not running, exec failed, …). */
  error?: string;
}

export interface InstanceStatus {
  index: number;
  pod: string;
  /** Pod phase, or "Missing" when the Pod does not exist. */
  phase: string;
  /** Value of the moco.cybozu.com/role label, or null when absent. */
  role: string | null;
  /** The Pod's Ready condition is True. */
  ready: boolean;
  /** The instance is status.currentPrimaryIndex. */
  primary: boolean;
  demote: boolean;
  preventDelete: boolean;
  gtidExecuted: string | null;
  /** GTIDs the primary executed that this instance did not (null when unknown). */
  gtidLag: number | null;
  /** GTIDs this instance executed that the primary did not (primary's own UUID excluded). */
  errantGtids: string | null;
  /** In status.errantReplicaList, or errant GTIDs were observed now. */
  errant: boolean;
  readOnly: boolean | null;
  superReadOnly: boolean | null;
  semiSync: {
    sourceEnabled: boolean | null;
    sourceActive: boolean | null;
    replicaEnabled: boolean | null;
    replicaActive: boolean | null;
  };
  replication: { io: string | null; sql: string | null };
  probeSource: ProbeSource | null;
  probeError: string | null;
}

export interface StatusReport {
  namespace: string;
  name: string;
  replicas: number;
  offline: boolean;
  currentPrimaryIndex: number | null;
  conditions: Record<string, string>;
  clusteringStopped: boolean;
  reconciliationStopped: boolean;
  syncedReplicas: number | null;
  errantReplicaList: number[];
  lastBackup: {
    time: string | null;
    sourceIndex: number;
    elapsed: string;
    gtidSet: string;
    dumpSize: number;
    binlogSize: number;
    warnings: string[];
  } | null;
  instances: InstanceStatus[];
}

function podReady(pod: V1Pod | undefined): boolean {
  return pod?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function timeText(t: unknown): string | null {
  if (t === undefined || t === null) return null;
  if (t instanceof Date) return t.toISOString().replace(/\.000Z$/, "Z");
  return String(t);
}

/** The status report: pure function of the cluster, its Pods and the probes by ordinal. */
export function buildStatusReport(
  cluster: MySQLCluster,
  pods: readonly V1Pod[],
  probes: ReadonlyMap<number, ProbeOutcome>,
): StatusReport {
  const name = cluster.metadata?.name ?? "";
  const namespace = cluster.metadata?.namespace ?? "";
  const replicas = cluster.spec?.replicas ?? 1;
  const status = cluster.status;
  const primaryIndex = status?.currentPrimaryIndex ?? null;
  const errantList = [...(status?.errantReplicaList ?? [])];
  const conditions: Record<string, string> = {};
  for (const c of status?.conditions ?? []) conditions[c.type] = c.status;

  const primaryProbe = primaryIndex === null ? undefined : probes.get(primaryIndex)?.probe;
  const primaryGtid = primaryProbe?.gtidExecuted;

  const instances: InstanceStatus[] = [];
  for (let i = 0; i < replicas; i++) {
    const podName = names.pod(name, i);
    const pod = pods.find((p) => p.metadata?.name === podName);
    const outcome = probes.get(i);
    const probe = outcome?.probe;
    const gtid = probe?.gtidExecuted;
    let lag: number | null = null;
    let errantSet: string | null = null;
    if (gtid !== undefined && primaryGtid !== undefined) {
      try {
        lag = Number(gtidCount(gtidSubtract(primaryGtid, gtid)));
        if (i === primaryIndex) {
          errantSet = "";
        } else {
          const primaryUuid = primaryProbe?.serverUuid;
          const errant = primaryUuid ? errantGtids(gtid, primaryGtid, primaryUuid) : gtidSubtract(gtid, primaryGtid);
          errantSet = gtidIsEmpty(errant) ? "" : formatGtidSet(errant, { separator: "," });
        }
      } catch {
        // an unparsable gtid_executed leaves lag and errant unknown
        lag = null;
        errantSet = null;
      }
    }
    const annotations = pod?.metadata?.annotations;
    instances.push({
      index: i,
      pod: podName,
      phase: pod ? (pod.metadata?.deletionTimestamp ? "Terminating" : pod.status?.phase ?? "Unknown") : "Missing",
      role: pod?.metadata?.labels?.[LABEL_ROLE] ?? null,
      ready: podReady(pod),
      primary: i === primaryIndex,
      demote: annotationIsTrue(annotations, ANNOTATION_DEMOTE),
      preventDelete: annotationIsTrue(annotations, ANNOTATION_PREVENT_DELETE),
      gtidExecuted: gtid ?? null,
      gtidLag: lag,
      errantGtids: errantSet,
      errant: errantList.includes(i) || (errantSet !== null && errantSet !== ""),
      readOnly: probe?.readOnly ?? null,
      superReadOnly: probe?.superReadOnly ?? null,
      semiSync: {
        sourceEnabled: probe?.semiSyncSourceEnabled ?? null,
        sourceActive: probe?.semiSyncSourceStatus ?? null,
        replicaEnabled: probe?.semiSyncReplicaEnabled ?? null,
        replicaActive: probe?.semiSyncReplicaStatus ?? null,
      },
      replication: { io: probe?.replicationIo ?? null, sql: probe?.replicationSql ?? null },
      probeSource: outcome?.source ?? null,
      probeError: outcome?.error ?? null,
    });
  }

  const b = status?.backup;
  const lastBackup = b && timeText(b.time) !== null
    ? {
        time: timeText(b.time),
        sourceIndex: b.sourceIndex,
        elapsed: b.elapsed,
        gtidSet: b.gtidSet,
        dumpSize: b.dumpSize,
        binlogSize: b.binlogSize,
        warnings: [...(b.warnings ?? [])],
      }
    : null;

  return {
    namespace,
    name,
    replicas,
    offline: cluster.spec?.offline === true,
    currentPrimaryIndex: primaryIndex,
    conditions,
    clusteringStopped: annotationIsTrue(cluster.metadata?.annotations, ANNOTATION_CLUSTERING_STOPPED),
    reconciliationStopped: annotationIsTrue(cluster.metadata?.annotations, ANNOTATION_RECONCILIATION_STOPPED),
    syncedReplicas: status?.syncedReplicas ?? null,
    errantReplicaList: errantList,
    lastBackup,
    instances,
  };
}

function yesNo(v: boolean | null): string {
  return v === null ? "-" : v ? "yes" : "no";
}

function onOff(v: boolean | null): string {
  return v === null ? "?" : v ? "ON" : "OFF";
}

/** SEMI-SYNC cell: the side that is enabled, with its live status ("source ON", "replica OFF", "off"). */
export function semiSyncCell(s: InstanceStatus["semiSync"]): string {
  const parts: string[] = [];
  if (s.sourceEnabled) parts.push(`source ${onOff(s.sourceActive)}`);
  if (s.replicaEnabled) parts.push(`replica ${onOff(s.replicaActive)}`);
  if (parts.length > 0) return parts.join(",");
  if (s.sourceEnabled === null && s.replicaEnabled === null) return "-";
  return "off";
}

function readOnlyCell(i: InstanceStatus): string {
  if (i.superReadOnly) return "super";
  if (i.readOnly) return "yes";
  if (i.readOnly === false) return "no";
  return "-";
}

function replicationCell(i: InstanceStatus): string {
  if (i.replication.io === null && i.replication.sql === null) return i.probeSource === null ? "-" : "none";
  return `io=${i.replication.io ?? "?"} sql=${i.replication.sql ?? "?"}`;
}

function condition(report: StatusReport, type: string): string {
  return report.conditions[type] ?? "-";
}

/** The human-readable form of a report (the default output of `status`). */
export function formatStatusReport(report: StatusReport): string {
  const lines: string[] = [];
  const primary = report.currentPrimaryIndex === null ? "-" : String(report.currentPrimaryIndex);
  lines.push(
    `MySQLCluster ${report.namespace}/${report.name}: replicas=${report.replicas} primary=${primary}` +
      ` available=${condition(report, "Available")} healthy=${condition(report, "Healthy")}` +
      (report.offline ? " offline=true" : ""),
  );
  lines.push(
    `clustering=${report.clusteringStopped ? "stopped" : "active"}` +
      ` reconciliation=${report.reconciliationStopped ? "stopped" : "active"}` +
      ` synced=${report.syncedReplicas ?? "-"} errant=[${report.errantReplicaList.join(",")}]`,
  );
  const b = report.lastBackup;
  lines.push(
    b === null
      ? "last backup: none"
      : `last backup: ${b.time} from instance ${b.sourceIndex} (elapsed ${b.elapsed})` +
          (b.warnings.length > 0 ? ` with ${b.warnings.length} warning(s)` : ""),
  );
  const header = ["INDEX", "POD", "PHASE", "ROLE", "READY", "GTID-LAG", "ERRANT", "SEMI-SYNC", "REPLICATION", "READ-ONLY", "NOTE"];
  const rows = report.instances.map((i) => {
    const notes: string[] = [];
    if (i.primary) notes.push("current primary");
    if (i.demote) notes.push("demote requested");
    if (i.preventDelete) notes.push("prevent-delete");
    if (i.probeError !== null) notes.push(i.probeError);
    return [
      String(i.index),
      i.pod,
      i.phase,
      i.role ?? "-",
      i.ready ? "True" : "False",
      i.gtidLag === null ? "-" : String(i.gtidLag),
      yesNo(i.errant),
      semiSyncCell(i.semiSync),
      replicationCell(i),
      readOnlyCell(i),
      notes.join("; "),
    ];
  });
  return `${lines.join("\n")}\n\n${formatTable(header, rows)}`;
}
