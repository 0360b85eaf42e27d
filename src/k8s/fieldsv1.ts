// Server-side apply ownership: the FieldsV1 trie in metadata.managedFields says which fields
// a manager owns. extractOwnedFields() cuts a live object down to those fields, the way
// client-go's Extract<Kind>(obj, fieldManager) does, so that ownedFieldsEqual() can compare
// what the controller applied last time with what it would apply now and skip no-op applies.
//
// FieldsV1 keys: `f:<name>` a map/struct field; `k:<json>` the element of an associative list
// whose key fields equal <json>; `v:<json>` the element of a set equal to <json>; `i:<n>` a list
// element by index; `.` the node itself. An empty trie ({}) or one holding only `.` is a leaf:
// the whole value is owned.
import { isPlainObject } from "../util/object.ts";
import { parseQuantity } from "../util/quantity.ts";
import { rfc3339 } from "../util/time.ts";
import type { JsonValue, KubeObject, ManagedFieldsEntry } from "./types.ts";

type Trie = { [key: string]: Trie };

/** JSON-equality, independent of object key order; undefined-valued keys count as absent. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date) a = a.toISOString();
  if (b instanceof Date) b = b.toISOString();
  if (typeof a !== typeof b) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

function isLeaf(t: Trie): boolean {
  const keys = Object.keys(t);
  return keys.length === 0 || (keys.length === 1 && keys[0] === ".");
}

function toJson(v: unknown): JsonValue {
  return JSON.parse(JSON.stringify(v)) as JsonValue;
}

function parseKeyJson(s: string): unknown {
  try { return JSON.parse(s); } catch { return undefined; }
}

function elementMatches(elem: unknown, index: number, k: string): boolean {
  if (k.startsWith("k:")) {
    const key = parseKeyJson(k.slice(2));
    if (!isPlainObject(key) || !isPlainObject(elem)) return false;
    return Object.entries(key).every(([f, v]) => jsonEqual(elem[f], v));
  }
  if (k.startsWith("v:")) return jsonEqual(elem, parseKeyJson(k.slice(2)));
  if (k.startsWith("i:")) return Number(k.slice(2)) === index;
  return false;
}

/** The part of `value` covered by the FieldsV1 trie, or undefined if none of it is present. */
export function extractFields(value: unknown, fields: object): JsonValue | undefined {
  if (value === undefined) return undefined;
  const trie = fields as Trie;
  if (isLeaf(trie)) return toJson(value);
  if (Array.isArray(value)) {
    const itemKeys = Object.keys(trie).filter((k) => k !== ".");
    const out: JsonValue[] = [];
    value.forEach((elem, i) => {
      const k = itemKeys.find((key) => elementMatches(elem, i, key));
      if (k === undefined) return;
      const sub = extractFields(elem, trie[k] ?? {});
      if (sub !== undefined) out.push(sub);
    });
    return out;
  }
  if (isPlainObject(value)) {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, sub] of Object.entries(trie)) {
      if (!k.startsWith("f:")) continue;
      const name = k.slice(2);
      if (!Object.hasOwn(value, name)) continue;
      const v = extractFields(value[name], sub);
      if (v !== undefined) out[name] = v;
    }
    return out;
  }
  return toJson(value);
}

export interface ManagerSelector {
  manager: string;
  /** Only entries of this operation (default "Apply"). */
  operation?: "Apply" | "Update";
  /** Only entries of this subresource (default "", the main resource). */
  subresource?: string;
}

/** The managedFields entries of the manager. */
export function managedEntries(obj: KubeObject, sel: ManagerSelector): ManagedFieldsEntry[] {
  const op = sel.operation ?? "Apply";
  const sub = sel.subresource ?? "";
  return (obj.metadata?.managedFields ?? []).filter((e) =>
    e.manager === sel.manager && e.operation === op && (e.subresource ?? "") === sub && (e.fieldsType ?? "FieldsV1") === "FieldsV1" && e.fieldsV1);
}

function mergeTries(a: Trie, b: Trie): Trie {
  const out: Trie = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = out[k] ? mergeTries(out[k], v) : v;
  return out;
}

/**
 * The fields of `live` owned by the manager (by default its Apply entry for the main
 * resource), plus apiVersion, kind, metadata.name and metadata.namespace, as client-go's
 * Extract functions return. Undefined when the manager owns nothing.
 */
