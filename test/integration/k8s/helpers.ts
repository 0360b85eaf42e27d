// Shared helpers for the k8s layer's integration tests.
import { pino } from "pino";
import { eventually } from "../../env/eventually.ts";
export { eventually };

export const quiet = pino({ level: process.env.MOCO_K8S_LOG_LEVEL ?? "silent" });


export { sleep } from "../../env/procs.ts";
