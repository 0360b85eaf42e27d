// The shared real node (sandbox/realnode, docs/sandbox.md "Real node") as a user's cluster,
// with busybox Pods and no operator: a ClusterIP Service through kube-proxy; a headless name
// and a Service's short name through CoreDNS (no upstream); kubectl logs, exec and
// port-forward (from the host, through the host's kubeconfig), and `npm run sandbox -- status`
// and `-- kubectl` pointed at this node; a failing liveness probe
// restarted with the kubelet's back-off; a memory limit in the container's cgroup; a PVC of
// the default StorageClass (local-path-provisioner) written by one Pod and read by the next;
// the MySQL image under the name MOCO's examples use and the slow-log stand-in. The Pods are
// all applied at once in before() so they start together. The node's `down` leaving nothing
// on the host is checked by test/run.sh after the e2e files.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { inNetns } from "../env/netns.ts";
import { repoRoot } from "../env/procs.ts";
import { cgroupHierarchies } from "../../sandbox/realnode/node.ts";
import { hostKubeconfig, supervisorNetns } from "../../sandbox/realnode/main.ts";
import { BUSYBOX_IMAGE, STORAGE_CLASS } from "../../sandbox/realnode/config.ts";
import { eventually, kubectlBinary, startE2E, type E2E } from "./harness.ts";

const NS = "node";
let env: E2E;

interface Pod {
  status?: {
    podIP?: string; phase?: string;
    containerStatuses?: { restartCount: number; ready: boolean }[];
  };
}

const kubectl = (args: string[], input?: string) => env.kubectl(["-n", NS, ...args], input);
const getPod = async (name: string) => JSON.parse(await kubectl(["get", "pod", name, "-o", "json"])) as Pod;
const waitRunning = (name: string, timeoutMs = 120_000) => eventually(`${name} ready`, async () => {
  const p = await getPod(name);
  return p.status?.containerStatuses?.every((c) => c.ready) === true && p.status.phase === "Running" ? p : undefined;
}, timeoutMs, 500);
const ipPattern = (ip: string) => ip.replace(/\./g, "\\.");

/** A busybox Pod running `command`; `spec` and `container` are extra YAML lines of the Pod's spec and of its container. */
const pod = (name: string, command: string, o: { labels?: string; spec?: string; container?: string } = {}) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {${o.labels ?? ""}}}
spec:
  terminationGracePeriodSeconds: 1
${o.spec ?? ""}  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never
${o.container ?? ""}    command: [sh, -c, '${command}']
`;

const MEMORY_LIMIT = 48 * 1024 * 1024;
const claimed = (name: string, command: string) => pod(name, command, {
  spec: "  volumes:\n  - name: data\n    persistentVolumeClaim: {claimName: data}\n",
  container: "    volumeMounts: [{name: data, mountPath: /data}]\n",
});

describe("the real node's Pods, Services, DNS, streams, probes, limits and volumes", () => {
  before(async () => {
    env = await startE2E({ namespaces: [NS], moco: false });
    const web = (n: string) => pod(n, "mkdir -p /www && echo $HOSTNAME > /www/index.html && echo started $HOSTNAME && exec httpd -f -p 8080 -h /www", { labels: "app: web" });
    await kubectl(["apply", "-f", "-"], [
      web("web-a"), web("web-b"), pod("client", "exec sleep 3600"),
      "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n",
      pod("db-0", "exec sleep 3600", { labels: "app: db", spec: "  hostname: db-0\n  subdomain: db\n" }),
      "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec:\n  clusterIP: None\n  selector: {app: db}\n  ports: [{port: 3306}]\n",
      pod("unhealthy", "touch /tmp/ok; sleep 2; rm /tmp/ok; exec sleep 3600", {
        container: "    livenessProbe:\n      exec: {command: [cat, /tmp/ok]}\n      periodSeconds: 1\n      failureThreshold: 1\n",
      }),
      pod("limited", "exec sleep 3600", { container: `    resources:\n      limits: {memory: ${MEMORY_LIMIT / 1024 / 1024}Mi}\n` }),
      "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 16Mi}}\n",
      claimed("writer", "echo hello-volume > /data/file && exec sleep 3600"),
      // MySQL 9.7.4 under the name MOCO's examples use (the e2e clusters run it as mysql:9.7).
      `apiVersion: v1
