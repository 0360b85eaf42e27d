// End-to-end on the sandbox: the kubectl-moco plugin run as a user runs it —
// `kubectl moco …`, kubectl finding `kubectl-moco` on PATH (the package's bin entry, run
// from the sources by a wrapper) — against a real
// moco-ts installation and real mysqld Pods. Covers credential, status (table and JSON),
// mysql -e (through `kubectl exec` on the sandbox node), switchover --wait and its
// refusals, stop/start clustering and reconciliation as seen in the printer columns of
// `kubectl get mysqlcluster`, and the exit code for an unknown cluster.
//
// Passwords are never printed: credential output is compared with the Secret by
// equality only, and failure messages name the user, not the value.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { makeTmpDir, repoRoot } from "../env/procs.ts";
import {
  clusterManifest, clusterPassword, clusterState, connectMysql, eventually, kubectlBinary, primaryPod, sleep, startE2E, waitHealthy, type E2E,
} from "./harness.ts";


const ns = "cli";
const name = "c3";
const single = "c1";

interface Run { code: number | null; stdout: string; stderr: string }

/** A directory with `kubectl-moco` (the package.json bin entry, run from src/ on the repository's Node 24). */
function pluginWrapperDir(): string {
  const dir = makeTmpDir("kubectl-moco-");
  fs.writeFileSync(path.join(dir, "kubectl-moco"),
    `#!/bin/sh\nexec '${process.execPath}' '${path.join(repoRoot, "src", "cli", "kubectl-moco.ts")}' "$@"\n`, { mode: 0o755 });
  return dir;
}
const pluginDir = pluginWrapperDir();

