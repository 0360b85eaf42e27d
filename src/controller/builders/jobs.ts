// Backup CronJob + RBAC (docs/objects.md#backup-cronjob-and-rbac) and restore Job + RBAC (docs/objects.md#restore-job-and-rbac, docs/backup.md#objects-the-controller-creates).
import type {
  V1Affinity,
  V1Container,
  V1CronJob,
  V1EnvVar,
  V1Job,
  V1PodSpec,
  V1ResourceRequirements,
  V1Role,
  V1RoleBinding,
  V1Volume,
} from "@kubernetes/client-node";
import { GROUP, MYSQLCLUSTER_PLURAL } from "../../api/v1beta2/index.ts";
import type { BackupPolicy, BucketConfig, JobConfig, MySQLCluster } from "../../api/v1beta2/index.ts";
import type { Quantity } from "../../api/v1beta2/index.ts";
import {
  APP_NAME_BACKUP,
  CREATED_BY_MOCO,
  LABEL_APP_CREATED_BY,
  LABEL_APP_NAME,
  clusterIdentity,
  clusterOwnerReference,
  deepCopy,
  dropUndefined,
  jobLabelSet,
  names,
} from "./meta.ts";
import type { ClusterIdentity } from "./meta.ts";
import type { BuilderOptions } from "./options.ts";
import { CONTAINER_GID, CONTAINER_UID, preferredHostAntiAffinity } from "./statefulset.ts";
import { tlsEnabled } from "./meta.ts";
import { buildJobTlsVolume, jobTlsEnv, jobTlsVolumeMount } from "./tls.ts";

/** The command of the backup/restore containers in the moco-ts image. */
export const BACKUP_COMMAND: readonly string[] = Object.freeze(["moco-backup"]);
export const WORK_VOLUME = "work";
export const WORK_PATH = "/work";
/** CRD defaults of JobConfig, used when a field is absent. */
export const DEFAULT_JOB_THREADS = 4;
export const DEFAULT_JOB_CPU = "4";
export const DEFAULT_JOB_MEMORY = "4Gi";

/** Bucket flags in order, each only when applicable (docs/backup.md#bucket-flags); backendType defaults to s3. */
export function bucketFlags(bc: BucketConfig): string[] {
  const flags: string[] = [];
  if (bc.region !== undefined && bc.region !== "") flags.push(`--region=${bc.region}`);
  if (bc.endpointURL !== undefined && bc.endpointURL !== "") flags.push(`--endpoint=${bc.endpointURL}`);
  if (bc.usePathStyle === true) flags.push("--use-path-style");
  // The CRD defaults backendType to s3 and its enum admits no empty string; an object
  // that skipped defaulting still gets the default flag, as the API server would store it.
  const backend: string = bc.backendType ?? "s3";
  if (backend !== "") flags.push(`--backend-type=${backend}`);
  if (bc.caCert !== undefined && bc.caCert !== "") flags.push(`--ca-cert=${bc.caCert}`);
  return flags;
}

function quantityString(q: Quantity): string {
  return typeof q === "number" ? String(q) : q;
}

/**
 * Container resources: requests from cpu/memory (absent → CRD defaults 4 / 4Gi; null →
 * none), limits from maxCpu/maxMemory when set. Undefined when there is nothing.
 */
export function jobResources(jc: JobConfig): V1ResourceRequirements | undefined {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  const cpu = jc.cpu === undefined ? DEFAULT_JOB_CPU : jc.cpu;
  const memory = jc.memory === undefined ? DEFAULT_JOB_MEMORY : jc.memory;
  if (cpu !== null) requests["cpu"] = quantityString(cpu);
  if (memory !== null) requests["memory"] = quantityString(memory);
  if (jc.maxCpu !== undefined && jc.maxCpu !== null) limits["cpu"] = quantityString(jc.maxCpu);
  if (jc.maxMemory !== undefined && jc.maxMemory !== null) limits["memory"] = quantityString(jc.maxMemory);
  const out: V1ResourceRequirements = {};
  if (Object.keys(limits).length > 0) out.limits = limits;
  if (Object.keys(requests).length > 0) out.requests = requests;
  return Object.keys(out).length === 0 ? undefined : out;
}

