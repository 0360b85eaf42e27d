// The single executable of kubectl-moco (scripts/build-kubectl-moco.sh, docs/cli.md "Single
// executable") built for real and run as a user with neither Node.js nor kubectl runs it: an
// empty environment (no PATH, no HOME), against a real kube-apiserver with the moco-ts CRDs.
// Also the krew outputs of the build: the archive holds the executable and the filled-in
// manifest names its checksum. (On the real node, the last test of test/e2e/cli.test.ts runs the same
// executable's mysql and status through exec.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { startControlPlane, waitCrdsEstablished, type ControlPlane } from "../../env/kube.ts";
import { makeTmpDir, repoRoot } from "../../env/procs.ts";

const NS = "shop";
const VERSION = (JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
let cp: ControlPlane;
let out: string;
let bin: string;

/** Runs the built executable with an empty environment (plus `env`). */
function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { env, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  out = makeTmpDir("kubectl-moco-sea-");
  execFileSync("bash", [path.join(repoRoot, "scripts", "build-kubectl-moco.sh"), out], { stdio: ["ignore", "ignore", "pipe"], timeout: 900_000 });
  bin = path.join(out, "kubectl-moco");
  cp = await startControlPlane({ controllerManager: false });
  await cp.kubectl(["apply", "--server-side", "-f", path.join(repoRoot, "deploy/crds")]);
  await waitCrdsEstablished(cp, ["mysqlclusters.moco.cybozu.com"]);
  await cp.kubectl(["create", "namespace", NS]);
  await cp.kubectl(["-n", NS, "create", "serviceaccount", "default"]);
  await cp.kubectl(["apply", "-f", "-"], JSON.stringify({
    apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", metadata: { name: "db", namespace: NS },
    spec: {
      replicas: 1, podTemplate: { spec: { containers: [{ name: "mysqld", image: "mysql:9.7" }] } },
      volumeClaimTemplates: [{ metadata: { name: "mysql-data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
    },
  }));
  await cp.kubectl(["apply", "-f", "-"], JSON.stringify({
    apiVersion: "v1", kind: "Secret", metadata: { name: "moco-db", namespace: NS, annotations: { "moco.cybozu.com/secret-version": "1" } },
    data: { READONLY_PASSWORD: Buffer.from("ro-secret-0123456789").toString("base64") },
  }));
  await cp.kubectl(["apply", "-f", "-"], JSON.stringify({
    apiVersion: "v1", kind: "Pod",
    metadata: { name: "moco-db-0", namespace: NS, labels: { "app.kubernetes.io/name": "mysql", "app.kubernetes.io/instance": "db", "app.kubernetes.io/created-by": "moco", "moco.cybozu.com/role": "primary" } },
    spec: { automountServiceAccountToken: false, containers: [{ name: "mysqld", image: "mysql:9.7" }] },
  }));
  await cp.kubectl(["-n", NS, "patch", "mysqlcluster", "db", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { currentPrimaryIndex: 0 } })]);
}, { timeout: 900_000 });

after(async () => {
  await cp?.stop();
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

describe("the kubectl-moco single executable", () => {
  it("is a Node.js single executable and reports the package version", async () => {
    const v = await run(["version"]);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `kubectl-moco version ${VERSION}\nruntime: Node.js ${process.version} ${process.platform}/${process.arch} (single executable)\n`);
    assert.equal(v.stderr, "", "no SEA warning");
    assert.equal((await run(["--version"])).stdout, `kubectl-moco version ${VERSION}\n`);
  });

  it("talks to the API server with no Node.js, kubectl or PATH around", async () => {
    const kc = ["--kubeconfig", cp.kubeconfig, "-n", NS];
    const cred = await run([...kc, "credential", "db"]);
    assert.equal(cred.code, 0, cred.stderr);
    assert.equal(cred.stdout, "ro-secret-0123456789\n");
    const status = await run([...kc, "status", "--source", "none", "db"]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^MySQLCluster shop\/db: replicas=1 primary=0 /);
    assert.match(status.stdout, /\n0 +moco-db-0 +Pending +primary /);
    assert.equal((await run([...kc, "status", "nosuch"])).code, 3);
    // mysql goes through the API server's exec endpoint; with no kubelet the server refuses.
    const mysql = await run([...kc, "--request-timeout", "10s", "mysql", "db", "--", "-e", "SELECT 1"]);
    assert.equal(mysql.code, 1, mysql.stderr);
    assert.match(mysql.stderr, /^Error: /);
    assert.doesNotMatch(mysql.stderr, /kubectl/);
  });

  it("the krew archive holds the executable and the manifest names its checksum", () => {
    const arch = process.arch === "x64" ? "amd64" : process.arch;
    const archive = path.join(out, `kubectl-moco_${VERSION}_linux_${arch}.tar.gz`);
    assert.deepEqual(execFileSync("tar", ["-tzf", archive], { encoding: "utf8" }).split("\n").filter(Boolean), ["kubectl-moco"]);
    const manifest = YAML.parse(fs.readFileSync(path.join(out, "krew", "moco.yaml"), "utf8")) as {
      apiVersion: string; kind: string; metadata: { name: string };
      spec: { version: string; platforms: { selector: { matchLabels: Record<string, string> }; uri: string; sha256: string; bin: string }[] };
    };
    assert.equal(manifest.apiVersion, "krew.googlecontainertools.github.com/v1alpha2");
    assert.equal(manifest.kind, "Plugin");
    assert.equal(manifest.metadata.name, "moco");
    assert.equal(manifest.spec.version, `v${VERSION}`);
    const mine = manifest.spec.platforms.find((p) => p.selector.matchLabels.os === "linux" && p.selector.matchLabels.arch === arch);
    assert.ok(mine, `a platform for linux/${arch}`);
    assert.equal(mine.sha256, createHash("sha256").update(fs.readFileSync(archive)).digest("hex"));
    assert.equal(mine.bin, "kubectl-moco");
    assert.match(mine.uri, new RegExp(`/kubectl-moco_${VERSION}_linux_${arch}\\.tar\\.gz$`));
  });
});
