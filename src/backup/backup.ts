// `moco-backup backup` (docs/backup.md#backup-steps): census, source choice, consistent dump, binlogs
// since the previous backup, status.backup and events.
import type { BackupStatus, MySQLCluster } from "../api/v1beta2/index.ts";
import fs from "node:fs";
import path from "node:path";
import { streamArchive } from "./archive.ts";
import { backupBinlogs } from "./binlog.ts";
import type { Bucket } from "./bucket/types.ts";
import { connect, instanceTls, readServerStatus, type MysqlTarget } from "./db.ts";
import { queryRows } from "../mysql/query.ts";
import { dumpInstance } from "./dump/dump.ts";
import type { Compression } from "./dump/format.ts";
import { DUMP_ARCHIVE, DUMP_DIR, backupDir, formatBackupTime } from "./keys.ts";
import { type ClusterStore, type PodInfo } from "./kube.ts";
import { rfc3339 } from "../util/time.ts";
import { redact, type Logger } from "./log.ts";
import { errorMessage } from "../util/errors.ts";
import { Progress } from "./progress.ts";
import { sortBinlogNames } from "./binlog.ts";
import { chooseSource } from "./source.ts";
import type { Tools } from "./tools.ts";

export const BACKUP_USER = "moco-backup";

export interface BackupJobOptions {
  namespace: string;
  name: string;
  bucket: Bucket;
  store: ClusterStore;
  password: string;
  threads: number;
  workDir: string;
  tools: Tools;
  log: Logger;
  /** Address of an instance (default: the Pod IP). */
  instanceHost?: (pod: PodInfo) => string;
  /** CA file of spec.tls (env MYSQL_TLS_CA_FILE): connect with TLS, verifying each Pod's name. */
  tlsCaFile?: string | undefined;
  port?: number;
  user?: string;
  now?: () => Date;
  chunkRows?: number;
  chunkBytes?: number;
  compression?: Compression;
  progressIntervalMs?: number;
}

