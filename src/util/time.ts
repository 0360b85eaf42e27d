// Kubernetes timestamps.

/** A time (Date or epoch milliseconds) as RFC 3339 with second precision (metav1.Time). */
export function rfc3339(t: Date | number): string {
  return (typeof t === "number" ? new Date(t) : t).toISOString().replace(/\.\d{3}Z$/, "Z");
}
