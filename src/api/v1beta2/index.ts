// Public surface of the moco.cybozu.com/v1beta2 API package.
export * from "./constants.ts";
export * from "./core-schemas.ts";
export * from "./schema.ts";
export * from "./field-errors.ts";
export * from "./cron.ts";
export * from "./gotemplate.ts";
export * from "../../util/quantity.ts";
export * from "./structural.ts";
export * from "./defaults.ts";
export * from "./validation.ts";
export * from "./crd.ts";
