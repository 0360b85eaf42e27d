// The single source of truth for the moco.cybozu.com/v1beta2 API (docs/api.md): TypeBox
// schemas of MySQLCluster and BackupPolicy, with types, defaults, enums, patterns,
// minimums and required lists exactly as docs/api.md#crd-packaging states. The TypeScript types are
// derived with Static<>; the CRDs (deploy/crds/) are generated from these schemas by
// scripts/gen-crds.ts. Only the properties that are not wrapped in Type.Optional are
// required, so every object below lists its required properties first.
import { Type, type Static, type TSchema, type TUnsafe } from "@sinclair/typebox";
import type { V1ObjectMeta } from "@kubernetes/client-node";
import {
  AffinitySchema,
  ConditionSchema,
  EnvFromSourceSchema,
  EnvVarSchema,
  PersistentVolumeClaimSpecSchema,
  PodSpecSchema,
  ResourceRequirementsSchema,
  SecurityContextSchema,
  ServiceSpecSchema,
  VolumeMountSchema,
  VolumeSchema,
  VolumeSourceSchema,
  nullableQuantitySchema,
  type JsonOf,
} from "./core-schemas.ts";
import { OVERWRITABLE_CONTAINERS } from "./constants.ts";

// ---- helpers that keep the schema in CRD-compatible (structural) form -------------

/** A string enum as `type: string, enum: [...]` (TypeBox unions would give anyOf). */
function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { default?: T[number]; description?: string } = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: "string", enum: [...values] });
}

/** `nullable: true` on top of a schema; the type admits null. */
function Nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  return Type.Unsafe<Static<T> | null>({ ...schema, nullable: true });
}

/** map[string]string as `additionalProperties: {type: string}`. */
function StringMap(description?: string): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    ...(description === undefined ? {} : { description }),
    type: "object",
    additionalProperties: { type: "string" },
  });
}

const Int32 = (options: { default?: number; minimum?: number; description?: string } = {}) =>
  Type.Integer({ ...options, format: "int32" });
const Int64 = (options: { default?: number; minimum?: number; description?: string } = {}) =>
  Type.Integer({ ...options, format: "int64" });
/** Go `int`: controller-gen writes `type: integer` without a format. */
const GoInt = (options: { default?: number; minimum?: number; description?: string } = {}) => Type.Integer(options);
const DateTime = (description?: string) =>
  Type.String({ ...(description === undefined ? {} : { description }), format: "date-time" });

// ---- shared sub-types ------------------------------------------------------------

/** docs/api.md#objectmeta: the only metadata fields of embedded templates. */
export const ObjectMetaSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ description: "Name; meaningful only for volumeClaimTemplates." })),
    labels: Type.Optional(StringMap("Labels copied to the generated object.")),
    annotations: Type.Optional(StringMap("Annotations copied to the generated object.")),
  },
  { description: "ObjectMeta with name, labels and annotations only; other fields are pruned." },
);
export type ObjectMeta = Static<typeof ObjectMetaSchema>;

/** docs/api.md#bucketconfig */
export const BucketConfigSchema = Type.Object(
  {
    bucketName: Type.String({ minLength: 1, description: "Name of the bucket; may contain $(VAR) expanded from env." }),
    region: Type.Optional(Type.String({ description: "Region of the bucket (--region)." })),
    endpointURL: Type.Optional(
      Type.String({ pattern: "^https?://.*", description: "Endpoint of a non-AWS S3 service (--endpoint)." }),
    ),
    usePathStyle: Type.Optional(Type.Boolean({ description: "Use path-style S3 URLs (--use-path-style)." })),
    backendType: Type.Optional(
      StringEnum(["s3", "gcs", "azure"] as const, { default: "s3", description: "Object storage backend." }),
    ),
    caCert: Type.Optional(Type.String({ description: "Path of a CA certificate inside the Pod (--ca-cert)." })),
  },
  { description: "Object storage access." },
);
export type BucketConfig = Static<typeof BucketConfigSchema>;

