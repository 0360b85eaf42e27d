// End-to-end backup and point-in-time restore on the sandbox, as a user runs them:
//   - a BackupPolicy referenced by a 3-instance MySQLCluster makes the controller create
//     the CronJob `moco-backup-<name>`;
//   - an emergency backup `kubectl create job --from=cronjob/moco-backup-<name>` runs a
//     real Job Pod (moco-ts image → moco-backup, with the sandbox's mysql/mysqlbinlog)
//     that dumps a replica into versitygw (a real S3 server on the bridge address) and
//     records status.backup (printer column "Last backup");
//   - a scheduled run (the policy's schedule changed to every minute) takes the second,
//     incremental backup (binary logs since the first) while the PodDisruptionBudget
//     allows no disruption;
//   - a new MySQLCluster with spec.restore and a restore point between two writes is
//     restored by the restore Job and becomes Healthy with exactly the data up to it;
//   - issue 19: the backed-up source takes a label and an annotation, and is deleted
//     while the restore Job runs; that deletion and the restored cluster's complete, and
//     the controller counted no refused status write.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { RowDataPacket } from "mysql2/promise";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { PolicyV1Api } from "@kubernetes/client-node";
import { startS3, type S3Server } from "../env/storage.ts";
import { NODE_IP } from "../../sandbox/realnode/config.ts";
import {
  CONTROLLER_REPLICAS, clusterManifest, clusterPassword, connectMysql, controllerMetric, eventually, primaryPod, sleep, startE2E, waitHealthy, withSpec, type E2E,
} from "./harness.ts";
import { STATUS_WRITERS, STATUS_WRITES_REFUSED } from "../../src/metrics/index.ts";
import { helmTemplate } from "../env/helm.ts";
import { makeTmpDir } from "../env/procs.ts";
import { startPrometheus, type ScrapeJob } from "../env/prometheus.ts";
import { podMonitorJobs, podMonitorsOf } from "../env/pod-monitors.ts";
import { alertRules, dashboardQueries, dashboardVariables } from "../env/monitoring-assets.ts";
import { nodeNetnsFile } from "../../sandbox/realnode/node.ts";
import { S3Bucket } from "../../src/backup/bucket/s3.ts";
import { putArchive } from "../../src/backup/archive.ts";
import { backupDir } from "../../src/backup/keys.ts";
import { silentLogger } from "../../src/util/log.ts";
import { expectedTables, exportedTable, extractFixture, writeBinlogsAroundPoint } from "../env/mysqlsh-fixture.ts";

const ns = "bk";
const source = "src";
const restored = "restored";
const policy = "daily";
const cronJob = `moco-backup-${source}`;
/** A schedule that does not fire during the test (emergency and explicit runs only). */
const IDLE_SCHEDULE = "0 0 1 1 *";

interface BackupStatus {
  time?: string;
  elapsed?: string;
  sourceIndex?: number;
  sourceUUID?: string;
  uuidSet?: Record<string, string>;
  binlogFilename?: string;
  gtidSet?: string;
  dumpSize?: number;
  binlogSize?: number;
  workDirUsage?: number;
  warnings?: string[] | null;
}

