// The fault helpers of sandbox/realnode/faults.ts (what the chaos campaign and the e2e files
// inject) on the shared real node, each seen to take effect and to heal, on two busybox Pods
// rather than a MySQL cluster: `server` (httpd on 8080 and on 3306, mysqld's port) and
// `client`. kill -9 of a container's main process; full and one-way partitions of a Pod
// (iptables rules inside its network namespace, applied again to a new sandbox); a Pod cut
// from given Pods or from the API server; kube-apiserver and the kubelet stopped and started.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { inNetns } from "../env/netns.ts";
import { BUSYBOX_IMAGE } from "../../sandbox/realnode/config.ts";
import {
  FULL_PARTITION, INBOUND_PARTITION, OUTBOUND_PARTITION, apiserverCut, containerPid, daemonPids, hasCut, killContainerProcess,
  nodeTasks, partitionPod, podNetns, podsCut, processStopped, startApiserver, startKubelet, stopApiserver, stopKubelet,
} from "../../sandbox/realnode/faults.ts";
import { eventually, podIP, startE2E, type E2E } from "./harness.ts";

const NS = "faults";
let env: E2E;

const podManifest = (name: string, command: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "${command}"]
`;

const kubectl = (args: string[], input?: string) => env.kubectl(["-n", NS, ...args], input);
const restarts = async (pod: string) =>
  Number((await kubectl(["get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].restartCount}"])).trim() || 0);

/**
 * Whether `client` gets an HTTP answer from `url` within 2 s (busybox nc inside the client Pod;
 * this busybox's wget crashes). An HTTPS port answers a plain request with a 400: still an answer.
 */
async function clientReaches(url: string): Promise<boolean> {
  const u = new URL(url);
  try {
    const out = await kubectl(["exec", "client", "--", "sh", "-c", `printf 'GET ${u.pathname} HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${u.hostname} ${u.port}`]);
    return out.startsWith("HTTP/");
  } catch { return false; }
}

/** Whether the node's own address (this test runs in the node's network namespace) reaches `url` within 2 s. */
/**
 * Whether `pid` gets to the state `stopped` soon: a signal stops a busy multi-threaded process
 * (Go) only once its threads are scheduled, which on a loaded machine is not at once.
 */
const stoppedSoon = (pid: number, stopped: boolean) =>
  eventually(`process ${pid} ${stopped ? "stopped" : "running"}`, async () => processStopped(pid) === stopped, 10_000, 50).then(() => true, () => false);

async function nodeReaches(url: string): Promise<boolean> {
  try { await fetch(url, { signal: AbortSignal.timeout(2000) }); return true; } catch { return false; }
}

