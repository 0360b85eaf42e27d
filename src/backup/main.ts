#!/usr/bin/env node
// Entry point of `moco-backup` (the backup CronJob and restore Job containers run
// `command: ["moco-backup"]` with the subcommand and flags as args).
import fs from "node:fs";
import { runBackup } from "./backup.ts";
import { createBucket } from "./bucket/index.ts";
import { buildProgram, type ParsedCommand } from "./cli.ts";
import { KubeClusterStore } from "./kube.ts";
import { createLogger, redact } from "./log.ts";
import { errorMessage } from "../util/errors.ts";
import { runRestore } from "./restore.ts";
import { withRetry } from "./retry.ts";
import { toolsFromEnv } from "./tools.ts";

async function execute(cmd: ParsedCommand): Promise<void> {
  const password = process.env["MYSQL_PASSWORD"] ?? "";
  if (password === "") throw new Error("MYSQL_PASSWORD is not set");
  const f = cmd.flags;
  fs.mkdirSync(f.workDir, { recursive: true });
  process.env["HOME"] = f.workDir;
  const bucket = createBucket({
    backendType: f.backendType, bucket: cmd.bucket, region: f.region, endpoint: f.endpoint, usePathStyle: f.usePathStyle,
    caCert: f.caCert,
  });
  const store = new KubeClusterStore();
  const tools = toolsFromEnv();
  try {
    if (cmd.kind === "backup") {
      const log = createLogger({ namespace: cmd.namespace, name: cmd.name, job: "backup" });
      try {
        await runBackup({
          namespace: cmd.namespace, name: cmd.name, bucket, store, password, threads: f.threads, workDir: f.workDir, tools, log,
          tlsCaFile: process.env["MYSQL_TLS_CA_FILE"],
          progressIntervalMs: f.progressInterval * 1000,
          ...(f.chunkRows !== undefined ? { chunkRows: f.chunkRows } : {}),
          ...(f.chunkBytes !== undefined ? { chunkBytes: f.chunkBytes } : {}),
        });
      } catch (e) {
        log.error({ err: redact(errorMessage(e), [password]) }, "backup failed");
        throw e;
      }
    } else {
      const log = createLogger({ namespace: cmd.namespace, name: cmd.name, job: "restore" });
      try {
        await withRetry(() => runRestore({
          bucket, store, sourceNamespace: cmd.sourceNamespace, sourceName: cmd.sourceName, namespace: cmd.namespace,
          name: cmd.name, restorePoint: cmd.restorePoint, password, threads: f.threads, workDir: f.workDir, tools, log,
          tlsCaFile: process.env["MYSQL_TLS_CA_FILE"],
          progressIntervalMs: f.progressInterval * 1000,
          ...(cmd.schema !== undefined ? { schema: cmd.schema } : {}),
          ...(cmd.users !== undefined ? { users: cmd.users } : {}),
        }), { attempts: 3, baseDelayMs: 1000, isTransient: (e) => /bad connection/i.test(errorMessage(e)) });
      } catch (e) {
        log.error({ err: redact(errorMessage(e), [password]) }, "restore failed");
        throw e;
      }
    }
  } finally {
    await bucket.close();
  }
}

const program = buildProgram(execute);
program.parseAsync(process.argv).catch((e: unknown) => {
  const password = process.env["MYSQL_PASSWORD"] ?? "";
  process.stderr.write(`moco-backup: ${redact(errorMessage(e), [password])}\n`);
  process.exitCode = 1;
});
