// Pure object builders and decision helpers of the MySQLCluster controller
// (docs/objects.md).
export * from "./options.ts";
export * from "./meta.ts";
export * from "./secrets.ts";
export * from "./configmaps.ts";
export * from "./services.ts";
export * from "./statefulset.ts";
export * from "./policy.ts";
export * from "./jobs.ts";
export * from "./pvc.ts";
export * from "./status.ts";
export * from "./partition.ts";
export * from "./tls.ts";
