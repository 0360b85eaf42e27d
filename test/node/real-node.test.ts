// The real node (sandbox/realnode, docs/sandbox.md "Real node") as a user's cluster:
// Pods run by containerd under a real kubelet; a ClusterIP Service through kube-proxy; a
// headless name through CoreDNS; kubectl logs, exec and port-forward; a failing liveness
// probe restarted with the kubelet's back-off; a memory limit in the container's cgroup; a
// PVC of the default StorageClass (local-path-provisioner) written and read. Then down(),
// after which nothing of the node is left on the host.
// Needs test/env/provision-node.sh. Run with `bash test/run.sh node`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { eventually } from "../env/eventually.ts";
import { k8sBinary } from "../env/kube.ts";
import { startRealNode, cgroupHierarchies, nodeLayout, type RealNode } from "../../sandbox/realnode/node.ts";
import { hostSnapshot, nodeLeftovers, type HostSnapshot } from "../../sandbox/realnode/host-check.ts";
import { BUSYBOX_IMAGE, STORAGE_CLASS } from "../../sandbox/realnode/config.ts";

const NAME = "moco-ts-node-test";
let node: RealNode;
let snapshot: HostSnapshot;

interface Pod {
  status?: {
    podIP?: string; phase?: string;
    containerStatuses?: { restartCount: number; ready: boolean; state?: { waiting?: { reason?: string } } }[];
  };
}

const kubectl = (args: string[], input?: string) => node.kubectl(args, input);
const getPod = async (name: string) => JSON.parse(await kubectl(["get", "pod", name, "-o", "json"])) as Pod;
const waitRunning = (name: string, timeoutMs = 120_000) => eventually(`${name} ready`, async () => {
  const p = await getPod(name);
  return p.status?.containerStatuses?.every((c) => c.ready) === true && p.status.phase === "Running" ? p : false;
}, timeoutMs, 500);

const pod = (name: string, command: string, extra = "", labels = "") => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {${labels}}}
spec:
  terminationGracePeriodSeconds: 1
