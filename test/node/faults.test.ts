// The faults of sandbox/realnode/faults.ts on a real node: each one is seen to take effect and
// to heal. Two busybox Pods: `server` (httpd on 8080 and on 3306, mysqld's port) and `client`.
// Needs test/env/provision-node.sh. Run with `bash test/run.sh node test/node/faults.test.ts`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../env/eventually.ts";
import { inNetns } from "../env/netns.ts";
import { startRealNode, nodeLayout, type RealNode } from "../../sandbox/realnode/node.ts";
import { hostSnapshot, nodeLeftovers, type HostSnapshot } from "../../sandbox/realnode/host-check.ts";
import { BUSYBOX_IMAGE } from "../../sandbox/realnode/config.ts";
import {
  FULL_PARTITION, INBOUND_PARTITION, OUTBOUND_PARTITION, apiserverCut, containerPid, daemonPids, hasCut, killContainerProcess,
  nodeTasks, partitionPod, podNetns, podsCut, processStopped, startApiserver, startKubelet, stopApiserver, stopKubelet,
} from "../../sandbox/realnode/faults.ts";
import { setTimeout as sleep } from "node:timers/promises";

const NAME = "moco-ts-faults-test";
const NS = "faults";
let node: RealNode;
let snapshot: HostSnapshot;

const podManifest = (name: string, command: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "${command}"]
`;

async function podJson(name: string): Promise<{ status: { podIP?: string; containerStatuses?: { restartCount: number; ready: boolean }[] } }> {
  return JSON.parse(await node.kubectl(["-n", NS, "get", "pod", name, "-o", "json"])) as never;
}

/**
 * Whether `client` gets an HTTP answer from `url` within 2 s (busybox nc inside the client Pod;
 * this busybox's wget crashes). An HTTPS port answers a plain request with a 400: still an answer.
 */
async function clientReaches(url: string): Promise<boolean> {
  const u = new URL(url);
  try {
    const out = await node.kubectl(["-n", NS, "exec", "client", "--", "sh", "-c",
      `printf 'GET ${u.pathname} HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${u.hostname} ${u.port}`]);
    return out.startsWith("HTTP/");
  } catch { return false; }
}

/** Whether the node itself (its network namespace) reaches `url` within 2 s. */
function nodeReaches(url: string): boolean {
  try { inNetns(node.netns, "curl", ["-s", "-o", "/dev/null", "-m", "2", url]); return true; } catch { return false; }
}

