// Server-side apply with "skip when unchanged" (objects.md §1.1): the live object's fields
// owned by the field manager `moco-controller` (its Apply entry in managedFields) are
// extracted and compared with the desired object; only a difference sends an apply
// (force: true). Local helper: src/k8s has no apply layer yet (docs/controller.md).
import type { KubeClient } from "../k8s/client.ts";
import type { ResourceDescriptor } from "../k8s/resource.ts";
import type { KubeObject, ManagedFieldsEntry } from "../k8s/types.ts";
import { semanticEqual } from "./builders/index.ts";

export const FIELD_MANAGER = "moco-controller";

type Json = unknown;
type FieldSet = { [key: string]: FieldSet };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** The FieldsV1 set of `manager`'s Apply operation on the main resource (not a subresource). */
export function ownedFieldSet(obj: KubeObject | undefined, manager = FIELD_MANAGER): FieldSet | undefined {
  const entries: ManagedFieldsEntry[] = obj?.metadata?.managedFields ?? [];
  const e = entries.find((m) => m.manager === manager && m.operation === "Apply" && (m.subresource ?? "") === "");
  return e?.fieldsV1 as FieldSet | undefined;
}

function matchesKey(item: unknown, key: Record<string, unknown>): boolean {
  if (!isPlainObject(item)) return false;
  return Object.entries(key).every(([k, v]) => semanticEqual(item[k], v));
}

/**
 * The part of `value` described by the FieldsV1 set `fields` (managed fields format:
 * `f:<name>`, `k:<json key>`, `v:<json value>`, `i:<index>`, `.`). A leaf (empty set)
 * takes the whole value.
 */
export function extractFields(value: Json, fields: FieldSet): Json {
  const keys = Object.keys(fields).filter((k) => k !== ".");
  if (keys.length === 0) return value;
  if (Array.isArray(value)) {
    const picked: { index: number; value: Json }[] = [];
    for (const k of keys) {
      const sub = fields[k] ?? {};
      let index = -1;
      if (k.startsWith("k:")) {
        let key: Record<string, unknown>;
        try { key = JSON.parse(k.slice(2)) as Record<string, unknown>; } catch { continue; }
        index = value.findIndex((it) => matchesKey(it, key));
      } else if (k.startsWith("v:")) {
        let want: unknown;
        try { want = JSON.parse(k.slice(2)); } catch { continue; }
        index = value.findIndex((it) => semanticEqual(it, want));
      } else if (k.startsWith("i:")) {
        index = Number(k.slice(2));
      }
      if (index < 0 || index >= value.length) continue;
      picked.push({ index, value: extractFields(value[index], sub) });
    }
    picked.sort((a, b) => a.index - b.index);
    return picked.map((p) => p.value);
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      if (!k.startsWith("f:")) continue;
      const name = k.slice(2);
      if (!(name in value)) continue;
      out[name] = extractFields(value[name], fields[k] ?? {});
    }
    return out;
  }
  return value;
}

/** The live object's fields owned by `manager` (undefined when it owns none). */
export function extractOwned<T extends KubeObject>(live: T | undefined, manager = FIELD_MANAGER): Partial<T> | undefined {
  const fs = ownedFieldSet(live, manager);
  if (live === undefined || fs === undefined) return undefined;
  return extractFields(live, fs) as Partial<T>;
}

/** The desired object without the identifying fields managedFields never lists. */
function comparable(desired: KubeObject): Record<string, unknown> {
  const copy = structuredClone(desired) as Record<string, unknown> & { metadata?: Record<string, unknown> };
  delete copy["apiVersion"];
  delete copy["kind"];
  if (copy.metadata !== undefined) {
    const md = { ...copy.metadata };
    delete md["name"];
    delete md["namespace"];
    if (Object.keys(md).length === 0) delete copy.metadata;
    else copy.metadata = md;
  }
  return copy;
}

/**
 * Whether the live object's fields owned by `manager` equal the desired object
 * (semantic comparison: quantities by value, empty and absent lists/maps alike).
 */
export function ownedFieldsEqual(live: KubeObject | undefined, desired: KubeObject, manager = FIELD_MANAGER): boolean {
  const owned = extractOwned(live, manager);
  if (owned === undefined) return false;
  const o = owned as Record<string, unknown>;
  delete o["apiVersion"];
  delete o["kind"];
  return semanticEqual(o, comparable(desired));
}

export interface ApplyResult<T> {
  /** The object after the apply, or the live one when skipped. */
  readonly object: T;
  readonly applied: boolean;
}

/**
 * Server-side apply of `desired` (field manager moco-controller, force) unless the live
 * object's owned fields already equal it. `live` is the caller's current view (cache or
 * GET); pass undefined when the object does not exist.
 */
export async function applyIfChanged<T extends KubeObject>(
  client: KubeClient,
  resource: ResourceDescriptor,
  desired: T,
  live: T | undefined,
): Promise<ApplyResult<T>> {
  if (live !== undefined && ownedFieldsEqual(live, desired)) return { object: live, applied: false };
  const name = desired.metadata?.name;
  if (name === undefined) throw new Error("apply: desired object has no metadata.name");
  const object = await client.patch<T>(resource, name, desired.metadata?.namespace, "apply", desired, { fieldManager: FIELD_MANAGER, force: true });
  return { object, applied: true };
}