/** Go's time.Duration String() for a non-negative number of milliseconds. */
export function formatGoDuration(ms: number): string {
  if (ms <= 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const totalSec = ms / 1000;
  const h = Math.floor(totalSec / 3600);
  const m = Math.floor((totalSec - h * 3600) / 60);
  const s = totalSec - h * 3600 - m * 60;
  const sec = `${Number(s.toFixed(3))}s`;
  if (h > 0) return `${h}h${m}m${sec}`;
  if (m > 0) return `${m}m${sec}`;
  return sec;
}

async function warnEvent(store: ClusterStore, cluster: MySQLCluster, log: Logger, type: "Normal" | "Warning", reason: string, message: string) {
  try {
    await store.createEvent(cluster, type, reason, message);
  } catch (e) {
    log.warn({ err: errorMessage(e), reason }, "failed to create an event");
  }
}

export async function runBackup(o: BackupJobOptions): Promise<BackupStatus> {
  const log = o.log;
  const port = o.port ?? 3306;
  const user = o.user ?? BACKUP_USER;
  const hostOf = o.instanceHost ?? ((p: PodInfo) => p.ip);
  const target = (p: PodInfo): MysqlTarget => {
    const tls = instanceTls(o.tlsCaFile, p.name, o.name, o.namespace);
    return { host: hostOf(p), port, user, password: o.password, ...(tls === undefined ? {} : { tls }) };
  };

  const cluster = await o.store.getCluster(o.namespace, o.name);
  if (cluster.spec?.offline === true) throw new Error(`MySQLCluster ${o.namespace}/${o.name} is offline`);
  const pods = await o.store.listPods(o.namespace, o.name);
  const replicas = cluster.spec?.replicas ?? 1;
  if (pods.length !== replicas) throw new Error(`too few Pods: ${pods.length} of ${replicas}`);
  pods.sort((a, b) => a.index - b.index);
  const ready: boolean[] = [];
  for (const p of pods) ready[p.index] = p.ready;

  // Bucket problems (missing bucket, refused credentials) fail before any work.
  await o.bucket.checkAccess();

  // UUID census of the ready instances.
  const census = new Map<number, string>();
  for (const p of pods) {
    if (!p.ready) continue;
    try {
      const c = await connect(target(p));
      try { census.set(p.index, (await readServerStatus(c)).uuid); } finally { await c.end().catch(() => undefined); }
    } catch (e) {
      log.warn({ pod: p.name, err: redact(errorMessage(e), [o.password]) }, "skipping an unreachable instance in the UUID census");
    }
  }
  const last = cluster.status?.backup;
  const primary = cluster.status?.currentPrimaryIndex ?? 0;
  const choice = chooseSource(ready, primary, last, census);
  const warnings = [...choice.warnings];
  const sourcePod = pods.find((p) => p.index === choice.sourceIndex);
  if (!sourcePod) throw new Error(`no Pod for instance ${choice.sourceIndex}`);
  const source = target(sourcePod);

  const sc = await connect(source);
  let status;
  let binlogNames: string[] = [];
  let dataBytes = 0;
  try {
    status = await readServerStatus(sc);
    // Sizes the multipart upload of dump.tar, which starts before the dump's size is known.
    const [size] = await queryRows<{ n: string | number | null }>(sc, "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) AS n FROM information_schema.TABLES " +
      "WHERE TABLE_SCHEMA NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')");
    dataBytes = Number(size?.n ?? 0) || 0;
    if (choice.doBinlog && last !== undefined && last.sourceIndex !== choice.sourceIndex) {
      binlogNames = sortBinlogNames((await queryRows<{ Log_name: string }>(sc, "SHOW BINARY LOGS")).map((r) => r.Log_name));
    }
  } finally {
    await sc.end().catch(() => undefined);
  }
  const start = new Date(Math.floor((o.now ?? (() => new Date()))().getTime() / 1000) * 1000);
  log.info({ sourceIndex: choice.sourceIndex, time: rfc3339(start), uuid: status.uuid, binlog: status.currentBinlog, doBinlog: choice.doBinlog },
    "backup starts");

  const progress = new Progress(log, o.progressIntervalMs ?? 10_000);
  const dumpDir = path.join(o.workDir, DUMP_DIR);
  const key = `${backupDir(o.namespace, o.name, start)}${DUMP_ARCHIVE}`;
  let dump;
  let dumpSize;
  try {
    // dump.tar is uploaded while the dump is taken (each file joins the archive once complete).
    log.info({ key, dataBytes }, "dumping and uploading");
    const r = await streamArchive({ bucket: o.bucket, key, root: o.workDir, compression: "none", log, sizeHint: dataBytes }, async (add) => {
      try {
        return await dumpInstance({
          target: source, outDir: dumpDir, threads: o.threads, time: start, sourceIndex: choice.sourceIndex, log, progress,
          onFile: (rel) => add(`${DUMP_DIR}/${rel}`),
          ...(o.chunkRows !== undefined ? { chunkRows: o.chunkRows } : {}),
          ...(o.chunkBytes !== undefined ? { chunkBytes: o.chunkBytes } : {}),
          ...(o.compression !== undefined ? { compression: o.compression } : {}),
        });
      } finally {
        progress.report("dump finished");
        progress.stop();
      }
    });
    dump = r.value;
    dumpSize = r.bytes;
    log.info({ key, dumpSize, files: dump.files.length }, "dump uploaded");
  } finally {
    fs.rmSync(dumpDir, { recursive: true, force: true });
  }
  let workDirUsage = dump.dumpSize;
  let binlogSize = 0;
  if (choice.doBinlog && last !== undefined && last.time) {
    try {
      let startFile = last.binlogFilename;
      if (last.sourceIndex !== choice.sourceIndex) {
        const oldest = binlogNames[0];
        if (oldest === undefined) throw new Error("no binlog files on the source");
        startFile = oldest;
      }
      const since = new Date(Date.parse(last.time));
      const r = await backupBinlogs({
        source, bucket: o.bucket, dir: backupDir(o.namespace, o.name, since), since, takenAt: start,
        sourceIndex: choice.sourceIndex, startFile, excludeGtids: last.gtidSet, workDir: o.workDir, tools: o.tools, log,
      });
      binlogSize = r.binlogSize;
      workDirUsage = Math.max(workDirUsage, r.workDirUsage);
    } catch (e) {
      const msg = redact(errorMessage(e), [o.password]);
      log.error({ err: msg }, "binlog backup failed");
      warnings.push(`failed to backup binary logs: ${msg}`);
      await warnEvent(o.store, cluster, log, "Warning", "BackupNoBinlog", "Backup created w/o binlog files");
    }
  }
  const elapsedMs = Date.now() - start.getTime();
  const uuidSet: Record<string, string> = {};
  for (const [i, u] of census) uuidSet[String(i)] = u;
  const result: BackupStatus = {
    time: rfc3339(start),
    elapsed: formatGoDuration(elapsedMs),
    sourceIndex: choice.sourceIndex,
    sourceUUID: dump.serverUuid,
    uuidSet,
    binlogFilename: dump.binlogFile,
    gtidSet: dump.gtidExecuted,
    dumpSize,
    binlogSize,
    workDirUsage,
    // Always a list: the schema wants one here, and `[]` reads the same in MOCO's clients.
    warnings: [...warnings],
  };
  await o.store.updateBackupStatus(o.namespace, o.name, result);
  await warnEvent(o.store, cluster, log, "Normal", "BackupCreated", "Backup created");
  log.info({ key: formatBackupTime(start), dumpSize: result.dumpSize, binlogSize, elapsed: result.elapsed }, "backup finished");
  return result;
}