describe("faults on the real node", { timeout: 900_000 }, () => {
  let serverIP = "";
  before(async () => {
    snapshot = hostSnapshot();
    node = await startRealNode({ name: NAME });
    await node.kubectl(["create", "namespace", NS]);
    await node.kubectl(["apply", "-f", "-"], podManifest("server", "httpd -p 8080 -h /etc; httpd -f -p 3306 -h /etc"));
    await node.kubectl(["apply", "-f", "-"], podManifest("client", "sleep 100000"));
    await node.kubectl(["-n", NS, "wait", "--for=condition=Ready", "pod/server", "pod/client", "--timeout=180s"]);
    serverIP = (await podJson("server")).status.podIP ?? "";
    assert.ok(serverIP, "server has an IP");
    await eventually("client reaches server", () => clientReaches(`http://${serverIP}:8080/hostname`), 60_000, 1000);
  });

  after(async () => {
    if (!node) return;
    await node.down();
    assert.deepEqual(nodeLeftovers(nodeLayout(NAME), snapshot), [], "the node left this on the host");
  });

  it("killContainerProcess kills the container's main process; the kubelet restarts it", async () => {
    const pid = containerPid(node, NS, "server", "main");
    assert.equal(killContainerProcess(node, NS, "server", "main"), pid);
    await eventually("restart counted", async () => ((await podJson("server")).status.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 120_000, 1000);
    await eventually("a new main process", () => { try { return containerPid(node, NS, "server", "main") !== pid; } catch { return false; } }, 120_000, 500);
    assert.throws(() => killContainerProcess(node, NS, "server", "nope"), /does not run/);
  });

  it("full partition: other Pods and mysqld's port are cut, the node keeps its other ports; heal restores", async () => {
    await eventually("server back", () => clientReaches(`http://${serverIP}:8080/hostname`), 120_000, 1000);
    assert.equal(nodeReaches(`http://${serverIP}:3306/hostname`), true);
    const p = partitionPod(node, NS, "server", FULL_PARTITION);
    try {
      assert.equal(await clientReaches(`http://${serverIP}:8080/hostname`), false, "client → server cut");
      assert.equal(nodeReaches(`http://${serverIP}:3306/hostname`), false, "mysqld's port cut for the node too");
      assert.equal(nodeReaches(`http://${serverIP}:8080/hostname`), true, "the node's other traffic (probes) flows");
    } finally { p.heal(); }
    assert.equal(hasCut(podNetns(node, NS, "server")), false);
    assert.equal(await clientReaches(`http://${serverIP}:8080/hostname`), true, "healed");
    assert.equal(nodeReaches(`http://${serverIP}:3306/hostname`), true, "healed (node)");
  });

  it("one-way partitions: inbound drops only what the Pod receives, outbound only what it sends; both heal", async () => {
    const drops = (chain: string) => inNetns(podNetns(node, NS, "server"), "iptables", ["-S", chain]).split("\n").filter((l) => l.endsWith("-j DROP")).length;
    for (const [cut, dropsIn, dropsOut] of [[INBOUND_PARTITION, true, false], [OUTBOUND_PARTITION, false, true]] as const) {
      const p = partitionPod(node, NS, "server", cut);
      try {
        assert.equal(await clientReaches(`http://${serverIP}:8080/hostname`), false, "a TCP exchange needs both directions");
        assert.equal(drops("MOCO-TS-FAULT-IN") > 0, dropsIn);
        assert.equal(drops("MOCO-TS-FAULT-OUT") > 0, dropsOut);
      } finally { p.heal(); }
      assert.equal(await clientReaches(`http://${serverIP}:8080/hostname`), true);
    }
  });

  it("a partition is applied again to the new sandbox when the Pod's sandbox is replaced", async () => {
    const p = partitionPod(node, NS, "server", FULL_PARTITION, 250);
    try {
      const before = podNetns(node, NS, "server");
      const sandbox = nodeTasks(node).find((t) => t.type === "sandbox" && t.pod === "server" && t.namespace === NS && t.pid);
      assert.ok(sandbox?.pid);
      process.kill(sandbox.pid, "SIGKILL");
      await eventually("a new sandbox, cut again", () => {
        try {
          const ns = podNetns(node, NS, "server");
          return ns !== before && hasCut(ns);
        } catch { return false; }
      }, 180_000, 500);
      await node.kubectl(["-n", NS, "wait", "--for=condition=Ready", "pod/server", "--timeout=180s"]);
      serverIP = (await podJson("server")).status.podIP ?? "";
      assert.equal(await clientReaches(`http://${serverIP}:8080/hostname`), false, "the new sandbox is cut");
    } finally { p.heal(); }
    assert.equal(await clientReaches(`http://${serverIP}:8080/hostname`), true, "healed");
  });

  it("a Pod cut from given Pods, and from the API server, heals", async () => {
    const kubernetesIP = (await node.kubectl(["-n", "default", "get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"])).trim();
    const apiOpen = () => clientReaches(`http://${kubernetesIP}:443/`);
    assert.equal(await apiOpen(), true);
    let p = partitionPod(node, "faults", "client", apiserverCut(kubernetesIP));
    try {
      assert.equal(await apiOpen(), false, "API server cut");
      assert.equal(await clientReaches(`http://${serverIP}:8080/hostname`), true, "other Pods still reached");
    } finally { p.heal(); }
    assert.equal(await apiOpen(), true);
    p = partitionPod(node, "faults", "client", podsCut([serverIP]));
    try {
      assert.equal(await clientReaches(`http://${serverIP}:8080/hostname`), false, "server cut");
      assert.equal(await apiOpen(), true, "API server still reached");
    } finally { p.heal(); }
    assert.equal(await clientReaches(`http://${serverIP}:8080/hostname`), true);
  });

  it("kube-apiserver stopped and started", async () => {
    const [pid] = daemonPids(node, "kube-apiserver");
    assert.ok(pid);
    stopApiserver(node);
    try {
      assert.equal(processStopped(pid), true);
      await assert.rejects(node.kubectl(["get", "--request-timeout=3s", "namespaces"]));
    } finally { startApiserver(node); }
    assert.equal(processStopped(pid), false);
    await eventually("API answers", () => node.kubectl(["get", "namespaces"]), 60_000, 1000);
  });

  it("kubelet stopped (its Lease is not renewed; a container killed meanwhile is not restarted) and started", async () => {
    const lease = async () => (await node.kubectl(["-n", "kube-node-lease", "get", "lease", NAME, "-o", "jsonpath={.spec.renewTime}"])).trim();
    const [pid] = daemonPids(node, "kubelet");
    assert.ok(pid);
    const restarts = async () => (await podJson("client")).status.containerStatuses?.[0]?.restartCount ?? 0;
    const before = await restarts();
    stopKubelet(node);
    let frozen: string;
    try {
      assert.equal(processStopped(pid), true);
      frozen = await lease();
      killContainerProcess(node, NS, "client", "main");
      await sleep(15_000);
      assert.equal(await lease(), frozen, "no renewal while stopped");
      assert.equal(await restarts(), before, "nothing restarted while stopped");
    } finally { startKubelet(node); }
    await eventually("Lease renewed", async () => (await lease()) !== frozen, 60_000, 1000);
    await eventually("client restarted", async () => (await restarts()) > before, 120_000, 1000);
  });
});