describe("fault helpers on the real node", () => {
  let serverIP = "";
  const serverURL = (port = 8080) => `http://${serverIP}:${port}/hostname`;
  before(async () => {
    env = await startE2E({ namespaces: [NS], moco: false });
    await kubectl(["apply", "-f", "-"], [podManifest("server", "httpd -p 8080 -h /etc; httpd -f -p 3306 -h /etc"), podManifest("client", "sleep 100000")].join("---\n"));
    await kubectl(["wait", "--for=condition=Ready", "pod/server", "pod/client", "--timeout=180s"]);
    serverIP = await podIP(env, NS, "server");
    await eventually("client reaches server", () => clientReaches(serverURL()), 60_000, 1000);
  });
  after(async () => { await env?.stop(); });

  it("killContainerProcess kills the container's main process; the kubelet restarts it", async () => {
    const pid = containerPid(env, NS, "server", "main");
    assert.equal(killContainerProcess(env, NS, "server", "main"), pid);
    await eventually("restart counted", async () => (await restarts("server")) >= 1, 120_000, 1000);
    await eventually("a new main process", async () => { try { return containerPid(env, NS, "server", "main") !== pid; } catch { return false; } }, 120_000, 500);
    assert.throws(() => killContainerProcess(env, NS, "server", "nope"), /does not run/);
  });

  it("full partition: other Pods and mysqld's port are cut, the node keeps its other ports; heal restores", async () => {
    await eventually("server back", () => clientReaches(serverURL()), 120_000, 1000);
    assert.equal(await nodeReaches(serverURL(3306)), true);
    const p = partitionPod(env, NS, "server", FULL_PARTITION);
    try {
      assert.equal(await clientReaches(serverURL()), false, "client → server cut");
      assert.equal(await nodeReaches(serverURL(3306)), false, "mysqld's port cut for the node too");
      assert.equal(await nodeReaches(serverURL()), true, "the node's other traffic (probes) flows");
    } finally { p.heal(); }
    assert.equal(hasCut(podNetns(env, NS, "server")), false);
    assert.equal(await clientReaches(serverURL()), true, "healed");
    assert.equal(await nodeReaches(serverURL(3306)), true, "healed (node)");
  });

  it("one-way partitions: inbound drops only what the Pod receives, outbound only what it sends; both heal", async () => {
    const drops = (chain: string) => inNetns(podNetns(env, NS, "server"), "iptables", ["-S", chain]).split("\n").filter((l) => l.endsWith("-j DROP")).length;
    for (const [cut, dropsIn, dropsOut] of [[INBOUND_PARTITION, true, false], [OUTBOUND_PARTITION, false, true]] as const) {
      const p = partitionPod(env, NS, "server", cut);
      try {
        assert.equal(await clientReaches(serverURL()), false, "a TCP exchange needs both directions");
        assert.equal(drops("MOCO-TS-FAULT-IN") > 0, dropsIn);
        assert.equal(drops("MOCO-TS-FAULT-OUT") > 0, dropsOut);
      } finally { p.heal(); }
      assert.equal(await clientReaches(serverURL()), true);
    }
  });

  it("a partition is applied again to the new sandbox when the Pod's sandbox is replaced", async () => {
    const p = partitionPod(env, NS, "server", FULL_PARTITION, 250);
    try {
      const before = podNetns(env, NS, "server");
      const restartsBefore = await restarts("server");
      const sandbox = nodeTasks(env).find((t) => t.type === "sandbox" && t.pod === "server" && t.namespace === NS && t.pid);
      assert.ok(sandbox?.pid);
      process.kill(sandbox.pid, "SIGKILL");
      await eventually("a new sandbox, cut again", async () => {
        try {
          const ns = podNetns(env, NS, "server");
          return ns !== before && hasCut(ns);
        } catch { return false; }
      }, 180_000, 500);
      // The Pod's status (Ready, podIP) is the old sandbox's until the kubelet has restarted the
      // container in the new one (the CI once read the old address here): wait for the restart.
      await eventually("the container restarted in the new sandbox", async () => (await restarts("server")) > restartsBefore || undefined, 180_000, 500);
      await kubectl(["wait", "--for=condition=Ready", "pod/server", "--timeout=180s"]);
      serverIP = await podIP(env, NS, "server");
      assert.equal(await clientReaches(serverURL()), false, "the new sandbox is cut");
    } finally { p.heal(); }
    await eventually("healed: the client reaches the server's new sandbox", () => clientReaches(serverURL()).then((ok) => ok || undefined), 60_000, 1000);
  });

  it("a Pod cut from given Pods, and from the API server, heals", async () => {
    const kubernetesIP = (await env.kubectl(["-n", "default", "get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"])).trim();
    const apiOpen = () => clientReaches(`http://${kubernetesIP}:443/`);
    assert.equal(await apiOpen(), true);
    let p = partitionPod(env, NS, "client", apiserverCut(kubernetesIP));
    try {
      assert.equal(await apiOpen(), false, "API server cut");
      assert.equal(await clientReaches(serverURL()), true, "other Pods still reached");
    } finally { p.heal(); }
    assert.equal(await apiOpen(), true);
    p = partitionPod(env, NS, "client", podsCut([serverIP]));
    try {
      assert.equal(await clientReaches(serverURL()), false, "server cut");
      assert.equal(await apiOpen(), true, "API server still reached");
    } finally { p.heal(); }
    assert.equal(await clientReaches(serverURL()), true);
  });

  it("kube-apiserver stopped and started", async () => {
    const [pid] = daemonPids(env, "kube-apiserver");
    assert.ok(pid);
    stopApiserver(env);
    try {
      assert.equal(await stoppedSoon(pid, true), true);
      await assert.rejects(env.kubectl(["get", "--request-timeout=3s", "namespaces"]));
    } finally { startApiserver(env); }
    assert.equal(await stoppedSoon(pid, false), true);
    await eventually("API answers", () => env.kubectl(["get", "namespaces"]), 60_000, 1000);
  });

  it("kubelet stopped (its Lease is not renewed; a container killed meanwhile is not restarted) and started", async () => {
    const lease = async () => (await env.kubectl(["-n", "kube-node-lease", "get", "lease", env.layout.nodeName, "-o", "jsonpath={.spec.renewTime}"])).trim();
    const [pid] = daemonPids(env, "kubelet");
    assert.ok(pid);
    const before = await restarts("client");
    stopKubelet(env);
    let frozen: string;
    try {
      assert.equal(await stoppedSoon(pid, true), true);
      frozen = await lease();
      killContainerProcess(env, NS, "client", "main");
      // Longer than the kubelet's Lease renewal interval (10 s).
      await sleep(15_000);
      assert.equal(await lease(), frozen, "no renewal while stopped");
      assert.equal(await restarts("client"), before, "nothing restarted while stopped");
    } finally { startKubelet(env); }
    await eventually("Lease renewed", async () => (await lease()) !== frozen, 60_000, 1000);
    await eventually("client restarted", async () => (await restarts("client")) > before, 120_000, 1000);
  });
});
