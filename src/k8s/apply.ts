// Writing objects: server-side apply of arbitrary objects (by apiVersion/kind/namespace/name),
// apply-if-changed using ownedFieldsEqual (docs/objects.md#how-objects-are-written), and JSON merge patches.
import type { KubeClient } from "./client.ts";
import { isNotFound } from "./errors.ts";
import { ownedFieldsDiff, ownedFieldsEqual } from "./fieldsv1.ts";
import type { ResourceDescriptor } from "./resource.ts";
import type { JsonValue, KubeObject } from "./types.ts";

export interface ApplyOptions {
  fieldManager: string;
  /** Take over conflicting fields from other managers (default true, as moco-controller does). */
  force?: boolean;
  dryRun?: boolean;
  /** Skip discovery when the caller knows the resource. */
  resource?: ResourceDescriptor;
  subresource?: string;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

function refOf(obj: KubeObject): ObjectRef {
  const apiVersion = obj.apiVersion;
  const kind = obj.kind;
  const name = obj.metadata?.name;
  if (!apiVersion || !kind || !name) throw new Error("object needs apiVersion, kind and metadata.name");
  return { apiVersion, kind, name, namespace: obj.metadata?.namespace };
}

async function resourceOf(client: KubeClient, ref: ObjectRef, given?: ResourceDescriptor): Promise<ResourceDescriptor> {
  return given ?? client.resourceFor(ref.apiVersion, ref.kind);
}

/** PATCH application/apply-patch+yaml with fieldManager (and force unless false). Returns the live object. */
export async function serverSideApply<T extends KubeObject = KubeObject, D extends KubeObject = KubeObject>(client: KubeClient, obj: D, opts: ApplyOptions): Promise<T> {
  const ref = refOf(obj);
  const r = await resourceOf(client, ref, opts.resource);
  return client.patch<T>(r, ref.name, r.namespaced ? ref.namespace : undefined, "apply", obj, {
    fieldManager: opts.fieldManager, force: opts.force ?? true, dryRun: opts.dryRun, subresource: opts.subresource,
  });
}

export interface ApplyIfChangedOptions<T> extends ApplyOptions {
  /** The live object if the caller has it (e.g. from an informer cache); null = known absent. Fetched when undefined. */
  live?: T | null;
}

export interface ApplyResult<T> {
  /** False when the owned fields already matched and nothing was sent. */
  applied: boolean;
  object: T;
  /** Fields that differed (empty when the object was absent or unchanged). */
  changed: string[];
}

/** Applies `desired` unless the live object's fields owned by the manager already equal it. */
export async function applyIfChanged<T extends KubeObject = KubeObject, D extends KubeObject = KubeObject>(client: KubeClient, desired: D, opts: ApplyIfChangedOptions<T>): Promise<ApplyResult<T>> {
  const ref = refOf(desired);
  const r = await resourceOf(client, ref, opts.resource);
  let live = opts.live;
  if (live === undefined) {
    live = await client.get<T>(r, ref.name, r.namespaced ? ref.namespace : undefined).catch((e: unknown) => {
      if (isNotFound(e)) return null;
      throw e;
    });
  }
  if (live && ownedFieldsEqual(live, desired, opts.fieldManager)) return { applied: false, object: live, changed: [] };
  const changed = live ? ownedFieldsDiff(live, desired, opts.fieldManager) : [];
  const object = await serverSideApply<T>(client, desired, { ...opts, resource: r });
  return { applied: true, object, changed };
}

/** PATCH application/merge-patch+json (RFC 7386) on the object named by ref. */
export async function mergePatch<T extends KubeObject = KubeObject>(client: KubeClient, ref: ObjectRef, patch: JsonValue,
  opts: { fieldManager?: string; subresource?: string; resource?: ResourceDescriptor } = {}): Promise<T> {
  const r = await resourceOf(client, ref, opts.resource);
  return client.patch<T>(r, ref.name, r.namespaced ? ref.namespace : undefined, "merge", patch, { fieldManager: opts.fieldManager, subresource: opts.subresource });
}

function isObj(v: unknown): v is { [key: string]: JsonValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The RFC 7386 merge patch that turns `from` into `to` (null deletes a key; arrays and
 * scalars are replaced whole). Undefined when they are equal.
 */
export function createMergePatch(from: JsonValue, to: JsonValue): JsonValue | undefined {
  if (!isObj(from) || !isObj(to)) return JSON.stringify(from) === JSON.stringify(to) ? undefined : to;
  const out: { [key: string]: JsonValue } = {};
  for (const k of Object.keys(from)) if (!Object.hasOwn(to, k)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    const f = from[k];
    if (f === undefined) { out[k] = v; continue; }
    if (isObj(f) && isObj(v)) {
      const sub = createMergePatch(f, v);
      if (sub !== undefined) out[k] = sub;
    } else if (JSON.stringify(f) !== JSON.stringify(v)) out[k] = v;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** Applies an RFC 7386 merge patch to a document (pure; for tests and previews). */
export function applyMergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isObj(patch)) return patch;
  const out: { [key: string]: JsonValue } = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k] ?? null, v);
  }
  return out;
}
