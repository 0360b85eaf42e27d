// Evaluates the structural (CRD) schema the way the API server does for the subset of
// OpenAPI the moco-ts CRDs use: type, format, properties, additionalProperties, items,
// required, enum, minimum, minLength, minItems, pattern, nullable and
// x-kubernetes-int-or-string. Used by the validators (defence in depth: the API server
// has already checked this before a validating webhook runs), by tests, and by
// `applySchemaDefaults`, which reproduces the API server's defaulting.
import type { TSchema } from "@sinclair/typebox";
import type { FieldError } from "./field-errors.ts";
import { fieldInvalid, fieldRequired } from "./field-errors.ts";
import { isPlainObject } from "../../util/object.ts";

type Node = Record<string, unknown>;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function childPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function describe(value: unknown): string | number | boolean | null {
  if (value === null || typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "string") return value;
  return Array.isArray(value) ? "array" : typeof value;
}

/** Checks `value` against a structural schema; returns every violation. */
export function checkAgainstSchema(schema: TSchema | Node, value: unknown, path = ""): FieldError[] {
  const errors: FieldError[] = [];
  walk(schema as Node, value, path, errors);
  return errors;
}

function walk(schema: Node, value: unknown, path: string, errors: FieldError[]): void {
  if (value === undefined) return;
  if (value === null) {
    // The API server drops null for non-nullable fields (treats it as absent).
    return;
  }
  if (schema["x-kubernetes-int-or-string"] === true) {
    if (typeof value === "string") {
      const pattern = schema["pattern"];
      if (typeof pattern === "string" && !new RegExp(pattern).test(value)) {
        errors.push(fieldInvalid(path, describe(value), `must match the pattern ${pattern}`));
      }
    } else if (!(typeof value === "number" && Number.isInteger(value))) {
      errors.push(fieldInvalid(path, describe(value), "must be an integer or a string"));
    }
    return;
  }
  const type = schema["type"];
  switch (type) {
    case "object": {
      if (!isPlainObject(value)) {
        errors.push(fieldInvalid(path, describe(value), "must be an object"));
        return;
      }
      const required = schema["required"];
      const props = schema["properties"];
      if (Array.isArray(required)) {
        for (const key of required as string[]) {
          // A null is kept (so present) when the property is nullable, and dropped as
          // absent when it is not: the API server's pruning of non-nullable nulls.
          const nullable = isPlainObject(props) && isPlainObject(props[key]) && props[key]["nullable"] === true;
          if (value[key] === undefined || (value[key] === null && !nullable)) {
            errors.push(fieldRequired(childPath(path, key), "required by the schema"));
          }
        }
      }
      if (isPlainObject(props)) {
        for (const [key, sub] of Object.entries(props)) {
          walk(sub as Node, value[key], childPath(path, key), errors);
        }
      }
      const additional = schema["additionalProperties"];
      if (isPlainObject(additional)) {
        for (const [key, sub] of Object.entries(value)) walk(additional, sub, `${path}[${key}]`, errors);
      }
      return;
    }
    case "array": {
      if (!Array.isArray(value)) {
        errors.push(fieldInvalid(path, describe(value), "must be an array"));
        return;
      }
      const minItems = schema["minItems"];
      if (typeof minItems === "number" && value.length < minItems) {
        errors.push(fieldInvalid(path, value.length, `must have at least ${minItems} items`));
      }
      const items = schema["items"];
      if (isPlainObject(items)) value.forEach((item, i) => walk(items, item, `${path}[${i}]`, errors));
      return;
    }
    case "string": {
      if (typeof value !== "string") {
        errors.push(fieldInvalid(path, describe(value), "must be a string"));
        return;
      }
      const en = schema["enum"];
      if (Array.isArray(en) && !en.includes(value)) {
        errors.push(fieldInvalid(path, value, `supported values: ${en.map((e) => JSON.stringify(e)).join(", ")}`));
      }
      const minLength = schema["minLength"];
      if (typeof minLength === "number" && value.length < minLength) {
        errors.push(fieldInvalid(path, value, `must be at least ${minLength} characters long`));
      }
      const pattern = schema["pattern"];
      if (typeof pattern === "string" && !new RegExp(pattern).test(value)) {
        errors.push(fieldInvalid(path, value, `must match the pattern ${pattern}`));
      }
      if (schema["format"] === "date-time" && !RFC3339.test(value)) {
        errors.push(fieldInvalid(path, value, "must be an RFC 3339 date-time"));
      }
      return;
    }
    case "integer":
    case "number": {
      if (typeof value !== "number" || (type === "integer" && !Number.isInteger(value))) {
        errors.push(fieldInvalid(path, describe(value), `must be ${type === "integer" ? "an integer" : "a number"}`));
        return;
      }
      const minimum = schema["minimum"];
      if (typeof minimum === "number" && value < minimum) {
        errors.push(fieldInvalid(path, value, `must be greater than or equal to ${minimum}`));
      }
      if (schema["format"] === "int32" && (value < -(2 ** 31) || value > 2 ** 31 - 1)) {
        errors.push(fieldInvalid(path, value, "must fit in a 32-bit signed integer"));
      }
      return;
    }
    case "boolean":
      if (typeof value !== "boolean") errors.push(fieldInvalid(path, describe(value), "must be a boolean"));
      return;
    default:
      return;
  }
}

/**
 * Returns a copy of `value` with the schema defaults applied, as the API server does
 * on create/update/read: a missing property with a `default` gets it; an explicit null
 * of a nullable property is kept.
 */
export function applySchemaDefaults<T>(schema: TSchema | Node, value: T): T {
  return applyDefaults(schema as Node, structuredClone(value)) as T;
}

function applyDefaults(schema: Node, value: unknown): unknown {
  if (isPlainObject(value) && schema["type"] === "object") {
    const props = schema["properties"];
    if (isPlainObject(props)) {
      for (const [key, sub] of Object.entries(props)) {
        const subSchema = sub as Node;
        if (value[key] === undefined || (value[key] === null && subSchema["nullable"] !== true)) {
          if (subSchema["default"] !== undefined) value[key] = structuredClone(subSchema["default"]);
          else if (value[key] === null) delete value[key];
        }
        if (value[key] !== undefined) value[key] = applyDefaults(subSchema, value[key]);
      }
    }
    const additional = schema["additionalProperties"];
    if (isPlainObject(additional)) {
      for (const key of Object.keys(value)) value[key] = applyDefaults(additional, value[key]);
    }
    return value;
  }
  if (Array.isArray(value) && isPlainObject(schema["items"])) {
    const items = schema["items"];
    return value.map((v) => applyDefaults(items, v));
  }
  return value;
}
