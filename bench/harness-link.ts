// The benchmark reuses the integration-test set-up (users, work dir with chrooted tools).
import { createLogger, type Logger } from "../src/backup/log.ts";
import { silentLogger } from "../src/util/log.ts";
export {
  ADMIN_PASSWORD, BACKUP_PASSWORD, clusterObject, contentHashes, createBackupUser, makeWorkDir, memoryStore,
  prepareRestoreTarget,
} from "../test/env/backup-harness.ts";

/** Progress logs when BENCH_LOG is set. */
export function silentOr(): Logger {
  return process.env["BENCH_LOG"] ? createLogger({ bench: "backup" }) : silentLogger();
}