/** docs/api.md#jobconfig */
export const JobConfigSchema = Type.Object(
  {
    serviceAccountName: Type.String({ minLength: 1, description: "Existing ServiceAccount of the Job Pod." }),
    bucketConfig: BucketConfigSchema,
    workVolume: VolumeSourceSchema,
    threads: Type.Optional(GoInt({ default: 4, minimum: 1, description: "Number of threads (--threads)." })),
    cpu: Type.Optional(nullableQuantitySchema({ default: 4, description: "CPU request of the container." })),
    maxCpu: Type.Optional(nullableQuantitySchema({ description: "CPU limit of the container." })),
    memory: Type.Optional(nullableQuantitySchema({ default: "4Gi", description: "Memory request of the container." })),
    maxMemory: Type.Optional(nullableQuantitySchema({ description: "Memory limit of the container." })),
    envFrom: Type.Optional(Type.Array(EnvFromSourceSchema, { description: "Appended to the container's envFrom." })),
    env: Type.Optional(Type.Array(EnvVarSchema, { description: "Appended to the container's env." })),
    affinity: Type.Optional(AffinitySchema),
    volumes: Type.Optional(Type.Array(VolumeSchema, { description: "Extra Pod volumes." })),
    volumeMounts: Type.Optional(Type.Array(VolumeMountSchema, { description: "Extra volume mounts." })),
  },
  { description: "Parameters of a backup or restore Job Pod." },
);
export type JobConfig = Static<typeof JobConfigSchema>;

// ---- MySQLCluster ----------------------------------------------------------------

/** docs/api.md#overwritecontainer */
export const OverwriteContainerSchema = Type.Object({
  name: StringEnum(OVERWRITABLE_CONTAINERS, { description: "System container to modify." }),
  resources: Type.Optional(ResourceRequirementsSchema),
  securityContext: Type.Optional(SecurityContextSchema),
});
export type OverwriteContainer = Static<typeof OverwriteContainerSchema>;

/** docs/api.md#podtemplatespec */
export const PodTemplateSpecSchema = Type.Object(
  {
    spec: PodSpecSchema,
    metadata: Type.Optional(ObjectMetaSchema),
    overwriteContainers: Type.Optional(
      Type.Array(OverwriteContainerSchema, { description: "Replaces resources/securityContext of system containers." }),
    ),
  },
  { description: "Template of the mysqld Pods; spec must contain a container named mysqld." },
);

/** docs/api.md#persistentvolumeclaim-templates */
export const PersistentVolumeClaimSchema = Type.Object({
  metadata: ObjectMetaSchema,
  spec: PersistentVolumeClaimSpecSchema,
});
export type PersistentVolumeClaim = Static<typeof PersistentVolumeClaimSchema>;

/** docs/api.md#servicetemplate */
export const ServiceTemplateSchema = Type.Object({
  metadata: Type.Optional(ObjectMetaSchema),
  spec: Type.Optional(ServiceSpecSchema),
});
export type ServiceTemplate = Static<typeof ServiceTemplateSchema>;

/** docs/api.md#restorespec */
export const RestoreSpecSchema = Type.Object(
  {
    jobConfig: JobConfigSchema,
    restorePoint: DateTime("Point in time (RFC 3339) to restore to."),
    sourceName: Type.String({ minLength: 1, description: "Name of the MySQLCluster whose backups are used." }),
    sourceNamespace: Type.String({ minLength: 1, description: "Namespace of that MySQLCluster." }),
    schema: Type.Optional(Type.String({ description: "Restore only this schema." })),
    users: Type.Optional(Type.String({ description: "Comma-separated users to restore; empty = all." })),
  },
  { description: "Restore (PiTR) this new cluster from another cluster's backups; immutable." },
);

/** moco-ts addition (docs/tls.md): TLS on every MySQL connection of the cluster. */
export const MySQLTLSSpecSchema = Type.Object(
  {
    secretName: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "kubernetes.io/tls Secret in the cluster's namespace (ca.crt, tls.crt, tls.key) used as mysqld's certificate; absent = issued by moco-controller's CA.",
      }),
    ),
    requireSecureTransport: Type.Optional(
      Type.Boolean({ description: "Sets require_secure_transport=ON: clients without TLS are refused." }),
    ),
  },
  { description: "moco-ts addition: mysqld serves TLS and moco-ts's own connections and replication verify it. Absent = plaintext, as MOCO." },
);