function jobContainer(
  name: string,
  args: string[],
  passwordKey: string,
  id: ClusterIdentity,
  jc: JobConfig,
  options: BuilderOptions,
  tls = false,
): V1Container {
  const env: V1EnvVar[] = [
    { name: "MYSQL_PASSWORD", valueFrom: { secretKeyRef: { name: names.userSecret(id.name), key: passwordKey } } },
    ...(tls ? [jobTlsEnv()] : []),
    ...(deepCopy(jc.env ?? []) as V1EnvVar[]),
  ];
  const securityContext: V1Container["securityContext"] = { readOnlyRootFilesystem: true };
  if (!options.disableDefaultSecurityContext) {
    securityContext.runAsUser = CONTAINER_UID;
    securityContext.runAsGroup = CONTAINER_GID;
  }
  const envFrom = jc.envFrom ?? [];
  return {
    name,
    image: options.backupImage,
    command: [...BACKUP_COMMAND],
    args,
    env,
    ...(envFrom.length === 0 ? {} : { envFrom: deepCopy(envFrom) }),
    volumeMounts: [{ name: WORK_VOLUME, mountPath: WORK_PATH }, ...(tls ? [jobTlsVolumeMount()] : []), ...deepCopy(jc.volumeMounts ?? [])],
    securityContext,
    ...(options.omitJobResources ? {} : { resources: jobResources(jc) }),
  };
}

function jobVolumes(jc: JobConfig, cluster: MySQLCluster): V1Volume[] {
  const tls = tlsEnabled(cluster) ? [buildJobTlsVolume(clusterIdentity(cluster).name)] : [];
  return [{ name: WORK_VOLUME, ...(deepCopy(jc.workVolume) as Omit<V1Volume, "name">) }, ...tls, ...(deepCopy(jc.volumes ?? []) as V1Volume[])];
}

function jobPodSecurityContext(options: BuilderOptions): NonNullable<V1PodSpec["securityContext"]> {
  return options.disableDefaultSecurityContext
    ? { fsGroupChangePolicy: "OnRootMismatch" }
    : { fsGroup: CONTAINER_GID, fsGroupChangePolicy: "OnRootMismatch" };
}

/** Default backup Pod anti-affinity (docs/objects.md#backup-cronjob-and-rbac). */
export function defaultBackupAffinity(): V1Affinity {
  return preferredHostAntiAffinity([
    { key: LABEL_APP_NAME, values: [APP_NAME_BACKUP] },
    { key: LABEL_APP_CREATED_BY, values: [CREATED_BY_MOCO] },
  ]);
}

/** Args of the backup container: backup, --threads, bucket flags, bucket, ns, name. */
export function backupArgs(id: ClusterIdentity, jc: JobConfig): string[] {
  return [
    "backup",
    `--threads=${jc.threads ?? DEFAULT_JOB_THREADS}`,
    ...bucketFlags(jc.bucketConfig),
    jc.bucketConfig.bucketName,
    id.namespace,
    id.name,
  ];
}

/** CronJob `moco-backup-<name>` from the BackupPolicy (docs/objects.md#backup-cronjob-and-rbac). */
export function buildBackupCronJob(cluster: MySQLCluster, policy: BackupPolicy, options: BuilderOptions): V1CronJob {
  const id = clusterIdentity(cluster);
  const ps = policy.spec;
  const jc = ps.jobConfig;
  const podSpec: V1PodSpec = {
    restartPolicy: "Never",
    serviceAccountName: jc.serviceAccountName,
    affinity: jc.affinity === undefined || jc.affinity === null ? defaultBackupAffinity() : (deepCopy(jc.affinity) as V1Affinity),
    volumes: jobVolumes(jc, cluster),
    securityContext: jobPodSecurityContext(options),
    containers: [jobContainer("backup", backupArgs(id, jc), "BACKUP_PASSWORD", id, jc, options, tlsEnabled(cluster))],
  };
  const nn = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);
  return dropUndefined({
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: {
      name: names.backup(id.name),
      namespace: id.namespace,
      labels: jobLabelSet(id.name),
      ownerReferences: [clusterOwnerReference(id)],
    },
    spec: {
      schedule: ps.schedule,
      timeZone: nn(ps.timeZone),
      startingDeadlineSeconds: nn(ps.startingDeadlineSeconds),
      concurrencyPolicy: ps.concurrencyPolicy ?? "Allow",
      successfulJobsHistoryLimit: nn(ps.successfulJobsHistoryLimit),
      failedJobsHistoryLimit: nn(ps.failedJobsHistoryLimit),
      jobTemplate: {
        metadata: { labels: jobLabelSet(id.name) },
        spec: {
          activeDeadlineSeconds: nn(ps.activeDeadlineSeconds),
          backoffLimit: nn(ps.backoffLimit),
          template: { metadata: { labels: jobLabelSet(id.name) }, spec: podSpec },
        },
      },
    },
  });
}

function role(
  cluster: MySQLCluster,
  name: string,
  clusterVerbs: string[],
  podVerbs: string[],
  eventVerbs: string[],
): V1Role {
  const id = clusterIdentity(cluster);
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name, namespace: id.namespace, labels: jobLabelSet(id.name), ownerReferences: [clusterOwnerReference(id)] },
    rules: [
      {
        apiGroups: [GROUP],
        resources: [MYSQLCLUSTER_PLURAL, `${MYSQLCLUSTER_PLURAL}/status`],
        verbs: clusterVerbs,
        resourceNames: [id.name],
      },
      { apiGroups: [""], resources: ["pods"], verbs: podVerbs },
      { apiGroups: [""], resources: ["events"], verbs: eventVerbs },
    ],
  };
}

