// The layer's default logger: structured JSON (pino). Callers normally pass their own.
import { pino, type Logger } from "pino";

export type { Logger } from "pino";

export const defaultLogger: Logger = pino({
  name: "moco-k8s",
  level: process.env.MOCO_K8S_LOG_LEVEL ?? "warn",
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
});
