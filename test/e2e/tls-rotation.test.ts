// End-to-end on the real node (issue 17): TLS on every MySQL connection and rotation of the
// system users' passwords, on ONE 3-instance MySQLCluster with `spec.tls.requireSecureTransport`
// and the exporter (docs/tls.md, docs/password-rotation.md):
//   - from inside each mysqld (performance_schema): the controller's (moco-admin), the agent's
//     (moco-agent) and the replication (moco-repl) sessions are SSL/TLS with a cipher, each
//     replica's channel has SSL on with the CA and name verification; a client without TLS
//     is refused on both ports (error 3159);
//   - `kubectl moco rotate-password` under a TLS write load while a backup Job (over TLS, to
//     the S3 server) runs: the rotation completes (waiting for the Job when it runs past the
//     switch of the Secrets), the Job succeeds, no acknowledged write is lost, no system
//     component was refused a login from the switch until 20 s after DISCARD (mysqld's count
//     of ER_ACCESS_DENIED_ERROR), the old passwords are refused and the new ones accepted, the
//     agent and the controller keep working (Healthy), and each mysqld-exporter was restarted
//     by the kubelet alone (liveness on the agent's /exporter-healthz; mysqld not restarted)
//     and reports mysql_up 1 with the new password.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import type { Connection, RowDataPacket } from "mysql2/promise";
import {
  E2eWriter, clusterManifest, clusterPassword, clusterState, connectMysql, eventually, podIP, primaryPod, sleep, startE2E, waitHealthy, withSpec, type E2E,
} from "./harness.ts";
import { startS3, type S3Server } from "../env/storage.ts";
import { metricValue } from "../env/metrics-text.ts";
import { NODE_IP } from "../../sandbox/realnode/config.ts";
import { ER_SECURE_TRANSPORT_REQUIRED, type MysqlClientTls } from "../../src/mysql/tls.ts";
import { ROTATION_COMPLETED_ANNOTATION } from "../../src/controller/password-rotation.ts";
import { mysqlErrno } from "../../src/agent/db.ts";

const ns = "tlsrot";
const name = "tls";
const policy = "tls-backup";
const REPLICAS = 3;
const ADMIN_PORT = 33062;
const ER_ACCESS_DENIED_ERROR = 1045;
const repoRoot = path.resolve(import.meta.dirname, "..", "..");

const pods = Array.from({ length: REPLICAS }, (_, i) => `moco-${name}-${i}`);

interface SessionRow extends RowDataPacket { thread: number | string; id: number | string; user: string; type: string; command: string | null; cipher: string | null }

