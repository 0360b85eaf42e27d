// Trims the Kubernetes OpenAPI v3 document of core/v1 (api__v1_openapi.json of the
// pinned k8s.io/kubernetes release) down to the definitions that the moco-ts CRDs
// embed, in the form docs/api.md#crd-packaging prescribes:
//   - every `required` list removed;
//   - no x-kubernetes-list-type / list-map-keys / map-type / patch-* / unions markers,
//     no descriptions (keeps the CRDs small), no zero-value defaults ("" / 0 / {} /
//     false, which openapi-gen emits for non-pointer fields; controller-gen does not);
//   - resource.Quantity and intstr.IntOrString as `anyOf: [integer, string]` +
//     `x-kubernetes-int-or-string: true` (+ the quantity regex);
//   - metav1.Time as a date-time string; metav1.ObjectMeta (only reached through an
//     ephemeral volume's claim template) as the trimmed ObjectMeta of docs/api.md#objectmeta;
//   - a synthetic `io.k8s.api.core.v1.VolumeSource` (Volume without `name`), which the
//     OpenAPI document does not carry because Go embeds it inline in Volume.
// `$ref`s between definitions stay (`{"$ref": "<definition name>"}`); they are inlined
// when a schema is built (src/api/v1beta2/core-schemas.ts), because CRD structural
// schemas cannot contain `$ref`.

import { execFileSync } from "node:child_process";

export const KUBERNETES_RELEASE = "v1.34.4";

/** Definitions the MOCO API embeds (docs/api.md#sub-types and docs/api.md#backuppolicy-in-short). */
export const CORE_ROOT_DEFINITIONS: readonly string[] = [
  "io.k8s.api.core.v1.PodSpec",
  "io.k8s.api.core.v1.PersistentVolumeClaimSpec",
  "io.k8s.api.core.v1.ServiceSpec",
  "io.k8s.api.core.v1.ResourceRequirements",
  "io.k8s.api.core.v1.SecurityContext",
  "io.k8s.api.core.v1.EnvVar",
  "io.k8s.api.core.v1.EnvFromSource",
  "io.k8s.api.core.v1.Volume",
  "io.k8s.api.core.v1.VolumeSource",
  "io.k8s.api.core.v1.VolumeMount",
  "io.k8s.api.core.v1.Affinity",
  "io.k8s.apimachinery.pkg.apis.meta.v1.Condition",
];

export const QUANTITY_PATTERN =
  "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";
const OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const VOLUME = "io.k8s.api.core.v1.Volume";
const VOLUME_SOURCE = "io.k8s.api.core.v1.VolumeSource";

export type JsonSchema = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The committed trimmed document: src/api/v1beta2/k8s-core-v1.json. */
export interface TrimmedCoreDefinitions {
  source: string;
  definitions: Record<string, JsonSchema>;
}

/** Replacement definitions for the apimachinery scalar-like types. */
const SPECIAL_DEFINITIONS: Record<string, JsonSchema> = {
  [QUANTITY]: {
    anyOf: [{ type: "integer" }, { type: "string" }],
    pattern: QUANTITY_PATTERN,
    "x-kubernetes-int-or-string": true,
  },
  [INT_OR_STRING]: {
    anyOf: [{ type: "integer" }, { type: "string" }],
    "x-kubernetes-int-or-string": true,
  },
  [TIME]: { type: "string", format: "date-time" },
  [MICRO_TIME]: { type: "string", format: "date-time" },
  [OBJECT_META]: {
    type: "object",
    properties: {
      name: { type: "string" },
      labels: { type: "object", additionalProperties: { type: "string" } },
      annotations: { type: "object", additionalProperties: { type: "string" } },
    },
  },
};