function roleBinding(cluster: MySQLCluster, name: string, serviceAccountName: string): V1RoleBinding {
  const id = clusterIdentity(cluster);
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name, namespace: id.namespace, labels: jobLabelSet(id.name), ownerReferences: [clusterOwnerReference(id)] },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: [{ kind: "ServiceAccount", name: serviceAccountName, namespace: id.namespace }],
  };
}

/** Role `moco-backup-<name>`. */
export function buildBackupRole(cluster: MySQLCluster): V1Role {
  return role(cluster, names.backup(clusterIdentity(cluster).name), ["get", "update"], ["get", "list", "watch"], [
    "create",
    "update",
    "patch",
  ]);
}

/** RoleBinding `moco-backup-<name>` → the policy's job ServiceAccount. */
export function buildBackupRoleBinding(cluster: MySQLCluster, policy: BackupPolicy): V1RoleBinding {
  return roleBinding(cluster, names.backup(clusterIdentity(cluster).name), policy.spec.jobConfig.serviceAccountName);
}

/** An RFC 3339 time as UTC `YYYYMMDD-hhmmss` (the restore job's restore point). */
export function restorePointArg(restorePoint: string | Date): string {
  const ms = restorePoint instanceof Date ? restorePoint.getTime() : Date.parse(restorePoint);
  if (Number.isNaN(ms)) throw new Error(`invalid restorePoint ${JSON.stringify(String(restorePoint))}`);
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** Whether restore objects are reconciled: `spec.restore` set and `status.restoredTime` unset. */
export function needsRestoreJob(cluster: MySQLCluster): boolean {
  const restored = cluster.status?.restoredTime;
  return cluster.spec?.restore !== undefined && cluster.spec.restore !== null && (restored === undefined || restored === null);
}

/** Args of the restore container (docs/objects.md#restore-job-and-rbac): schema and users always present. */
export function restoreArgs(cluster: MySQLCluster): string[] {
  const id = clusterIdentity(cluster);
  const r = cluster.spec?.restore;
  if (r === undefined || r === null) throw new Error(`MySQLCluster ${id.namespace}/${id.name} has no spec.restore`);
  const jc = r.jobConfig;
  return [
    "restore",
    `--threads=${jc.threads ?? DEFAULT_JOB_THREADS}`,
    ...bucketFlags(jc.bucketConfig),
    jc.bucketConfig.bucketName,
    r.sourceNamespace,
    r.sourceName,
    id.namespace,
    id.name,
    restorePointArg(r.restorePoint),
    r.schema ?? "",
    r.users ?? "",
  ];
}

/**
 * Job `moco-restore-<name>` (created only when absent, never updated). moco-ts honours
 * `restore.jobConfig.affinity` when set (upstream ignores it); no default affinity.
 */
export function buildRestoreJob(cluster: MySQLCluster, options: BuilderOptions): V1Job {
  const id = clusterIdentity(cluster);
  const args = restoreArgs(cluster);
  const jc = (cluster.spec?.restore as NonNullable<NonNullable<MySQLCluster["spec"]>["restore"]>).jobConfig;
  const podSpec: V1PodSpec = {
    restartPolicy: "Never",
    serviceAccountName: jc.serviceAccountName,
    affinity: jc.affinity === undefined || jc.affinity === null ? undefined : (deepCopy(jc.affinity) as V1Affinity),
    volumes: jobVolumes(jc, cluster),
    securityContext: jobPodSecurityContext(options),
    containers: [jobContainer("restore", args, "ADMIN_PASSWORD", id, jc, options, tlsEnabled(cluster))],
  };
  return dropUndefined({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: names.restore(id.name),
      namespace: id.namespace,
      labels: jobLabelSet(id.name),
      ownerReferences: [clusterOwnerReference(id)],
    },
    spec: {
      backoffLimit: 0,
      template: { metadata: { labels: jobLabelSet(id.name) }, spec: podSpec },
    },
  });
}

/** Role `moco-restore-<name>`. */
export function buildRestoreRole(cluster: MySQLCluster): V1Role {
  return role(cluster, names.restore(clusterIdentity(cluster).name), ["get", "update"], ["get"], ["create"]);
}

/** RoleBinding `moco-restore-<name>` → the restore job's ServiceAccount. */
export function buildRestoreRoleBinding(cluster: MySQLCluster): V1RoleBinding {
  const id = clusterIdentity(cluster);
  const r = cluster.spec?.restore;
  if (r === undefined || r === null) throw new Error(`MySQLCluster ${id.namespace}/${id.name} has no spec.restore`);
  return roleBinding(cluster, names.restore(id.name), r.jobConfig.serviceAccountName);
}
