// `moco-backup restore` (docs/backup.md#restore-procedure): choose dump + binlog archive for the restore
// point, check that the bucket really covers it (before touching the target), load the
// dump (moco-ts's own format, or MOCO's MySQL Shell dump through dump/mysqlsh-load.ts)
// into instance 0 of the new cluster, replay binlogs up to the restore point, set
// status.restoredTime. Any failure leaves restoredTime unset (the cluster stays Restoring
// and read-only), is reported in a RestoreFailed event and fails the Job.
import fs from "node:fs";
import path from "node:path";
import { ArchiveHeadError, extractArchive, readFirstEntry } from "./archive.ts";
import { readBinlogManifest, replayBinlogs } from "./binlog.ts";
import type { Bucket } from "./bucket/types.ts";
import { connect, instanceTls, readServerStatus, type Conn, type MysqlTarget } from "./db.ts";
import { loadDump, type UserFilter } from "./dump/load.ts";
import {
  DUMP_ARCHIVE, DUMP_DIR, SCHEMA_FILE, clusterPrefix, planRestore, selectBackup, RestorePointError, type RestorePlan,
} from "./keys.ts";
import type { ClusterStore, PodInfo } from "./kube.ts";
import { redact, type Logger } from "./log.ts";
import { errorMessage } from "../util/errors.ts";
import { Progress } from "./progress.ts";
import type { Tools } from "./tools.ts";
import { DUMP_FORMAT, parseManifest, type BinlogManifest, type SchemaDocument } from "./dump/format.ts";
import { MYSQLSH_INSTANCE_META, parseInstanceMeta, type InstanceMeta } from "./dump/mysqlsh.ts";
import { loadMysqlshDump, readMysqlshPlan } from "./dump/mysqlsh-load.ts";
import { setTimeout as sleep } from "node:timers/promises";

export const ADMIN_USER = "moco-admin";

export interface RestoreJobOptions {
  bucket: Bucket;
  store: ClusterStore;
  sourceNamespace: string;
  sourceName: string;
  namespace: string;
  name: string;
  restorePoint: Date;
  schema?: string;
  users?: UserFilter[];
  password: string;
  threads: number;
  workDir: string;
  tools: Tools;
  log: Logger;
  instanceHost?: (pod: PodInfo) => string;
  /** CA file of spec.tls (env MYSQL_TLS_CA_FILE): connect with TLS, verifying the Pod's name. */
  tlsCaFile?: string | undefined;
  port?: number;
  user?: string;
  /** Poll interval and tries while waiting for the target (default 1 s × 600). */
  pollIntervalMs?: number;
  pollTries?: number;
  progressIntervalMs?: number;
}


/** What dump.tar holds: a moco-ts dump, or a MySQL Shell dump (MOCO's; `meta` when @.json heads the archive). */
export type DumpHead =
  | { kind: "moco-ts"; doc: SchemaDocument }
  | { kind: "mysqlsh"; meta?: InstanceMeta };

export interface ValidatedPlan {
  plan: RestorePlan;
  head: DumpHead;
  /** The binlog manifest; undefined without a binlog archive or for MOCO's archives (no manifest). */
  binlog?: BinlogManifest;
}

/**
 * The head of `<dir>dump.tar` says what it holds: dump/schema.json starts a moco-ts dump;
 * anything else under dump/ is a MySQL Shell dump as MOCO uploads it (its @.json, when it
 * comes first, is parsed here: an unknown format version fails before any download).
 */
export async function readDumpHead(bucket: Bucket, dir: string): Promise<DumpHead> {
  const key = `${dir}${DUMP_ARCHIVE}`;
  try {
    const doc = parseManifest<SchemaDocument>(await readFirstEntry(bucket, key, "none", `${DUMP_DIR}/${SCHEMA_FILE}`), `${key}: ${DUMP_DIR}/${SCHEMA_FILE}`, DUMP_FORMAT, "dump");
    return { kind: "moco-ts", doc };
  } catch (e) {
    if (!(e instanceof ArchiveHeadError) || !e.found.startsWith(`${DUMP_DIR}/`)) throw e;
    if (e.found !== `${DUMP_DIR}/${MYSQLSH_INSTANCE_META}`) return { kind: "mysqlsh" };
    const body = await readFirstEntry(bucket, key, "none", e.found);
    return { kind: "mysqlsh", meta: parseInstanceMeta(body, `${key}: ${e.found}`) };
  }
}

