// Validation of MySQLCluster and BackupPolicy as pure functions (docs/api.md#mysqlcluster-validation-on-create, docs/api.md#mysqlcluster-validation-on-update, docs/api.md#backuppolicy-validation, docs/api.md#replica-rules,
// docs/api.md#reserved-names, docs/api.md#divergences-from-moco). Input is whatever the API server sent, so every accessor below is
// defensive: a malformed object yields field errors, never an exception.
import { isDeepStrictEqual } from "node:util";
import {
  AGENT_CONTAINER,
  DEFAULT_STORAGE_CLASS_ANNOTATIONS,
  EXPORTER_CONTAINER,
  INIT_CONTAINER,
  MAX_CLUSTER_NAME_LENGTH,
  MOCO_TS_RESERVED_CONTAINERS,
  MOCO_TS_RESERVED_INIT_CONTAINERS,
  MOCO_TS_RESERVED_VOLUMES,
  MYSQLD_CONTAINER,
  MYSQL_DATA_VOLUME,
  RESERVED_MYSQLD_PORTS,
  RESERVED_MYSQLD_PORT_NAMES,
  RESERVED_VOLUMES,
  SLOW_LOG_CONTAINER,
  SLOW_LOG_PATH,
  SUPPORTED_REPLICAS,
} from "./constants.ts";
import { parseCronSpec } from "./cron.ts";
import { renderGoTemplate, TemplateError } from "./gotemplate.ts";
import { fieldForbidden, fieldInternalError, fieldInvalid, fieldRequired, type FieldError } from "./field-errors.ts";
import { parseQuantity } from "../../util/quantity.ts";
import { BackupPolicySchema, MySQLClusterSpecSchema, type BackupPolicy, type MySQLCluster } from "./schema.ts";
import { checkAgainstSchema } from "./structural.ts";
import { errorMessage } from "../../util/errors.ts";

type Rec = Record<string, unknown>;