describe("kubectl moco on the sandbox", () => {
  let env: E2E;

  /** `kubectl moco ARGS` as a child process, with kubectl and the plugin on PATH. */
  function moco(args: string[], input?: string): Promise<Run> {
    const PATH = [pluginDir, path.dirname(kubectlBinary()), process.env.PATH ?? ""].join(path.delimiter);
    return new Promise((resolve, reject) => {
      const child = spawn(kubectlBinary(), ["moco", ...args], {
        env: { ...process.env, PATH, KUBECONFIG: env.kubeconfig, KUBECTL: "" },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
      child.stdout.on("data", (b: Buffer) => { stdout += b.toString(); });
      child.stderr.on("data", (b: Buffer) => { stderr += b.toString(); });
      child.on("error", (e) => { clearTimeout(timer); reject(e); });
      child.on("close", (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
      child.stdin.end(input ?? "");
    });
  }

  /** Fails with the command's output (never used for commands that print a password). */
  function expectCode(r: Run, code: number, what: string): void {
    assert.equal(r.code, code, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }

  /** `kubectl get mysqlcluster NAME` as a map of printer column → value (by header offsets). */
  async function printerColumns(cluster: string): Promise<Record<string, string>> {
    const out = await env.kubectl(["-n", ns, "get", "mysqlcluster", cluster]);
    const [header, row] = out.split("\n");
    assert.ok(header && row, `kubectl get output: ${out}`);
    const cols: { name: string; start: number }[] = [];
    for (const m of header.matchAll(/\S+(?: \S+)*/g)) cols.push({ name: m[0], start: m.index });
    const res: Record<string, string> = {};
    cols.forEach((c, i) => { res[c.name] = row.slice(c.start, cols[i + 1]?.start ?? row.length).trim(); });
    return res;
  }

  async function annotations(cluster: string): Promise<Record<string, string>> {
    const obj = await env.custom.getNamespacedCustomObject({ group: "moco.cybozu.com", version: "v1beta2", namespace: ns, plural: "mysqlclusters", name: cluster }) as {
      metadata: { annotations?: Record<string, string> };
    };
    return obj.metadata.annotations ?? {};
  }

  interface JsonInstance {
    index: number; pod: string; role: string | null; ready: boolean; primary: boolean; gtidLag: number | null;
    errant: boolean; probeSource: string | null; probeError: string | null; gtidExecuted: string | null;
  }
  interface JsonReport { namespace: string; name: string; replicas: number; currentPrimaryIndex: number | null; instances: JsonInstance[] }

  /** `status -o json` until every instance is probed, Ready, with GTID lag 0 (replicas catch up asynchronously). */
  async function settledStatus(source: string): Promise<JsonReport> {
    return eventually(`status --source ${source}: 3 instances, lag 0`, async () => {
      const r = await moco(["-n", ns, "status", "-o", "json", "--source", source, name]);
      expectCode(r, 0, "status -o json");
      const rep = JSON.parse(r.stdout) as JsonReport;
      const bad = rep.instances.filter((i) => i.gtidLag !== 0 || !i.ready || i.probeError !== null || !i.gtidExecuted);
      if (bad.length > 0) {
        throw new Error(`not settled: ${JSON.stringify(bad.map((i) => ({ pod: i.pod, lag: i.gtidLag, ready: i.ready, err: i.probeError, gtid: i.gtidExecuted })))}`);
      }
      return rep;
    }, 120_000, 2000);
  }

  // The single executable (scripts/build-kubectl-moco.sh: Node 24 SEA), built while the
  // node is prepared; the last test runs it with no Node.js and no kubectl on PATH.
  const seaDir = makeTmpDir("kubectl-moco-sea-");
  let seaBuild: Promise<void> | undefined;

  before(async () => {
    seaBuild = new Promise<void>((resolve, reject) => {
      execFile("bash", [path.join(repoRoot, "scripts", "build-kubectl-moco.sh"), seaDir], { timeout: 900_000 }, (e, _out, stderr) => {
        if (e) reject(new Error(`build-kubectl-moco.sh failed: ${stderr}`, { cause: e }));
        else resolve();
      });
    });
    seaBuild.catch(() => undefined);
    env = await startE2E({ namespaces: [ns] });
  });
  after(async () => {
    await env?.stop();
    fs.rmSync(pluginDir, { recursive: true, force: true });
    fs.rmSync(seaDir, { recursive: true, force: true });
  });

  it("a 3-instance cluster (and a 1-instance one) become healthy", async (t) => {
    const start = Date.now();
    await env.kubectl(["apply", "-f", "-"], clusterManifest(name, ns, 3) + "---\n" + clusterManifest(single, ns, 1));
    const st = await waitHealthy(env, ns, name);
    t.diagnostic(`apply → Available+Healthy: ${((Date.now() - start) / 1000).toFixed(1)} s`);
    assert.equal(st.syncedReplicas, 3);
    assert.equal(st.currentPrimaryIndex, 0);
    await waitHealthy(env, ns, single);
  });

  it("credential prints the Secret's passwords, plain and as my.cnf", async () => {
    for (const [user, key] of [["moco-readonly", "READONLY_PASSWORD"], ["moco-writable", "WRITABLE_PASSWORD"], ["moco-admin", "ADMIN_PASSWORD"]] as const) {
      const pw = await clusterPassword(env, ns, name, key);
      assert.ok(pw.length >= 8, `${key} is set`);
      const plain = await moco(["-n", ns, "credential", "-u", user, name]);
      assert.equal(plain.code, 0, `credential -u ${user}: exit ${plain.code}, stderr: ${plain.stderr}`);
      assert.ok(plain.stdout === `${pw}\n`, `credential -u ${user} prints ${key} and a newline`);
      const cnf = await moco(["-n", ns, "credential", "-u", user, "--format", "mycnf", name]);
      assert.equal(cnf.code, 0, `credential --format mycnf -u ${user}: exit ${cnf.code}, stderr: ${cnf.stderr}`);
      assert.ok(cnf.stdout === `[client]\nuser=${user}\npassword="${pw}"\n`, `credential --format mycnf -u ${user} is [client], user=, password="${key}"`);
    }
    // The default user is moco-readonly; the namespace comes from -n given after the subcommand too.
    const dflt = await moco(["credential", name, "-n", ns]);
    assert.equal(dflt.code, 0, `credential (default user): stderr: ${dflt.stderr}`);
    assert.ok(dflt.stdout === `${await clusterPassword(env, ns, name, "READONLY_PASSWORD")}\n`, "the default user is moco-readonly");
    const badUser = await moco(["-n", ns, "credential", "-u", "root", name]);
    expectCode(badUser, 2, "credential -u root");
    assert.match(badUser.stderr, /invalid user: root/);
    const badFormat = await moco(["-n", ns, "credential", "--format", "yaml", name]);
    expectCode(badFormat, 2, "credential --format yaml");
    assert.match(badFormat.stderr, /unknown format: yaml/);
  });

  it("status lists 3 instances with the primary and GTID lag 0 (JSON and table)", async (t) => {
    const st = await clusterState(env, ns, name);
    // A fresh cluster may have executed no GTID at all (MOCO creates its users without
    // binary logging): write some transactions so that "lag 0" means the replicas caught up.
    const primaryIp = (await primaryPod(env, ns, name))!.status!.podIP!;
    const c = await connectMysql(primaryIp, "moco-writable", await clusterPassword(env, ns, name, "WRITABLE_PASSWORD"));
    await c.query("CREATE DATABASE IF NOT EXISTS clistatus");
    await c.query("CREATE TABLE IF NOT EXISTS clistatus.t (id INT PRIMARY KEY)");
    for (let i = 1; i <= 20; i++) await c.query("INSERT INTO clistatus.t VALUES (?)", [i]);
    await c.end();
    // auto: exec (the kubelet serves it).
    const rep = await settledStatus("auto");
    assert.equal(rep.name, name);
    assert.equal(rep.namespace, ns);
    assert.equal(rep.replicas, 3);
    assert.equal(rep.currentPrimaryIndex, st.currentPrimaryIndex);
    assert.deepEqual(rep.instances.map((i) => i.pod), [0, 1, 2].map((i) => `moco-${name}-${i}`));
    assert.deepEqual(rep.instances.map((i) => i.role), [0, 1, 2].map((i) => (i === st.currentPrimaryIndex ? "primary" : "replica")));
    assert.deepEqual(rep.instances.map((i) => i.primary), [0, 1, 2].map((i) => i === st.currentPrimaryIndex));
    for (const i of rep.instances) {
      assert.equal(i.errant, false, `${i.pod} is not errant`);
      assert.match(i.gtidExecuted ?? "", /^[0-9a-f-]{36}:1-\d+/, `${i.pod} reports its gtid_executed`);
      assert.equal(i.probeSource, "exec", `${i.pod} probed via ${i.probeSource}`);
    }
    assert.equal(new Set(rep.instances.map((i) => i.gtidExecuted)).size, 1, "every instance executed the same GTIDs");
    t.diagnostic(`status --source auto probed via ${rep.instances[0]!.probeSource}`);
    // Each source explicitly.
    await settledStatus("pod-ip");
    await settledStatus("exec");

    const table = await moco(["-n", ns, "status", name]);
    expectCode(table, 0, "status");
    const lines = table.stdout.split("\n");
    assert.match(lines[0]!, new RegExp(`^MySQLCluster ${ns}/${name}: replicas=3 primary=${st.currentPrimaryIndex} available=True healthy=True`));
    const hdr = lines.findIndex((l) => l.startsWith("INDEX"));
    assert.ok(hdr > 0, `a table header in:\n${table.stdout}`);
    const header = lines[hdr]!.split(/\s+/);
    const lagCol = header.indexOf("GTID-LAG");
    const rows = lines.slice(hdr + 1).filter((l) => /^\d/.test(l)).map((l) => l.split(/\s+/));
    assert.equal(rows.length, 3, table.stdout);
    for (const r of rows) {
      const idx = Number(r[0]);
      assert.equal(r[1], `moco-${name}-${idx}`);
      assert.equal(r[2], "Running");
      assert.equal(r[3], idx === st.currentPrimaryIndex ? "primary" : "replica");
      assert.equal(r[lagCol], "0", `GTID-LAG of instance ${idx}:\n${table.stdout}`);
    }
    assert.match(lines.find((l) => l.startsWith(String(st.currentPrimaryIndex)))!, /current primary$/);
  });

  it("mysql runs the client in the Pods: write as moco-writable, read back as moco-readonly on a replica", async () => {
    const st = await clusterState(env, ns, name);
    const primary = st.currentPrimaryIndex!;
    const replica = (primary + 1) % 3;
    // Default target: the current primary.
    const host = await moco(["-n", ns, "mysql", name, "--", "-N", "-e", "SELECT @@hostname, @@super_read_only, @@autocommit"]);
    expectCode(host, 0, "mysql -e SELECT @@hostname");
    assert.equal(host.stdout.trim().split(/\s+/).join(" "), `moco-${name}-${primary} 0 0`, "on the primary, super_read_only off, autocommit off (init_command)");
    // Sessions start with autocommit off: the INSERT needs the COMMIT.
    const w = await moco(["-n", ns, "mysql", "-u", "moco-writable", name, "--", "-e",
      "CREATE DATABASE IF NOT EXISTS cli; CREATE TABLE IF NOT EXISTS cli.t (id INT PRIMARY KEY, v VARCHAR(32)); INSERT INTO cli.t VALUES (1, 'via-plugin'); COMMIT"]);
    expectCode(w, 0, "mysql -u moco-writable -e INSERT");
    // Read back on a replica picked with --index.
    await eventually("the row on the replica", async () => {
      const r = await moco(["-n", ns, "mysql", "--index", String(replica), name, "--", "-N", "-e", "SELECT @@hostname, v FROM cli.t WHERE id = 1"]);
      expectCode(r, 0, "mysql --index -e SELECT");
      return r.stdout.trim().split(/\s+/).join(" ") === `moco-${name}-${replica} via-plugin` ? true : undefined;
    }, 60_000, 1000);
    // stdin (-i) carries a script.
    const script = await moco(["-n", ns, "mysql", "-i", "-u", "moco-writable", name], "INSERT INTO cli.t VALUES (2, 'from-stdin');\nCOMMIT;\nSELECT COUNT(*) FROM cli.t;\n");
    expectCode(script, 0, "mysql -i < script");
    assert.match(script.stdout, /\b2\b/);
    // A failing statement: mysql's exit code comes back, after kubectl's note.
    const ro = await moco(["-n", ns, "mysql", "--index", String(replica), "-u", "moco-writable", name, "--", "-e", "INSERT INTO cli.t VALUES (3, 'x')"]);
    expectCode(ro, 1, "INSERT on a replica");
    assert.match(ro.stderr, /read.only/i);
    assert.match(ro.stderr, /command terminated with exit code 1/);
    const denied = await moco(["-n", ns, "mysql", name, "--", "-e", "CREATE DATABASE nope"]);
    expectCode(denied, 1, "CREATE DATABASE as moco-readonly");
    assert.match(denied.stderr, /denied/i);
    const out = await moco(["-n", ns, "mysql", "--index", "3", name, "--", "-e", "SELECT 1"]);
    expectCode(out, 2, "--index 3 on 3 instances");
    assert.match(out.stderr, /out of range/);
  });

  it("switchover --wait moves the primary and exits 0; a 1-instance cluster is refused with exit 5", async (t) => {
    await settledStatus("pod-ip");
    const before = (await clusterState(env, ns, name)).currentPrimaryIndex!;
    const start = Date.now();
    const r = await moco(["-n", ns, "switchover", "--wait", "--timeout", "4m", name]);
    expectCode(r, 0, "switchover --wait");
    t.diagnostic(`switchover --wait returned after ${((Date.now() - start) / 1000).toFixed(1)} s`);
    const m = /^switched over: the primary of MySQLCluster "cli\/c3" is now instance (\d) \(moco-c3-(\d)\)\n$/.exec(r.stdout);
    assert.ok(m, `switchover --wait output: ${r.stdout}`);
    const after = Number(m[1]);
    assert.equal(Number(m[2]), after);
    assert.notEqual(after, before, "the primary changed");
    assert.equal((await clusterState(env, ns, name)).currentPrimaryIndex, after, "status.currentPrimaryIndex is the reported instance");
    await eventually("the role label follows", async () => (await primaryPod(env, ns, name))?.metadata?.name === `moco-${name}-${after}` ? true : undefined, 60_000);
    await waitHealthy(env, ns, name);
    // The demote request is gone from the old primary (MOCO removes it when done).
    await eventually("demote annotation removed", async () => {
      const p = await env.core.readNamespacedPod({ name: `moco-${name}-${before}`, namespace: ns });
      return p.metadata?.annotations?.["moco.cybozu.com/demote"] === undefined ? true : undefined;
    }, 60_000);
    // status follows the new primary.
    const rep = await settledStatus("auto");
    assert.equal(rep.currentPrimaryIndex, after);
    assert.deepEqual(rep.instances.filter((i) => i.role === "primary").map((i) => i.index), [after]);

    const one = await moco(["-n", ns, "switchover", single]);
    expectCode(one, 5, "switchover on a 1-instance cluster");
    assert.match(one.stderr, /single instance/);
    const p0 = await env.core.readNamespacedPod({ name: `moco-${single}-0`, namespace: ns });
    assert.equal(p0.metadata?.annotations?.["moco.cybozu.com/demote"], undefined, "nothing annotated");
    assert.equal((await clusterState(env, ns, single)).currentPrimaryIndex, 0);

    // --wait that runs out reports it (exit 6) and leaves the request in place: MOCO
    // still performs the switchover. (MOCO needs far longer than 1 ms to act.)
    const late = await moco(["-n", ns, "switchover", "--wait", "--timeout", "1ms", name]);
    expectCode(late, 6, "switchover --wait --timeout 1ms");
    assert.match(late.stderr, /timed out .* the primary is still instance \d.* stays in place/);
    const moved = await eventually("the requested switchover to happen anyway", async () => {
      const s = await clusterState(env, ns, name);
      return s.currentPrimaryIndex !== after ? s.currentPrimaryIndex : undefined;
    }, 120_000);
    t.diagnostic(`after the timed-out wait the primary moved ${after} → ${moved}`);
    await waitHealthy(env, ns, name);
  });

  it("stop/start clustering flips CLUSTERING ACTIVE; a switchover requested while stopped happens after start", async (t) => {
    assert.equal((await printerColumns(name))["CLUSTERING ACTIVE"], "True");
    const stop = await moco(["-n", ns, "stop", "clustering", name]);
    expectCode(stop, 0, "stop clustering");
    assert.equal(stop.stdout, `stopped clustering of MySQLCluster "${ns}/${name}"\n`);
    assert.equal((await annotations(name))["moco.cybozu.com/clustering-stopped"], "true");
    const again = await moco(["-n", ns, "stop", "clustering", name]);
    expectCode(again, 0, "stop clustering again");
    assert.equal(again.stdout, "The clustering is already stopped.\n");
    await eventually("CLUSTERING ACTIVE False", async () => ((await printerColumns(name))["CLUSTERING ACTIVE"] === "False" ? true : undefined), 60_000);
    assert.equal((await printerColumns(name))["RECONCILE ACTIVE"], "True", "reconciliation is unaffected");

    // As MOCO: the request is recorded (with a warning) and waits for the clustering.
    const primary = (await clusterState(env, ns, name)).currentPrimaryIndex!;
    const sw = await moco(["-n", ns, "switchover", name]);
    expectCode(sw, 0, "switchover while clustering is stopped");
    assert.equal(sw.stdout, "");
    assert.match(sw.stderr, /^warning: clustering of MySQLCluster cli\/c3 is stopped: the switchover happens after "kubectl moco start clustering c3"/);
    const pod = await env.core.readNamespacedPod({ name: `moco-${name}-${primary}`, namespace: ns });
    assert.equal(pod.metadata?.annotations?.["moco.cybozu.com/demote"], "true", "the primary is annotated");
    await sleep(15_000); // three check intervals
    assert.equal((await clusterState(env, ns, name)).currentPrimaryIndex, primary, "no switchover while clustering is stopped");

    const startedAt = Date.now();
    const start = await moco(["-n", ns, "start", "clustering", name]);
    expectCode(start, 0, "start clustering");
    assert.equal(start.stdout, `started clustering of MySQLCluster "${ns}/${name}"\n`);
    assert.equal((await annotations(name))["moco.cybozu.com/clustering-stopped"], undefined);
    const again2 = await moco(["-n", ns, "start", "clustering", name]);
    expectCode(again2, 0, "start clustering again");
    assert.equal(again2.stdout, "The clustering is already running.\n");
    await eventually("CLUSTERING ACTIVE True", async () => ((await printerColumns(name))["CLUSTERING ACTIVE"] === "True" ? true : undefined), 60_000);
    const moved = await eventually("the pending switchover after start", async () => {
      const s = await clusterState(env, ns, name);
      return s.currentPrimaryIndex !== primary ? s.currentPrimaryIndex : undefined;
    }, 120_000);
    t.diagnostic(`pending switchover seen ${((Date.now() - startedAt) / 1000).toFixed(1)} s after start clustering: ${primary} → ${moved}`);
    await waitHealthy(env, ns, name);
  });

  it("stop/start reconciliation flips RECONCILE ACTIVE", async () => {
    assert.equal((await printerColumns(name))["RECONCILE ACTIVE"], "True");
    const stop = await moco(["-n", ns, "stop", "reconciliation", name]);
    expectCode(stop, 0, "stop reconciliation");
    assert.equal(stop.stdout, `stopped reconciliation of MySQLCluster "${ns}/${name}"\n`);
    assert.equal((await annotations(name))["moco.cybozu.com/reconciliation-stopped"], "true");
    const again = await moco(["-n", ns, "stop", "reconciliation", name]);
    expectCode(again, 0, "stop reconciliation again");
    assert.equal(again.stdout, "The reconciliation is already stopped.\n");
    await eventually("RECONCILE ACTIVE False", async () => ((await printerColumns(name))["RECONCILE ACTIVE"] === "False" ? true : undefined), 60_000);
    assert.equal((await printerColumns(name))["CLUSTERING ACTIVE"], "True", "clustering is unaffected");

    const start = await moco(["-n", ns, "start", "reconciliation", name]);
    expectCode(start, 0, "start reconciliation");
    assert.equal(start.stdout, `started reconciliation of MySQLCluster "${ns}/${name}"\n`);
    assert.equal((await annotations(name))["moco.cybozu.com/reconciliation-stopped"], undefined);
    const again2 = await moco(["-n", ns, "start", "reconciliation", name]);
    expectCode(again2, 0, "start reconciliation again");
    assert.equal(again2.stdout, "The reconciliation is already running.\n");
    await eventually("RECONCILE ACTIVE True", async () => ((await printerColumns(name))["RECONCILE ACTIVE"] === "True" ? true : undefined), 60_000);
    await waitHealthy(env, ns, name);
  });

  it("an unknown cluster exits 3 with the API's NotFound message", async () => {
    const cmds: string[][] = [
      ["status", "nope"], ["switchover", "nope"], ["credential", "nope"], ["stop", "clustering", "nope"],
      ["start", "reconciliation", "nope"], ["mysql", "nope", "--", "-e", "SELECT 1"],
    ];
    for (const args of cmds) {
      const r = await moco(["-n", ns, ...args]);
      expectCode(r, 3, args.join(" "));
      assert.match(r.stderr, args[0] === "credential" ? /secrets "moco-nope" not found/ : /mysqlclusters\.moco\.cybozu\.com "nope" not found/, args.join(" "));
      assert.equal(r.stdout, "", `${args.join(" ")} prints nothing on stdout`);
    }
    // The same cluster name in another namespace is not found either.
    const other = await moco(["-n", "default", "status", name]);
    expectCode(other, 3, "status in the wrong namespace");
  });
  it("the single executable runs version, mysql and status through exec (no Node.js, no kubectl on PATH)", async () => {
    await seaBuild;
    const bin = path.join(seaDir, "kubectl-moco");
    const sea = (args: string[], input?: string) => new Promise<Run>((resolve) => {
      const child = execFile(bin, ["--kubeconfig", env.kubeconfig, "-n", ns, ...args], { env: {}, timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      });
      child.stdin?.end(input ?? "");
    });
    const v = await sea(["version"]);
    expectCode(v, 0, "version");
    assert.match(v.stdout, /\(single executable\)\n$/);
    const one = await sea(["mysql", name, "--", "-N", "-e", "SELECT 1"]);
    expectCode(one, 0, "mysql -e");
    assert.equal(one.stdout, "1\n");
    const write = await sea(["mysql", "-u", "moco-writable", name, "--", "-e",
      "CREATE DATABASE sea; CREATE TABLE sea.t (id INT PRIMARY KEY); INSERT INTO sea.t VALUES (1), (2), (3); COMMIT"]); // sessions start with autocommit off
    expectCode(write, 0, "mysql as moco-writable");
    const stdin = await sea(["mysql", "-i", name, "--", "-N"], "SELECT COUNT(*) FROM sea.t;\n");
    expectCode(stdin, 0, "mysql -i with stdin");
    assert.equal(stdin.stdout, "3\n");
    const failed = await sea(["mysql", name, "--", "-e", "SELECT nosuch"]);
    assert.equal(failed.code, 1, "the remote exit code");
    assert.match(failed.stderr, /Unknown column 'nosuch'/);
    const status = await sea(["status", "--source", "exec", "-o", "json", name]);
    expectCode(status, 0, "status --source exec");
    const report = JSON.parse(status.stdout) as JsonReport;
    assert.deepEqual(report.instances.map((i) => [i.pod, i.probeError]), [0, 1, 2].map((i) => [`moco-${name}-${i}`, null]));
  });
});
