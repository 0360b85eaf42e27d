// `kubectl exec` on sandbox Pods: the real kubectl (WebSocket v5 to kube-apiserver),
// the real apiserver (translating to SPDY/3.1 towards the node), the sandbox kubelet
// API (sandbox/streaming.ts) and the command running inside the container.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { k8sBinary, startControlPlane, type ControlPlane } from "../../env/kube.ts";
import { makeTmpDir } from "../../env/procs.ts";
import { eventually } from "../../env/eventually.ts";
import { SandboxNode } from "../../../sandbox/node.ts";
import { BRIDGE_IP, ensureBridge } from "../../../sandbox/net.ts";

interface Result { code: number; stdout: Buffer; stderr: string }

/** Runs a command, feeding stdin (or closing it at once), collecting both outputs and the exit code. */
function run(cmd: string, args: string[], input?: Buffer, timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    p.stdout.on("data", (d: Buffer) => out.push(d));
    p.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => { p.kill("SIGKILL"); reject(new Error(`${cmd} ${args.join(" ")} timed out; stderr: ${err}`)); }, timeoutMs);
    p.on("close", (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err }); });
    p.stdin.on("error", () => undefined);
    p.stdin.end(input);
  });
}

describe("kubectl exec on the sandbox node", () => {
  let cp: ControlPlane;
  let node: SandboxNode;
  let core: k8s.CoreV1Api;
  const ns = "exec";
  const dataDir = makeTmpDir("sandbox-exec-");
  const kubectl = (args: string[], input?: Buffer) => run(k8sBinary("kubectl"), ["--kubeconfig", cp.kubeconfig, "-n", ns, ...args], input);
  const loop = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"];

  before(async () => {
    ensureBridge();
    cp = await startControlPlane({ bindAddress: BRIDGE_IP });
    const port = Number(new URL(cp.server).port);
    node = new SandboxNode({
      kubeconfig: cp.kubeconfig, dataDir, apiserver: { host: BRIDGE_IP, port }, caCertFile: cp.ca.cert, caKeyFile: cp.ca.key,
      kubeletPort: 21250, addressBlocks: [170, 180],
      log: (m, e) => fs.appendFileSync(path.join(dataDir, "node.log"), JSON.stringify({ m, ...e }) + "\n"),
    });
    await node.start();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await eventually("default service account", async () => (await core.readNamespacedServiceAccount({ name: "default", namespace: ns })) ? true : undefined);
    await core.createNamespacedPod({ namespace: ns, body: {
      metadata: { name: "shell" },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [
          { name: "main", image: "moco-ts.sandbox/host", command: loop, env: [{ name: "GREETING", value: "from-the-pod-spec" }] },
          // No root filesystem for this image: the container stays waiting (ImageNotSupported).
          { name: "idle", image: "example.invalid/none:1" },
        ],
      },
    } });
    await core.createNamespacedPod({ namespace: ns, body: {
      metadata: { name: "db" },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "mysql", image: "mysql:9.7", command: loop }] },
    } });
    for (const [pod, container] of [["shell", "main"], ["db", "mysql"]] as const) {
      await eventually(`${pod}/${container} running`, async () => {
        const p = await core.readNamespacedPod({ name: pod, namespace: ns });
        return p.status?.containerStatuses?.find((c) => c.name === container)?.state?.running ? true : undefined;
      }, 90_000);
    }
  });

  after(async () => {
    await node?.stop();
    await cp?.stop();
    if (!process.env.KEEP_SANDBOX_TEST_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("separates stdout and stderr and exits with the command's exit code", async () => {
    const r = await kubectl(["exec", "shell", "-c", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert.equal(r.stdout.toString(), "out\n");
    assert.equal(r.stderr.split("\n")[0], "err", r.stderr);
    assert.equal(r.code, 3, r.stderr);
    const ok = await kubectl(["exec", "shell", "-c", "main", "--", "true"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, "");
  });

  it("runs in the container: its hostname, its environment, its network", async () => {
    const pod = await core.readNamespacedPod({ name: "shell", namespace: ns });
    const r = await kubectl(["exec", "shell", "-c", "main", "--", "sh", "-c", "hostname; echo $GREETING; cat /etc/hosts"]);
    assert.equal(r.code, 0, r.stderr);
    const [hostname, greeting] = r.stdout.toString().split("\n");
    assert.equal(hostname, "shell");
    assert.equal(greeting, "from-the-pod-spec");
    assert.match(r.stdout.toString(), new RegExp(`${pod.status!.podIP!.replace(/\./g, "\\.")}\\s+shell`));
  });

  it("pipes stdin through exactly (kubectl exec -i ... cat)", async () => {
    const data = crypto.randomBytes(400 * 1024);
    const r = await kubectl(["exec", "-i", "shell", "-c", "main", "--", "cat"], data);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, data.length);
    assert.ok(r.stdout.equals(data), "stdout is the bytes sent to stdin");
    const wc = await kubectl(["exec", "-i", "shell", "-c", "main", "--", "wc", "-c"], data);
    assert.equal(wc.stdout.toString().trim(), String(data.length));
  });

  it("execs into a MySQL-image container (the MySQL root filesystem)", async () => {
    const r = await kubectl(["exec", "db", "-c", "mysql", "--", "mysqld", "--version"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /Ver 9\.7\./);
  });

  it("runs a command on a terminal with -t, passing the terminal size", async () => {
    // kubectl wants a terminal for -it: util-linux `script` gives it one, 100x40.
    const cmd = `stty rows 40 cols 100; ${k8sBinary("kubectl")} --kubeconfig ${cp.kubeconfig} -n ${ns} exec -it shell -c main -- ` +
      `sh -c 'tty; echo term=$TERM; sleep 1; echo size=$(stty size); exit 5'`;
    const r = await run("script", ["--quiet", "--return", "--command", cmd, "/dev/null"]);
    const out = r.stdout.toString();
    assert.match(out, /\/dev\/pts\/\d+/, out);
    assert.match(out, /term=xterm/, out);
    assert.match(out, /size=40 100/, out);
    assert.equal(r.code, 5, out + r.stderr);
  });

  it("fails clearly for a container that is not running or does not exist", async () => {
    const idle = await kubectl(["exec", "shell", "-c", "idle", "--", "true"]);
    assert.notEqual(idle.code, 0);
    assert.match(idle.stderr, /container idle in pod exec\/shell is not running \(waiting: ImageNotSupported\)/, idle.stderr);
    const missing = await kubectl(["exec", "shell", "-c", "nope", "--", "true"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /container nope is not valid for pod shell/, missing.stderr);
    const notFound = await kubectl(["exec", "shell", "-c", "main", "--", "no-such-command"]);
    assert.notEqual(notFound.code, 0);
    assert.match(notFound.stderr, /no-such-command/, notFound.stderr);
  });
});