function asRecord(v: unknown): Rec | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Rec) : undefined;
}
function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function asString(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
/** A JSON integer, or the schema default when absent/null. */
function intOr(v: unknown, absent: number): number | undefined {
  if (v === undefined || v === null) return absent;
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
function shown(v: unknown): string | number | boolean | null | undefined {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" || v === null ? v : undefined;
}

/** The storage request of a volume claim template, if any. */
function storageRequestOf(template: unknown): unknown {
  const spec = asRecord(asRecord(template)?.["spec"]);
  const requests = asRecord(asRecord(spec?.["resources"])?.["requests"]);
  return requests?.["storage"];
}
function templateName(template: unknown): string | undefined {
  return asString(asRecord(asRecord(template)?.["metadata"])?.["name"]);
}

/** The spec checks split by origin: MOCO's own, and the rules moco-ts adds on top. */
export interface SpecCheckResult {
  /** MOCO's spec checks (docs/api.md "MySQLCluster in short"). */
  moco: FieldError[];
  /**
   * The stricter moco-ts rules (docs/api.md "Divergences from MOCO"): replicas 1, 3 or 5
   * and the names reserved by moco-ts. On UPDATE they judge only what changed, so an
   * object MOCO accepted stays editable and deletable.
   */
  mocoTs: FieldError[];
}

/** The spec checks of docs/api.md (run on CREATE and on every UPDATE), by origin. */
export function checkMySQLClusterSpec(specValue: unknown): SpecCheckResult {
  const errors: FieldError[] = [];
  const stricter: FieldError[] = [];
  const result = { moco: errors, mocoTs: stricter };
  const spec = asRecord(specValue);
  if (spec === undefined) {
    errors.push(fieldRequired("spec", "a MySQLCluster needs a spec"));
    return result;
  }

  // #1, #2 volume claim templates
  const vctPath = "spec.volumeClaimTemplates";
  const templates = asArray(spec["volumeClaimTemplates"]);
  if (!templates.some((t) => templateName(t) === MYSQL_DATA_VOLUME)) {
    errors.push(fieldRequired(vctPath, `required volume claim template "${MYSQL_DATA_VOLUME}" is missing`));
  }
  templates.forEach((t, i) => {
    if (storageRequestOf(t) === undefined || storageRequestOf(t) === null) {
      const name = templateName(t) ?? "";
      errors.push(
        fieldRequired(
          vctPath,
          `volume claim template "${name}" (index ${i}) must set spec.resources.requests.storage`,
        ),
      );
    }
  });

  // #3 serverIDBase
  const serverIDBase = intOr(spec["serverIDBase"], 0);
  if (serverIDBase === undefined || serverIDBase <= 0) {
    errors.push(fieldInvalid("spec.serverIDBase", shown(spec["serverIDBase"] ?? 0), "serverIDBase must be a positive integer"));
  }

  // #4 logRotationSchedule
  const schedule = spec["logRotationSchedule"];
  if (typeof schedule === "string" && schedule !== "") {
    const parsed = parseCronSpec(schedule);
    if (!parsed.ok) errors.push(fieldInvalid("spec.logRotationSchedule", schedule, parsed.error));
  }

  // #5 logRotationSize
  const rotationSize = intOr(spec["logRotationSize"], 0);
  if (rotationSize === undefined || rotationSize < 0) {
    errors.push(fieldInvalid("spec.logRotationSize", shown(spec["logRotationSize"]), "logRotationSize must be >= 0"));
  }

  // #6, #7 replicas (+ moco-ts: only 1, 3 or 5)
  const replicas = intOr(spec["replicas"], 1);
  if (replicas === undefined) {
    errors.push(fieldInvalid("spec.replicas", shown(spec["replicas"]), "replicas must be an integer"));
  } else {
    if (replicas % 2 !== 1) errors.push(fieldInvalid("spec.replicas", replicas, "replicas must be an odd number"));
    if (replicas <= 0) errors.push(fieldInvalid("spec.replicas", replicas, "replicas must be a positive integer"));
    if (replicas > 0 && replicas % 2 === 1 && !SUPPORTED_REPLICAS.includes(replicas)) {
      stricter.push(
        fieldInvalid(
          "spec.replicas",
          replicas,
          `moco-ts supports replicas of ${SUPPORTED_REPLICAS.join(", ")} only (MOCO accepts any positive odd number)`,
        ),
      );
    }
  }

  // #8-#15 podTemplate
  const podSpec = asRecord(asRecord(spec["podTemplate"])?.["spec"]);
  const psPath = "spec.podTemplate.spec";
  const containers = asArray(podSpec?.["containers"]);
  const collectors = asArray(spec["collectors"]);
  let mysqldFound = false;
  containers.forEach((c, i) => {
    const p = `${psPath}.containers[${i}]`;
    const name = asString(asRecord(c)?.["name"]);
    if (name === undefined || name === "") {
      errors.push(fieldForbidden(p, "every container must have a name"));
      return;
    }
    if (name === AGENT_CONTAINER) errors.push(fieldForbidden(p, `container name "${name}" is reserved for MOCO`));
    if (name === SLOW_LOG_CONTAINER && spec["disableSlowQueryLogContainer"] !== true) {
      errors.push(
        fieldForbidden(p, `container name "${name}" is reserved for MOCO unless disableSlowQueryLogContainer is true`),
      );
    }
    if (name === EXPORTER_CONTAINER && collectors.length > 0) {
      errors.push(fieldForbidden(p, `container name "${name}" is reserved for MOCO when collectors are set`));
    }
    if (MOCO_TS_RESERVED_CONTAINERS.includes(name)) {
      stricter.push(
        fieldForbidden(p, `container name "${name}" is reserved by moco-ts (an init container of that name is added)`),
      );
    }
    if (name !== MYSQLD_CONTAINER) return;
    mysqldFound = true;
    asArray(asRecord(c)?.["ports"]).forEach((port, j) => {
      const pp = `${p}.ports[${j}]`;
      const portRec = asRecord(port);
      const number = portRec?.["containerPort"];
      if (typeof number === "number" && RESERVED_MYSQLD_PORTS.includes(number)) {
        errors.push(fieldInvalid(pp, number, `port ${number} is reserved for MOCO`));
      }
      const portName = asString(portRec?.["name"]);
      if (portName !== undefined && RESERVED_MYSQLD_PORT_NAMES.includes(portName)) {
        errors.push(fieldInvalid(pp, portName, `port name "${portName}" is reserved for MOCO`));
      }
    });
  });
  if (!mysqldFound) {
    errors.push(fieldRequired(`${psPath}.containers`, `container "${MYSQLD_CONTAINER}" is required`));
  }
  asArray(podSpec?.["initContainers"]).forEach((c, i) => {
    const p = `${psPath}.initContainers[${i}]`;
    const name = asString(asRecord(c)?.["name"]);
    if (name === undefined || name === "") {
      errors.push(fieldForbidden(p, "every init container must have a name"));
      return;
    }
    if (name === INIT_CONTAINER) errors.push(fieldInvalid(p, name, `init container name "${name}" is reserved for MOCO`));
    if (MOCO_TS_RESERVED_INIT_CONTAINERS.includes(name)) {
      stricter.push(
        fieldInvalid(p, name, `init container name "${name}" is reserved by moco-ts (the controller adds it; stricter than MOCO)`),
      );
    }
  });
  asArray(podSpec?.["volumes"]).forEach((v, i) => {
    const name = asString(asRecord(v)?.["name"]);
    if (name === undefined) return;
    const p = `${psPath}.volumes[${i}]`;
    if (RESERVED_VOLUMES.includes(name)) errors.push(fieldInvalid(p, name, `volume name "${name}" is reserved for MOCO`));
    if (MOCO_TS_RESERVED_VOLUMES.includes(name)) {
      stricter.push(fieldInvalid(p, name, `volume name "${name}" is reserved by moco-ts (MOCO adds it; stricter than MOCO)`));
    }
  });

  // moco-ts: the slow-log template must render with moco-ts's subset of Go's text/template
  // (docs/api.md "slowQueryLogConfigTmpl"). The data is fixed, so rendering it once here
  // finds every error the reconcile would meet.
  const slowLogTemplate = spec["slowQueryLogConfigTmpl"];
  if (typeof slowLogTemplate === "string") {
    try {
      renderGoTemplate(slowLogTemplate, { Path: SLOW_LOG_PATH });
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      stricter.push(fieldInvalid("spec.slowQueryLogConfigTmpl", undefined, `template ${e.message}`));
    }
  }
  return result;
}

/** Every spec check of docs/api.md, MOCO's and moco-ts's (as on CREATE). */
export function validateMySQLClusterSpec(specValue: unknown): FieldError[] {
  const { moco, mocoTs } = checkMySQLClusterSpec(specValue);
  return [...moco, ...mocoTs];
}

/**
 * The spec checks on UPDATE: MOCO's on the new spec, and a moco-ts rule only where the
 * new spec breaks it in a way the old one did not (same message), e.g. a cluster MOCO
 * created with 7 instances keeps them, but cannot grow to 9 or be created with 7.
 */
export function validateMySQLClusterSpecUpdate(newSpec: unknown, oldSpec: unknown): FieldError[] {
  const next = checkMySQLClusterSpec(newSpec);
  const grandfathered = new Set(checkMySQLClusterSpec(oldSpec).mocoTs.map((e) => e.message));
  return [...next.moco, ...next.mocoTs.filter((e) => !grandfathered.has(e.message))];
}

/**
 * The CRD schema check of the spec only (defence in depth: the API server has already
 * applied the whole schema). The status is the controller's, validated by the API server
 * on the status subresource, and metadata is the API server's; neither is judged here,
 * so a label, an annotation or the removal of a finalizer is never refused because of
 * what the status holds (docs/api.md "Admission webhooks").
 */
function checkSpecSchema(obj: unknown): FieldError[] {
  return checkAgainstSchema(MySQLClusterSpecSchema, asRecord(obj)?.["spec"], "spec");
}

function metadataName(obj: unknown): string | undefined {
  return asString(asRecord(asRecord(obj)?.["metadata"])?.["name"]);
}

/** Validation on CREATE (docs/api.md#mysqlcluster-validation-on-create): schema, name length, spec checks. */
export function validateMySQLClusterCreate(cluster: MySQLCluster): FieldError[] {
  const errors = checkSpecSchema(cluster);
  const name = metadataName(cluster) ?? "";
  if (name.length > MAX_CLUSTER_NAME_LENGTH) {
    errors.push(
      fieldInvalid("metadata.name", name, `the name must be no more than ${MAX_CLUSTER_NAME_LENGTH} characters`),
    );
  }
  errors.push(...validateMySQLClusterSpec(asRecord(cluster)?.["spec"]));
  return errors;
}

/** A StorageClass as far as the expansion check needs it. */
export interface StorageClassInfo {
  metadata?: { name?: string; annotations?: Record<string, string> };
  allowVolumeExpansion?: boolean;
}

/** How the update validator reads StorageClasses (a k8s client in production, a table in tests). */
export interface StorageClassLookup {
  /** Resolves to undefined when the class does not exist; rejects on read failure. */
  getStorageClass(name: string): Promise<StorageClassInfo | undefined>;
  listStorageClasses(): Promise<StorageClassInfo[]>;
}

export interface ValidationResult {
  errors: FieldError[];
  /** Admission warnings (shown by kubectl), e.g. a serverIDBase change (docs/api.md#divergences-from-moco). */
  warnings: string[];
}

/** A grown volume claim template whose StorageClass must allow expansion (docs/api.md#mysqlcluster-validation-on-update). */
export interface VolumeExpansionRequest {
  index: number;
  name: string;
  storageClassName?: string;
}

/** The update rules that need no API reads (docs/api.md#mysqlcluster-validation-on-update minus the StorageClass check). */
export function validateMySQLClusterUpdateRules(
  newCluster: MySQLCluster,
  oldCluster: MySQLCluster,
): { result: ValidationResult; expansions: VolumeExpansionRequest[] } {
  const errors = checkSpecSchema(newCluster);
  const warnings: string[] = [];
  const newSpec = asRecord(asRecord(newCluster)?.["spec"]) ?? {};
  const oldSpec = asRecord(asRecord(oldCluster)?.["spec"]) ?? {};

  const newReplicas = intOr(newSpec["replicas"], 1);
  const oldReplicas = intOr(oldSpec["replicas"], 1);
  if (newReplicas !== undefined && oldReplicas !== undefined && newReplicas < oldReplicas) {
    errors.push(
      fieldForbidden("spec.replicas", `decreasing replicas (from ${oldReplicas} to ${newReplicas}) is not supported`),
    );
  }

  const newSource = newSpec["replicationSourceSecretName"];
  const oldSource = oldSpec["replicationSourceSecretName"];
  if (newSource !== undefined && newSource !== null) {
    if (oldSource === undefined || oldSource === null) {
      errors.push(
        fieldForbidden(
          "spec.replicationSourceSecretName",
          "replication can only be configured when the cluster is created",
        ),
      );
    } else if (newSource !== oldSource) {
      errors.push(fieldForbidden("spec.replicationSourceSecretName", "the replication source cannot be changed"));
    }
  }

  const newRestore = newSpec["restore"] ?? null;
  const oldRestore = oldSpec["restore"] ?? null;
  if (!isDeepStrictEqual(newRestore, oldRestore)) {
    errors.push(fieldForbidden("spec.restore", "restore is not editable after creation"));
  }

  const newBase = intOr(newSpec["serverIDBase"], 0);
  const oldBase = intOr(oldSpec["serverIDBase"], 0);
  if (newBase !== oldBase) {
    warnings.push(
      `spec.serverIDBase changed from ${String(oldBase)} to ${String(newBase)}: every instance gets a new server_id ` +
        "when its Pod restarts",
    );
  }

  const expansions: VolumeExpansionRequest[] = [];
  const oldSizes = new Map<string, number>();
  for (const t of asArray(oldSpec["volumeClaimTemplates"])) {
    const name = templateName(t);
    const size = parseQuantity(storageRequestOf(t) as string | number | undefined);
    if (name !== undefined && size !== undefined) oldSizes.set(name, size);
  }
  asArray(newSpec["volumeClaimTemplates"]).forEach((t, index) => {
    const name = templateName(t);
    if (name === undefined) return;
    const oldSize = oldSizes.get(name);
    const newSize = parseQuantity(storageRequestOf(t) as string | number | undefined);
    if (oldSize === undefined || newSize === undefined || newSize <= oldSize) return;
    const storageClassName = asString(asRecord(asRecord(t)?.["spec"])?.["storageClassName"]);
    expansions.push(storageClassName === undefined ? { index, name } : { index, name, storageClassName });
  });

  errors.push(...validateMySQLClusterSpecUpdate(asRecord(newCluster)?.["spec"], oldSpec));
  return { result: { errors, warnings }, expansions };
}

function isDefaultClass(sc: StorageClassInfo): boolean {
  const annotations = sc.metadata?.annotations ?? {};
  return DEFAULT_STORAGE_CLASS_ANNOTATIONS.some((key) => annotations[key] === "true");
}

/** The StorageClass check of docs/api.md#mysqlcluster-validation-on-update for each grown template. */
export async function checkVolumeExpansions(
  expansions: readonly VolumeExpansionRequest[],
  storage: StorageClassLookup,
): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  for (const req of expansions) {
    const p = `spec.volumeClaimTemplates[${req.index}]`;
    let sc: StorageClassInfo | undefined;
    let className: string;
    if (req.storageClassName !== undefined && req.storageClassName !== "") {
      className = req.storageClassName;
      try {
        sc = await storage.getStorageClass(className);
      } catch (e) {
        errors.push(fieldInternalError(`${p}.spec.storageClassName`, `failed to get StorageClass "${className}": ${errorMessage(e)}`));
        continue;
      }
      if (sc === undefined) {
        errors.push(fieldInternalError(`${p}.spec.storageClassName`, `StorageClass "${className}" not found`));
        continue;
      }
    } else {
      let all: StorageClassInfo[];
      try {
        all = await storage.listStorageClasses();
      } catch (e) {
        errors.push(fieldInternalError(p, `failed to list StorageClasses: ${errorMessage(e)}`));
        continue;
      }
      sc = all.find(isDefaultClass);
      if (sc === undefined) {
        errors.push(fieldInternalError(p, "no default StorageClass found"));
        continue;
      }
      className = sc.metadata?.name ?? "";
    }
    if (sc.allowVolumeExpansion !== true) {
      errors.push(
        fieldForbidden(
          p,
          `volume claim template "${req.name}" cannot grow: StorageClass "${className}" does not allow volume expansion`,
        ),
      );
    }
  }
  return errors;
}

/** Validation on UPDATE (docs/api.md#mysqlcluster-validation-on-update): immutability rules, StorageClass check, spec checks. */
export async function validateMySQLClusterUpdate(
  newCluster: MySQLCluster,
  oldCluster: MySQLCluster,
  storage: StorageClassLookup,
): Promise<ValidationResult> {
  const { result, expansions } = validateMySQLClusterUpdateRules(newCluster, oldCluster);
  result.errors.push(...(await checkVolumeExpansions(expansions, storage)));
  return result;
}

/** BackupPolicy CREATE/UPDATE validation (docs/api.md#backuppolicy-validation): schema and the cron schedule. */
export function validateBackupPolicy(policy: BackupPolicy): FieldError[] {
  const errors = checkAgainstSchema(BackupPolicySchema, policy);
  const schedule = asRecord(asRecord(policy)?.["spec"])?.["schedule"];
  if (typeof schedule === "string") {
    const parsed = parseCronSpec(schedule);
    if (!parsed.ok) errors.push(fieldInvalid("spec.schedule", schedule, parsed.error));
  }
  return errors;
}

/**
 * BackupPolicy DELETE (docs/api.md#backuppolicy-validation): the `<ns>/<name>` of every cluster in the list that
 * still references the policy (same namespace, spec.backupPolicyName equal to its name).
 */
export function findClustersReferencingPolicy(policy: BackupPolicy, clusters: readonly MySQLCluster[]): string[] {
  const policyName = metadataName(policy);
  const policyNamespace = asString(asRecord(asRecord(policy)?.["metadata"])?.["namespace"]);
  const refs: string[] = [];
  for (const c of clusters) {
    const meta = asRecord(asRecord(c)?.["metadata"]);
    const ns = asString(meta?.["namespace"]);
    if (policyNamespace !== undefined && ns !== undefined && ns !== policyNamespace) continue;
    if (asRecord(asRecord(c)?.["spec"])?.["backupPolicyName"] === policyName) {
      refs.push(`${ns ?? policyNamespace ?? ""}/${asString(meta?.["name"]) ?? ""}`);
    }
  }
  return refs;
}
