// kubectl-moco as a user runs it (a child process: `node src/cli/kubectl-moco.ts …`)
// against a real kube-apiserver with the moco-ts CRDs. There is no kubelet and no
// controller: the MySQLCluster, its password Secret and its Pods are created by hand,
// status is written through the status subresource, and "MOCO completing a switchover"
// is simulated by updating status.currentPrimaryIndex.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import { startControlPlane, type ControlPlane } from "../../env/kube.ts";
import { startMysqlds, type MysqldSet } from "../../env/mysqld.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { createCertificateAuthority } from "../../../src/controller/certs.ts";
import { createUserStatements, mocoUser } from "../../../src/mysql/users.ts";
import { tlsNames } from "../../../src/controller/builders/meta.ts";
import { instanceTlsFiles, tlsMyCnfLines } from "../tls-fixtures.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const CLI = path.join(ROOT, "src/cli/kubectl-moco.ts");
const NS = "shop";

const PASSWORDS: Record<string, string> = {
  ADMIN_PASSWORD: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
  AGENT_PASSWORD: "11111111111111111111111111111111",
  REPLICATION_PASSWORD: "22222222222222222222222222222222",
  CLONE_DONOR_PASSWORD: "33333333333333333333333333333333",
  EXPORTER_PASSWORD: "44444444444444444444444444444444",
  BACKUP_PASSWORD: "55555555555555555555555555555555",
  READONLY_PASSWORD: "66666666666666666666666666666666",
  WRITABLE_PASSWORD: "77777777777777777777777777777777",
};

interface Result { code: number; stdout: string; stderr: string }

let cp: ControlPlane;
let workDir: string;
let mysqlds: MysqldSet | undefined;