kind: Pod
metadata: {name: img-mysql-moco}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: ghcr.io/cybozu-go/moco/mysql:8.4.8
    imagePullPolicy: IfNotPresent
    command: [mysqld, --version]
`,
      // The slow-log stand-in prints what mysqld appends to its slow log.
      `apiVersion: v1
kind: Pod
metadata: {name: img-slowlog}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: log, emptyDir: {}}]
  containers:
  - name: slow-log
    image: ghcr.io/cybozu-go/moco/fluent-bit:5.0.2.1
    imagePullPolicy: IfNotPresent
    volumeMounts: [{name: log, mountPath: /var/log/mysql}]
  - name: writer
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, 'sleep 1; echo "# Query_time: 2.5 Lock_time: 0" >> /var/log/mysql/mysql.slow; exec sleep 3600']
    volumeMounts: [{name: log, mountPath: /var/log/mysql}]
`,
    ].join("---\n"));
    for (const n of ["web-a", "web-b", "client"]) await waitRunning(n);
  });
  after(async () => { await env?.stop(); });

  it("reaches a ClusterIP Service through kube-proxy, from a Pod (kubectl exec), on both backends", async () => {
    const ip = (await kubectl(["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"])).trim();
    const seen = new Set<string>();
    // (busybox nc: the static busybox's wget crashes resolving names without NSS.)
    await eventually("both backends answer on the ClusterIP", async () => {
      const out = await kubectl(["exec", "client", "--", "sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 80`]);
      assert.match(out, /^HTTP\/1\.[01] 200/);
      seen.add(out.trim().split("\n").pop()!.trim());
      return seen.size === 2;
    }, 60_000, 100);
    assert.deepEqual([...seen].sort(), ["web-a", "web-b"]);
  });

  it("resolves a headless Service's Pod name and a Service's short name through CoreDNS, and no outside name", async () => {
    const db = await waitRunning("db-0");
    // busybox nslookup exits 1 when any of its queries (A, AAAA, each search domain) finds
    // nothing, so its answers are read rather than its exit status.
    const lookup = (name: string) => kubectl(["exec", "client", "--", "sh", "-c", `nslookup ${name}; true`]);
    const fqdn = `db-0.db.${NS}.svc.cluster.local`;
    const answer = await eventually(`${fqdn} resolves`, async () => {
      const out = await lookup(fqdn);
      return out.includes(db.status!.podIP!) ? out : undefined;
    }, 60_000, 500);
    assert.match(answer, new RegExp(`Name:\\s+${fqdn.replace(/\./g, "\\.")}\\s+Address:\\s+${ipPattern(db.status!.podIP!)}`));
    const svc = (await kubectl(["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"])).trim();
    assert.match(await lookup("web"), new RegExp(`Name:\\s+web\\.${NS}\\.svc\\.cluster\\.local\\s+Address:\\s+${ipPattern(svc)}`));
    // CoreDNS has no upstream.
    const outside = await lookup("deb.debian.org");
    assert.doesNotMatch(outside, /Name:\s+deb\.debian\.org/);
    assert.match(outside, /can't find deb\.debian\.org/);
  });

  it("shows a container's output with kubectl logs", async () => {
    assert.match(await kubectl(["logs", "web-a"]), /^started web-a$/m);
  });

  it("forwards a port of the host to a Pod with kubectl port-forward through the host's kubeconfig", async () => {
    // kubectl and curl run in the host's network namespace (the node's supervisor's), as a user's would.
    const hostNs = supervisorNetns(env.layout);
    const pf = spawn("nsenter", [`--net=${hostNs}`, "--", kubectlBinary(), "--kubeconfig", hostKubeconfig(env.layout),
      "-n", NS, "port-forward", "pod/web-b", ":8080"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let err = "";
        pf.stderr.on("data", (d: Buffer) => { err += d.toString(); });
        pf.stdout.on("data", (d: Buffer) => {
          const m = /127\.0\.0\.1:(\d+)/.exec(d.toString());
          if (m) resolve(Number(m[1]));
        });
        pf.once("exit", (code) => reject(new Error(`kubectl port-forward exited ${code}: ${err}`)));
      });
      assert.equal(inNetns(hostNs, "curl", ["-s", "-m", "10", `http://127.0.0.1:${port}/`]).trim(), "web-b");
    } finally {
      pf.kill();
    }
  });

  it("`npm run sandbox -- status` and `-- kubectl` (sandbox/main.ts) pointed at this node answer from the host", () => {
    const sandbox = (args: string[]) => execFileSync("nsenter", [`--net=${supervisorNetns(env.layout)}`, "--", process.execPath,
      path.join(repoRoot, "sandbox", "main.ts"), ...args], { encoding: "utf8", env: { ...process.env, MOCO_TS_SANDBOX_NODE: env.layout.nodeName } });
    assert.match(sandbox(["status"]), new RegExp(`^sandbox: running \\(node ${env.layout.nodeName}, kubeconfig ${hostKubeconfig(env.layout)}\\)`));
    assert.match(sandbox(["kubectl", "get", "nodes"]), new RegExp(`^${env.layout.nodeName}\\s+Ready\\s`, "m"));
  });

  it("restarts a container whose liveness probe fails, with the kubelet's back-off", async () => {
    await eventually("two restarts and a back-off", async () => {
      const p = await getPod("unhealthy");
      const events = await kubectl(["get", "events", "--field-selector", "involvedObject.name=unhealthy", "-o", "jsonpath={.items[*].reason}"]);
      return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2 && events.includes("Unhealthy") && events.includes("BackOff");
    }, 180_000, 1000);
  });

  it("puts a container's memory limit in its cgroup, under the node's cgroup root on the host", async () => {
    await waitRunning("limited");
    const inside = (await kubectl(["exec", "limited", "--", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])).trim();
    assert.equal(inside, String(MEMORY_LIMIT));
    const memory = cgroupHierarchies().find((h) => path.basename(h) === "memory");
    assert.ok(memory, "the host's memory cgroup hierarchy");
    const limits: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
      limits.push(fs.readFileSync(path.join(dir, "memory.limit_in_bytes"), "utf8").trim());
    };
    walk(path.join(memory, env.layout.cgroupRoot));
    assert.ok(limits.includes(String(MEMORY_LIMIT)), `no ${MEMORY_LIMIT} limit under the node's cgroup root: ${limits.join(",")}`);
  });

  it("provisions a PVC of the default StorageClass, written by one Pod and read by the next", async () => {
    await waitRunning("writer", 180_000);
    await kubectl(["delete", "pod", "writer", "--wait"]);
    await kubectl(["apply", "-f", "-"], claimed("reader", "cat /data/file && exec sleep 3600"));
    await waitRunning("reader", 180_000);
    assert.match(await kubectl(["logs", "reader"]), /^hello-volume$/m);
    const pvc = JSON.parse(await kubectl(["get", "pvc", "data", "-o", "json"])) as { spec: { storageClassName?: string; volumeName?: string } };
    assert.equal(pvc.spec.storageClassName, STORAGE_CLASS);
    assert.ok(pvc.spec.volumeName, "bound to a volume");
  });

  it("runs the MySQL 9.7.4 image under MOCO's name, and the slow-log stand-in prints appended lines", async () => {
    await eventually("img-mysql-moco Succeeded", async () => (await getPod("img-mysql-moco")).status?.phase === "Succeeded", 120_000, 1000);
    assert.match(await kubectl(["logs", "img-mysql-moco"]), /mysqld\s+Ver 9\.7\.\d+/);
    await eventually("slow log line on the sidecar's output", async () =>
      /# Query_time: 2\.5/.test(await kubectl(["logs", "img-slowlog", "-c", "slow-log"])), 120_000, 1000);
  });
});