export function extractOwnedFields(live: KubeObject, managerOrSel: string | ManagerSelector): JsonValue | undefined {
  const sel = typeof managerOrSel === "string" ? { manager: managerOrSel } : managerOrSel;
  const entries = managedEntries(live, sel);
  if (entries.length === 0) return undefined;
  const trie = entries.reduce<Trie>((acc, e) => mergeTries(acc, e.fieldsV1 as Trie), {});
  const out = extractFields(live, trie);
  const o: { [key: string]: JsonValue } = isPlainObject(out) ? { ...(out as { [key: string]: JsonValue }) } : {};
  if (live.apiVersion) o.apiVersion = live.apiVersion;
  if (live.kind) o.kind = live.kind;
  const md: { [key: string]: JsonValue } = isPlainObject(o.metadata) ? { ...(o.metadata as { [key: string]: JsonValue }) } : {};
  if (live.metadata?.name) md.name = live.metadata.name;
  if (live.metadata?.namespace) md.namespace = live.metadata.namespace;
  o.metadata = md;
  return o;
}

/**
 * Go map-typed fields (by name): for these, as in Go's equality.Semantic, an empty map is the
 * same as an absent one — the API server drops empty maps, so `labels: {}` applied and no
 * labels live are equal. Other empty objects (`emptyDir: {}`, an empty `securityContext`)
 * are pointers to structs, which the server keeps, so `{}` and absent differ.
 */
const MAP_FIELDS = new Set(["labels", "annotations", "matchLabels", "selector", "nodeSelector", "data", "binaryData", "stringData", "requests", "limits", "capacity"]);
/** Maps of resource.Quantity: compared by value ("1Gi" equals "1024Mi", "0.5" equals "500m"). */
const QUANTITY_MAPS = new Set(["requests", "limits", "capacity"]);

/**
 * Normal form for comparing apply configurations (Go's equality.Semantic over JSON): nulls
 * and empty lists are dropped, and so are empty maps in the map-typed fields of MAP_FIELDS;
 * quantities under requests/limits/capacity become their numeric value; keys are sorted;
 * Dates become RFC 3339 strings. `key` is the name of the field holding `v`.
 */
export function normalizeForCompare(v: unknown, key = ""): JsonValue | undefined {
  if (v === null || v === undefined) return undefined;
  if (v instanceof Date) return rfc3339(v);
  if (Array.isArray(v)) {
    const arr = v.map((x) => normalizeForCompare(x) ?? null);
    return arr.length === 0 ? undefined : arr;
  }
  if (isPlainObject(v)) {
    const quantities = QUANTITY_MAPS.has(key);
    const out: { [key: string]: JsonValue } = {};
    for (const k of Object.keys(v).sort()) {
      const x = v[k];
      const n = quantities && (typeof x === "string" || typeof x === "number") ? (parseQuantity(x) ?? x) : normalizeForCompare(x, k);
      if (n !== undefined) out[k] = n;
    }
    return MAP_FIELDS.has(key) && Object.keys(out).length === 0 ? undefined : out;
  }
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  return undefined;
}

/** Paths (dot/bracket notation) where a and b differ, at most `limit` of them. */
export function diffPaths(a: unknown, b: unknown, limit = 20): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string) => {
    if (out.length >= limit || jsonEqual(x, y)) return;
    if (Array.isArray(x) && Array.isArray(y) && x.length === y.length) {
      x.forEach((e, i) => walk(e, y[i], `${path}[${i}]`));
      return;
    }
    if (isPlainObject(x) && isPlainObject(y)) {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], path ? `${path}.${k}` : k);
      return;
    }
    out.push(path || "(root)");
  };
  walk(a, b, "");
  return out;
}

function comparable(obj: unknown): JsonValue | undefined {
  if (!isPlainObject(obj)) return normalizeForCompare(obj);
  // Status is not part of an apply to the main resource; identity is compared by the caller's
  // choice of object, and server-set metadata is never owned.
  const { status: _status, ...rest } = obj;
  const md = isPlainObject(rest.metadata) ? { ...rest.metadata } : undefined;
  if (md) {
    for (const k of ["resourceVersion", "uid", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"]) delete md[k];
    rest.metadata = md;
  }
  return normalizeForCompare(rest);
}

/**
 * True when the fields of `live` owned by `manager` (its Apply entry) equal the `desired`
 * apply configuration, so applying `desired` again would change nothing (docs/objects.md#how-objects-are-written).
 * False when the manager owns nothing in `live`.
 */
export function ownedFieldsEqual(live: KubeObject, desired: KubeObject, manager: string | ManagerSelector): boolean {
  const owned = extractOwnedFields(live, manager);
  if (owned === undefined) return false;
  return jsonEqual(comparable(owned), comparable(desired));
}

/** Where ownedFieldsEqual found differences (for debug logs); ["(not managed)"] when the manager owns nothing. */
export function ownedFieldsDiff(live: KubeObject, desired: KubeObject, manager: string | ManagerSelector): string[] {
  const owned = extractOwnedFields(live, manager);
  if (owned === undefined) return ["(not managed)"];
  return diffPaths(comparable(owned), comparable(desired));
}