function cli(args: string[], opts: { env?: Record<string, string>; kubeconfig?: boolean } = {}): Promise<Result> {
  const argv = [CLI, ...(opts.kubeconfig === false ? [] : ["--kubeconfig", cp.kubeconfig]), ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, {
      env: { PATH: process.env.PATH ?? "", HOME: workDir, ...opts.env },
      timeout: 120_000,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function kubectlJson(args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse(await cp.kubectl([...args, "-o", "json"])) as Record<string, unknown>;
}

async function annotationsOf(kind: string, name: string): Promise<Record<string, string>> {
  const obj = await kubectlJson(["-n", NS, "get", kind, name]);
  return ((obj.metadata as { annotations?: Record<string, string> }).annotations ?? {});
}

function clusterYaml(name: string, replicas: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: "moco.cybozu.com/v1beta2",
    kind: "MySQLCluster",
    metadata: { name, namespace: NS },
    spec: {
      ...extra,
      replicas,
      podTemplate: { spec: { containers: [{ name: "mysqld", image: "ghcr.io/cybozu-go/moco/mysql:8.4.8" }] } },
      volumeClaimTemplates: [{
        metadata: { name: "mysql-data" },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      }],
    },
  });
}

async function setStatus(name: string, status: Record<string, unknown>): Promise<void> {
  await cp.kubectl(["-n", NS, "patch", "mysqlcluster", name, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
}

function conditions(healthy: "True" | "False"): unknown[] {
  const t = "2024-01-01T00:00:00Z";
  return [
    { type: "Initialized", status: "True", reason: healthy === "True" ? "Healthy" : "Degraded", message: "", lastTransitionTime: t },
    { type: "Available", status: "True", reason: healthy === "True" ? "Healthy" : "Degraded", message: "", lastTransitionTime: t },
    {
      type: "Healthy", status: healthy, reason: healthy === "True" ? "Healthy" : "Degraded",
      message: `the current state is ${healthy === "True" ? "Healthy" : "Degraded"}`, lastTransitionTime: t,
    },
  ];
}

async function createCluster(name: string, replicas: number, primary: number, healthy: "True" | "False" | null, spec: Record<string, unknown> = {}): Promise<void> {
  await cp.kubectl(["apply", "-f", "-"], clusterYaml(name, replicas, spec));
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(PASSWORDS)) data[k] = Buffer.from(`${name}-${v}`).toString("base64");
  await cp.kubectl(["apply", "-f", "-"], JSON.stringify({
    apiVersion: "v1", kind: "Secret",
    metadata: { name: `moco-${name}`, namespace: NS, annotations: { "moco.cybozu.com/secret-version": "1" } },
    data,
  }));
  for (let i = 0; i < replicas; i++) {
    await cp.kubectl(["apply", "-f", "-"], JSON.stringify({
      apiVersion: "v1", kind: "Pod",
      metadata: {
        name: `moco-${name}-${i}`, namespace: NS,
        labels: {
          "app.kubernetes.io/name": "mysql", "app.kubernetes.io/instance": name, "app.kubernetes.io/created-by": "moco",
          "moco.cybozu.com/role": i === primary ? "primary" : "replica",
        },
      },
      spec: { automountServiceAccountToken: false, containers: [{ name: "mysqld", image: "ghcr.io/cybozu-go/moco/mysql:8.4.8" }] },
    }));
  }
  if (healthy !== null) await setStatus(name, { currentPrimaryIndex: primary, conditions: conditions(healthy), syncedReplicas: replicas });
}

function password(cluster: string, key: string): string {
  return `${cluster}-${PASSWORDS[key]}`;
}

before(async () => {
  cp = await startControlPlane({ controllerManager: false });
  workDir = fs.mkdtempSync(path.join(cp.dir, "cli-"));
  await cp.kubectl(["apply", "--server-side", "-f", path.join(ROOT, "deploy/crds")]);
  for (let i = 0; ; i++) {
    const crd = await kubectlJson(["get", "crd/mysqlclusters.moco.cybozu.com"]) as { status?: { conditions?: { type: string; status: string }[] } };
    if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
    if (i > 120) throw new Error("the MySQLCluster CRD is not established");
    await sleep(250);
  }
  await cp.kubectl(["create", "namespace", NS]);
  await cp.kubectl(["-n", NS, "create", "serviceaccount", "default"]);
  await createCluster("healthy", 3, 1, "True");
  await createCluster("degraded", 3, 0, "False");
  await createCluster("single", 1, 0, "True");
  await createCluster("fresh", 3, 0, null);
});

after(async () => {
  await mysqlds?.stopAll();
  await cp?.stop();
});

describe("kubectl-moco against a real API server", () => {
  it("--version and --help need no server", async () => {
    const v = await cli(["--version"], { kubeconfig: false });
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^kubectl-moco version /);
    const h = await cli(["switchover", "--help"], { kubeconfig: false });
    assert.equal(h.code, 0);
    assert.match(h.stdout, /--wait/);
  });

  it("credential prints each user's password, plain and mycnf", async () => {
    const cases: [string, string][] = [["moco-readonly", "READONLY_PASSWORD"], ["moco-writable", "WRITABLE_PASSWORD"], ["moco-admin", "ADMIN_PASSWORD"]];
    for (const [user, key] of cases) {
      const plain = await cli(["-n", NS, "credential", "-u", user, "healthy"]);
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(plain.stdout, `${password("healthy", key)}\n`);
      const mycnf = await cli(["credential", "--namespace", NS, "--mysql-user", user, "--format", "mycnf", "healthy"]);
      assert.equal(mycnf.code, 0, mycnf.stderr);
      assert.equal(mycnf.stdout, `[client]\nuser=${user}\npassword="${password("healthy", key)}"\n`);
    }
    const def = await cli(["-n", NS, "credential", "degraded"]);
    assert.equal(def.stdout, `${password("degraded", "READONLY_PASSWORD")}\n`);
  });

  it("credential: bad user or format, unknown cluster, wrong secret version", async () => {
    const bad = await cli(["-n", NS, "credential", "-u", "moco-repl", "healthy"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, "Error: invalid user: moco-repl\n");
    const fmt = await cli(["-n", NS, "credential", "--format", "ini", "healthy"]);
    assert.equal(fmt.code, 2);
    assert.equal(fmt.stderr, "Error: unknown format: ini\n");
    const missing = await cli(["-n", NS, "credential", "nosuch"]);
    assert.equal(missing.code, 3);
    assert.equal(missing.stderr, 'Error: secrets "moco-nosuch" not found\n');
    await cp.kubectl(["-n", NS, "create", "secret", "generic", "moco-legacy", "--from-literal=READONLY_PASSWORD=x"]);
    const legacy = await cli(["-n", NS, "credential", "legacy"]);
    assert.equal(legacy.code, 1);
    assert.match(legacy.stderr, /Secret shop\/moco-legacy .*secret-version/);
    assert.equal(legacy.stdout, "");
  });

  it("honours $KUBECONFIG and the context's namespace", async () => {
    const text = fs.readFileSync(cp.kubeconfig, "utf8").replace("    user: admin\n", `    user: admin\n    namespace: ${NS}\n`);
    assert.match(text, /namespace: shop/);
    const kc = path.join(workDir, "kubeconfig-ns");
    fs.writeFileSync(kc, text);
    const r = await cli(["credential", "healthy"], { kubeconfig: false, env: { KUBECONFIG: kc } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${password("healthy", "READONLY_PASSWORD")}\n`);
    const ctx = await cli(["--context", "nope", "credential", "healthy"], { kubeconfig: false, env: { KUBECONFIG: kc } });
    assert.equal(ctx.code, 1);
    assert.match(ctx.stderr, /context "nope" does not exist/);
    // without -n and without a context namespace, "default" is used: not found there
    const def = await cli(["credential", "healthy"]);
    assert.equal(def.code, 3);
  });

  it("stop/start clustering and reconciliation set and remove the annotations", async () => {
    const steps: { args: string[]; out: string; key: string; value: string | undefined }[] = [
      { args: ["stop", "clustering"], out: 'stopped clustering of MySQLCluster "shop/degraded"\n', key: "clustering-stopped", value: "true" },
      { args: ["stop", "clustering"], out: "The clustering is already stopped.\n", key: "clustering-stopped", value: "true" },
      { args: ["stop", "reconciliation"], out: 'stopped reconciliation of MySQLCluster "shop/degraded"\n', key: "reconciliation-stopped", value: "true" },
      { args: ["start", "clustering"], out: 'started clustering of MySQLCluster "shop/degraded"\n', key: "clustering-stopped", value: undefined },
      { args: ["start", "clustering"], out: "The clustering is already running.\n", key: "clustering-stopped", value: undefined },
      { args: ["stop", "reconciliation"], out: "The reconciliation is already stopped.\n", key: "reconciliation-stopped", value: "true" },
      { args: ["start", "reconciliation"], out: 'started reconciliation of MySQLCluster "shop/degraded"\n', key: "reconciliation-stopped", value: undefined },
      { args: ["start", "reconciliation"], out: "The reconciliation is already running.\n", key: "reconciliation-stopped", value: undefined },
    ];
    for (const s of steps) {
      const r = await cli(["-n", NS, ...s.args, "degraded"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, s.out, s.args.join(" "));
      const ann = await annotationsOf("mysqlcluster", "degraded");
      assert.equal(ann[`moco.cybozu.com/${s.key}`], s.value, s.args.join(" "));
    }
    // a value other than "true" is left in place by start
    await cp.kubectl(["-n", NS, "annotate", "mysqlcluster", "degraded", "moco.cybozu.com/clustering-stopped=false"]);
    const r = await cli(["-n", NS, "start", "clustering", "degraded"]);
    assert.equal(r.stdout, "The clustering is already running.\n");
    assert.equal((await annotationsOf("mysqlcluster", "degraded"))["moco.cybozu.com/clustering-stopped"], "false");
    await cp.kubectl(["-n", NS, "annotate", "mysqlcluster", "degraded", "moco.cybozu.com/clustering-stopped-"]);

    const missing = await cli(["-n", NS, "stop", "clustering", "nosuch"]);
    assert.equal(missing.code, 3);
    assert.equal(missing.stderr, 'Error: failed to stop clustering of MySQLCluster: mysqlclusters.moco.cybozu.com "nosuch" not found\n');
  });

  it("switchover is refused on single-instance, status-less and unknown clusters; an unhealthy one gets the request with a warning", async () => {
    const cases: { cluster: string; code: number; err: RegExp }[] = [
      { cluster: "single", code: 5, err: /single instance/ },
      { cluster: "fresh", code: 4, err: /no status yet/ },
      { cluster: "nosuch", code: 3, err: /mysqlclusters.moco.cybozu.com "nosuch" not found/ },
    ];
    for (const c of cases) {
      const r = await cli(["-n", NS, "switchover", c.cluster]);
      assert.equal(r.code, c.code, `${c.cluster}: ${r.stderr}`);
      assert.match(r.stderr, c.err);
    }
    for (const name of ["moco-single-0", "moco-fresh-0"]) {
      assert.equal((await annotationsOf("pod", name))["moco.cybozu.com/demote"], undefined, name);
    }
    // As MOCO: the request is recorded; the clustering manager performs it once Healthy.
    const degraded = await cli(["-n", NS, "switchover", "degraded"]);
    assert.equal(degraded.code, 0, degraded.stderr);
    assert.equal(degraded.stdout, "");
    assert.match(degraded.stderr, /^warning: MySQLCluster shop\/degraded is not healthy \(Healthy=False: the current state is Degraded\)/);
    assert.equal((await annotationsOf("pod", "moco-degraded-0"))["moco.cybozu.com/demote"], "true");
    await cp.kubectl(["-n", NS, "annotate", "pod", "moco-degraded-0", "moco.cybozu.com/demote-"]);
  });

  it("switchover annotates the primary of a healthy cluster; --wait sees the new primary", async () => {
    const r = await cli(["-n", NS, "switchover", "healthy"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal((await annotationsOf("pod", "moco-healthy-1"))["moco.cybozu.com/demote"], "true");
    assert.equal((await annotationsOf("pod", "moco-healthy-0"))["moco.cybozu.com/demote"], undefined);
    assert.equal((await annotationsOf("pod", "moco-healthy-2"))["moco.cybozu.com/demote"], undefined);

    // --wait times out while nothing changes
    const timeout = await cli(["-n", NS, "switchover", "--wait", "--timeout", "2s", "healthy"]);
    assert.equal(timeout.code, 6);
    assert.match(timeout.stderr, /timed out after 2s .* still instance 1/);

    // --wait returns when "MOCO" (here: this test) completes the switchover
    const waiting = cli(["-n", NS, "switchover", "--wait", "--timeout", "60s", "healthy"]);
    await sleep(1500);
    await cp.kubectl(["-n", NS, "annotate", "pod", "moco-healthy-1", "moco.cybozu.com/demote-"]);
    await setStatus("healthy", { currentPrimaryIndex: 0 });
    const done = await waiting;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, 'switched over: the primary of MySQLCluster "shop/healthy" is now instance 0 (moco-healthy-0)\n');
  });

  it("mysql needs no kubectl: it execs through the API server and reports its refusal (no kubelet here)", async () => {
    // PATH empty: no kubectl (or anything else) to spawn.
    const r = await cli(["-n", NS, "--request-timeout", "10s", "mysql", "-u", "moco-writable", "--index", "2", "degraded", "--", "-e", "SELECT 1"], { env: { PATH: "" } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^Error: /);
    assert.doesNotMatch(r.stderr, /kubectl/);
    const range = await cli(["-n", NS, "mysql", "--index", "3", "degraded"], { env: { PATH: "" } });
    assert.equal(range.code, 2);
    const fresh = await cli(["-n", NS, "mysql", "fresh"], { env: { PATH: "" } });
    assert.equal(fresh.code, 4);
    const none = await cli(["-n", NS, "mysql", "nosuch"], { env: { PATH: "" } });
    assert.equal(none.code, 3);
  });

  it("status shows roles, readiness and the cluster state from the API (-o json and table)", async () => {
    const j = await cli(["-n", NS, "status", "-o", "json", "degraded"], { env: { PATH: "" } });
    assert.equal(j.code, 0, j.stderr);
    const report = JSON.parse(j.stdout) as {
      name: string; currentPrimaryIndex: number; conditions: Record<string, string>;
      instances: { pod: string; role: string; ready: boolean; phase: string; probeError: string }[];
    };
    assert.equal(report.name, "degraded");
    assert.equal(report.currentPrimaryIndex, 0);
    assert.equal(report.conditions.Healthy, "False");
    assert.deepEqual(report.instances.map((i) => [i.pod, i.role, i.ready, i.phase, i.probeError]), [
      ["moco-degraded-0", "primary", false, "Pending", "not running"],
      ["moco-degraded-1", "replica", false, "Pending", "not running"],
      ["moco-degraded-2", "replica", false, "Pending", "not running"],
    ]);
    const t = await cli(["-n", NS, "status", "--source", "none", "degraded"]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^MySQLCluster shop\/degraded: replicas=3 primary=0 available=True healthy=False\n/);
    assert.match(t.stdout, /\n0 +moco-degraded-0 +Pending +primary +False +- /);
    const missing = await cli(["-n", NS, "status", "nosuch"]);
    assert.equal(missing.code, 3);
  });

  it("status --source pod-ip verifies a spec.tls instance that requires TLS against the CA in the certificate Secret", async () => {
    // One real mysqld with require_secure_transport=ON and a certificate for moco-secure-0 in shop.
    const ca = await createCertificateAuthority();
    mysqlds = await startMysqlds(1, { mycnf: tlsMyCnfLines(true), files: (_i, h) => instanceTlsFiles(ca, "secure", 1, h, 0, NS) });
    const inst = mysqlds.instances[0];
    assert.ok(inst);
    const root = await mysql.createConnection({ socketPath: inst.socketPath, user: "root", password: "" });
    try {
      for (const st of createUserStatements(mocoUser("moco-readonly"), password("secure", "READONLY_PASSWORD"))) await root.query(st.sql, [...st.params]);
    } finally { await root.end(); }
    await createCluster("secure", 1, 0, "True", { tls: { requireSecureTransport: true } });
    await cp.kubectl(["-n", NS, "patch", "pod", "moco-secure-0", "--subresource=status", "--type=merge", "-p",
      JSON.stringify({ status: { phase: "Running", podIP: inst.host, podIPs: [{ ip: inst.host }] } })]);
    const setCa = (pem: string) => cp.kubectl(["apply", "-f", "-"], JSON.stringify({
      apiVersion: "v1", kind: "Secret", metadata: { name: tlsNames.issuedSecret("secure"), namespace: NS },
      data: { "ca.crt": Buffer.from(pem).toString("base64") },
    }));
    const probe = async () => {
      const r = await cli(["-n", NS, "status", "--source", "pod-ip", "-o", "json", "secure"]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { instances: { probeSource: string | null; probeError: string | null; gtidExecuted: string | null }[] }).instances[0];
    };
    await setCa(ca.cert);
    const ok = await probe();
    assert.equal(ok?.probeError, null);
    assert.equal(ok?.probeSource, "pod-ip");
    assert.equal(typeof ok?.gtidExecuted, "string", "the probe read the instance");
    // Another CA in the Secret: the server is not trusted, the probe fails (no plaintext fallback).
    await setCa((await createCertificateAuthority()).cert);
    const bad = await probe();
    assert.match(bad?.probeError ?? "", /certificate|self.signed|verify/i);
  });

  it("completes cluster names from the API", async () => {
    const r = await cli(["-n", NS, "__complete", "switchover", "d"]);
    assert.equal(r.stdout, "degraded\n:4\n");
    const all = await cli(["__complete", "-n", NS, "mysql", ""]);
    assert.equal(all.stdout, "degraded\nfresh\nhealthy\nsecure\nsingle\n:4\n");
  });
});
