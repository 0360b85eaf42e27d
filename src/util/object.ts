// Shapes of parsed JSON / Kubernetes objects.

/**
 * True for an object that is a JSON object: not null, not an array, not a Date
 * (@kubernetes/client-node turns metav1.Time fields into Dates).
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Only the `name` and `namespace` of a cluster key (the label set of the per-cluster metrics). */
export function nameAndNamespace(key: { readonly name: string; readonly namespace: string }): { name: string; namespace: string } {
  return { name: key.name, namespace: key.namespace };
}
