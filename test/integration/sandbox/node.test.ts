// The sandbox node runs real Pods on a real control plane: host-image and MySQL-image
// containers, volumes, init containers, probes, restarts, graceful deletion, PVCs.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import mysql from "mysql2/promise";
import { startControlPlane, type ControlPlane } from "../../env/kube.ts";
import { makeTmpDir } from "../../env/procs.ts";
import { SandboxNode } from "../../../sandbox/node.ts";
import { BRIDGE_IP, ensureBridge } from "../../../sandbox/net.ts";
import { eventually } from "../../env/eventually.ts";


describe("sandbox node", () => {
  let cp: ControlPlane;
  let node: SandboxNode;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  const ns = "sbx";
  const dataDir = makeTmpDir("sandbox-node-");

  before(async () => {
    ensureBridge();
    cp = await startControlPlane({ bindAddress: BRIDGE_IP, volumeBinder: true });
    const port = Number(new URL(cp.server).port);
    node = new SandboxNode({ kubeconfig: cp.kubeconfig, dataDir, apiserver: { host: BRIDGE_IP, port }, caCertFile: cp.ca.cert, caKeyFile: cp.ca.key, kubeletPort: 20250, addressBlocks: [150, 160], log: (m, e) => fs.appendFileSync(path.join(dataDir, "node.log"), JSON.stringify({ m, ...e }) + "\n") });
    await node.start();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await eventually("default service account", async () => (await core.readNamespacedServiceAccount({ name: "default", namespace: ns })) ? true : undefined);
  });
  after(async () => {
    await node?.stop();
    await cp?.stop();
    if (!process.env.KEEP_SANDBOX_TEST_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("registers Ready nodes", async () => {
    const nodes = await core.listNode();
    assert.deepEqual(nodes.items.map((n) => n.metadata?.name).sort(), ["sandbox-node-0", "sandbox-node-1", "sandbox-node-2"]);
    for (const n of nodes.items) assert.equal(n.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
  });

  it("runs a host-image Pod with env, volumes, an init container and probes", async () => {
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "cfg" }, data: { "greeting.txt": "hello from configmap" } } });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "sec" }, stringData: { TOKEN: "s3cr3t-value" } } });
    await core.createNamespacedPod({ namespace: ns, body: {
      metadata: { name: "web", labels: { app: "web" } },
      spec: {
        terminationGracePeriodSeconds: 5,
        volumes: [{ name: "cfg", configMap: { name: "cfg" } }, { name: "shared", emptyDir: {} }],
        initContainers: [{ name: "prepare", image: "moco-ts.sandbox/host", command: ["sh", "-c", "echo prepared-by-init > /shared/init.txt"],
          volumeMounts: [{ name: "shared", mountPath: "/shared" }] }],
        containers: [{
          name: "main", image: "moco-ts.sandbox/host",
          command: ["sh", "-c", "cat /cfg/greeting.txt; cat /shared/init.txt; echo \"pod=$POD_NAME ns=$POD_NS token-length=${#TOKEN}\"; hostname; trap 'echo got-term; exit 0' TERM; while true; do sleep 0.2; done"],
          env: [
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
            { name: "POD_NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
          ],
          envFrom: [{ secretRef: { name: "sec" } }],
          volumeMounts: [{ name: "cfg", mountPath: "/cfg" }, { name: "shared", mountPath: "/shared" }],
          readinessProbe: { exec: { command: ["test", "-f", "/shared/init.txt"] }, periodSeconds: 1 },
        }],
      },
    } });
    const pod = await eventually("web to be Ready", async () => {
      const p = await core.readNamespacedPod({ name: "web", namespace: ns });
      return p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? p : undefined;
    });
    assert.equal(pod.status?.phase, "Running");
    assert.equal(pod.status?.initContainerStatuses?.[0]?.ready, true, "a completed init container is ready");
    assert.equal(pod.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 0);
    assert.match(pod.status?.podIP ?? "", /^10\.213\./);
    assert.ok(pod.spec?.nodeName?.startsWith("sandbox-node-"));
    const rt = node.runtime(ns, "web")!;
    const log = fs.readFileSync(rt.logFile("main"), "utf8");
    assert.match(log, /hello from configmap/);
    assert.match(log, /prepared-by-init/);
    assert.match(log, /pod=web ns=sbx token-length=12/);
    assert.match(log, /^web$/m, "hostname is the Pod name");
    assert.doesNotMatch(log, /s3cr3t-value/);
    // kubectl logs goes through the API server to the node's kubelet API.
    const viaKubectl = await cp.kubectl(["-n", ns, "logs", "web", "-c", "main"]);
    assert.match(viaKubectl, /hello from configmap/);
    assert.equal((await cp.kubectl(["-n", ns, "logs", "web", "-c", "main", "--tail=1"])).trim(), "web");
    const r = await rt.exec("main", ["cat", "/etc/hosts"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`${pod.status!.podIP!.replace(/\./g, "\\.")} web`));
  });

  it("deletes a Pod gracefully: SIGTERM reaches the container, then the object is removed", async () => {
    const rt = node.runtime(ns, "web")!;
    const logFile = rt.logFile("main");
    await core.deleteNamespacedPod({ name: "web", namespace: ns });
    await eventually("web to be gone", async () => {
      try { await core.readNamespacedPod({ name: "web", namespace: ns }); return undefined; } catch (e) { return (e as { code?: number }).code === 404 ? true : undefined; }
    });
    assert.match(fs.readFileSync(logFile, "utf8"), /got-term/);
  });

  it("restarts a crashing container with back-off and counts restarts", async () => {
    await core.createNamespacedPod({ namespace: ns, body: {
      metadata: { name: "crasher" },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "c", image: "moco-ts.sandbox/host", command: ["sh", "-c", "sleep 0.3; exit 3"] }] },
    } });
    const p = await eventually("two restarts", async () => {
      const p = await core.readNamespacedPod({ name: "crasher", namespace: ns });
      return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2 ? p : undefined;
    });
    const st = p.status!.containerStatuses![0]!;
    assert.equal(st.lastState?.terminated?.exitCode ?? st.state?.terminated?.exitCode ?? 3, 3);
    await core.deleteNamespacedPod({ name: "crasher", namespace: ns });
  });

  it("fails a Pod whose image has no root filesystem with a clear reason", async () => {
    await core.createNamespacedPod({ namespace: ns, body: {
      metadata: { name: "unknown-image" },
      spec: { containers: [{ name: "c", image: "example.invalid/nothing:1" }] },
    } });
    const st = await eventually("ImageNotSupported", async () => {
      const p = await core.readNamespacedPod({ name: "unknown-image", namespace: ns });
      const w = p.status?.containerStatuses?.[0]?.state?.waiting;
      return w?.reason === "ImageNotSupported" ? w : undefined;
    });
    assert.match(st.message ?? "", /example\.invalid\/nothing:1/);
    await core.deleteNamespacedPod({ name: "unknown-image", namespace: ns, gracePeriodSeconds: 0 });
  });

  it("runs mysqld from the MySQL image on a provisioned PVC, reachable at the Pod IP, data surviving the Pod", async () => {
    const mysqldArgs = ["--datadir=/var/lib/mysql/data", "--socket=/run/mysqld.sock", "--mysqlx=OFF", "--skip-name-resolve", "--secure-file-priv="];
    await apps.createNamespacedStatefulSet({ namespace: ns, body: {
      metadata: { name: "db" },
      spec: {
        replicas: 1, serviceName: "db", selector: { matchLabels: { app: "db" } },
        template: { metadata: { labels: { app: "db" } }, spec: {
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsUser: 10000, runAsGroup: 10000, fsGroup: 10000 },
          volumes: [{ name: "run", emptyDir: {} }, { name: "tmp", emptyDir: {} }],
          initContainers: [{ name: "init", image: "ghcr.io/cybozu-go/moco/mysql:8.4.8", command: ["sh", "-c",
            "[ -d /var/lib/mysql/data ] || mysqld --initialize-insecure --datadir=/var/lib/mysql/data --init-file=/dev/null && echo \"CREATE USER IF NOT EXISTS 'probe'@'%' IDENTIFIED BY 'probe-pw'; GRANT ALL ON *.* TO 'probe'@'%';\" > /var/lib/mysql/init.sql"],
            volumeMounts: [{ name: "data", mountPath: "/var/lib/mysql" }, { name: "tmp", mountPath: "/tmp" }] }],
          containers: [{ name: "mysqld", image: "ghcr.io/cybozu-go/moco/mysql:8.4.8", args: [...mysqldArgs, "--init-file=/var/lib/mysql/init.sql"],
            ports: [{ name: "mysql", containerPort: 3306 }],
            readinessProbe: { tcpSocket: { port: "mysql" }, periodSeconds: 1 },
            volumeMounts: [{ name: "data", mountPath: "/var/lib/mysql" }, { name: "run", mountPath: "/run" }, { name: "tmp", mountPath: "/tmp" }] }],
        } },
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
      },
    } });
    const podIP = await eventually("db-0 Ready", async () => {
      const p = await core.readNamespacedPod({ name: "db-0", namespace: ns });
      return p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? p.status.podIP : undefined;
    }, 180_000);
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: "data-db-0", namespace: ns });
    assert.equal(pvc.status?.phase, "Bound");
    const connect = () => mysql.createConnection({ host: podIP!, port: 3306, user: "probe", password: "probe-pw", connectTimeout: 3000 });
    let c = await eventually("mysql login", async () => await connect());
    const [[v]] = await c.query<mysql.RowDataPacket[]>("SELECT VERSION() AS v, CURRENT_USER() AS u");
    assert.match(String(v!.v), /^9\.7\./);
    await c.query("CREATE DATABASE keep; CREATE TABLE keep.t (id INT PRIMARY KEY)".split(";")[0]!);
    await c.query("CREATE TABLE keep.t (id INT PRIMARY KEY)");
    await c.query("INSERT INTO keep.t VALUES (42)");
    await c.end();
    // The process runs as the Pod's runAsUser.
    const rt = node.runtime(ns, "db-0")!;
    const pid = rt.containerPid("mysqld")!;
    const uid = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^Uid:\s+(\d+)/m)?.[1];
    assert.equal(uid, "10000");
    // Delete the Pod: the StatefulSet controller re-creates it and the data is still there.
    await core.deleteNamespacedPod({ name: "db-0", namespace: ns });
    const newIP = await eventually("db-0 back and Ready", async () => {
      const p = await core.readNamespacedPod({ name: "db-0", namespace: ns });
      return p.metadata?.uid !== rt.pod.metadata?.uid && p.status?.conditions?.find((x) => x.type === "Ready")?.status === "True" ? p.status.podIP : undefined;
    }, 180_000);
    c = await eventually("mysql login again", async () => await mysql.createConnection({ host: newIP!, port: 3306, user: "probe", password: "probe-pw", connectTimeout: 3000 }));
    const [rows] = await c.query<mysql.RowDataPacket[]>("SELECT id FROM keep.t");
    assert.deepEqual(rows.map((r) => r.id), [42]);
    await c.end();
    // Deleting the StatefulSet and the claim removes the volume directory.
    await apps.deleteNamespacedStatefulSet({ name: "db", namespace: ns });
    await core.deleteNamespacedPersistentVolumeClaim({ name: "data-db-0", namespace: ns });
    const pvDir = path.join(dataDir, "pv", `pvc-${pvc.metadata!.uid}`);
    await eventually("volume directory removed", async () => (fs.existsSync(pvDir) ? undefined : true), 120_000);
  });
});
