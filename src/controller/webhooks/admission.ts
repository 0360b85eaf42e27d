// admission.k8s.io/v1 AdmissionReview handling for the moco-ts webhooks (docs/api.md#admission-webhooks,
// docs/objects.md#statefulset-mutating-webhook), as functions from a parsed review to a response review. The HTTPS
// server (server.ts) only routes and (de)serialises. Side effects come in through
// WebhookDependencies so the handlers are testable without an API server.
import {
  API_VERSION,
  BACKUPPOLICY_KIND,
  GROUP,
  MYSQLCLUSTER_KIND,
  causeTypeOf,
  fieldErrorBody,
  defaultMySQLCluster,
  findClustersReferencingPolicy,
  validateBackupPolicy,
  validateMySQLClusterCreate,
  validateMySQLClusterUpdate,
  type BackupPolicy,
  type FieldError,
  type MySQLCluster,
  type StorageClassLookup,
} from "../../api/v1beta2/index.ts";
import { createJsonPatch } from "./json-patch.ts";
import { mutateStatefulSet, type StatefulSet } from "./statefulset.ts";
import { errorMessage } from "../../util/errors.ts";

export type AdmissionOperation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

export interface AdmissionRequest {
  uid: string;
  kind?: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  operation: AdmissionOperation;
  name?: string;
  namespace?: string;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

/** metav1.Status as carried in an AdmissionResponse. */
export interface Status {
  metadata: Record<string, never>;
  status: "Success" | "Failure";
  message: string;
  reason?: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Status;
  patch?: string;
  patchType?: "JSONPatch";
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: "admission.k8s.io/v1";
  kind: "AdmissionReview";
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** What the handlers need from the outside world. */
export interface WebhookDependencies {
  /** StorageClass reads for the volume expansion check. */
  storageClasses: StorageClassLookup;
  /** MySQLClusters of a namespace, for the BackupPolicy DELETE check. */
  listMySQLClusters(namespace: string): Promise<MySQLCluster[]>;
  /** Random bytes for serverIDBase (defaults to the CSPRNG). */
  randomBytes?: (size: number) => Uint8Array;
}

export class MalformedReviewError extends Error {}

/** Checks the envelope of a decoded AdmissionReview; throws MalformedReviewError. */
export function parseAdmissionReview(body: unknown): AdmissionRequest {
  const review = body as Partial<AdmissionReview> | null;
  if (typeof review !== "object" || review === null || Array.isArray(review)) {
    throw new MalformedReviewError("the body is not a JSON object");
  }
  if (review.apiVersion !== "admission.k8s.io/v1" || review.kind !== "AdmissionReview") {
    throw new MalformedReviewError("expected an admission.k8s.io/v1 AdmissionReview");
  }
  const req = review.request;
  if (typeof req !== "object" || req === null || typeof req.uid !== "string" || req.uid === "") {
    throw new MalformedReviewError("the AdmissionReview has no request or no request.uid");
  }
  if (!["CREATE", "UPDATE", "DELETE", "CONNECT"].includes(req.operation)) {
    throw new MalformedReviewError(`unknown operation ${JSON.stringify(req.operation)}`);
  }
  return req;
}

export function reviewOf(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
}

export function allowed(uid: string, warnings: string[] = []): AdmissionResponse {
  return warnings.length > 0 ? { uid, allowed: true, warnings } : { uid, allowed: true };
}

/** A denial with a plain status (malformed request, internal error, 403). */
export function denied(uid: string, code: number, reason: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { metadata: {}, status: "Failure", message, reason, code } };
}

/** The 422 Invalid status listing every field error (like apierrors.NewInvalid). */
export function invalidResponse(
  uid: string,
  kind: string,
  name: string,
  errors: readonly FieldError[],
  warnings: string[] = [],
): AdmissionResponse {
  const list = errors.map((e) => e.message);
  const joined = list.length === 1 ? list[0] : `[${list.join(", ")}]`;
  const response: AdmissionResponse = {
    uid,
    allowed: false,
    status: {
      metadata: {},
      status: "Failure",
      message: `${kind}.${GROUP} "${name}" is invalid: ${joined}`,
      reason: "Invalid",
      code: 422,
      details: {
        name,
        group: GROUP,
        kind,
        causes: errors.map((e) => ({ reason: causeTypeOf(e.type), message: fieldErrorBody(e), field: e.field })),
      },
    },
  };
  if (warnings.length > 0) response.warnings = warnings;
  return response;
}

function objectName(req: AdmissionRequest, obj: unknown): string {
  const meta = (obj as { metadata?: { name?: unknown } } | null | undefined)?.metadata;
  if (typeof meta?.name === "string") return meta.name;
  return req.name ?? "";
}

function requireObject(req: AdmissionRequest, which: "object" | "oldObject"): Record<string, unknown> {
  const obj = req[which];
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new MalformedReviewError(`request.${which} is missing or not an object`);
  }
  return obj as Record<string, unknown>;
}

function base64Patch(from: unknown, to: unknown): string | undefined {
  const ops = createJsonPatch(from, to);
  return ops.length === 0 ? undefined : Buffer.from(JSON.stringify(ops)).toString("base64");
}

function patchedResponse(uid: string, from: unknown, to: unknown): AdmissionResponse {
  const patch = base64Patch(from, to);
  return patch === undefined ? allowed(uid) : { uid, allowed: true, patch, patchType: "JSONPatch" };
}