/** docs/api.md#mysqlcluster-in-short */
export const MySQLClusterSpecSchema = Type.Object(
  {
    podTemplate: PodTemplateSpecSchema,
    volumeClaimTemplates: Type.Array(PersistentVolumeClaimSchema, {
      minItems: 1,
      description: "PVC templates of the StatefulSet; one must be named mysql-data.",
    }),
    replicas: Type.Optional(Int32({ default: 1, description: "Number of mysqld instances (1, 3 or 5)." })),
    primaryServiceTemplate: Type.Optional(ServiceTemplateSchema),
    replicaServiceTemplate: Type.Optional(ServiceTemplateSchema),
    mysqlConfigMapName: Type.Optional(
      Nullable(Type.String({ description: "ConfigMap in the same namespace holding user mysqld options." })),
    ),
    replicationSourceSecretName: Type.Optional(
      Nullable(Type.String({ description: "Secret describing an external donor (HOST, PORT, USER, ...)." })),
    ),
    collectors: Type.Optional(
      Type.Array(Type.String(), { description: "mysqld_exporter collectors without the collect. prefix." }),
    ),
    serverIDBase: Type.Optional(Int32({ description: "server_id of instance i is serverIDBase + i." })),
    maxDelaySeconds: Type.Optional(
      GoInt({ default: 60, minimum: 0, description: "Replica readiness threshold in seconds; 0 disables." }),
    ),
    maxDelaySecondsForPodDeletion: Type.Optional(
      Int64({ default: 0, minimum: 0, description: "Replication delay above which the primary Pod is protected." }),
    ),
    startupWaitSeconds: Type.Optional(
      Int32({ default: 3600, minimum: 0, description: "How long the mysqld startup probe waits." }),
    ),
    logRotationSchedule: Type.Optional(Type.String({ description: "Cron spec of the agent's log rotation." })),
    logRotationSize: Type.Optional(GoInt({ description: "Rotate logs above this many bytes; 0 disables." })),
    backupPolicyName: Type.Optional(
      Nullable(Type.String({ description: "BackupPolicy in the same namespace; enables backups." })),
    ),
    restore: Type.Optional(RestoreSpecSchema),
    disableSlowQueryLogContainer: Type.Optional(Type.Boolean({ description: "Removes the slow-log sidecar." })),
    slowQueryLogConfigTmpl: Type.Optional(Type.String({ description: "Template of the fluent-bit configuration." })),
    agentUseLocalhost: Type.Optional(Type.Boolean({ description: "The agent talks to mysqld via localhost." })),
    initializeTimezoneData: Type.Optional(
      Type.Boolean({ default: false, description: "Load time-zone tables into a new data directory." }),
    ),
    offline: Type.Optional(Type.Boolean({ description: "Scale the StatefulSet to 0, keeping the data." })),
    tls: Type.Optional(MySQLTLSSpecSchema),
  },
  { description: "Desired state of a MySQLCluster." },
);

/** docs/api.md#backupstatus */
export const BackupStatusSchema = Type.Object(
  {
    binlogFilename: Type.String({ description: "Binlog file the source was writing at backup time." }),
    binlogSize: Int64({ description: "Bytes of the binlog tarball." }),
    dumpSize: Int64({ description: "Bytes of the dump tarball." }),
    elapsed: Type.String({ description: "Time taken (Go duration)." }),
    gtidSet: Type.String({ description: "GTID set contained in the dump." }),
    sourceIndex: GoInt({ description: "Ordinal of the instance the backup was taken from." }),
    sourceUUID: Type.String({ description: "server_uuid of that instance." }),
    time: Nullable(DateTime("Time of the backup.")),
    warnings: Nullable(Type.Array(Type.String(), { description: "Warnings of the last backup." })),
    workDirUsage: Int64({ description: "Peak bytes used in the work directory." }),
    uuidSet: Type.Optional(StringMap("server_uuid of every candidate instance by ordinal.")),
  },
  { description: "The last successful backup." },
);
export type BackupStatus = Static<typeof BackupStatusSchema>;