const REF_PREFIX = "#/components/schemas/";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function refName(node: Record<string, unknown>): string | undefined {
  if (typeof node["$ref"] === "string") return node["$ref"].replace(REF_PREFIX, "");
  const allOf = node["allOf"];
  if (Array.isArray(allOf) && allOf.length === 1 && isObject(allOf[0]) && typeof allOf[0]["$ref"] === "string") {
    return allOf[0]["$ref"].replace(REF_PREFIX, "");
  }
  return undefined;
}

/** Normalises one schema node, collecting the names of referenced definitions. */
function normaliseNode(node: unknown, refs: Set<string>): JsonSchema {
  if (!isObject(node)) throw new Error(`unexpected schema node ${JSON.stringify(node)}`);
  const ref = refName(node);
  if (ref !== undefined) {
    refs.add(ref);
    return { $ref: ref };
  }
  const out: JsonSchema = {};
  if (typeof node["type"] === "string") out["type"] = node["type"];
  if (typeof node["format"] === "string" && node["format"] !== "int-or-string") out["format"] = node["format"];
  if (typeof node["default"] === "string" && node["default"] !== "") out["default"] = node["default"];
  if (isObject(node["properties"])) {
    const props: JsonSchema = {};
    for (const key of Object.keys(node["properties"]).sort()) {
      props[key] = normaliseNode(node["properties"][key], refs);
    }
    out["properties"] = props;
  }
  if (node["items"] !== undefined) out["items"] = normaliseNode(node["items"], refs);
  if (isObject(node["additionalProperties"])) {
    out["additionalProperties"] = normaliseNode(node["additionalProperties"], refs);
  }
  if (out["type"] === undefined && out["properties"] !== undefined) out["type"] = "object";
  return out;
}

/** Builds the trimmed definitions reachable from CORE_ROOT_DEFINITIONS. */
export function trimCoreDefinitions(openapi: unknown, source: string): TrimmedCoreDefinitions {
  if (!isObject(openapi) || !isObject(openapi["components"]) || !isObject(openapi["components"]["schemas"])) {
    throw new Error("not an OpenAPI v3 document with components.schemas");
  }
  const schemas = openapi["components"]["schemas"];
  const definitions: Record<string, JsonSchema> = {};
  const queue = [...CORE_ROOT_DEFINITIONS];
  while (queue.length > 0) {
    const name = queue.shift() as string;
    if (definitions[name] !== undefined) continue;
    const special = SPECIAL_DEFINITIONS[name];
    if (special !== undefined) {
      definitions[name] = structuredClone(special);
      continue;
    }
    const refs = new Set<string>();
    let schema: JsonSchema;
    if (name === VOLUME_SOURCE) {
      schema = normaliseNode(schemas[VOLUME], refs);
      const props = schema["properties"] as Record<string, JsonSchema>;
      delete props["name"];
    } else {
      if (!isObject(schemas[name])) throw new Error(`definition ${name} not found in the OpenAPI document`);
      schema = normaliseNode(schemas[name], refs);
    }
    definitions[name] = schema;
    for (const r of refs) if (definitions[r] === undefined) queue.push(r);
  }
  const sorted: Record<string, JsonSchema> = {};
  for (const key of Object.keys(definitions).sort()) sorted[key] = definitions[key] as JsonSchema;
  return { source, definitions: sorted };
}

/** Where `go mod download` puts the pinned release's core/v1 OpenAPI document. */
export function defaultOpenApiPath(): string {
  const modcache = process.env["GOMODCACHE"] ?? goModCache();
  return `${modcache}/k8s.io/kubernetes@${KUBERNETES_RELEASE}/api/openapi-spec/v3/api__v1_openapi.json`;
}

/** Go's module cache, as the toolchain reports it (`go env GOMODCACHE`). */
function goModCache(): string {
  return execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
}

export const OPENAPI_SOURCE_LABEL =
  `k8s.io/kubernetes@${KUBERNETES_RELEASE} api/openapi-spec/v3/api__v1_openapi.json (trimmed by scripts/api-openapi.ts)`;
