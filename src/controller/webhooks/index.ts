// Public surface of the admission webhooks.
export * from "./admission.ts";
export * from "./config.ts";
export * from "./json-patch.ts";
export * from "./server.ts";
export * from "./statefulset.ts";