/** docs/api.md#reconcileinfo */
export const ReconcileInfoSchema = Type.Object({
  generation: Type.Optional(Int64({ description: "metadata.generation seen by the last reconcile." })),
  reconcileVersion: Type.Optional(GoInt({ description: "Version of the reconciler used." })),
});

/** docs/api.md#status */
export const MySQLClusterStatusSchema = Type.Object(
  {
    currentPrimaryIndex: GoInt({ description: "Ordinal of the current primary." }),
    conditions: Type.Optional(Type.Array(ConditionSchema)),
    syncedReplicas: Type.Optional(GoInt({ description: "Number of Ready Pods, primary included." })),
    errantReplicas: Type.Optional(GoInt({ description: "Number of instances with errant transactions." })),
    errantReplicaList: Type.Optional(Type.Array(GoInt(), { description: "Ordinals of errant instances." })),
    backup: Type.Optional(BackupStatusSchema),
    restoredTime: Type.Optional(DateTime("When the restore finished.")),
    cloned: Type.Optional(Type.Boolean({ description: "The initial clone from the external donor is done." })),
    reconcileInfo: Type.Optional(ReconcileInfoSchema),
  },
  { description: "Observed state of a MySQLCluster." },
);

/** Top-level metadata: the API server owns its schema; typed as the client-node model. */
const TopLevelMetadataSchema = Type.Unsafe<JsonOf<V1ObjectMeta>>({ type: "object" });

const apiVersionSchema = Type.String({
  description: "APIVersion defines the versioned schema of this representation of an object.",
});
const kindSchema = Type.String({ description: "Kind is a string value representing the REST resource." });

export const MySQLClusterSchema = Type.Object(
  {
    apiVersion: Type.Optional(apiVersionSchema),
    kind: Type.Optional(kindSchema),
    metadata: Type.Optional(TopLevelMetadataSchema),
    spec: Type.Optional(MySQLClusterSpecSchema),
    status: Type.Optional(MySQLClusterStatusSchema),
  },
  { description: "MySQLCluster is the Schema for the mysqlclusters API." },
);
export type MySQLCluster = Static<typeof MySQLClusterSchema>;

// ---- BackupPolicy ----------------------------------------------------------------

/** docs/api.md#backuppolicyspec */
export const BackupPolicySpecSchema = Type.Object(
  {
    jobConfig: JobConfigSchema,
    schedule: Type.String({ description: "Cron schedule of the backup CronJob." }),
    timeZone: Type.Optional(Nullable(Type.String({ description: "IANA time zone of the schedule." }))),
    startingDeadlineSeconds: Type.Optional(Nullable(Int64({ description: "CronJob startingDeadlineSeconds." }))),
    concurrencyPolicy: Type.Optional(
      StringEnum(["Allow", "Forbid", "Replace"] as const, {
        default: "Allow",
        description: "CronJob concurrencyPolicy.",
      }),
    ),
    activeDeadlineSeconds: Type.Optional(Nullable(Int64({ description: "Job activeDeadlineSeconds." }))),
    backoffLimit: Type.Optional(Nullable(Int32({ minimum: 0, description: "Job backoffLimit." }))),
    successfulJobsHistoryLimit: Type.Optional(
      Nullable(Int32({ minimum: 0, description: "CronJob successfulJobsHistoryLimit." })),
    ),
    failedJobsHistoryLimit: Type.Optional(Nullable(Int32({ minimum: 0, description: "CronJob failedJobsHistoryLimit." }))),
  },
  { description: "Desired state of a BackupPolicy." },
);

export const BackupPolicySchema = Type.Object(
  {
    spec: BackupPolicySpecSchema,
    apiVersion: Type.Optional(apiVersionSchema),
    kind: Type.Optional(kindSchema),
    metadata: Type.Optional(TopLevelMetadataSchema),
  },
  { description: "BackupPolicy is a namespaced resource that should be referenced from MySQLCluster." },
);
export type BackupPolicy = Static<typeof BackupPolicySchema>;