interface ClusterObject {
  spec?: { restore?: unknown };
  status?: { backup?: BackupStatus; restoredTime?: string; currentPrimaryIndex?: number };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
/** UTC YYYYMMDD-hhmmss, the bucket's directory name for a backup time. */
function keyTime(iso: string): string {
  const d = new Date(iso);
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

function jobConfigYaml(s3: S3Server, indent: string): string {
  const lines = [
    "serviceAccountName: backup-owner",
    "envFrom:",
    "- secretRef:",
    "    name: s3-credentials",
    "bucketConfig:",
    `  bucketName: ${s3.bucket}`,
    `  region: ${s3.region}`,
    `  endpointURL: ${s3.endpoint}`,
    "  usePathStyle: true",
    "workVolume:",
    "  emptyDir: {}",
    "threads: 2",
    "cpu: 100m",
    "memory: 256Mi",
  ];
  return lines.map((l) => indent + l).join("\n") + "\n";
}

function policyManifest(s3: S3Server, schedule: string): string {
  return `apiVersion: moco.cybozu.com/v1beta2
kind: BackupPolicy
metadata:
  namespace: ${ns}
  name: ${policy}
spec:
  schedule: "${schedule}"
  concurrencyPolicy: Forbid
  jobConfig:
${jobConfigYaml(s3, "    ")}`;
}

describe("backup and point-in-time restore on the sandbox", () => {
  let env: E2E;
  let s3: S3Server;
  let s3c: S3Client;
  let writable = "";
  let first: BackupStatus = {};
  let second: BackupStatus = {};
  let restorePoint = "";

  async function getCluster(name: string): Promise<ClusterObject> {
    return await env.custom.getNamespacedCustomObject({ group: "moco.cybozu.com", version: "v1beta2", namespace: ns, plural: "mysqlclusters", name }) as ClusterObject;
  }

  async function bucketKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out = await s3c.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  /** "ok", "failed" or "running"; a failed Job fails the test with the tail of its log. */
  async function jobDone(name: string): Promise<boolean> {
    const out = await env.kubectl(["-n", ns, "get", "job", name, "-o", "jsonpath={.status.succeeded}/{.status.failed}"]);
    const [ok, failed] = out.split("/");
    if (Number(ok) >= 1) return true;
    if (Number(failed) >= 1) {
      const logs = await env.kubectl(["-n", ns, "logs", `job/${name}`, "--tail=30"]).catch((e: Error) => e.message);
      assert.fail(`Job ${name} failed:\n${logs}`);
    }
    return false;
  }

  /** Waits for a Job to complete, failing at once when it fails. */
  async function waitJob(name: string, timeoutMs = 300_000, each?: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await each?.();
      let done = false;
      try {
        done = await jobDone(name);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        // Not found yet, or a transient API error: retry.
      }
      if (done) return;
      if (Date.now() > deadline) assert.fail(`Job ${name} did not complete in ${timeoutMs / 1000} s`);
      await sleep(500);
    }
  }

  async function sourceQuery<T extends RowDataPacket[]>(sql: string, params: unknown[] = []): Promise<T> {
    const p = await primaryPod(env, ns, source);
    assert.ok(p?.status?.podIP, "the source cluster has a primary");
    const c = await connectMysql(p.status.podIP, "moco-writable", writable);
    try {
      const [rows] = await c.query<T>(sql, params);
      return rows;
    } finally { await c.end(); }
  }

  before(async () => {
    env = await startE2E({ namespaces: [ns] });
    s3 = await startS3("moco-backup", { host: NODE_IP });
    s3c = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    await env.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "backup-owner" } } });
    await env.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "s3-credentials" }, stringData: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } },
    });
  });
  after(async () => {
    s3c?.destroy();
    await s3?.stop();
    await env?.stop();
  });

  it("a MySQLCluster with backupPolicyName gets the backup CronJob", async (t) => {
    await env.kubectl(["apply", "-f", "-"], policyManifest(s3, IDLE_SCHEDULE));
    const start = Date.now();
    // mysqld_exporter joins the Pods when spec.collectors is not empty (as MOCO): the
    // monitoring test below scrapes it.
    await env.kubectl(["apply", "-f", "-"], withSpec(clusterManifest(source, ns, 3), `  backupPolicyName: ${policy}\n  collectors: [engine_innodb_status, info_schema.innodb_metrics]\n`));
    await waitHealthy(env, ns, source);
    t.diagnostic(`source cluster: apply → Available+Healthy ${((Date.now() - start) / 1000).toFixed(1)} s`);
    const cj = await eventually("the backup CronJob", async () => {
      const out = await env.kubectl(["-n", ns, "get", "cronjob", cronJob, "-o", "json"]).catch(() => "");
      return out === "" ? undefined : JSON.parse(out) as {
        spec: { schedule: string; concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: {
          serviceAccountName: string; containers: { name: string; args: string[]; envFrom?: { secretRef?: { name: string } }[] }[];
        } } } } };
      };
    }, 60_000);
    assert.equal(cj.spec.schedule, IDLE_SCHEDULE);
    assert.equal(cj.spec.concurrencyPolicy, "Forbid");
    const pod = cj.spec.jobTemplate.spec.template.spec;
    assert.equal(pod.serviceAccountName, "backup-owner");
    const c = pod.containers.find((x) => x.name === "backup");
    assert.ok(c, "container backup");
    assert.deepEqual(c.args, [
      "backup", "--threads=2", `--region=${s3.region}`, `--endpoint=${s3.endpoint}`, "--use-path-style", "--backend-type=s3",
      s3.bucket, ns, source,
    ]);
    assert.deepEqual(c.envFrom, [{ secretRef: { name: "s3-credentials" } }]);
    // The data of the first backup: a table with some rows.
    writable = await clusterPassword(env, ns, source, "WRITABLE_PASSWORD");
    await sourceQuery("CREATE DATABASE app");
    await sourceQuery("CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL)");
    const rows = Array.from({ length: 2000 }, (_, i) => [i + 1, `base-${i + 1}`]);
    await sourceQuery("INSERT INTO app.t (id, v) VALUES ?", [rows]);
  });

  it("an emergency backup Job from the CronJob backs up to S3 and records status.backup", async (t) => {
    const before = await getCluster(source);
    assert.equal(before.status?.backup?.time ?? null, null, "no backup yet");
    const start = Date.now();
    await env.kubectl(["-n", ns, "create", "job", `--from=cronjob/${cronJob}`, "emergency-1"]);
    await waitJob("emergency-1");
    const took = (Date.now() - start) / 1000;
    const b = (await getCluster(source)).status?.backup;
    assert.ok(b?.time, "status.backup.time is set");
    t.diagnostic(`emergency backup: Job created → complete ${took.toFixed(1)} s (status.backup.elapsed ${b.elapsed})`);
    first = b;
    // Issue 19: a backed-up cluster still takes a label and an annotation.
    await env.kubectl(["-n", ns, "label", "mysqlcluster", source, "e2e=backed-up"]);
    await env.kubectl(["-n", ns, "annotate", "mysqlcluster", source, "example.com/backed-up=yes"]);
    assert.equal(b.sourceIndex, 1, "the first backup is taken from the lowest-ordinal replica");
    assert.match(b.sourceUUID ?? "", /^[0-9a-f-]{36}$/);
    assert.deepEqual(Object.keys(b.uuidSet ?? {}).sort(), ["0", "1", "2"], "the census saw every instance");
    assert.equal(b.uuidSet?.["1"], b.sourceUUID);
    assert.match(b.binlogFilename ?? "", /^binlog\.\d{6}$/);
    assert.match(b.gtidSet ?? "", /^[0-9a-f-]{36}:1-\d+/);
    assert.ok((b.dumpSize ?? 0) > 0, "dumpSize > 0");
    assert.equal(b.binlogSize, 0, "the first backup has no binary logs");
    assert.ok((b.workDirUsage ?? 0) > 0, "workDirUsage > 0");
    assert.deepEqual(b.warnings, [], "no warnings, written as a list (issue 19)");
    assert.ok(Date.parse(b.time) >= start - 2000, "the backup time is this run's");
    // The dump holds everything written so far.
    const [sub] = await sourceQuery<RowDataPacket[]>("SELECT GTID_SUBSET(?, @@gtid_executed) AS s", [b.gtidSet]);
    assert.equal(Number(sub!.s), 1, "the dump's GTID set is part of the primary's");
    // The printer column.
    const table = await env.kubectl(["-n", ns, "get", "mysqlcluster", source]);
    assert.match(table.split("\n")[0]!, /LAST BACKUP/);
    assert.ok(table.includes(b.time), `"Last backup" shows ${b.time}:\n${table}`);
    // The objects, under the spec's (MOCO's) layout: one dump.tar, no binlog archive yet.
    const dir = `moco/${ns}/${source}/${keyTime(b.time)}/`;
    const keys = await bucketKeys(`moco/${ns}/${source}/`);
    assert.deepEqual(keys, [`${dir}dump.tar`]);
    const events = await env.kubectl(["-n", ns, "get", "events", "--field-selector", `involvedObject.name=${source},reason=BackupCreated`, "-o", "name"]);
    assert.notEqual(events.trim(), "", "a BackupCreated event");
  });

  it("a scheduled run takes an incremental backup while the PDB allows no disruption", async (t) => {
    // Two writes around the restore point (second precision; events at or after it are
    // not replayed): 'before' at second s, the point at s+2, 'after' after that.
    await sourceQuery("INSERT INTO app.t VALUES (5001, 'before')");
    const point = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    restorePoint = new Date(point).toISOString().replace(/\.\d{3}Z$/, "Z");
    await sleep(point + 1200 - Date.now());
    await sourceQuery("INSERT INTO app.t VALUES (5002, 'after')");

    const pdbName = `moco-${source}`;
    const policyApi = env.kc.makeApiClient(PolicyV1Api);
    const pdbMax = async () => (await policyApi.readNamespacedPodDisruptionBudget({ name: pdbName, namespace: ns })).spec?.maxUnavailable;
    assert.equal(await pdbMax(), 1, "PDB maxUnavailable is floor(3/2) with no backup running");

    const jobsBefore = new Set((await env.kubectl(["-n", ns, "get", "jobs", "-o", "name"])).split("\n").filter(Boolean));
    const start = Date.now();
    await env.kubectl(["-n", ns, "patch", "backuppolicy", policy, "--type=merge", "-p", JSON.stringify({ spec: { schedule: "* * * * *" } })]);
    let sawActive = false;
    let sawPdbZero = false;
    const job = await eventually("a scheduled backup Job", async () => {
      const jobs = (await env.kubectl(["-n", ns, "get", "jobs", "-o", "name"])).split("\n").filter((j) => j && !jobsBefore.has(j));
      return jobs[0]?.replace(/^job\.batch\//, "");
    }, 150_000, 500);
    // Stop scheduling further runs.
    await env.kubectl(["-n", ns, "patch", "backuppolicy", policy, "--type=merge", "-p", JSON.stringify({ spec: { schedule: IDLE_SCHEDULE } })]);
    await waitJob(job, 300_000, async () => {
      const active = await env.kubectl(["-n", ns, "get", "cronjob", cronJob, "-o", "jsonpath={.status.active[*].name}"]);
      if (active.includes(job)) sawActive = true;
      if ((await pdbMax()) === 0) sawPdbZero = true;
    });
    const took = (Date.now() - start) / 1000;
    const b = (await getCluster(source)).status?.backup;
    assert.ok(b?.time && first.time && Date.parse(b.time) > Date.parse(first.time), "a newer backup");
    t.diagnostic(`scheduled backup: schedule changed → Job complete ${took.toFixed(1)} s (Job ${job}, status.backup.elapsed ${b.elapsed})`);
    second = b;
    assert.ok(sawActive, "the CronJob listed the scheduled Job as active");
    assert.ok(sawPdbZero, "PDB maxUnavailable was 0 while the backup ran");
    await eventually("PDB maxUnavailable back to 1", async () => ((await pdbMax()) === 1 ? true : undefined), 60_000);
    // Incremental: binary logs since the first backup, from the same unchanged source.
    assert.equal(b.sourceIndex, first.sourceIndex);
    assert.equal(b.sourceUUID, first.sourceUUID);
    assert.ok((b.dumpSize ?? 0) > 0, "dumpSize > 0");
    assert.ok((b.binlogSize ?? 0) > 0, "binlogSize > 0: the binary logs since the first backup were saved");
    assert.deepEqual(b.warnings, [], "no warnings");
    const rows = await sourceQuery<RowDataPacket[]>("SELECT GTID_SUBSET(?, ?) AS grew, GTID_SUBSET(?, @@gtid_executed) AS s", [b.gtidSet, first.gtidSet, b.gtidSet]);
    assert.equal(Number(rows[0]!.grew), 0, "the second dump has transactions the first has not");
    assert.equal(Number(rows[0]!.s), 1);
    // The binlog archive is stored beside the *previous* dump.
    const d1 = `moco/${ns}/${source}/${keyTime(first.time!)}/`;
    const d2 = `moco/${ns}/${source}/${keyTime(b.time)}/`;
    const keys = await bucketKeys(`moco/${ns}/${source}/`);
    assert.deepEqual(keys, [`${d1}binlog.tar.zst`, `${d1}dump.tar`, `${d2}dump.tar`],
      "binlog.tar.zst under the first backup, a dump.tar under each, no binlog archive under the newest");
    t.diagnostic(`bucket: ${keys.length} objects; first dump ${first.dumpSize} B, second dump ${b.dumpSize} B, binlogs ${b.binlogSize} B`);
  });

  it("Prometheus scraping the PodMonitors' targets answers every dashboard and alert expression, backup panels included", async () => {
    assert.ok(second?.time, "the backups ran");
    // A real Prometheus (Debian's) in the node's network namespace scrapes exactly what the
    // chart's PodMonitors select (the node has no Prometheus Operator).
    const monitors = podMonitorsOf(helmTemplate({ values: { monitoring: { enabled: true } } }));
    const pods = (await env.core.listPodForAllNamespaces()).items.filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp);
    const jobs: ScrapeJob[] = podMonitorJobs(monitors, pods);
    assert.deepEqual(Object.fromEntries(jobs.map((j) => [j.name, j.targets.length])), {
      "podMonitor/moco-system/moco-controller/0": CONTROLLER_REPLICAS, "podMonitor/moco-system/moco-agent/0": 3, "podMonitor/moco-system/moco-mysql/0": 3,
    });
    const work = makeTmpDir("e2e-prometheus-");
    const prom = await startPrometheus({ dir: work, netns: nodeNetnsFile(env.layout), jobs });
    try {
      const expected = CONTROLLER_REPLICAS + 6;
      await eventually("every target scraped", async () => {
        const up = await prom.query("up == 1");
        return up.length === expected && (await prom.unhealthyTargets()).length === 0 ? true : undefined;
      }, 120_000, 2000);
      const values = { namespace: ns, cluster: source };
      const queries = dashboardQueries(values);
      assert.ok(queries.length >= 30, `${queries.length} dashboard expressions`);
      assert.ok(queries.some((q) => /moco_backup_/.test(q.expr)), "the dashboard has backup panels");
      // Rates need two samples in their window: wait until every expression has data.
      await eventually("every dashboard expression returns data", async () => {
        for (const q of queries) if ((await prom.query(q.expr)).length === 0) return undefined;
        return true;
      }, 240_000, 5000).catch(async (e: unknown) => {
        const empty: string[] = [];
        for (const q of queries) if ((await prom.query(q.expr)).length === 0) empty.push(`${q.panel}: ${q.expr}`);
        throw new Error(`${String(e)}\nwithout data:\n${empty.join("\n")}`, { cause: e });
      });
      const primary = await prom.query(queries.find((q) => q.panel === "Primary instance")!.expr);
      assert.deepEqual(primary.map((x) => x.metric.index), [String((await getCluster(source)).status?.currentPrimaryIndex)], "the primary instance panel");
      for (const v of dashboardVariables(values)) {
        assert.ok((await prom.labelValues(v.label, v.selector)).includes(v.name === "namespace" ? ns : source), `variable ${v.name}`);
      }
      const rules = alertRules();
      assert.ok(rules.length >= 8);
      for (const r of rules) {
        await prom.query(r.expr); // parses and evaluates
        assert.notEqual((await prom.query(r.signal)).length, 0, `${r.alert}: its signal ${r.signal} returns data`);
      }
      // A Healthy cluster backed up minutes ago fires none of the state alerts.
      for (const a of ["MOCOClusterUnavailable", "MOCOClusterNotHealthy", "MOCOErrantReplicas", "MOCOMySQLDown", "MOCOBackupTooOld", "MOCOClusteringStopped"]) {
        const rule = rules.find((r) => r.alert === a);
        assert.ok(rule, `the rules have ${a}`);
        assert.deepEqual(await prom.query(rule.expr), [], `${a} does not fire`);
      }
    } finally {
      await prom.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it("a new cluster with spec.restore is restored to the point between the two writes", async (t) => {
    assert.ok(restorePoint && second.time, "the earlier steps ran");
    const restoreYaml = `  restore:
    sourceName: ${source}
    sourceNamespace: ${ns}
    restorePoint: "${restorePoint}"
    jobConfig:
${jobConfigYaml(s3, "      ")}`;
    const start = Date.now();
    await env.kubectl(["apply", "-f", "-"], withSpec(clusterManifest(restored, ns, 1), restoreYaml));
    // Issue 19: the backed-up source is deleted while the restore Job runs (it reads only the bucket).
    const restoreJob = `moco-restore-${restored}`;
    await eventually("the restore Job running", async () => {
      const out = await env.kubectl(["-n", ns, "get", "job", restoreJob, "-o", "jsonpath={.status.active}"]).catch(() => "");
      return Number(out) >= 1 ? true : undefined;
    }, 300_000);
    const deleteStart = Date.now();
    await env.kubectl(["-n", ns, "delete", "mysqlcluster", source, "--wait=false"]);
    await eventually(`MySQLCluster ${source} deleted`, async () => {
      const out = await env.kubectl(["-n", ns, "get", "mysqlcluster", "-o", "name"]);
      return out.split("\n").includes(`mysqlcluster.moco.cybozu.com/${source}`) ? undefined : true;
    }, 120_000);
    t.diagnostic(`source deleted during the restore: delete → gone ${((Date.now() - deleteStart) / 1000).toFixed(1)} s`);
    const stillRestoring = await env.kubectl(["-n", ns, "get", "job", restoreJob, "-o", "jsonpath={.status.active}/{.status.succeeded}"]);
    t.diagnostic(`restore Job when the source was gone (active/succeeded): ${stillRestoring}`);
    await waitJob(restoreJob, 480_000);
    const restoredObj = await eventually("status.restoredTime", async () => (await getCluster(restored)).status?.restoredTime, 60_000);
    const restoreTook = (Date.now() - start) / 1000;
    await waitHealthy(env, ns, restored);
    t.diagnostic(`restore: apply → restoredTime ${restoreTook.toFixed(1)} s, → Healthy ${((Date.now() - start) / 1000).toFixed(1)} s (restore point ${restorePoint})`);
    assert.ok(Date.parse(restoredObj) >= start - 2000);
    const pw = await clusterPassword(env, ns, restored, "WRITABLE_PASSWORD");
    const p = await primaryPod(env, ns, restored);
    assert.ok(p?.status?.podIP, "the restored cluster has a primary");
    const c = await connectMysql(p.status.podIP, "moco-writable", pw);
    try {
      const [cnt] = await c.query<RowDataPacket[]>("SELECT COUNT(*) AS n, SUM(v LIKE 'base-%') AS base FROM app.t");
      const [marks] = await c.query<RowDataPacket[]>("SELECT id, v FROM app.t WHERE id > 5000 ORDER BY id");
      assert.deepEqual(marks.map((r) => [Number(r.id), String(r.v)]), [[5001, "before"]], "the write before the restore point is there, the one after is not");
      assert.equal(Number(cnt[0]!.base), 2000, "every row of the first dump");
      assert.equal(Number(cnt[0]!.n), 2001);
      await c.query("INSERT INTO app.t VALUES (6000, 'restored is writable')");
    } finally { await c.end(); }
    const events = await env.kubectl(["-n", ns, "get", "events", "--field-selector", `involvedObject.name=${restored},reason=Restored`, "-o", "name"]);
    assert.notEqual(events.trim(), "", "a Restored event");
  });

  it("a MOCO backup directory (a genuine MySQL Shell dump + binlog.tar.zst) restores into a new cluster at a point in time", async (t) => {
    // The binary logs: written by the restored cluster's mysqld (the table created with
    // sql_log_bin off, as the dump holds it; one row before the restore point, one after).
    const adminPw = await clusterPassword(env, ns, restored, "ADMIN_PASSWORD");
    const p = await primaryPod(env, ns, restored);
    assert.ok(p?.status?.podIP && p.metadata?.name, "the restored cluster has a primary");
    const c = await connectMysql(p.status.podIP, "moco-admin", adminPw);
    let mocoPoint: Date;
    let firstBinlog: string;
    try {
      ({ firstBinlog, restorePoint: mocoPoint } = await writeBinlogsAroundPoint(c));
    } finally { await c.end(); }
    // The binlog files, read from the Pod's volume on the node (local-path provisioner).
    const pvc = await env.core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: `mysql-data-${p.metadata.name}` });
    const pv = await env.core.readPersistentVolume({ name: pvc.spec?.volumeName ?? "" });
    const volume = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
    assert.ok(volume, "the restored cluster's volume is a local path");
    const binlogDir = [volume, path.join(volume, "data")].find((d) => fs.existsSync(path.join(d, firstBinlog)));
    assert.ok(binlogDir, `${firstBinlog} on the volume ${volume}`);
    const work = makeTmpDir("e2e-moco-backup-");
    const bucket = new S3Bucket({
      bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, usePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, partSize: 5 * 1024 * 1024,
    });
    const mocoSource = "moco-made";
    const fromMoco = "from-moco";
    try {
      // The bucket as MOCO leaves it: moco/<ns>/<name>/<YYYYMMDD-hhmmss>/{dump.tar,binlog.tar.zst}.
      const dir = backupDir(ns, mocoSource, new Date(mocoPoint.getTime() - 60_000));
      fs.mkdirSync(path.join(work, "binlog"));
      const files = fs.readdirSync(binlogDir).filter((f) => /^binlog\.\d+$/.test(f) && f >= firstBinlog).sort();
      for (const f of files) fs.copyFileSync(path.join(binlogDir, f), path.join(work, "binlog", f));
      await putArchive({ bucket, key: `${dir}binlog.tar.zst`, root: work, entries: files.map((f) => `binlog/${f}`), compression: "zstd", log: silentLogger() });
      const dump = extractFixture(work, "dump");
      await putArchive({ bucket, key: `${dir}dump.tar`, root: work, entries: fs.readdirSync(dump).sort().map((f) => `dump/${f}`), compression: "none", log: silentLogger() });
      assert.deepEqual(await bucketKeys(`moco/${ns}/${mocoSource}/`), [`${dir}binlog.tar.zst`, `${dir}dump.tar`]);

      const start = Date.now();
      await env.kubectl(["apply", "-f", "-"], withSpec(clusterManifest(fromMoco, ns, 1), `  restore:
    sourceName: ${mocoSource}
    sourceNamespace: ${ns}
    restorePoint: "${mocoPoint.toISOString().replace(/\.\d{3}Z$/, "Z")}"
    jobConfig:
${jobConfigYaml(s3, "      ")}`));
      await waitJob(`moco-restore-${fromMoco}`, 600_000);
      await eventually("status.restoredTime", async () => (await getCluster(fromMoco)).status?.restoredTime, 60_000);
      await waitHealthy(env, ns, fromMoco);
      t.diagnostic(`MOCO backup restore: apply → Healthy ${((Date.now() - start) / 1000).toFixed(1)} s`);
      const tp = await primaryPod(env, ns, fromMoco);
      assert.ok(tp?.status?.podIP, "the cluster restored from the MOCO backup has a primary");
      const tc = await connectMysql(tp.status.podIP, "moco-admin", await clusterPassword(env, ns, fromMoco, "ADMIN_PASSWORD"));
      try {
        const [rows] = await tc.query({ sql: "SELECT a, b FROM crazy_names_db.table2 WHERE b = 'point' ORDER BY a", rowsAsArray: true });
        assert.deepEqual(rows, [["before", "point"]], "the binlog replayed up to the restore point, not past it");
        const tables = expectedTables(dump);
        assert.ok(tables.length > 20, `${tables.length} tables in the dump`);
        for (const e of tables) {
          const got = await exportedTable(tc, e);
          const extra = e.schema === "crazy_names_db" && e.table === "table2" ? 1 : 0;
          assert.equal(got.rows, e.rows + extra, `${e.schema}.${e.table}: rows`);
          if (extra === 0) assert.equal(got.checksum, e.checksum, `${e.schema}.${e.table}: checksum`);
        }
      } finally { await tc.end(); }
    } finally {
      // Also after a failure, so that the next test's check of the namespace is its own.
      await env.kubectl(["-n", ns, "delete", "mysqlcluster", fromMoco, "--ignore-not-found", "--wait=true", "--timeout=180s"]).catch(() => undefined);
      await bucket.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it("the restored cluster is deleted too, and no status write was refused", async (t) => {
    const start = Date.now();
    await env.kubectl(["-n", ns, "delete", "mysqlcluster", restored, "--wait=false"]);
    await eventually(`MySQLCluster ${restored} deleted`, async () =>
      (await env.kubectl(["-n", ns, "get", "mysqlcluster", "-o", "name"])).trim() === "" ? true : undefined, 120_000);
    t.diagnostic(`restored cluster: delete → gone ${((Date.now() - start) / 1000).toFixed(1)} s`);
    for (const writer of STATUS_WRITERS) {
      assert.equal(await controllerMetric(env, STATUS_WRITES_REFUSED, { writer }), 0, `refused status writes (${writer})`);
    }
  });
});
