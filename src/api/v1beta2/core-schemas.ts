// Embedded Kubernetes core/v1 schemas (PodSpec, PersistentVolumeClaimSpec, ...), taken
// from the committed, trimmed OpenAPI of the pinned Kubernetes release
// (k8s-core-v1.json, written by scripts/gen-crds.ts) and inlined here, because a CRD
// structural schema cannot contain `$ref`. The TypeScript types of these objects come
// from @kubernetes/client-node's models (JSON form: Date fields become strings).
import { Type, type TUnsafe } from "@sinclair/typebox";
import type {
  V1Affinity,
  V1Condition,
  V1EnvFromSource,
  V1EnvVar,
  V1PersistentVolumeClaimSpec,
  V1PodSpec,
  V1ResourceRequirements,
  V1SecurityContext,
  V1ServiceSpec,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import coreDefinitions from "./k8s-core-v1.json" with { type: "json" };

/** A JSON value as it appears on the wire. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A plain JSON schema object (no TypeBox symbols). */
export type JsonSchemaObject = { [key: string]: JsonValue };

/** The JSON (wire) form of a client-node model: Date fields are RFC 3339 strings. */
export type JsonOf<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? JsonOf<U>[]
    : T extends object
      ? { [K in keyof T]: JsonOf<T[K]> }
      : T;

/** A resource.Quantity on the wire: "10Gi", "500m" or a plain integer. */
export type Quantity = string | number;

const definitions = coreDefinitions.definitions as unknown as Record<string, JsonSchemaObject>;

/** Returns the named definition with every `$ref` resolved recursively (a fresh copy). */
export function inlineCoreDefinition(name: string): JsonSchemaObject {
  return inlineNode({ $ref: name }, []) as JsonSchemaObject;
}

function inlineNode(node: JsonValue, stack: string[]): JsonValue {
  if (Array.isArray(node)) return node.map((n) => inlineNode(n, stack));
  if (node === null || typeof node !== "object") return node;
  const ref = node["$ref"];
  if (typeof ref === "string") {
    if (stack.includes(ref)) throw new Error(`recursive definition ${[...stack, ref].join(" -> ")}`);
    const def = definitions[ref];
    if (def === undefined) throw new Error(`definition ${ref} missing from k8s-core-v1.json`);
    return inlineNode(def, [...stack, ref]);
  }
  const out: JsonSchemaObject = {};
  for (const [key, value] of Object.entries(node)) out[key] = inlineNode(value, stack);
  return out;
}

function coreSchema<T>(name: string): TUnsafe<T> {
  return Type.Unsafe<T>(inlineCoreDefinition(`io.k8s.api.core.v1.${name}`));
}

export const PodSpecSchema = coreSchema<JsonOf<V1PodSpec>>("PodSpec");
export const PersistentVolumeClaimSpecSchema = coreSchema<JsonOf<V1PersistentVolumeClaimSpec>>(
  "PersistentVolumeClaimSpec",
);
export const ServiceSpecSchema = coreSchema<JsonOf<V1ServiceSpec>>("ServiceSpec");
export const ResourceRequirementsSchema = coreSchema<JsonOf<V1ResourceRequirements>>("ResourceRequirements");
export const SecurityContextSchema = coreSchema<JsonOf<V1SecurityContext>>("SecurityContext");
export const EnvVarSchema = coreSchema<JsonOf<V1EnvVar>>("EnvVar");
export const EnvFromSourceSchema = coreSchema<JsonOf<V1EnvFromSource>>("EnvFromSource");
export const VolumeSchema = coreSchema<JsonOf<V1Volume>>("Volume");
/** core/v1 VolumeSource: a Volume without its name (Go embeds it inline in Volume). */
export const VolumeSourceSchema = coreSchema<JsonOf<Omit<V1Volume, "name">>>("VolumeSource");
export const VolumeMountSchema = coreSchema<JsonOf<V1VolumeMount>>("VolumeMount");
export const AffinitySchema = coreSchema<JsonOf<V1Affinity>>("Affinity");
/** metav1.Condition (required list removed, like every embedded type). */
export const ConditionSchema = Type.Unsafe<JsonOf<V1Condition>>(
  inlineCoreDefinition("io.k8s.apimachinery.pkg.apis.meta.v1.Condition"),
);

/** The schema of a nullable resource.Quantity field (JobConfig's cpu/memory limits). */
export function nullableQuantitySchema(options: { default?: Quantity; description?: string } = {}): TUnsafe<Quantity | null> {
  const schema: JsonSchemaObject = {};
  if (options.description !== undefined) schema["description"] = options.description;
  Object.assign(schema, inlineCoreDefinition("io.k8s.apimachinery.pkg.api.resource.Quantity"));
  if (options.default !== undefined) schema["default"] = options.default;
  schema["nullable"] = true;
  return Type.Unsafe<Quantity | null>(schema);
}
