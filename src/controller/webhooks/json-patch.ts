// RFC 6902 JSON Patch between two JSON documents, as admission webhooks return it.
import { isDeepStrictEqual } from "node:util";

import { isPlainObject } from "../../util/object.ts";

export type JsonPatchOperation =
  | { op: "add"; path: string; value: unknown }
  | { op: "replace"; path: string; value: unknown }
  | { op: "remove"; path: string };

function escapePointerToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * The operations that turn `from` into `to`. Objects are compared key by key (keys in
 * sorted order, so the patch is stable); arrays and scalars that differ are replaced.
 */
export function createJsonPatch(from: unknown, to: unknown, path = ""): JsonPatchOperation[] {
  if (isDeepStrictEqual(from, to)) return [];
  if (!isPlainObject(from) || !isPlainObject(to)) {
    return [{ op: "replace", path, value: to }];
  }
  const ops: JsonPatchOperation[] = [];
  const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
  for (const key of keys) {
    const p = `${path}/${escapePointerToken(key)}`;
    const inFrom = Object.hasOwn(from, key);
    const inTo = Object.hasOwn(to, key);
    if (inFrom && !inTo) ops.push({ op: "remove", path: p });
    else if (!inFrom && inTo) ops.push({ op: "add", path: p, value: to[key] });
    else ops.push(...createJsonPatch(from[key], to[key], p));
  }
  return ops;
}

/** Applies a patch made by createJsonPatch (used by tests to check round trips). */
export function applyJsonPatch(doc: unknown, ops: readonly JsonPatchOperation[]): unknown {
  let root = structuredClone(doc);
  for (const op of ops) {
    if (op.path === "") {
      if (op.op === "remove") throw new Error("cannot remove the document root");
      root = structuredClone(op.value);
      continue;
    }
    const tokens = op.path
      .slice(1)
      .split("/")
      .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
    const last = tokens.pop() as string;
    let parent: unknown = root;
    for (const t of tokens) {
      parent = (parent as Record<string, unknown>)[t];
      if (typeof parent !== "object" || parent === null) throw new Error(`path ${op.path} does not exist`);
    }
    const target = parent as Record<string, unknown>;
    if (op.op === "remove") {
      if (!Object.hasOwn(target, last)) throw new Error(`path ${op.path} does not exist`);
      delete target[last];
    } else {
      if (op.op === "replace" && !Object.hasOwn(target, last)) throw new Error(`path ${op.path} does not exist`);
      target[last] = structuredClone(op.value);
    }
  }
  return root;
}