${extra}  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, '${command}']
`;

describe("real node", { timeout: 900_000 }, () => {
  before(async () => {
    snapshot = hostSnapshot();
    node = await startRealNode({ name: NAME });
    console.log(`node Ready after ${node.timings.nodeReadySeconds.toFixed(1)} s, up after ${node.timings.upSeconds.toFixed(1)} s`);
    // Two web Pods answering with their name, a Service over them, a client Pod.
    const web = (n: string) => pod(n, "mkdir -p /www && echo $HOSTNAME > /www/index.html && echo started $HOSTNAME && exec httpd -f -p 8080 -h /www", "", "app: web");
    await kubectl(["apply", "-f", "-"], [web("web-a"), web("web-b"), pod("client", "exec sleep 3600"), `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`].join("---\n"));
    for (const n of ["web-a", "web-b", "client"]) await waitRunning(n);
  });

  after(async () => {
    if (!node) return;
    await node.down();
    const left = nodeLeftovers(nodeLayout(NAME), snapshot);
    assert.deepEqual(left, [], "the node left this on the host");
  });

  it("reaches a ClusterIP Service through kube-proxy, from a Pod (kubectl exec)", async () => {
    const svc = JSON.parse(await kubectl(["get", "service", "web", "-o", "json"])) as { spec: { clusterIP: string } };
    const seen = new Set<string>();
    // (busybox nc: the static busybox's wget crashes resolving names without NSS.)
    await eventually("both backends answer on the ClusterIP", async () => {
      const out = await kubectl(["exec", "client", "--", "sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${svc.spec.clusterIP} 80`]);
      assert.match(out, /^HTTP\/1\.[01] 200/);
      seen.add(out.trim().split("\n").pop()!.trim());
      return seen.size === 2;
    }, 60_000, 100);
    assert.deepEqual([...seen].sort(), ["web-a", "web-b"]);
  });

  it("resolves a headless Service's Pod name through CoreDNS", async () => {
    await kubectl(["apply", "-f", "-"], [pod("db-0", "exec sleep 3600", "  hostname: db-0\n  subdomain: db\n", "app: db"), `apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 3306}]
`].join("---\n"));
    const db = await waitRunning("db-0");
    // busybox nslookup exits 1 when any of its queries (A, AAAA, each search domain) finds
    // nothing, so its answers are read rather than its exit status.
    const lookup = (name: string) => kubectl(["exec", "client", "--", "sh", "-c", `nslookup ${name}; true`]);
    const answer = await eventually("db-0.db resolves", async () => {
      const out = await lookup("db-0.db.default.svc.cluster.local");
      return out.includes(db.status!.podIP!) ? out : false;
    }, 60_000, 500);
    assert.match(answer, new RegExp(`Name:\\s+db-0\\.db\\.default\\.svc\\.cluster\\.local\\s+Address:\\s+${db.status!.podIP!.replace(/\./g, "\\.")}`));
    // The short name of a Service through the Pod's search path.
    const svc = JSON.parse(await kubectl(["get", "service", "web", "-o", "json"])) as { spec: { clusterIP: string } };
    assert.match(await lookup("web"), new RegExp(`Name:\\s+web\\.default\\.svc\\.cluster\\.local\\s+Address:\\s+${svc.spec.clusterIP.replace(/\./g, "\\.")}`));
    // A name outside the cluster is not resolved: CoreDNS has no upstream.
    const outside = await lookup("deb.debian.org");
    assert.doesNotMatch(outside, /Name:\s+deb\.debian\.org/);
    assert.match(outside, /can't find deb\.debian\.org/);
  });

  it("shows a container's output with kubectl logs", async () => {
    assert.match(await kubectl(["logs", "web-a"]), /^started web-a$/m);
  });

  it("forwards a local port to a Pod with kubectl port-forward", async () => {
    const pf = execFile(k8sBinary("kubectl"), ["--kubeconfig", node.kubeconfig, "port-forward", "pod/web-b", ":8080"]);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        pf.stdout!.on("data", (d: Buffer) => {
          const m = /127\.0\.0\.1:(\d+)/.exec(d.toString());
          if (m) resolve(Number(m[1]));
        });
        pf.once("exit", (code) => reject(new Error(`kubectl port-forward exited ${code}`)));
      });
      const res = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal((await res.text()).trim(), "web-b");
    } finally {
      pf.kill();
    }
  });

  it("restarts a container whose liveness probe fails, with the kubelet's back-off", async () => {
    await kubectl(["apply", "-f", "-"], pod("unhealthy", "touch /tmp/ok; sleep 2; rm /tmp/ok; exec sleep 3600", ""
    ).replace("    command:", `    livenessProbe:
      exec: {command: [cat, /tmp/ok]}
      periodSeconds: 1
      failureThreshold: 1
    command:`));
    await eventually("two restarts and a back-off", async () => {
      const p = await getPod("unhealthy");
      const events = await kubectl(["get", "events", "--field-selector", "involvedObject.name=unhealthy", "-o", "jsonpath={.items[*].reason}"]);
      return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2 && events.includes("Unhealthy") && events.includes("BackOff");
    }, 180_000, 1000);
  });

  it("puts a container's memory limit in its cgroup", async () => {
    await kubectl(["apply", "-f", "-"], pod("limited", "exec sleep 3600").replace("    command:", `    resources:
      limits: {memory: 48Mi}
    command:`));
    await waitRunning("limited");
    const inside = (await kubectl(["exec", "limited", "--", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])).trim();
    assert.equal(inside, String(48 * 1024 * 1024));
    // And on the host, under the node's own cgroup root.
    const memory = cgroupHierarchies().find((h) => path.basename(h) === "memory")!;
    const limits: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
      limits.push(fs.readFileSync(path.join(dir, "memory.limit_in_bytes"), "utf8").trim());
    };
    walk(path.join(memory, nodeLayout(NAME).cgroupRoot));
    assert.ok(limits.includes(String(48 * 1024 * 1024)), `no 48Mi limit under the node's cgroup root: ${limits.join(",")}`);
  });

  it("runs the images built without a registry, under the names the manifests use", async () => {
    const once = (name: string, image: string, command: string[]) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: ${image}
    imagePullPolicy: IfNotPresent
    command: ${JSON.stringify(command)}
`;
    const runs: [string, string, string[], RegExp][] = [
      // MySQL 9.7 from Debian sid, also under the examples' MOCO name and the sandbox's mysql:9.7.
      ["img-mysql-moco", "ghcr.io/cybozu-go/moco/mysql:8.4.8", ["mysqld", "--version"], /mysqld\s+Ver 9\.7\.\d+/],
      ["img-mysql", "mysql:9.7", ["mysqld", "--version"], /mysqld\s+Ver 9\.7\.\d+/],
      // The moco-ts image built from the project's Dockerfile, under the controller's default name.
      ["img-moco-ts", "ghcr.io/moco-ts/moco-ts:0.1.0", ["moco-agent", "--help"], /Usage: moco-agent/],
      ["img-exporter", "ghcr.io/cybozu-go/moco/mysqld_exporter:0.19.0.1", ["/bin/mysqld_exporter", "--version"], /mysqld_exporter, version 0\.14/],
    ];
    await kubectl(["apply", "-f", "-"], runs.map(([n, i, c]) => once(n, i, c)).join("---\n"));
    for (const [name, , , expected] of runs) {
      await eventually(`${name} Succeeded`, async () => (await getPod(name)).status?.phase === "Succeeded", 180_000, 1000);
      assert.match(await kubectl(["logs", name]), expected, name);
    }
    // The slow-log stand-in prints what mysqld appends to its slow log.
    await kubectl(["apply", "-f", "-"], `apiVersion: v1
kind: Pod
metadata: {name: img-slowlog}
spec:
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
`);
    await eventually("slow log line on the sidecar's output", async () =>
      /# Query_time: 2\.5/.test(await kubectl(["logs", "img-slowlog", "-c", "slow-log"])), 120_000, 1000);
  });

  it("provisions a PVC of the default StorageClass, written by one Pod and read by the next", async () => {
    const withClaim = (name: string, cmd: string) => pod(name, cmd).replace("  containers:", `  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
  containers:`).replace("    command:", `    volumeMounts: [{name: data, mountPath: /data}]
    command:`);
    await kubectl(["apply", "-f", "-"], [`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
`, withClaim("writer", "echo hello-volume > /data/file && exec sleep 3600")].join("---\n"));
    await waitRunning("writer", 180_000);
    await kubectl(["delete", "pod", "writer", "--wait"]);
    await kubectl(["apply", "-f", "-"], withClaim("reader", "cat /data/file && exec sleep 3600"));
    await waitRunning("reader", 180_000);
    assert.match(await kubectl(["logs", "reader"]), /^hello-volume$/m);
    const pvc = JSON.parse(await kubectl(["get", "pvc", "data", "-o", "json"])) as { spec: { storageClassName?: string; volumeName?: string } };
    assert.equal(pvc.spec.storageClassName, STORAGE_CLASS);
    assert.ok(pvc.spec.volumeName);
  });
});