/** Selects and validates what to restore; throws RestorePointError when the bucket does not cover the point. */
export async function validateRestorePoint(bucket: Bucket, sourceNamespace: string, sourceName: string, restorePoint: Date): Promise<ValidatedPlan> {
  const prefix = clusterPrefix(sourceNamespace, sourceName);
  const keys = await bucket.list(prefix);
  const plan = planRestore(selectBackup(keys, prefix, restorePoint), restorePoint);
  const head = await readDumpHead(bucket, plan.dump.dir);
  if (plan.binlog === undefined) return { plan, head };
  const binlog = await readBinlogManifest(bucket, plan.binlog.dir);
  // MOCO's archives carry no coverage: like MOCO, the replay stops at the point or at their end.
  if (binlog === undefined) return { plan, head };
  const covered = Date.parse(binlog.coveredUntil);
  if (restorePoint.getTime() > covered) {
    throw new RestorePointError(`restore point ${restorePoint.toISOString()} is after the last binary log in the bucket ` +
      `(covered until ${new Date(covered).toISOString()})`);
  }
  return { plan, head, binlog };
}

async function waitForTarget(o: RestoreJobOptions, target: () => Promise<MysqlTarget>): Promise<MysqlTarget> {
  const interval = o.pollIntervalMs ?? 1000;
  const tries = o.pollTries ?? 600;
  let lastError = "";
  for (let i = 0; i < tries; i++) {
    let c: Conn | undefined;
    try {
      const t = await target();
      c = await connect(t);
      const st = await readServerStatus(c);
      if (st.superReadOnly) return t;
      lastError = "instance is still writable (initialisation not finished)";
    } catch (e) {
      lastError = redact(errorMessage(e), [o.password]);
    } finally {
      await c?.end().catch(() => undefined);
    }
    if (i % 10 === 0) o.log.info({ reason: lastError }, "waiting for the restore target");
    await sleep(interval);
  }
  throw new Error(`restore target not ready: ${lastError}`);
}

/** The settings a restore changes on its target and puts back afterwards, in this order. */
export const RESTORE_PUT_BACK = [
  { variable: "super_read_only", sql: "SET GLOBAL super_read_only = 1" },
  { variable: "local_infile", sql: "SET GLOBAL local_infile = 0" },
] as const;

/** Bound of each put-back statement (SET GLOBAL super_read_only=1 waits for running commits). */
export const PUT_BACK_TIMEOUT_MS = 60_000;

/**
 * Puts back super_read_only=1 and local_infile=0 on the restore target, after a restore or
 * a failed one. Every statement is attempted; each failure is logged, and the returned
 * error names every setting that could not be put back (undefined when all were).
 */
export async function putBackRestoreSettings(
  admin: Pick<Conn, "query">,
  log: Pick<Logger, "error">,
  secrets: readonly string[] = [],
): Promise<Error | undefined> {
  const failed: string[] = [];
  for (const { variable, sql } of RESTORE_PUT_BACK) {
    try {
      await admin.query({ sql, timeout: PUT_BACK_TIMEOUT_MS });
    } catch (e) {
      const message = redact(errorMessage(e), secrets);
      log.error({ variable, err: message }, `could not put back ${variable} on the restore target`);
      failed.push(`${variable} (${message})`);
    }
  }
  if (failed.length === 0) return undefined;
  return new Error(`could not put back ${failed.join(", ")} on the restore target: it may accept writes or LOAD DATA LOCAL until fixed by hand (SET GLOBAL super_read_only=1, local_infile=0)`);
}

/** Downloads dump.tar into the work directory; returns the dump directory. */
async function downloadDump(o: RestoreJobOptions, plan: RestorePlan): Promise<string> {
  const key = `${plan.dump.dir}${DUMP_ARCHIVE}`;
  o.log.info({ key }, "downloading the dump");
  const bytes = await extractArchive({ bucket: o.bucket, key, compression: "none", root: o.workDir, top: DUMP_DIR, log: o.log });
  o.log.info({ key, bytes }, "dump downloaded");
  return path.join(o.workDir, DUMP_DIR);
}