describe("TLS and password rotation on the real node", () => {
  let env: E2E;
  let s3: S3Server;
  let ca = "";
  const tlsFor = (pod: string): MysqlClientTls => ({ ca, serverName: `${pod}.moco-${name}.${ns}.svc` });

  async function adminSession(pod: string, password?: string): Promise<Connection> {
    return connectMysql(await podIP(env, ns, pod), "moco-admin", password ?? await clusterPassword(env, ns, name, "ADMIN_PASSWORD"), tlsFor(pod), ADMIN_PORT);
  }

  async function onEach<T>(fn: (c: Connection, pod: string) => Promise<T>): Promise<T[]> {
    const out: T[] = [];
    for (const pod of pods) {
      const c = await adminSession(pod);
      try { out.push(await fn(c, pod)); } finally { await c.end(); }
    }
    return out;
  }

  /** mysqld's count of refused logins (wrong password) since it started. */
  async function accessDenied(c: Connection): Promise<number> {
    const [[r]] = await c.query<RowDataPacket[]>(
      "SELECT SUM_ERROR_RAISED AS n FROM performance_schema.events_errors_summary_global_by_error WHERE ERROR_NUMBER = ?", [ER_ACCESS_DENIED_ERROR]);
    return Number(r?.n ?? 0);
  }

  async function podStatuses(): Promise<Map<string, Map<string, { restarts: number; id: string }>>> {
    const list = await env.core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name}` });
    return new Map(list.items.map((p) => [p.metadata!.name!, new Map((p.status?.containerStatuses ?? []).map((s) => [s.name, { restarts: s.restartCount, id: s.containerID ?? "" }]))]));
  }

  async function exporterUp(pod: string): Promise<number | undefined> {
    const res = await fetch(`http://${await podIP(env, ns, pod)}:9104/metrics`, { signal: AbortSignal.timeout(10_000) });
    return metricValue(await res.text(), "mysql_up", {});
  }

  before(async () => {
    env = await startE2E({ namespaces: [ns] });
    s3 = await startS3("moco-backup", { host: NODE_IP });
    await env.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "backup-owner" } } });
    await env.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "s3-credentials" }, stringData: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } },
    });
    await env.kubectl(["apply", "-f", "-"], `apiVersion: moco.cybozu.com/v1beta2
kind: BackupPolicy
metadata: {namespace: ${ns}, name: ${policy}}
spec:
  schedule: "0 0 1 1 *"
  jobConfig:
    serviceAccountName: backup-owner
    envFrom: [{secretRef: {name: s3-credentials}}]
    bucketConfig: {bucketName: ${s3.bucket}, region: ${s3.region}, endpointURL: "${s3.endpoint}", usePathStyle: true}
    workVolume: {emptyDir: {}}
    threads: 1
    cpu: 100m
    memory: 256Mi
`);
  });
  after(async () => {
    await s3?.stop();
    await env?.stop();
  });

  it("encrypts the controller's, the agent's and the replication sessions and refuses plaintext clients", async (t) => {
    const start = Date.now();
    await env.kubectl(["apply", "-f", "-"], withSpec(clusterManifest(name, ns, REPLICAS),
      `  tls:\n    requireSecureTransport: true\n  backupPolicyName: ${policy}\n  collectors: [engine_innodb_status]\n`));
    const st = await waitHealthy(env, ns, name);
    t.diagnostic(`3 instances with TLS: apply → Available+Healthy ${((Date.now() - start) / 1000).toFixed(1)} s`);
    const cm = await env.core.readNamespacedConfigMap({ name: `moco-${name}-ca`, namespace: ns });
    ca = cm.data?.["ca.crt"] ?? "";
    assert.match(ca, /BEGIN CERTIFICATE/, "ConfigMap moco-<name>-ca holds ca.crt");

    // A client without TLS: refused on the MySQL and the admin port.
    const p0 = await podIP(env, ns, pods[0]!);
    for (const [user, key, port] of [["moco-writable", "WRITABLE_PASSWORD", 3306], ["moco-admin", "ADMIN_PASSWORD", ADMIN_PORT]] as const) {
      const pw = await clusterPassword(env, ns, name, key);
      await assert.rejects(connectMysql(p0, user, pw, undefined, port), (e: unknown) => mysqlErrno(e) === ER_SECURE_TRANSPORT_REQUIRED, `plaintext ${user} on ${port} refused`);
    }

    // Every TCP session of the system users, seen from inside each mysqld (the test's own
    // excluded), gathered over the polls: the controller's admin connections live only while
    // a pass runs (one every --check-interval), so one poll rarely sees them on every instance.
    const primary = st.currentPrimaryIndex!;
    // The test's own earlier sessions (which may linger a moment after they end) are left out.
    const gathered = pods.map((pod) => ({ pod, rows: new Map<string, SessionRow>(), own: new Set<number>() }));
    await eventually("controller, agent and replication sessions on every instance", async () => {
      const rows = await onEach(async (c, pod) => {
        const mine = gathered.find((g) => g.pod === pod)!.own;
        mine.add(c.threadId!);
        const [r] = await c.query<SessionRow[]>(`SELECT t.THREAD_ID AS thread, t.PROCESSLIST_ID AS id, t.PROCESSLIST_USER AS user, t.CONNECTION_TYPE AS type, t.PROCESSLIST_COMMAND AS command,
            (SELECT s.VARIABLE_VALUE FROM performance_schema.status_by_thread s WHERE s.THREAD_ID = t.THREAD_ID AND s.VARIABLE_NAME = 'Ssl_cipher') AS cipher
          FROM performance_schema.threads t
          WHERE t.PROCESSLIST_USER IN ('moco-admin', 'moco-agent', 'moco-repl') AND t.PROCESSLIST_ID <> CONNECTION_ID() AND t.CONNECTION_TYPE <> 'Socket'`);
        return r.filter((row) => !mine.has(Number(row.id)));
      });
      rows.forEach((r, i) => { for (const row of r) gathered[i]!.rows.set(String(row.thread), row); });
      const users = (i: number) => new Set([...gathered[i]!.rows.values()].map((r) => r.user));
      const complete = gathered.every((_, i) => users(i).has("moco-admin") && users(i).has("moco-agent")) &&
        rows[primary]!.filter((r) => r.user === "moco-repl" && /Binlog Dump/.test(r.command ?? "")).length === REPLICAS - 1;
      return complete ? true : undefined;
    }, 120_000, 500);
    for (const { pod, rows: byThread } of gathered) {
      const rows = [...byThread.values()];
      for (const r of rows) {
        assert.equal(r.type, "SSL/TLS", `${pod}: ${r.user} session (${r.command}) is encrypted`);
        assert.ok((r.cipher ?? "") !== "", `${pod}: ${r.user} session has an Ssl_cipher`);
      }
      t.diagnostic(`${pod}: ${rows.length} system TCP sessions seen, all SSL/TLS (${[...new Set(rows.map((r) => `${r.user}:${r.cipher}`))].join(", ")})`);
    }

    // Each replica's channel: SSL with the CA and the name checked (SOURCE_HOST is the Pod's DNS name).
    const channels = await onEach(async (c, pod) => {
      const [r] = await c.query<RowDataPacket[]>(`SELECT HOST, SSL_ALLOWED, SSL_CA_FILE, SSL_VERIFY_SERVER_CERTIFICATE
        FROM performance_schema.replication_connection_configuration`);
      return { pod, r };
    });
    for (const { pod, r } of channels) {
      if (pod === pods[primary]) continue;
      assert.equal(r.length, 1, `${pod} has one channel`);
      assert.equal(r[0]!.SSL_ALLOWED, "YES", `${pod}: SOURCE_SSL=1`);
      assert.equal(r[0]!.SSL_CA_FILE, "/etc/mysql-tls/ca.crt");
      assert.equal(r[0]!.SSL_VERIFY_SERVER_CERTIFICATE, "YES", `${pod}: the source's name (${r[0]!.HOST}) is verified`);
    }
  });

  it("rotates every password under a TLS write load while a TLS backup runs; the exporters follow without a Pod restart", async (t) => {
    const before = await podStatuses();
    const deniedBefore = await onEach((c) => accessDenied(c));
    const oldAdmin = await clusterPassword(env, ns, name, "ADMIN_PASSWORD");
    for (const pod of pods) assert.equal(await exporterUp(pod), 1, `${pod}: exporter reaches mysqld before`);

    const writer = new E2eWriter(env, ns, name, await clusterPassword(env, ns, name, "WRITABLE_PASSWORD"), tlsFor);
    await writer.setup();
    writer.start();
    await eventually("the writer's first acknowledged insert", async () => (writer.acked.length > 0 ? true : undefined), 60_000);

    // Some 25 MB for the backup to dump, so that it is likely still running at the switch.
    {
      const p = (await primaryPod(env, ns, name))!;
      const c = await connectMysql(p.status!.podIP!, "moco-writable", await clusterPassword(env, ns, name, "WRITABLE_PASSWORD"), tlsFor(p.metadata!.name!));
      try {
        await c.query("CREATE TABLE e2e.filler (id INT AUTO_INCREMENT PRIMARY KEY, pad CHAR(200) NOT NULL)");
        await c.query("INSERT INTO e2e.filler (pad) VALUES (REPEAT('x', 200))");
        for (let i = 0; i < 17; i++) await c.query("INSERT INTO e2e.filler (pad) SELECT pad FROM e2e.filler");
      } finally { await c.end(); }
    }
    // A backup Job, then the rotation request while it runs.
    await env.kubectl(["-n", ns, "create", "job", `--from=cronjob/moco-backup-${name}`, "tls-backup-1"]);
    await eventually("the backup Job's Pod running", async () => {
      const out = await env.kubectl(["-n", ns, "get", "pods", "-l", "job-name=tls-backup-1", "-o", "jsonpath={.items[*].status.phase}"]);
      return /Running|Succeeded/.test(out) ? true : undefined;
    }, 180_000);
    const requested = Date.now();
    const out = await new Promise<string>((resolve, reject) => execFile(process.execPath, [path.join(repoRoot, "src", "cli", "kubectl-moco.ts"), "-n", ns, "rotate-password", name],
      { env: { ...process.env, KUBECONFIG: env.kubeconfig } }, (e, stdout, stderr) => (e ? reject(new Error(`rotate-password: ${stderr}`, { cause: e })) : resolve(stdout))));
    const id = await eventually("the request id on the MySQLCluster", async () => {
      const v = await env.kubectl(["-n", ns, "get", "mysqlcluster", name, "-o", "jsonpath={.metadata.annotations.moco-ts\\.cybozu\\.com/rotate-password}"]);
      return v === "" ? undefined : v;
    }, 30_000);
    assert.ok(out.includes(id), "the command prints the request id");

    const waited = new Set<string>();
    let distributedAt = 0;
    let deniedAtSwitch: number[] = [];
    await eventually("the rotation completed", async () => {
      const evs = await env.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` });
      for (const e of evs.items) if (e.reason === "PasswordRotationWaiting" && e.message) waited.add(e.message);
      const d = evs.items.find((e) => e.reason === "PasswordRotationDistributed");
      if (d && distributedAt === 0) {
        distributedAt = new Date((d.firstTimestamp ?? d.eventTime) as unknown as string).getTime();
        // From here on every consumer may use the new passwords; until now the rotator's own
        // logins with a new password before its RETAIN were refused (that is how it checks).
        deniedAtSwitch = await onEach((c) => accessDenied(c));
      }
      const sec = await env.core.readNamespacedSecret({ name: `mysql-${ns}.${name}`, namespace: "moco-system" });
      return sec.metadata?.annotations?.[ROTATION_COMPLETED_ANNOTATION] === id ? true : undefined;
    }, 600_000, 1000);
    const tookS = (Date.now() - requested) / 1000;
    t.diagnostic(`rotation of the 8 users: request → completed ${tookS.toFixed(1)} s; waited for: ${[...waited].join(" | ")}`);

    // The backup Job (TLS to mysqld under require_secure_transport) succeeded.
    await eventually("the backup Job succeeded", async () => {
      const s = await env.kubectl(["-n", ns, "get", "job", "tls-backup-1", "-o", "jsonpath={.status.succeeded}/{.status.failed}"]);
      if (/\/[1-9]/.test(s)) assert.fail(`the backup Job failed: ${await env.kubectl(["-n", ns, "logs", "job/tls-backup-1", "--tail=20"]).catch(() => "")}`);
      return s.startsWith("1") ? true : undefined;
    }, 300_000);
    const backupTime = await env.kubectl(["-n", ns, "get", "mysqlcluster", name, "-o", "jsonpath={.status.backup.time}"]);
    assert.ok(backupTime !== "", "status.backup recorded");
    // A Job still running when the Secrets switched holds the old moco-backup password: the
    // rotation must have waited for it (Event times have a 1 s resolution).
    const jobEnd = new Date(await env.kubectl(["-n", ns, "get", "job", "tls-backup-1", "-o", "jsonpath={.status.completionTime}"])).getTime();
    assert.ok(distributedAt > 0, "PasswordRotationDistributed seen");
    if (jobEnd > distributedAt + 1000) assert.ok([...waited].some((m) => m.includes("Job tls-backup-1")), "the rotation waited for the backup Job");
    t.diagnostic(`backup Job ${jobEnd > distributedAt + 1000 ? `ran ${((jobEnd - distributedAt) / 1000).toFixed(0)} s past the switch and the rotation waited for it` : "ended before the switch"}`);

    // The system components keep logging in after DISCARD: 20 s more of probes, passes and scrapes.
    await sleep(20_000);
    const after = await podStatuses();
    for (const pod of pods) {
      const b = before.get(pod)!;
      const a = after.get(pod)!;
      assert.equal(a.get("mysqld")!.id, b.get("mysqld")!.id, `${pod}: mysqld not restarted`);
      assert.equal(a.get("mysqld")!.restarts, b.get("mysqld")!.restarts, `${pod}: mysqld not restarted`);
      assert.ok(a.get("mysqld-exporter")!.restarts > b.get("mysqld-exporter")!.restarts, `${pod}: the kubelet restarted mysqld-exporter`);
      assert.equal(await eventually(`${pod}: exporter mysql_up 1`, async () => ((await exporterUp(pod).catch(() => undefined)) === 1 ? 1 : undefined), 60_000), 1);
    }
    const s = await clusterState(env, ns, name);
    assert.equal(s.healthy, "True", "the controller's passes and the agents' probes go on");
    assert.equal(s.syncedReplicas, REPLICAS);
    await writer.stop();
    t.diagnostic(`writer: ${writer.acked.length} acknowledged inserts, ${writer.errors.length} failed (${[...new Set(writer.errors)].slice(0, 3).join(" | ")})`);
    const deniedAfter = await onEach((c) => accessDenied(c));
    t.diagnostic(`refused logins per instance: ${deniedAtSwitch.map((n, i) => n - deniedBefore[i]!).join("/")} before the switch (the rotator's checks), ${deniedAfter.map((n, i) => n - deniedAtSwitch[i]!).join("/")} after it`);
    assert.deepEqual(deniedAfter, deniedAtSwitch, "no login refused on any instance from the switch until 20 s after DISCARD");

    // No acknowledged insert lost, on any instance (replicas caught up); read with the new password.
    const writable = await clusterPassword(env, ns, name, "WRITABLE_PASSWORD");
    for (const pod of pods) {
      const missing = await eventually(`${pod} has every acknowledged insert`, async () => {
        const m = await writer.missingOn(await podIP(env, ns, pod), pod, writable);
        return m.length === 0 ? m : undefined;
      }, 60_000, 1000);
      assert.deepEqual(missing, []);
    }
    // The old password is refused, the new one accepted; the refusal is counted (the check above can fail).
    const newAdmin = await clusterPassword(env, ns, name, "ADMIN_PASSWORD");
    assert.notEqual(newAdmin, oldAdmin);
    const primary = (await primaryPod(env, ns, name))!.metadata!.name!;
    await assert.rejects(adminSession(primary, oldAdmin), (e: unknown) => mysqlErrno(e) === ER_ACCESS_DENIED_ERROR, "old password refused");
    const c = await adminSession(primary, newAdmin);
    try {
      assert.equal(await accessDenied(c), deniedAfter[pods.indexOf(primary)]! + 1, "the refused login was counted");
    } finally { await c.end(); }
  });
});