/** /mutate-moco-cybozu-com-v1beta2-mysqlcluster (CREATE; docs/api.md#mysqlcluster-defaulting). */
export function reviewMySQLClusterDefaulting(req: AdmissionRequest, deps: WebhookDependencies): AdmissionResponse {
  if (req.operation !== "CREATE") return allowed(req.uid);
  const obj = requireObject(req, "object");
  const defaulted = defaultMySQLCluster(obj as MySQLCluster, deps.randomBytes);
  return patchedResponse(req.uid, obj, defaulted);
}

/** /validate-moco-cybozu-com-v1beta2-mysqlcluster (CREATE, UPDATE; docs/api.md#mysqlcluster-validation-on-create, docs/api.md#mysqlcluster-validation-on-update). */
export async function reviewMySQLClusterValidation(
  req: AdmissionRequest,
  deps: WebhookDependencies,
): Promise<AdmissionResponse> {
  if (req.operation === "CREATE") {
    const obj = requireObject(req, "object");
    const errors = validateMySQLClusterCreate(obj as MySQLCluster);
    return errors.length === 0 ? allowed(req.uid) : invalidResponse(req.uid, MYSQLCLUSTER_KIND, objectName(req, obj), errors);
  }
  if (req.operation === "UPDATE") {
    const obj = requireObject(req, "object");
    const old = requireObject(req, "oldObject");
    const { errors, warnings } = await validateMySQLClusterUpdate(
      obj as MySQLCluster,
      old as MySQLCluster,
      deps.storageClasses,
    );
    return errors.length === 0
      ? allowed(req.uid, warnings)
      : invalidResponse(req.uid, MYSQLCLUSTER_KIND, objectName(req, obj), errors, warnings);
  }
  return allowed(req.uid);
}

/** /validate-moco-cybozu-com-v1beta2-backuppolicy (CREATE, UPDATE, DELETE; docs/api.md#backuppolicy-validation). */
export async function reviewBackupPolicyValidation(
  req: AdmissionRequest,
  deps: WebhookDependencies,
): Promise<AdmissionResponse> {
  if (req.operation === "CREATE" || req.operation === "UPDATE") {
    const obj = requireObject(req, "object");
    const errors = validateBackupPolicy(obj as BackupPolicy);
    return errors.length === 0 ? allowed(req.uid) : invalidResponse(req.uid, BACKUPPOLICY_KIND, objectName(req, obj), errors);
  }
  if (req.operation !== "DELETE") return allowed(req.uid);
  const old = requireObject(req, "oldObject");
  const policy = structuredClone(old) as BackupPolicy;
  const namespace = req.namespace ?? policy.metadata?.namespace ?? "";
  policy.metadata = { ...(policy.metadata ?? {}), namespace, name: objectName(req, old) };
  let clusters: MySQLCluster[];
  try {
    clusters = await deps.listMySQLClusters(namespace);
  } catch (e) {
    return denied(req.uid, 500, "InternalError", `failed to list MySQLClusters in ${namespace}: ${errorMessage(e)}`);
  }
  const refs = findClustersReferencingPolicy(policy, clusters);
  if (refs.length === 0) return allowed(req.uid);
  return denied(
    req.uid,
    403,
    "Forbidden",
    `BackupPolicy ${namespace}/${objectName(req, old)} is still referenced by MySQLCluster ${refs.join(", ")}`,
  );
}

/** /mutate-apps-v1-statefulset (CREATE, UPDATE; docs/objects.md#statefulset-mutating-webhook). */
export function reviewStatefulSetMutation(req: AdmissionRequest): AdmissionResponse {
  if (req.operation !== "CREATE" && req.operation !== "UPDATE") return allowed(req.uid);
  const obj = requireObject(req, "object") as StatefulSet;
  const old = req.operation === "UPDATE" ? (requireObject(req, "oldObject") as StatefulSet) : undefined;
  return patchedResponse(req.uid, obj, mutateStatefulSet(obj, old));
}

// ---- conversion -------------------------------------------------------------------

export interface ConversionReview {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "ConversionReview";
  request?: { uid: string; desiredAPIVersion: string; objects: unknown[] };
  response?: {
    uid: string;
    convertedObjects: unknown[];
    result: { status: "Success" | "Failure"; message?: string };
  };
}

/** /convert: identity conversion (v1beta2 is the only version; docs/api.md#divergences-from-moco). */
export function reviewConversion(body: unknown): ConversionReview {
  const req = (body as ConversionReview | null)?.request;
  const uid = typeof req?.uid === "string" ? req.uid : "";
  const fail = (message: string): ConversionReview => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "ConversionReview",
    response: { uid, convertedObjects: [], result: { status: "Failure", message } },
  });
  if (typeof req !== "object" || req === null || !Array.isArray(req.objects)) {
    return fail("malformed ConversionReview: request.objects is missing");
  }
  if (req.desiredAPIVersion !== API_VERSION) {
    return fail(`cannot convert to ${String(req.desiredAPIVersion)}: only ${API_VERSION} exists`);
  }
  for (const o of req.objects) {
    const v = (o as { apiVersion?: unknown } | null)?.apiVersion;
    if (v !== API_VERSION) return fail(`cannot convert from ${String(v)}: only ${API_VERSION} exists`);
  }
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "ConversionReview",
    response: { uid, convertedObjects: req.objects, result: { status: "Success" } },
  };
}