async function loadDownloadedDump(o: RestoreJobOptions, head: DumpHead, dumpDir: string, target: MysqlTarget, progress: Progress): Promise<void> {
  const common = {
    target, dumpDir, threads: o.threads, log: o.log, progress,
    ...(o.schema !== undefined ? { schema: o.schema } : {}),
    ...(o.users !== undefined ? { users: o.users } : {}),
  };
  if (head.kind === "mysqlsh") await loadMysqlshDump(common);
  else await loadDump(common);
}

export async function runRestore(o: RestoreJobOptions): Promise<void> {
  const log = o.log;
  const cluster = await o.store.getCluster(o.namespace, o.name);
  const dumpDir = path.join(o.workDir, DUMP_DIR);
  try {
    await o.bucket.checkAccess();
    const { plan, head, binlog } = await validateRestorePoint(o.bucket, o.sourceNamespace, o.sourceName, o.restorePoint);
    log.info({ dump: plan.dump.dir, format: head.kind, binlog: plan.binlog?.dir ?? null, restorePoint: o.restorePoint.toISOString() }, "restore plan");
    // A MySQL Shell dump's metadata may sit anywhere in the archive: it is downloaded and
    // checked (format version, complete, schema present) before the target is touched.
    if (head.kind === "mysqlsh") readMysqlshPlan(await downloadDump(o, plan), o.schema);

    const podName = `moco-${o.name}-0`;
    const hostOf = o.instanceHost ?? ((p: PodInfo) => p.ip);
    const target = await waitForTarget(o, async () => {
      const pod = await o.store.getPod(o.namespace, podName);
      if (!pod || pod.ip === "") throw new Error(`Pod ${podName} has no IP yet`);
      const tls = instanceTls(o.tlsCaFile, pod.name, o.name, o.namespace);
      return { host: hostOf(pod), port: o.port ?? 3306, user: o.user ?? ADMIN_USER, password: o.password, ...(tls === undefined ? {} : { tls }) };
    });
    const admin = await connect(target);
    let failure: { error: unknown } | undefined;
    try {
      await admin.query("SET GLOBAL local_infile = 1");
      await admin.query("SET GLOBAL read_only = 0");
      const progress = new Progress(log, o.progressIntervalMs ?? 10_000);
      try {
        if (head.kind === "moco-ts") await downloadDump(o, plan);
        await loadDownloadedDump(o, head, dumpDir, target, progress);
      } finally {
        progress.report("load finished");
        progress.stop();
      }
      if (plan.binlog !== undefined) {
        await replayBinlogs({
          target, bucket: o.bucket, dir: plan.binlog.dir, manifest: binlog, restorePoint: o.restorePoint, workDir: o.workDir, tools: o.tools, log,
          ...(o.schema !== undefined ? { schema: o.schema } : {}),
        });
      }
    } catch (e) {
      failure = { error: e };
    }
    const notPutBack = await putBackRestoreSettings(admin, log, [o.password]);
    await admin.end().catch(() => undefined);
    if (notPutBack !== undefined) {
      throw failure === undefined ? notPutBack : new Error(`${errorMessage(failure.error)}; ${notPutBack.message}`, { cause: failure.error });
    }
    if (failure !== undefined) throw failure.error;
    await o.store.setRestoredTime(o.namespace, o.name, new Date());
    try {
      await o.store.createEvent(cluster, "Normal", "Restored", "Successfully restored data from backup");
    } catch (e) {
      log.warn({ err: errorMessage(e) }, "failed to create an event");
    }
    log.info("restore finished");
  } catch (e) {
    const msg = redact(errorMessage(e), [o.password]);
    await o.store.createEvent(cluster, "Warning", "RestoreFailed", `Restore failed: ${msg}`).catch(() => undefined);
    throw e;
  } finally {
    fs.rmSync(dumpDir, { recursive: true, force: true });
  }
}
